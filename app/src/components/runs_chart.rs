//! Runs over time by status: a small stacked bar chart, drawn as SVG on the
//! server, with its scale and a legend; a bar's piece links to the list of that
//! day's runs of that status.

use crate::components::svg::num;
use leptos::prelude::*;
use model::DayCounts;

const WIDTH: f64 = 700.0;
const HEIGHT: f64 = 120.0;
const LABEL_SPACE: f64 = 18.0;

/// One coloured piece of a day's bar.
#[derive(Debug, PartialEq)]
pub struct Segment {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub status: &'static str,
    pub count: i64,
}

/// The segments of the chart, bottom-up per day, scaled to the busiest day.
pub fn segments(days: &[DayCounts]) -> Vec<Segment> {
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

/// The chart of `days`; `link_base` is the list's address without its status,
/// dates and page, which each bar's links narrow to a day and a status.
#[component]
pub fn RunsChart(days: Vec<DayCounts>, link_base: String) -> impl IntoView {
    let total: i64 = days
        .iter()
        .flat_map(|day| day.counts.iter().map(|(_, count)| count))
        .sum();
    let busiest = busiest(&days);
    // The legend names the statuses that appear, in the chart's order.
    let mut shown: Vec<&'static str> = Vec::new();
    for (status, _) in days
        .iter()
        .flat_map(|day| day.counts.iter())
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
    view! {
        <figure class="runs-chart">
            <div class="chart-scale" aria-hidden="true">
                <span>{format!("{busiest}")}</span>
                <span>"0"</span>
            </div>
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="group"
                aria-label=format!("Runs created per day over the last {} days: {total} in all, at most {busiest} a day", days.len())
                preserveAspectRatio="none"
                inner_html=chart_markup(&days, &link_base)
            ></svg>
            <figcaption class="chart-legend">
                {shown.into_iter().map(|status| view! {
                    <span class=format!("legend-item status-{status}")><span class="swatch" aria-hidden="true"></span>{status}</span>
                }).collect_view()}
                <span class="muted legend-hint">"Runs created per day · click a bar to list them"</span>
            </figcaption>
        </figure>
    }
}

/// The most runs created on one of `days` (at least 1, the scale's top).
fn busiest(days: &[DayCounts]) -> i64 {
    days.iter()
        .map(|day| day.counts.iter().map(|(_, count)| count).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1)
}

/// The list narrowed to one UTC day and one status.
fn day_link(link_base: &str, day: chrono::NaiveDate, status: &str) -> String {
    let next = day.succ_opt().unwrap_or(day);
    let separator = if link_base.contains('?') { '&' } else { '?' };
    format!("{link_base}{separator}createdAfter={day}&createdBefore={next}&status={status}")
}

/// The chart's bars and day labels as SVG markup, written into one string: a
/// page renders it on every request, and as one string it is a single node
/// rather than a hundred (only numbers, dates, status names and the list's own
/// address, escaped, go in; nothing a user wrote unescaped).
fn chart_markup(days: &[DayCounts], link_base: &str) -> String {
    use std::fmt::Write;
    let mut markup = String::with_capacity(4096);
    let slot = WIDTH / days.len().max(1) as f64;
    for segment in segments(days) {
        let index = ((segment.x / slot).floor() as usize).min(days.len().saturating_sub(1));
        let href = days
            .get(index)
            .map(|day| escape_attribute(&day_link(link_base, day.day, segment.status)))
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
    // Every other day is labelled, counting back from the last (today).
    let last = days.len().saturating_sub(1);
    for (index, day) in days
        .iter()
        .enumerate()
        .filter(|(index, _)| (last - index).is_multiple_of(2))
    {
        let _ = write!(
            markup,
            r#"<text x="{x}" y="{y}" class="chart-label">{label}</text>"#,
            x = num(index as f64 * slot + slot / 2.0),
            y = num(HEIGHT - 4.0),
            label = if index == last {
                "Today".to_string()
            } else {
                day.day.format("%b %d").to_string()
            },
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

    #[test]
    fn bars_link_to_their_day_and_status_under_the_lists_filters() {
        let day = DayCounts {
            day: chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            counts: vec![(RunStatus::Failed, 2)],
        };
        let markup = chart_markup(std::slice::from_ref(&day), "/?agent=a&q=x%22y");
        assert!(
            markup.contains(r#"href="/?agent=a&amp;q=x%22y&amp;createdAfter=2026-12-02&amp;createdBefore=2026-12-03&amp;status=failed""#),
            "{markup}"
        );
        assert!(
            markup.contains(">Today<"),
            "the last day is today: {markup}"
        );
        assert_eq!(
            day_link("/", day.day, "completed"),
            "/?createdAfter=2026-12-02&createdBefore=2026-12-03&status=completed"
        );
    }

    #[test]
    fn the_busiest_day_fills_the_height_and_bars_stack() {
        let day = |completed: i64, failed: i64| DayCounts {
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
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
