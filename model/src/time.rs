//! Display formats for times and durations, identical on the server and in the
//! browser so that hydration never sees a different text.

use chrono::{DateTime, Utc};

/// `2026-11-25 07:49:52 UTC`: absolute and in UTC, so server and browser agree.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    // Written out rather than through a strftime pattern, which is parsed anew on
    // every call: a list page formats dozens of these per render.
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// `at` in the zone at `offset`: `2026-12-02 03:41:18 UTC+01:00` (`… UTC` at offset 0).
pub fn format_timestamp_at(at: DateTime<Utc>, offset: chrono::FixedOffset) -> String {
    use chrono::{Datelike, Timelike};
    let local = at.with_timezone(&offset);
    let seconds = offset.local_minus_utc();
    let zone = if seconds == 0 {
        "UTC".to_string()
    } else {
        let sign = if seconds < 0 { '-' } else { '+' };
        let minutes = seconds.abs() / 60;
        format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {zone}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
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

/// How long ago `at` was, seen at `now`: `just now`, `12 s ago`, `4 min ago`,
/// `3 h ago`, `2 d ago` (a time a little in the future, from clock skew, is `just now`).
pub fn format_age(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        ..=0 => "just now".to_string(),
        1..=59 => format!("{secs} s ago"),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// A whole number of seconds in the largest unit that divides it: `45 s`,
/// `10 min`, `2 h`, `7 d`, `90 s`.
pub fn format_secs(secs: i64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_times_say_their_zone() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T23:41:18Z")
            .unwrap()
            .with_timezone(&Utc);
        let utc = chrono::FixedOffset::east_opt(0).unwrap();
        assert_eq!(format_timestamp_at(at, utc), format_timestamp(at));
        let paris = chrono::FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            format_timestamp_at(at, paris),
            "2026-12-03 00:41:18 UTC+01:00"
        );
        let newfoundland = chrono::FixedOffset::west_opt(3 * 3600 + 1800).unwrap();
        assert_eq!(
            format_timestamp_at(at, newfoundland),
            "2026-12-02 20:11:18 UTC-03:30"
        );
    }

    #[test]
    fn ages_and_limits_read_in_their_largest_unit() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago = |secs: i64| format_age(now - chrono::Duration::seconds(secs), now);
        assert_eq!(ago(-3), "just now");
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(12), "12 s ago");
        assert_eq!(ago(245), "4 min ago");
        assert_eq!(ago(3 * 3_600 + 5), "3 h ago");
        assert_eq!(ago(2 * 86_400), "2 d ago");
        assert_eq!(format_secs(45), "45 s");
        assert_eq!(format_secs(90), "90 s");
        assert_eq!(format_secs(600), "10 min");
        assert_eq!(format_secs(7_200), "2 h");
        assert_eq!(format_secs(604_800), "7 d");
    }

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
