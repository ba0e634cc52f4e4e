//! An agent's health over a window: what `GET /api/agents/{slug}/stats` answers
//! and the agent page draws. The numbers come from hourly rollups (migration
//! 0012); percentiles from their histograms, whose buckets are quarter octaves,
//! so a percentile is the upper bound of the bucket holding the exact value.

use crate::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An hour in milliseconds: the rollups' unit of time (`created_at / HOUR_MS`).
pub const HOUR_MS: i64 = 3_600_000;

/// How far back the numbers go: the last 24 hours, 7 or 30 days, ending with the
/// current hour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum StatsWindow {
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl StatsWindow {
    pub const ALL: [StatsWindow; 3] = [StatsWindow::Day, StatsWindow::Week, StatsWindow::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            StatsWindow::Day => "24h",
            StatsWindow::Week => "7d",
            StatsWindow::Month => "30d",
        }
    }

    pub fn hours(self) -> i64 {
        match self {
            StatsWindow::Day => 24,
            StatsWindow::Week => 7 * 24,
            StatsWindow::Month => 30 * 24,
        }
    }

    /// The chart's bucket when none is asked for: 24 to 30 bars.
    pub fn default_bucket(self) -> StatsBucket {
        match self {
            StatsWindow::Day => StatsBucket::Hour,
            StatsWindow::Week => StatsBucket::SixHours,
            StatsWindow::Month => StatsBucket::Day,
        }
    }

    pub fn parse(text: &str) -> Result<StatsWindow, AppError> {
        StatsWindow::ALL
            .into_iter()
            .find(|window| window.as_str() == text)
            .ok_or_else(|| {
                AppError::invalid(
                    "window",
                    format!("window must be 24h, 7d or 30d, got \"{text}\""),
                )
            })
    }
}

/// The width of the chart's bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum StatsBucket {
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "6h")]
    SixHours,
    #[serde(rename = "1d")]
    Day,
}

impl StatsBucket {
    pub const ALL: [StatsBucket; 3] = [StatsBucket::Hour, StatsBucket::SixHours, StatsBucket::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            StatsBucket::Hour => "1h",
            StatsBucket::SixHours => "6h",
            StatsBucket::Day => "1d",
        }
    }

    pub fn hours(self) -> i64 {
        match self {
            StatsBucket::Hour => 1,
            StatsBucket::SixHours => 6,
            StatsBucket::Day => 24,
        }
    }

    pub fn parse(text: &str) -> Result<StatsBucket, AppError> {
        StatsBucket::ALL
            .into_iter()
            .find(|bucket| bucket.as_str() == text)
            .ok_or_else(|| {
                AppError::invalid(
                    "bucket",
                    format!("bucket must be 1h, 6h or 1d, got \"{text}\""),
                )
            })
    }
}

/// The hours a window covers, as `created_at / 3_600_000`: `[first, end)`, in
/// bars of `bucket` aligned to UTC (whole hours, quarters of a day, days), the
/// last one the bar of `now_ms`, so far. A 30-day window in days is the last 30
/// calendar days, today included: every bar is one day, and a day's rollup row
/// serves it whole.
pub fn window_hours(window: StatsWindow, bucket: StatsBucket, now_ms: i64) -> (i64, i64) {
    let hour = now_ms.div_euclid(HOUR_MS);
    let width = bucket.hours();
    let bars = window.bars(bucket);
    let first = (hour.div_euclid(width) - bars + 1) * width;
    (first, hour + 1)
}

impl StatsWindow {
    /// How many bars of `bucket` the window is drawn in (at least one).
    pub fn bars(self, bucket: StatsBucket) -> i64 {
        (self.hours() / bucket.hours()).max(1)
    }
}

/// p50/p95/p99 in milliseconds; `None` without data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Percentiles {
    pub p50: Option<i64>,
    pub p95: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<i64>,
}

/// A step name that failed in the window, with how often and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailingStep {
    pub name: String,
    /// Failed step attempts.
    pub count: i64,
    /// Of them, by error code (steps that failed without a code are not here).
    pub codes: BTreeMap<String, i64>,
}

/// One bar of the chart: runs created from `start` for one bucket's width.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatsBar {
    pub start: DateTime<Utc>,
    pub by_status: BTreeMap<String, i64>,
    pub duration_ms: Percentiles,
}

/// An agent's health over a window, for the runs created in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentStats {
    pub agent: String,
    pub window: StatsWindow,
    pub bucket: StatsBucket,
    /// The window's first hour.
    pub from: DateTime<Utc>,
    /// The end of the window's last hour (the current one).
    pub to: DateTime<Utc>,
    pub total: i64,
    pub by_status: BTreeMap<String, i64>,
    /// Completed runs over finished ones (completed, failed, cancelled); `None`
    /// when none finished.
    pub success_rate: Option<f64>,
    /// Finished runs' durations.
    pub duration_ms: Percentiles,
    /// From creation to start, for the runs that started.
    pub queue_wait_ms: Percentiles,
    /// Steps served from a cache over all steps; `None` without steps.
    pub cache_hit_rate: Option<f64>,
    /// Runs that are retries (attempt 2 or later) over all runs.
    pub retry_rate: Option<f64>,
    /// The step names that failed most, most first (at most 10).
    pub failing_steps: Vec<FailingStep>,
    /// Sum of `metadata.tokens` over the window's events, when runners report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<i64>,
    /// Sum of `metadata.costUsd`, when runners report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub buckets: Vec<StatsBar>,
}

/// An agent's last 24 hours in its line of the agents list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentDay {
    pub runs: i64,
    pub by_status: BTreeMap<String, i64>,
    pub success_rate: Option<f64>,
    pub duration_p95_ms: Option<i64>,
}

/// The value at `fraction` (nearest rank) of a histogram given as
/// `(upper bound, count)` pairs in ascending bound order.
pub fn histogram_percentile(histogram: &[(i64, i64)], fraction: f64) -> Option<i64> {
    let total: i64 = histogram.iter().map(|(_, count)| count).sum();
    if total <= 0 {
        return None;
    }
    let rank = ((fraction * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (upper, count) in histogram {
        seen += count;
        if seen >= rank {
            return Some(*upper);
        }
    }
    histogram.last().map(|(upper, _)| *upper)
}

/// The value at `fraction` (nearest rank) of exact values, sorted or not: what
/// [`histogram_percentile`] estimates.
pub fn exact_percentile(values: &mut [i64], fraction: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((fraction * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// The upper bound of the histogram bucket holding `ms` (migration 0012's
/// `histogram_bounds`: quarter octaves from 1 ms, rounded up).
pub fn histogram_bound(ms: i64) -> i64 {
    let ms = ms.max(0);
    let mut value = 1.0_f64;
    for _ in 0..=168 {
        let bound = value.ceil() as i64;
        if bound >= ms {
            return bound;
        }
        value *= 1.189_207_115_002_721;
    }
    1_099_511_627_776
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_bound_of_the_bucket_holding_the_exact_value() {
        let mut values: Vec<i64> = (1..=1000).map(|n| n * 37 % 5000 + n).collect();
        let mut histogram: BTreeMap<i64, i64> = BTreeMap::new();
        for value in &values {
            *histogram.entry(histogram_bound(*value)).or_default() += 1;
        }
        let histogram: Vec<(i64, i64)> = histogram.into_iter().collect();
        for fraction in [0.5, 0.95, 0.99, 0.0, 1.0] {
            let exact = exact_percentile(&mut values, fraction).unwrap();
            let estimate = histogram_percentile(&histogram, fraction).unwrap();
            assert_eq!(estimate, histogram_bound(exact), "{fraction}");
            assert!(estimate >= exact && (estimate as f64) <= exact as f64 * 1.19 + 1.0);
        }
        assert_eq!(histogram_percentile(&[], 0.5), None);
    }

    #[test]
    fn windows_and_buckets_parse_and_end_with_the_current_hour() {
        assert_eq!(StatsWindow::parse("7d").unwrap(), StatsWindow::Week);
        assert!(StatsWindow::parse("1y")
            .unwrap_err()
            .to_string()
            .contains("24h, 7d or 30d"));
        assert_eq!(StatsBucket::parse("6h").unwrap(), StatsBucket::SixHours);
        assert!(StatsBucket::parse("5m").is_err());
        assert_eq!(
            window_hours(StatsWindow::Day, StatsBucket::Hour, 3 * HOUR_MS + 5),
            (-20, 4)
        );
        // Days: the last 30 calendar days, today (hour 3 of day 10) so far.
        let now = (10 * 24 + 3) * HOUR_MS + 5;
        assert_eq!(
            window_hours(StatsWindow::Month, StatsBucket::Day, now),
            (-19 * 24, 10 * 24 + 4)
        );
        // Quarter days: 28 bars, the first starting at 00:00, 06:00, 12:00 or 18:00.
        assert_eq!(
            window_hours(StatsWindow::Week, StatsBucket::SixHours, now),
            ((40 - 27) * 6, 10 * 24 + 4)
        );
    }
}
