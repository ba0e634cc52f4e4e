//! Agent health from the rollups (migrations 0012 and 0013, kept by triggers in
//! the same statements that change runs, steps and events): a window's totals,
//! percentiles, failing steps and chart bars read a few rows per hour, or per day
//! when the bars are days, never the runs themselves. An agent's overview on the
//! agents list reads the same rows.

use crate::db::now_ms;
use crate::db::sql::{self, Pool};
use model::{
    histogram_percentile, window_hours, AccountPk, AgentDay, AgentStats, AppError, FailingStep,
    Percentiles, RunStatus, StatsBar, StatsBucket, StatsWindow, HOUR_MS,
};
use std::collections::BTreeMap;

/// At most this many failing step names in an answer.
const FAILING_STEPS: usize = 10;

fn hour_start(hour: i64) -> chrono::DateTime<chrono::Utc> {
    crate::db::from_ms(hour * HOUR_MS)
}

/// `(upper bound, count)` pairs in ascending order, summed over whatever was grouped.
type Histogram = Vec<(i64, i64)>;

fn percentiles(histogram: &Histogram, with_p99: bool) -> Percentiles {
    Percentiles {
        p50: histogram_percentile(histogram, 0.5),
        p95: histogram_percentile(histogram, 0.95),
        p99: with_p99
            .then(|| histogram_percentile(histogram, 0.99))
            .flatten(),
    }
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Completed over finished runs.
fn success_rate(by_status: &BTreeMap<String, i64>) -> Option<f64> {
    let count = |status: RunStatus| by_status.get(status.as_str()).copied().unwrap_or(0);
    let finished: i64 = RunStatus::ALL
        .iter()
        .filter(|status| status.is_terminal())
        .map(|status| count(*status))
        .sum();
    rate(count(RunStatus::Completed), finished)
}

/// The health of the agent `agent` (its key, from [`crate::db::agents::find_agent`],
/// which scopes it to the caller's account) over `window`, in bars of `bucket`
/// (the window's default when `None`).
pub async fn agent_stats(
    pool: &Pool,
    agent: i64,
    slug: &str,
    window: StatsWindow,
    bucket: Option<StatsBucket>,
) -> Result<AgentStats, AppError> {
    let bucket = bucket.unwrap_or(window.default_bucket());
    let (first, end) = window_hours(window, bucket, now_ms());
    let width = bucket.hours();
    // Bars are aligned to UTC; bar 0 starts at `first`.
    let bars = window.bars(bucket);
    let bar_start = |bar: i64| first + bar * width;
    // Day bars read the daily rollups: `first` starts a day, and no hour after
    // `end` (the current one) has runs yet, so the days hold exactly the window.
    let by_day = width == 24;
    let (times_table, steps_table, unit, from, to) = if by_day {
        (
            "agent_day_times",
            "agent_day_steps",
            "day",
            first / 24,
            (end + 23) / 24,
        )
    } else {
        ("agent_hour_times", "agent_hour_steps", "hour", first, end)
    };
    let hours_per_unit = if by_day { 24 } else { 1 };

    let mut conn = pool.acquire().await?;
    // (bar, status, runs, retries), summed per bar in SQL: a 30-day window's 720
    // hours of counts come back as 30 bars' worth of rows.
    let counts: Vec<(i64, String, i64, i64)> = sql::query_as(
        "SELECT (hour - ?2) / ?4, status, CAST(sum(runs) AS BIGINT), CAST(sum(retries) AS BIGINT) FROM agent_hours
         WHERE agent_pk = ?1 AND hour >= ?2 AND hour < ?3
         GROUP BY 1, 2 HAVING sum(runs) != 0",
    )
    .bind(agent)
    .bind(first)
    .bind(end)
    .bind(width)
    .fetch_all(&mut conn)
    .await?;
    // (kind, bar, bucket bound, runs); bars counted from `first` (both units
    // start there), in steps of `width` hours.
    // `kind = 'wait'` comes back as a flag: thousands of rows, no string each.
    let times: Vec<(bool, i64, i64, i64)> = sql::query_as(format!(
        "SELECT kind = 'wait', ({unit} - ?2) * ?4 / ?5, upper_ms, CAST(sum(runs) AS BIGINT) FROM {times_table}
         WHERE agent_pk = ?1 AND kind IN ('duration', 'wait') AND {unit} >= ?2 AND {unit} < ?3
         GROUP BY 1, 2, 3 HAVING sum(runs) != 0 ORDER BY 1, 2, 3"
    ))
    .bind(agent)
    .bind(from)
    .bind(to)
    .bind(hours_per_unit)
    .bind(width)
    .fetch_all(&mut conn)
    .await?;
    let steps: Vec<(String, String, String, i64, i64)> = sql::query_as(format!(
        "SELECT name, status, code, CAST(sum(steps) AS BIGINT), CAST(sum(cache_hits) AS BIGINT) FROM {steps_table}
         WHERE agent_pk = ? AND {unit} >= ? AND {unit} < ?
         GROUP BY name, status, code HAVING sum(steps) != 0"
    ))
    .bind(agent)
    .bind(from)
    .bind(to)
    .fetch_all(&mut conn)
    .await?;
    let usage: Option<(Option<i64>, Option<f64>)> = sql::query_as(
        "SELECT CAST(sum(tokens) AS BIGINT), sum(cost_usd) FROM agent_hour_usage
         WHERE agent_pk = ? AND hour >= ? AND hour < ? HAVING count(*) > 0",
    )
    .bind(agent)
    .bind(first)
    .bind(end)
    .fetch_optional(&mut conn)
    .await?;
    drop(conn);

    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    let mut retries = 0;
    let mut bar_counts: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); bars as usize];
    for (bar, status, runs, retried) in counts {
        *by_status.entry(status.clone()).or_default() += runs;
        retries += retried;
        if let Some(counts) = usize::try_from(bar)
            .ok()
            .and_then(|bar| bar_counts.get_mut(bar))
        {
            *counts.entry(status).or_default() += runs;
        }
    }
    by_status.retain(|_, count| *count != 0);
    let total: i64 = by_status.values().sum();

    // Whole-window histograms, and the durations' per bar.
    let mut durations: BTreeMap<i64, i64> = BTreeMap::new();
    let mut waits: BTreeMap<i64, i64> = BTreeMap::new();
    let mut bar_durations: Vec<Histogram> = vec![Vec::new(); bars as usize];
    for (is_wait, bar, upper, runs) in times {
        if is_wait {
            *waits.entry(upper).or_default() += runs;
            continue;
        }
        *durations.entry(upper).or_default() += runs;
        if let Some(histogram) = usize::try_from(bar)
            .ok()
            .and_then(|bar| bar_durations.get_mut(bar))
        {
            histogram.push((upper, runs));
        }
    }

    let mut failing: BTreeMap<String, FailingStep> = BTreeMap::new();
    let (mut all_steps, mut cache_hits) = (0, 0);
    for (name, status, code, count, hits) in steps {
        all_steps += count;
        cache_hits += hits;
        if status != "failed" {
            continue;
        }
        let step = failing.entry(name.clone()).or_insert(FailingStep {
            name,
            count: 0,
            codes: BTreeMap::new(),
        });
        step.count += count;
        if !code.is_empty() {
            *step.codes.entry(code).or_default() += count;
        }
    }
    let mut failing_steps: Vec<FailingStep> = failing.into_values().collect();
    failing_steps.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    failing_steps.truncate(FAILING_STEPS);

    let (tokens, cost_usd) = usage.unwrap_or((None, None));
    Ok(AgentStats {
        agent: slug.to_string(),
        window,
        bucket,
        from: hour_start(first),
        to: hour_start(end),
        total,
        success_rate: success_rate(&by_status),
        duration_ms: percentiles(&durations.into_iter().collect(), true),
        queue_wait_ms: percentiles(&waits.into_iter().collect(), false),
        cache_hit_rate: rate(cache_hits, all_steps),
        retry_rate: rate(retries, total),
        failing_steps,
        tokens,
        cost_usd,
        by_status,
        buckets: bar_counts
            .into_iter()
            .zip(bar_durations)
            .enumerate()
            .map(|(index, (mut by_status, durations))| {
                by_status.retain(|_, count| *count != 0);
                StatsBar {
                    start: hour_start(bar_start(index as i64)),
                    by_status,
                    duration_ms: percentiles(&durations, false),
                }
            })
            .collect(),
    })
}

/// Every agent's last 24 hours for the agents list: runs, success rate and
/// duration p95, by slug. One read of each rollup for the whole account.
pub async fn agents_last_day(
    pool: &Pool,
    account_pk: AccountPk,
) -> Result<BTreeMap<String, AgentDay>, AppError> {
    let (first, end) = window_hours(StatsWindow::Day, StatsBucket::Hour, now_ms());
    let mut conn = pool.acquire().await?;
    let counts: Vec<(String, String, i64)> = sql::query_as(
        "SELECT a.slug, h.status, CAST(sum(h.runs) AS BIGINT) FROM agents a
         JOIN agent_hours h ON h.agent_pk = a.pk AND h.hour >= ? AND h.hour < ?
         WHERE a.account_pk = ? GROUP BY a.slug, h.status",
    )
    .bind(first)
    .bind(end)
    .bind(account_pk)
    .fetch_all(&mut conn)
    .await?;
    let durations: Vec<(String, i64, i64)> = sql::query_as(
        "SELECT a.slug, t.upper_ms, CAST(sum(t.runs) AS BIGINT) FROM agents a
         JOIN agent_hour_times t ON t.agent_pk = a.pk AND t.kind = 'duration' AND t.hour >= ? AND t.hour < ?
         WHERE a.account_pk = ? GROUP BY a.slug, t.upper_ms ORDER BY a.slug, t.upper_ms",
    )
    .bind(first)
    .bind(end)
    .bind(account_pk)
    .fetch_all(&mut conn)
    .await?;
    let mut overview: BTreeMap<String, AgentDay> = BTreeMap::new();
    for (slug, status, runs) in counts {
        let entry = overview.entry(slug).or_default();
        entry.runs += runs;
        *entry.by_status.entry(status).or_default() += runs;
    }
    let mut histograms: BTreeMap<String, Histogram> = BTreeMap::new();
    for (slug, upper, runs) in durations {
        histograms.entry(slug).or_default().push((upper, runs));
    }
    for (slug, entry) in overview.iter_mut() {
        entry.by_status.retain(|_, count| *count != 0);
        entry.success_rate = success_rate(&entry.by_status);
        entry.duration_p95_ms = histograms
            .get(slug)
            .and_then(|histogram| histogram_percentile(histogram, 0.95));
    }
    Ok(overview)
}
