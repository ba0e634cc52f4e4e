//! Runs over time by status: a small stacked bar chart, drawn as SVG on the
//! server, with its scale and a legend; a bar's piece links to the list of that
//! bar's runs of that status. A bar is a UTC day, or an hour or a few minutes
//! for a short created range ([`model::ChartSpan`]).

use crate::components::svg::num;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use model::{ChartBar, RunChart};

const WIDTH: f64 = 700.0;
const HEIGHT: f64 = 120.0;
const LABEL_SPACE: f64 = 18.0;

/// One coloured piece of a bar.
#[derive(Debug, PartialEq)]
pub struct Segment {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub status: &'static str,
    pub count: i64,
}

/// The segments of the chart, bottom-up per bar, scaled to the busiest bar.
pub fn segments(days: &[ChartBar]) -> Vec<Segment> {
    let busiest = days
        .iter()
        .map(|day| day.counts.iter().map(|(_, count)| count).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = WIDTH / days.len().max(1) as f64;
    let plot = HEIGHT - LABEL_SPACE;
    let mut out = Vec::new();
    for (index, day) in days.iter().enumerate() {
        let mut top = plot;
        for (status, count) in day.counts.iter().filter(|(_, count)| *count > 0) {
            let height = *count as f64 / busiest * plot;
            top -= height;
            out.push(Segment {
                x: index as f64 * slot + slot * 0.15,
                y: top,
                width: slot * 0.7,
                height,
                status: status.as_str(),
                count: *count,
            });
        }
    }
    out
}

/// What one bar of `chart` covers, for its labels: one, several, and "per".
fn bar_words(chart: &RunChart) -> (&'static str, &'static str, &'static str) {
    if chart.daily() {
        ("day", "days", "per day")
    } else if chart.bucket_ms == 3_600_000 {
        ("hour", "hours", "per hour (UTC)")
    } else if chart.bucket_ms == 15 * 60_000 {
        ("15 minutes", "15-minute periods", "per 15 minutes (UTC)")
    } else {
        ("5 minutes", "5-minute periods", "per 5 minutes (UTC)")
    }
}

/// The chart; `link` is the list's address narrowed to a bar's time (from,
/// before) and a status, its other filters kept.
#[component]
pub fn RunsChart(
    chart: RunChart,
    link: Callback<(String, String, String), String>,
) -> impl IntoView {
    let bars = &chart.bars;
    let total: i64 = bars
        .iter()
        .flat_map(|bar| bar.counts.iter().map(|(_, count)| count))
        .sum();
    let busiest = busiest(bars);
    // The legend names the statuses that appear, in the chart's order.
    let mut shown: Vec<&'static str> = Vec::new();
    for (status, _) in bars
        .iter()
        .flat_map(|bar| bar.counts.iter())
        .filter(|(_, count)| *count > 0)
    {
        if !shown.contains(&status.as_str()) {
            shown.push(status.as_str());
        }
    }
    shown.sort_by_key(|status| {
        model::RunStatus::ALL
            .iter()
            .position(|each| each.as_str() == *status)
    });
    let (one, many, per) = bar_words(&chart);
    let label = format!(
        "Runs created {per} over {} {many}: {total} in all, at most {busiest} in one {one}",
        bars.len()
    );
    view! {
        <figure class="runs-chart" data-bucket=one>
            <div class="chart-scale" aria-hidden="true">
                <span>{format!("{busiest}")}</span>
                <span>"0"</span>
            </div>
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="group"
                aria-label=label
                preserveAspectRatio="none"
                inner_html=chart_markup(&chart, &|from, before, status| link.run((from, before, status)))
            ></svg>
            <figcaption class="chart-legend">
                {shown.into_iter().map(|status| view! {
                    <span class=format!("legend-item status-{status}")><span class="swatch" aria-hidden="true"></span>{status}</span>
                }).collect_view()}
                <span class="muted legend-hint">{format!("Runs created {per} · click a bar to list them")}</span>
            </figcaption>
        </figure>
    }
}

/// The most runs created in one of `bars` (at least 1, the scale's top).
fn busiest(bars: &[ChartBar]) -> i64 {
    bars.iter()
        .map(|bar| bar.counts.iter().map(|(_, count)| count).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1)
}

/// A bar's bound in the list's address: a date for a day, a UTC time otherwise.
fn bound(at: DateTime<Utc>, daily: bool) -> String {
    if daily {
        at.date_naive().to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// How the chart makes a bar's link: from its time (from, before) and a status.
type BarLink<'a> = &'a dyn Fn(String, String, String) -> String;

/// A bar's time as the list's filter says it: from, and before.
fn bar_bounds(chart: &RunChart, bar: &ChartBar) -> (String, String) {
    let daily = chart.daily();
    let end = bar.start + chrono::Duration::milliseconds(chart.bucket_ms);
    (bound(bar.start, daily), bound(end, daily))
}

/// The list narrowed to one bar's time and one status.
#[cfg(test)]
fn bar_link(link: BarLink<'_>, chart: &RunChart, bar: &ChartBar, status: &str) -> String {
    let (from, before) = bar_bounds(chart, bar);
    link(from, before, status.to_string())
}

/// A bar's label: "Today" or `Dec 02` for days, `14:00` (UTC) for parts of one.
fn bar_label(chart: &RunChart, bar: &ChartBar, now: DateTime<Utc>) -> String {
    if chart.daily() {
        if bar.start.date_naive() == now.date_naive() {
            "Today".to_string()
        } else {
            bar.start.format("%b %d").to_string()
        }
    } else {
        bar.start.format("%H:%M").to_string()
    }
}

/// The chart's bars and labels as SVG markup, written into one string: a page
/// renders it on every request, and as one string it is a single node rather
/// than a hundred (only numbers, dates, status names and the list's own
/// address, escaped, go in; nothing a user wrote unescaped).
fn chart_markup(chart: &RunChart, link: BarLink<'_>) -> String {
    use std::fmt::Write;
    let bars = &chart.bars;
    let mut markup = String::with_capacity(4096);
    let slot = WIDTH / bars.len().max(1) as f64;
    // Each bar's time, written once for all of its pieces.
    let bounds: Vec<(String, String)> = bars.iter().map(|bar| bar_bounds(chart, bar)).collect();
    for segment in segments(bars) {
        let index = ((segment.x / slot).floor() as usize).min(bars.len().saturating_sub(1));
        let href = bounds
            .get(index)
            .map(|(from, before)| {
                escape_attribute(&link(
                    from.clone(),
                    before.clone(),
                    segment.status.to_string(),
                ))
            })
            .unwrap_or_default();
        let _ = write!(
            markup,
            r#"<a href="{href}"><rect class="chart-bar status-{status}" x="{x}" y="{y}" width="{width}" height="{height}"><title>{count} {status}</title></rect></a>"#,
            status = segment.status,
            x = num(segment.x),
            y = num(segment.y),
            width = num(segment.width),
            height = num(segment.height),
            count = segment.count,
        );
    }
    // About seven labels, counting back from the last bar.
    let every = bars.len().div_ceil(7).max(1);
    let last = bars.len().saturating_sub(1);
    let now = Utc::now();
    for (index, bar) in bars
        .iter()
        .enumerate()
        .filter(|(index, _)| (last - index).is_multiple_of(every))
    {
        let _ = write!(
            markup,
            r#"<text x="{x}" y="{y}" class="chart-label">{label}</text>"#,
            x = num(index as f64 * slot + slot / 2.0),
            y = num(HEIGHT - 4.0),
            label = bar_label(chart, bar, now),
        );
    }
    markup
}

/// Text made safe inside a double-quoted attribute.
fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::RunStatus;

    /// Links as the runs list had them before the query held its filters.
    fn params(base: &'static str) -> impl Fn(String, String, String) -> String {
        move |from, before, status| {
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}createdAfter={from}&createdBefore={before}&status={status}")
        }
    }

    fn day_chart(start: &str, counts: Vec<(RunStatus, i64)>) -> RunChart {
        RunChart {
            bucket_ms: 86_400_000,
            bars: vec![ChartBar {
                start: start.parse().unwrap(),
                counts,
            }],
        }
    }

    #[test]
    fn bars_link_to_their_day_and_status_under_the_lists_filters() {
        let today = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let chart = RunChart {
            bucket_ms: 86_400_000,
            bars: vec![ChartBar {
                start: today,
                counts: vec![(RunStatus::Failed, 2)],
            }],
        };
        let markup = chart_markup(&chart, &params("/?agent=a&q=x%22y"));
        let (day, next) = (today.date_naive(), today.date_naive().succ_opt().unwrap());
        assert!(
            markup.contains(&format!(r#"href="/?agent=a&amp;q=x%22y&amp;createdAfter={day}&amp;createdBefore={next}&amp;status=failed""#)),
            "{markup}"
        );
        assert!(
            markup.contains(">Today<"),
            "the last day is today: {markup}"
        );
        let past = day_chart("2026-12-02T00:00:00Z", vec![]);
        assert_eq!(
            bar_link(&params("/"), &past, &past.bars[0], "completed"),
            "/?createdAfter=2026-12-02&createdBefore=2026-12-03&status=completed"
        );
    }

    #[test]
    fn hourly_bars_link_to_their_hour_and_read_as_times() {
        let chart = RunChart {
            bucket_ms: 3_600_000,
            bars: vec![ChartBar {
                start: "2026-12-02T14:00:00Z".parse().unwrap(),
                counts: vec![(RunStatus::Completed, 1)],
            }],
        };
        let markup = chart_markup(&chart, &params("/?createdAfter=-24h"));
        assert!(
            markup.contains("createdAfter=2026-12-02T14:00:00Z&amp;createdBefore=2026-12-02T15:00:00Z&amp;status=completed"),
            "{markup}"
        );
        assert!(markup.contains(">14:00<"), "{markup}");
        assert_eq!(bar_words(&chart), ("hour", "hours", "per hour (UTC)"));
    }

    #[test]
    fn the_busiest_day_fills_the_height_and_bars_stack() {
        let day = |completed: i64, failed: i64| ChartBar {
            start: "2026-11-25T00:00:00Z".parse().unwrap(),
            counts: vec![
                (RunStatus::Completed, completed),
                (RunStatus::Failed, failed),
            ],
        };
        let segments = segments(&[day(3, 1), day(1, 0)]);
        assert_eq!(segments.len(), 3);
        let plot = HEIGHT - LABEL_SPACE;
        assert!((segments[0].height + segments[1].height - plot).abs() < 1e-9);
        assert!(
            (segments[1].y - 0.0).abs() < 1e-9,
            "the stack reaches the top"
        );
        assert!((segments[2].height - plot / 4.0).abs() < 1e-9);
        assert!(segments[2].x > segments[0].x);
    }
}
