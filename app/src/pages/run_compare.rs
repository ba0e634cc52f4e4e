//! The comparison page (`/runs/:id/compare[/:other]`): a run beside another run
//! of the account, by default the newest completed run of its agent before it,
//! answering "what changed since it last worked?": input key by key, steps,
//! error, artifacts (text diffs, images side by side) and where the logs part.

use crate::components::status_badge::StatusBadge;
use crate::functions::compare::load_comparison;
use crate::pages::not_found::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use model::{
    format_delta_ms, format_duration_ms, format_timestamp, AppError, ArtifactComparison,
    ComparedArtifact, ComparedRun, ComparedStep, ComparisonView, DiffOp, Difference, FieldDiff,
    LogComparison, RunChoice, RunComparison, RunError, StepComparison,
};
use uuid::Uuid;

#[component]
pub fn RunComparePage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        params.with(|params| (params.get("id").unwrap_or_default(), params.get("other")))
    });
    let data = Resource::new(move || key.get(), |(id, other)| load_comparison(id, other));
    view! {
        <Title text="Compare runs" />
        <Suspense fallback=|| view! { <main class="page"><p class="muted">"Comparing the runs…"</p></main> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view_data) => view! { <ComparisonPage data=view_data /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! {
                        <main class="page">
                            <div class="empty error" role="alert">
                                <h2>"The runs could not be compared"</h2>
                                <p>{error.to_string()}</p>
                            </div>
                        </main>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ComparisonPage(data: ComparisonView) -> impl IntoView {
    let ComparisonView {
        run_id,
        agent,
        comparison,
        choices,
    } = data;
    let current = comparison.as_ref().map(|comparison| comparison.other.id);
    view! {
        <main class="page compare-page">
            <nav class="crumbs" aria-label="Breadcrumb">
                <A href="/">"Runs"</A>
                " / "
                <A href=format!("/runs/{run_id}")>{model::short_id(run_id)}</A>
                " / "
                <span>"Compare"</span>
            </nav>
            <header class="page-header">
                <h1>"Compare runs"</h1>
            </header>
            <ComparePicker run_id current choices />
            {match comparison {
                Some(comparison) => view! { <ComparisonBody comparison /> }.into_any(),
                None => view! {
                    <div class="empty" data-testid="no-baseline">
                        <h2>"No completed run to compare with"</h2>
                        <p>
                            "Agent "<code>{agent}</code>" has no completed run before this one. "
                            "Pick any run above to compare with."
                        </p>
                    </div>
                }
                .into_any(),
            }}
        </main>
    }
}

/// Something of this run beside the same of the other run, each side named (the
/// two stack on narrow screens).
fn pair(run: impl IntoView, other: impl IntoView) -> impl IntoView {
    view! {
        <div class="compare-pair">
            <div class="compare-side"><span class="side-label">"This run"</span>{run}</div>
            <div class="compare-side"><span class="side-label">"Compared with"</span>{other}</div>
        </div>
    }
}

/// "Compare with": one of the agent's latest runs, or any run id of the account.
#[component]
fn ComparePicker(run_id: Uuid, current: Option<Uuid>, choices: Vec<RunChoice>) -> impl IntoView {
    let value = RwSignal::new(current.map(|id| id.to_string()).unwrap_or_default());
    let navigate = use_navigate();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let other = value.get_untracked().trim().to_string();
        if !other.is_empty() {
            navigate(
                &format!("/runs/{run_id}/compare/{other}"),
                Default::default(),
            );
        }
    };
    view! {
        <form class="compare-picker" on:submit=on_submit>
            <label for="compare-with">"Compare with"</label>
            <input
                id="compare-with"
                name="other"
                list="compare-choices"
                placeholder="Run id"
                autocomplete="off"
                spellcheck="false"
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
            <datalist id="compare-choices">
                {choices
                    .into_iter()
                    .map(|choice| {
                        let label = format!(
                            "{} · {} · {}",
                            choice.status.as_str(),
                            format_timestamp(choice.created_at),
                            choice.summary.unwrap_or_default()
                        );
                        view! { <option value=choice.id.to_string()>{label}</option> }
                    })
                    .collect_view()}
            </datalist>
            <button type="submit" class="button">"Compare"</button>
            <A href=format!("/runs/{run_id}/compare") attr:class="button subtle">"Previous completed run"</A>
        </form>
    }
}

#[component]
fn ComparisonBody(comparison: RunComparison) -> impl IntoView {
    let RunComparison {
        run,
        other,
        input,
        input_truncated,
        steps,
        error,
        artifacts,
        log,
    } = comparison;
    let differs = |change: &Difference| *change != Difference::Same;
    let fields_changed = input.iter().filter(|field| differs(&field.change)).count();
    let steps_changed = steps.iter().filter(|step| differs(&step.change)).count();
    let artifacts_changed = artifacts.iter().filter(|a| differs(&a.change)).count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let log_summary = match &log.divergence {
        Some(divergence) => format!("logs part at event {}", divergence.index + 1),
        None if log.complete => "logs agree".to_string(),
        None => format!("logs agree for the first {} events", log.compared),
    };
    let (run_id, other_id) = (run.id, other.id);
    view! {
        <section class="compare-sides" aria-label="The two runs">
            <RunCard label="This run" run />
            <RunCard label="Compared with" run=other />
        </section>
        <ul class="compare-summary" data-testid="compare-summary">
            <li class:differs={fields_changed > 0}>{plural(fields_changed, "input field differs", "input fields differ")}</li>
            <li class:differs={steps_changed > 0}>{plural(steps_changed, "step differs", "steps differ")}</li>
            <li class:differs={error.change != Difference::Same}>
                {if error.change == Difference::Same { "same error" } else { "error differs" }}
            </li>
            <li class:differs={artifacts_changed > 0}>{plural(artifacts_changed, "artifact differs", "artifacts differ")}</li>
            <li class:differs={log.divergence.is_some()}>{log_summary}</li>
        </ul>
        <InputDiff fields=input truncated=input_truncated />
        <StepsDiff steps />
        <section class="compare-section" aria-labelledby="compare-error">
            <h2 id="compare-error">"Error" <ChangeLabel change=error.change /></h2>
            {pair(view! { <ErrorBox error=error.run /> }, view! { <ErrorBox error=error.other /> })}
        </section>
        <ArtifactsDiff artifacts />
        <LogDiff log run_id other_id />
    }
}

#[component]
fn RunCard(label: &'static str, run: ComparedRun) -> impl IntoView {
    view! {
        <article class="compare-card">
            <h2>{label}</h2>
            <p class="compare-card-title">
                <StatusBadge status=run.status />
                " "
                <A href=format!("/runs/{}", run.id)><code>{model::short_id(run.id)}</code></A>
                " "
                <span>{run.summary.clone().unwrap_or_else(|| format!("{} run", run.agent))}</span>
            </p>
            <dl class="facts">
                <dt>"Created"</dt>
                <dd>{format_timestamp(run.created_at)}</dd>
                <dt>"Duration"</dt>
                <dd>{run.duration_ms.map(format_duration_ms).unwrap_or_else(|| "—".into())}</dd>
                <dt>"Attempt"</dt>
                <dd>{run.attempt}</dd>
            </dl>
        </article>
    }
}

/// How an item of this run differs, in words.
#[component]
fn ChangeLabel(change: Difference) -> impl IntoView {
    let text = match change {
        Difference::Same => "same",
        Difference::Added => "only in this run",
        Difference::Removed => "only in the other run",
        Difference::Changed => "changed",
    };
    view! { <span class=format!("change change-{}", change.as_str())>{text}</span> }
}

fn json_text(value: &Option<serde_json::Value>) -> String {
    value
        .as_ref()
        .map(|value| serde_json::to_string(value).unwrap_or_default())
        .unwrap_or_else(|| "—".into())
}

#[component]
fn InputDiff(fields: Vec<FieldDiff>, truncated: bool) -> impl IntoView {
    let unchanged = fields
        .iter()
        .filter(|field| field.change == Difference::Same)
        .count();
    // Unchanged fields are folded away while there is a difference to look at.
    let show_same = RwSignal::new(unchanged == fields.len());
    let fields = StoredValue::new(fields);
    let rows = move || {
        let show_same = show_same.get();
        fields.with_value(|fields| {
            fields
                .iter()
                .filter(|field| show_same || field.change != Difference::Same)
                .map(|field| {
                    let path = if field.path.is_empty() {
                        "(the whole input)".to_string()
                    } else {
                        field.path.clone()
                    };
                    view! {
                        <tr class=format!("diff-{}", field.change.as_str())>
                            <td><code>{path}</code></td>
                            <td class="value"><code>{json_text(&field.run)}</code></td>
                            <td class="value"><code>{json_text(&field.other)}</code></td>
                            <td><ChangeLabel change=field.change /></td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="compare-section" aria-labelledby="compare-input">
            <h2 id="compare-input">"Input"</h2>
            <label class="inline-check">
                <input type="checkbox" prop:checked=move || show_same.get()
                    on:change=move |event| show_same.set(event_target_checked(&event)) />
                {format!(" Show {unchanged} unchanged fields")}
            </label>
            <div class="table-wrap" tabindex="0">
                <table class="compare-input">
                    <thead><tr><th>"Field"</th><th>"This run"</th><th>"Compared with"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {truncated.then(|| view! { <p class="muted">"The inputs have more fields than are compared here."</p> })}
        </section>
    }
}

fn step_cell(step: Option<ComparedStep>) -> impl IntoView {
    match step {
        Some(step) => view! {
            <StatusBadge status=step.status />
            {(step.attempts > 1).then(|| format!(" · {} attempts", step.attempts))}
            {step.duration_ms.map(|ms| format!(" · {}", format_duration_ms(ms)))}
            {step.cache_hit.then(|| view! { <span class="tag">"cache hit"</span> })}
        }
        .into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

#[component]
fn StepsDiff(steps: Vec<StepComparison>) -> impl IntoView {
    let empty = steps.is_empty();
    view! {
        <section class="compare-section" aria-labelledby="compare-steps">
            <h2 id="compare-steps">"Steps"</h2>
            {if empty {
                view! { <p class="muted">"Neither run reported steps."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap" tabindex="0">
                        <table class="compare-steps">
                            <thead><tr><th>"Step"</th><th>"This run"</th><th>"Compared with"</th><th class="num">"Δ duration"</th><th></th></tr></thead>
                            <tbody>
                                {steps.into_iter().map(|step| view! {
                                    <tr class=format!("diff-{}", step.change.as_str())>
                                        <td>{step.name.clone().unwrap_or_else(|| step.step_id.clone())}</td>
                                        <td>{step_cell(step.run)}</td>
                                        <td>{step_cell(step.other)}</td>
                                        <td class="num">{step.duration_delta_ms.map(format_delta_ms).unwrap_or_default()}</td>
                                        <td><ChangeLabel change=step.change /></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn ErrorBox(error: Option<RunError>) -> impl IntoView {
    match error {
        Some(error) => view! {
            <div class="run-error">
                {error.code.map(|code| view! { <p><code>{code}</code></p> })}
                <p>{error.message}</p>
            </div>
        }
        .into_any(),
        None => view! { <p class="muted compare-none">"No error"</p> }.into_any(),
    }
}

#[component]
fn ArtifactsDiff(artifacts: Vec<ArtifactComparison>) -> impl IntoView {
    let empty = artifacts.is_empty();
    view! {
        <section class="compare-section" aria-labelledby="compare-artifacts">
            <h2 id="compare-artifacts">"Artifacts"</h2>
            {empty.then(|| view! { <p class="muted">"Neither run produced artifacts."</p> })}
            {artifacts.into_iter().map(|artifact| view! { <ArtifactDiff artifact /> }).collect_view()}
        </section>
    }
}

fn artifact_side(artifact: Option<ComparedArtifact>) -> impl IntoView {
    match artifact {
        Some(artifact) => {
            let label = artifact
                .size_bytes
                .map(model::format_bytes)
                .unwrap_or_else(|| artifact.artifact_type.clone());
            let image = artifact.image;
            let url = artifact.content_url.clone();
            view! {
                <figure class="compare-artifact-side">
                    {match (image, url.clone()) {
                        (true, Some(url)) => view! {
                            <img src=url alt=artifact.name.clone().unwrap_or_else(|| "image".into()) loading="lazy" />
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }}
                    <figcaption>
                        {label}
                        {url.map(|url| view! { " · "<a href=url target="_blank" rel="noopener noreferrer">"Open"</a> })}
                    </figcaption>
                </figure>
            }
            .into_any()
        }
        None => view! { <p class="muted compare-none">"Not in this run"</p> }.into_any(),
    }
}

#[component]
fn ArtifactDiff(artifact: ArtifactComparison) -> impl IntoView {
    let ArtifactComparison {
        key,
        change,
        run,
        other,
        text_diff,
    } = artifact;
    view! {
        <article class=format!("compare-artifact diff-{}", change.as_str()) data-testid="compare-artifact">
            <h3><code>{key}</code>" "<ChangeLabel change /></h3>
            {pair(artifact_side(run), artifact_side(other))}
            {text_diff.map(|diff| view! {
                <p class="muted diff-counts">
                    {format!("+{} −{} lines", diff.inserted, diff.deleted)}
                    {diff.truncated.then_some(" (the diff is longer than shown)")}
                </p>
                <div class="table-wrap" tabindex="0">
                    <table class="text-diff">
                        {diff.hunks.into_iter().map(|hunk| view! {
                            <tbody>
                                {hunk.into_iter().map(|line| {
                                    let (class, mark) = match line.op {
                                        DiffOp::Equal => ("equal", " "),
                                        DiffOp::Insert => ("insert", "+"),
                                        DiffOp::Delete => ("delete", "−"),
                                    };
                                    view! {
                                        <tr class=class>
                                            <td class="line-no">{line.other_line}</td>
                                            <td class="line-no">{line.run_line}</td>
                                            <td class="mark">{mark}</td>
                                            <td class="line"><code>{line.text}</code></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        }).collect_view()}
                    </table>
                </div>
            })}
        </article>
    }
}

#[component]
fn LogDiff(log: LogComparison, run_id: Uuid, other_id: Uuid) -> impl IntoView {
    let event_line = |event: Option<model::Event>, run: Uuid| match event {
        Some(event) => view! {
            <div class="compare-event">
                <A href=format!("/runs/{run}")>{format!("#{}", event.seq)}</A>
                " "<code>{event.event_type}</code>
                " "<span>{event.message.unwrap_or_default()}</span>
            </div>
        }
        .into_any(),
        None => view! { <p class="muted compare-none">"The log ends here"</p> }.into_any(),
    };
    view! {
        <section class="compare-section" aria-labelledby="compare-log">
            <h2 id="compare-log">"Log"</h2>
            {match log.divergence {
                Some(divergence) => view! {
                    <p data-testid="log-divergence">
                        {format!(
                            "The first {} events agree in type; event {} is where the logs part:",
                            divergence.index,
                            divergence.index + 1
                        )}
                    </p>
                    {pair(event_line(divergence.run, run_id), event_line(divergence.other, other_id))}
                }
                .into_any(),
                None if log.complete => view! {
                    <p data-testid="log-divergence">{format!("Both logs have the same {} event types in the same order.", log.compared)}</p>
                }
                .into_any(),
                None => view! {
                    <p data-testid="log-divergence">{format!("The logs agree in type for the first {} events (compared no further).", log.compared)}</p>
                }
                .into_any(),
            }}
        </section>
    }
}
