//! Display formats for times and durations, identical on the server and in the
//! browser so that hydration never sees a different text.

use chrono::{DateTime, Utc};

/// `2026-11-25 07:49:52 UTC`: absolute and in UTC, so server and browser agree.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A compact human duration: `850 ms`, `12.4 s`, `3m 05s`, `2h 07m`.
pub fn format_duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        format!("{}m {:02}s", ms / 60_000, (ms / 1_000) % 60)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally_at_every_scale() {
        assert_eq!(format_duration_ms(850), "850 ms");
        assert_eq!(format_duration_ms(12_400), "12.4 s");
        assert_eq!(format_duration_ms(185_000), "3m 05s");
        assert_eq!(format_duration_ms(7_620_000), "2h 07m");
        assert_eq!(format_duration_ms(-5), "0 ms");
    }

    #[test]
    fn timestamps_are_utc_and_second_precise() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T07:49:52.123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_timestamp(at), "2026-11-25 07:49:52 UTC");
    }
}
