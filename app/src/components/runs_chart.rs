//! Runs over time by status: a small stacked bar chart, drawn as SVG on the server.

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

#[component]
pub fn RunsChart(days: Vec<DayCounts>) -> impl IntoView {
    let total: i64 = days
        .iter()
        .flat_map(|day| day.counts.iter().map(|(_, count)| count))
        .sum();
    view! {
        <figure class="runs-chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=format!("Runs created per day over the last {} days: {total} in all", days.len())
                preserveAspectRatio="none"
                inner_html=chart_markup(&days)
            ></svg>
        </figure>
    }
}

/// The chart's bars and day labels as SVG markup, written into one string: a
/// page renders it on every request, and as one string it is a single node
/// rather than a hundred (only numbers, dates and status names go in, nothing
/// a user wrote).
fn chart_markup(days: &[DayCounts]) -> String {
    use std::fmt::Write;
    let mut markup = String::with_capacity(4096);
    for segment in segments(days) {
        let _ = write!(
            markup,
            r#"<rect class="chart-bar status-{status}" x="{x}" y="{y}" width="{width}" height="{height}"><title>{count} {status}</title></rect>"#,
            status = segment.status,
            x = num(segment.x),
            y = num(segment.y),
            width = num(segment.width),
            height = num(segment.height),
            count = segment.count,
        );
    }
    let slot = WIDTH / days.len().max(1) as f64;
    for (index, day) in days.iter().enumerate().filter(|(index, _)| index % 2 == 0) {
        let _ = write!(
            markup,
            r#"<text x="{x}" y="{y}" class="chart-label">{label}</text>"#,
            x = num(index as f64 * slot + slot / 2.0),
            y = num(HEIGHT - 4.0),
            label = day.day.format("%b %d"),
        );
    }
    markup
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::RunStatus;

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
