//! Numbers in SVG attributes: one decimal, written from integer tenths. Rust's
//! exact float formatting (`{:.1}`) often falls back to its slow bignum path,
//! and a chart writes hundreds of coordinates per server render.

/// `value` with one decimal (`12.3`, `0.0`, `-4.5`).
pub fn num(value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    let tenths = tenths.unsigned_abs();
    format!("{sign}{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn one_decimal_rounded() {
        for (value, expected) in [
            (0.0, "0.0"),
            (0.04, "0.0"),
            (0.06, "0.1"),
            (12.345, "12.3"),
            (99.96, "100.0"),
            (640.0, "640.0"),
            (-4.46, "-4.5"),
            (-0.04, "0.0"),
        ] {
            assert_eq!(num(value), expected, "{value}");
        }
    }
}
