//! The step timeline: one bar per attempt of each step on one time axis, cache
//! hits and skipped steps marked; a click shows the attempt's details.

use crate::components::time::{Elapsed, Exact};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use model::{format_duration_ms, Step, StepStatus};

/// Where an attempt's bar sits on the axis, in percent of its width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub left: f64,
    pub width: f64,
}

/// Narrowest bar, so that instant steps stay visible and clickable.
const MIN_WIDTH: f64 = 0.8;

/// Bars for each step (`None` for one that has not started). The axis runs from the
/// first start to the latest end, or on to `end` while a step is unfinished.
pub fn bars(steps: &[Step], end: DateTime<Utc>) -> Vec<Option<Bar>> {
    let Some(axis) = axis(steps, end) else {
        return vec![None; steps.len()];
    };
    let span = axis.span_ms as f64;
    // An unfinished step runs on to the axis' end.
    let last = axis.start + chrono::Duration::milliseconds(axis.span_ms);
    steps
        .iter()
        .map(|step| {
            let began = step.started_at?;
            let finished = step.ended_at.unwrap_or(last);
            let left = (began - axis.start).num_milliseconds() as f64 / span * 100.0;
            let width =
                ((finished - began).num_milliseconds() as f64 / span * 100.0).max(MIN_WIDTH);
            Some(Bar {
                left: left.clamp(0.0, 100.0 - MIN_WIDTH),
                width: width.min(100.0 - left.clamp(0.0, 100.0 - MIN_WIDTH)),
            })
        })
        .collect()
}

/// The time axis of `steps`: where it starts, how long it spans, and whether a
/// step still runs (the axis then ends at `end`, drawn as a "now" line).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    pub start: DateTime<Utc>,
    pub span_ms: i64,
    pub running: bool,
}

pub fn axis(steps: &[Step], end: DateTime<Utc>) -> Option<Axis> {
    let start = steps.iter().filter_map(|step| step.started_at).min()?;
    let latest = steps
        .iter()
        .filter_map(|step| step.ended_at.or(step.started_at))
        .max()
        .unwrap_or(start);
    let running = steps
        .iter()
        .any(|step| step.started_at.is_some() && step.ended_at.is_none());
    let last = if running { latest.max(end) } else { latest };
    Some(Axis {
        start,
        span_ms: (last - start).num_milliseconds().max(1),
        running,
    })
}

/// Ticks for an axis `span_ms` long: about four, at round durations.
pub fn ticks(span_ms: i64) -> Vec<i64> {
    const STEPS: [i64; 16] = [
        100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
        600_000, 900_000, 1_800_000, 3_600_000,
    ];
    let step = STEPS
        .iter()
        .copied()
        .find(|step| span_ms / step <= 4)
        .unwrap_or_else(|| (span_ms / 4 / 3_600_000 + 1) * 3_600_000);
    (0..=span_ms / step).map(|index| index * step).collect()
}

/// Where a bar's duration goes: after the bar, or before it when the bar ends
/// near the right edge.
fn duration_place(bar: Bar) -> String {
    if bar.left + bar.width > 82.0 {
        format!("right: {:.3}%", 100.0 - bar.left)
    } else {
        format!("left: {:.3}%", bar.left + bar.width)
    }
}

fn step_label(step: &Step) -> String {
    let name = step.name.clone().unwrap_or_else(|| step.step_id.clone());
    if step.attempt > 1 {
        format!("{name} · attempt {}", step.attempt)
    } else {
        name
    }
}

/// The step trace of `steps`, redrawn as they change (live): a bar per attempt
/// on one time axis, its duration beside it, a "now" line while a step runs.
/// `selected` (the page's: its log shows what arrived while that attempt ran)
/// is changed through `on_select`.
#[component]
pub fn StepTimeline(
    #[prop(into)] steps: Signal<Vec<Step>>,
    #[prop(into)] end: Signal<DateTime<Utc>>,
    #[prop(into)] selected: Signal<Option<(String, i64)>>,
    on_select: Callback<Option<(String, i64)>>,
) -> impl IntoView {
    let rows = move || {
        let steps = steps.get();
        if steps.is_empty() {
            return view! { <p class="muted">"No steps reported yet."</p> }.into_any();
        }
        let end = end.get();
        let layout = bars(&steps, end);
        let axis = axis(&steps, end);
        let scale = axis.map(|axis| {
            let marks = ticks(axis.span_ms)
                .into_iter()
                .map(|at| {
                    let left = at as f64 / axis.span_ms as f64 * 100.0;
                    view! {
                        <span class="tick" class:end={left > 90.0} style=format!("left: {left:.3}%")>{format_duration_ms(at)}</span>
                    }
                })
                .collect_view();
            view! {
                <li class="timeline-axis" aria-hidden="true">
                    <span></span>
                    <span class="timeline-track">
                        {marks}
                        {axis.running.then(|| view! { <span class="now-line" title="now"></span> })}
                    </span>
                </li>
            }
        });
        let rows = steps
            .into_iter()
            .zip(layout)
            .map(|(step, bar)| {
                let key = (step.step_id.clone(), step.attempt);
                let status = step.status.as_str();
                let mut class = format!("bar status-{status}");
                if step.cache_hit {
                    class.push_str(" cache-hit");
                }
                if step.status == StepStatus::Skipped {
                    class.push_str(" skipped");
                }
                let label = step_label(&step);
                let duration = step.duration_ms.map(format_duration_ms).unwrap_or_default();
                let title = format!("{label}: {status} {duration}");
                let is_selected = {
                    let key = key.clone();
                    Memo::new(move |_| selected.with(|current| current.as_ref() == Some(&key)))
                };
                let shown_duration = match (step.duration_ms, step.started_at, step.ended_at) {
                    (Some(ms), _, _) => format_duration_ms(ms).into_any(),
                    (None, Some(since), None) => view! { <Elapsed since /> }.into_any(),
                    _ => ().into_any(),
                };
                view! {
                    <li class="timeline-row" class:selected=is_selected data-step-id=step.step_id.clone() data-attempt=step.attempt.to_string()>
                        <span class="timeline-label" title=label.clone()>
                            {label.clone()}
                            {step.cache_hit.then(|| view! { <span class="tag">"cache hit"</span> })}
                            {(step.status == StepStatus::Skipped).then(|| view! { <span class="tag">"skipped"</span> })}
                        </span>
                        <span class="timeline-track">
                            {match bar {
                                Some(bar) => view! {
                                    <button
                                        type="button"
                                        class=class
                                        style=format!("left: {:.3}%; width: {:.3}%", bar.left, bar.width)
                                        title=title
                                        aria-label=format!("{label}, {status}")
                                        aria-pressed=move || is_selected.get().to_string()
                                        on:click=move |_| {
                                            let chosen = (!selected.with_untracked(|current| current.as_ref() == Some(&key)))
                                                .then(|| key.clone());
                                            on_select.run(chosen);
                                        }
                                    ></button>
                                    <span
                                        class="bar-duration"
                                        style=duration_place(bar)
                                    >{shown_duration}</span>
                                }
                                .into_any(),
                                None => view! { <span class="muted pending">{status}</span> }.into_any(),
                            }}
                        </span>
                    </li>
                }
            })
            .collect_view();
        view! { <ol class="timeline" aria-label="Steps on a time axis">{scale}{rows}</ol> }
            .into_any()
    };
    let details = move || {
        let (step_id, attempt) = selected.get()?;
        steps
            .with(|steps| {
                steps
                    .iter()
                    .find(|step| step.step_id == step_id && step.attempt == attempt)
                    .cloned()
            })
            .map(|step| view! { <StepDetails step /> })
    };
    view! {
        {rows}
        {details}
    }
}

#[component]
fn StepDetails(step: Step) -> impl IntoView {
    let error = step
        .error
        .as_ref()
        .map(|error| serde_json::to_string_pretty(error).unwrap_or_default());
    view! {
        <section class="step-details card" aria-label="Step details">
            <h3>{step_label(&step)}</h3>
            <dl class="facts">
                <dt>"Status"</dt>
                <dd>{step.status.as_str()}</dd>
                <dt>"Step id"</dt>
                <dd><code>{step.step_id.clone()}</code></dd>
                {step.skill_id.clone().map(|skill| view! { <dt>"Skill"</dt><dd><code>{skill}</code></dd> })}
                <dt>"Cache hit"</dt>
                <dd>{if step.cache_hit { "yes" } else { "no" }}</dd>
                <dt>"Started"</dt>
                <dd><Exact at=step.started_at /></dd>
                <dt>"Ended"</dt>
                <dd><Exact at=step.ended_at /></dd>
                <dt>"Duration"</dt>
                <dd>{step.duration_ms.map(format_duration_ms).unwrap_or_else(|| "—".into())}</dd>
                {step.output_artifact_ids.clone().filter(|ids| !ids.is_empty()).map(|ids| view! {
                    <dt>"Artifacts"</dt>
                    <dd>{ids.join(", ")}</dd>
                })}
            </dl>
            {step.output_preview.clone().map(|preview| view! {
                <h4>"Output"</h4>
                <pre class="output">{preview}</pre>
            })}
            {error.map(|error| view! {
                <h4>"Error"</h4>
                <pre class="output error-text">{error}</pre>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn step(id: &str, attempt: i64, start: Option<i64>, end: Option<i64>) -> Step {
        let at = |seconds: i64| Utc.timestamp_opt(1_780_000_000 + seconds, 0).unwrap();
        Step {
            step_id: id.into(),
            attempt,
            idx: 0,
            name: None,
            skill_id: None,
            status: StepStatus::Completed,
            cache_hit: false,
            started_at: start.map(at),
            ended_at: end.map(at),
            duration_ms: None,
            output_preview: None,
            error: None,
            output_artifact_ids: None,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    #[test]
    fn the_axis_has_a_few_round_ticks() {
        assert_eq!(ticks(10_000), vec![0, 5_000, 10_000]);
        assert_eq!(ticks(95_000), vec![0, 30_000, 60_000, 90_000]);
        assert_eq!(ticks(400), vec![0, 100, 200, 300, 400]);
        let long = ticks(20 * 3_600_000);
        assert!(long.len() <= 5 && long[1] % 3_600_000 == 0, "{long:?}");
    }

    #[test]
    fn bars_share_one_axis_from_the_first_start_to_the_last_end() {
        let steps = [
            step("a", 1, Some(0), Some(50)),
            step("a", 2, Some(50), Some(100)),
            step("b", 1, None, None),
        ];
        let end = Utc.timestamp_opt(1_780_000_000, 0).unwrap();
        let bars = bars(&steps, end);
        assert_eq!(
            bars[0],
            Some(Bar {
                left: 0.0,
                width: 50.0
            })
        );
        assert_eq!(
            bars[1],
            Some(Bar {
                left: 50.0,
                width: 50.0
            })
        );
        assert_eq!(bars[2], None, "a step that has not started has no bar");
        let much_later = Utc.timestamp_opt(1_780_009_999, 0).unwrap();
        assert_eq!(
            super::bars(&steps, much_later)[1],
            Some(Bar {
                left: 50.0,
                width: 50.0
            }),
            "finished steps fill the axis"
        );
    }

    #[test]
    fn an_unfinished_step_runs_to_the_end_of_the_axis_and_instants_stay_visible() {
        let steps = [step("a", 1, Some(0), Some(0)), step("b", 1, Some(10), None)];
        let end = Utc.timestamp_opt(1_780_000_100, 0).unwrap();
        let bars = bars(&steps, end);
        assert_eq!(bars[0].unwrap().width, MIN_WIDTH);
        let running = bars[1].unwrap();
        assert!((running.left - 10.0).abs() < 1e-9);
        assert!((running.width - 90.0).abs() < 1e-9);
    }
}
