//! The run page (`/runs/:id`): header with status, progress and timings; input
//! and context; the step timeline; the events log; artifacts; and the owner's
//! actions. An unknown or another account's run is the 404 page, with status 404.

use crate::components::artifact_list::ArtifactList;
use crate::components::event_log::EventLog;
use crate::components::json_view::{CopyButton, JsonView};
use crate::components::layout::{IfRole, JustStarted};
use crate::components::progress_bar::ProgressBar;
use crate::components::status_badge::StatusBadge;
use crate::components::step_timeline::StepTimeline;
use crate::components::time::{use_clock, Ago, Elapsed, Exact};
use crate::functions::retention::PinRun;
use crate::functions::run_page::{load_run, CancelRun, DeleteRun, RetryRun};
use crate::live::{on_change, Follow};
use crate::pages::not_found::NotFound;
use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate, use_params_map};
use model::LogFilter;
use model::{
    format_age, format_duration_ms, format_timestamp, AppError, ChangeData, ChangeKind, Role, Run,
    RunDetail, RunStatus, Step,
};

/// What a run's page follows of its run (its events log follows the events).
const RUN_PAGE_CHANGES: &[ChangeKind] = &[
    ChangeKind::RunUpdated,
    ChangeKind::StepChanged,
    ChangeKind::ArtifactAdded,
    ChangeKind::RunDeleted,
];

/// Shows `fresh` unless the page already shows a later state of the run: the
/// answer to a reload can arrive after the live stream reported a newer change
/// (a runner finishing the run while the page reloads after a button).
fn show_run(run: RwSignal<Run>, fresh: Run) {
    if run.with_untracked(|shown| fresh.updated_at >= shown.updated_at) {
        run.set(fresh);
    }
}

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    // The log's filter is in the address; changing it reloads the log, not the run.
    let location = use_location();
    let log = move || LogFilter::from_query(&location.search.get_untracked());
    let detail = Resource::new(move || id.get(), move |id| load_run(id, log()));
    view! {
        <Suspense fallback=|| view! { <main class="page"><p class="muted">"Loading the run…"</p></main> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail_data) => view! { <RunView detail=detail_data log=log() /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! {
                        <main class="page">
                            <div class="empty error" role="alert">
                                <h2>"The run could not be loaded"</h2>
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

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "—".to_string())
}

/// Puts a step attempt into the list where the server would order it: by index,
/// then start, then attempt.
fn upsert_step(steps: &mut Vec<Step>, step: Step) {
    match steps
        .iter_mut()
        .find(|each| each.step_id == step.step_id && each.attempt == step.attempt)
    {
        Some(existing) => *existing = step,
        None => steps.push(step),
    }
    steps.sort_by_key(|step| {
        (
            step.idx,
            step.started_at.unwrap_or(step.created_at),
            step.attempt,
        )
    });
}

/// The run page's state: the server-rendered detail, then kept current by the
/// live stream (the run and its steps from the changes themselves; artifacts,
/// whose previews the server makes, by reloading).
#[component]
fn RunView(detail: RunDetail, log: LogFilter) -> impl IntoView {
    let RunDetail {
        run,
        campaign_name,
        steps,
        artifacts,
        events,
        opened_at_error,
    } = detail;
    let run_id = run.id;
    let id = run_id.to_string();
    let short_id = model::short_id(run_id);
    let input = run.input.clone();
    let run = RwSignal::new(run);
    let steps = RwSignal::new(steps);
    let artifacts = RwSignal::new(artifacts);
    let deleted = RwSignal::new(false);
    let context = Memo::new(move |_| run.with(|run| run.context.clone()));
    let status = Signal::derive(move || run.with(|run| run.status));
    let pinned = Signal::derive(move || run.with(|run| run.pinned));
    // A running run's trace runs on to now (ticking), a finished one's to its end.
    let clock = use_clock();
    let timeline_end = Signal::derive(move || {
        run.with(|run| match run.completed_at {
            Some(end) => end,
            None => clock.now().unwrap_or(run.updated_at).max(run.updated_at),
        })
    });
    // The log's filter, mirrored in the address (replacing the entry, so Back
    // leaves the run rather than stepping through filters).
    let log_filter = RwSignal::new(log);
    let navigate = use_navigate();
    Effect::watch(
        move || log_filter.get(),
        {
            let path = format!("/runs/{run_id}");
            move |filter: &LogFilter, _, _| {
                let query = filter.to_query();
                let url = if query.is_empty() {
                    path.clone()
                } else {
                    format!("{path}?{query}")
                };
                navigate(
                    &url,
                    leptos_router::NavigateOptions {
                        replace: true,
                        scroll: false,
                        ..Default::default()
                    },
                );
            }
        },
        false,
    );
    // The step the log follows, as an attempt of the trace (the latest when the
    // address names none).
    let selected_step = Signal::derive(move || {
        let (step_id, attempt) = log_filter.with(|filter| filter.step.clone())?;
        let attempt = attempt.or_else(|| {
            steps.with(|steps| {
                steps
                    .iter()
                    .filter(|step| step.step_id == step_id)
                    .map(|step| step.attempt)
                    .max()
            })
        })?;
        Some((step_id, attempt))
    });
    let select_step = Callback::new(move |chosen: Option<(String, i64)>| {
        log_filter.update(|filter| {
            filter.step = chosen.map(|(step_id, attempt)| (step_id, Some(attempt)));
        });
    });
    // The step a failed run failed at: the last failed attempt.
    let failed_step = Memo::new(move |_| {
        steps.with(|steps| {
            steps
                .iter()
                .filter(|step| step.status == model::StepStatus::Failed)
                .max_by_key(|step| step.ended_at.or(step.started_at))
                .map(|step| {
                    let name = step.name.clone().unwrap_or_else(|| step.step_id.clone());
                    (step.step_id.clone(), step.attempt, name)
                })
        })
    });

    let reload = {
        let id = id.clone();
        move || {
            let id = id.clone();
            leptos::task::spawn_local(async move {
                match load_run(id, LogFilter::default()).await {
                    Ok(fresh) => {
                        show_run(run, fresh.run);
                        steps.set(fresh.steps);
                        artifacts.set(fresh.artifacts);
                    }
                    Err(AppError::NotFound) => deleted.set(true),
                    Err(_) => {}
                }
            });
        }
    };
    on_change(Follow::one_run(run_id, RUN_PAGE_CHANGES), {
        let reload = reload.clone();
        move |change| {
            if let ChangeData::Resync(_) = change.data {
                return reload();
            }
            if change.run_id != Some(run_id) {
                return;
            }
            match &change.data {
                ChangeData::RunUpdated(updated) => show_run(run, updated.clone()),
                ChangeData::StepChanged(step) => {
                    steps.update(|steps| upsert_step(steps, step.clone()));
                }
                ChangeData::ArtifactAdded(_) => reload(),
                ChangeData::RunDeleted(_) => deleted.set(true),
                // The events log follows appended events itself; a run's own page
                // is never about another run's creation or a campaign.
                ChangeData::EventsAppended(_)
                | ChangeData::RunCreated(_)
                | ChangeData::CampaignChanged(_)
                | ChangeData::BulkJobChanged(_)
                | ChangeData::RunBrief(_)
                | ChangeData::Resync(_) => {}
            }
        }
    });
    let on_action = Callback::new(move |()| reload());

    view! {
        <Title text=format!("Run {short_id}") />
        <main class="page run-page">
            <nav class="crumbs" aria-label="Breadcrumb">
                <A href="/">"Runs"</A>
                " / "
                <span>{move || run.with(|run| run.agent.clone())}</span>
            </nav>
            {move || deleted.get().then(|| view! {
                <div class="notice" role="alert">"This run was deleted. "<A href="/">"Back to the runs"</A></div>
            })}
            <header class="run-header">
                <div class="run-title">
                    <h1>{move || run.with(|run| run.summary.clone().unwrap_or_else(|| format!("{} run", run.agent)))}</h1>
                    {move || view! { <StatusBadge status=status.get() /> }}
                    {move || pinned.get().then(|| view! {
                        <span class="tag pinned" title="Kept whatever the retention policy says, with its events and artifacts">"Pinned"</span>
                    })}
                </div>
                <RunActions id=id.clone() status pinned on_change=on_action />
            </header>
            <RunnerTokenBanner run_id=id.clone() />
            {move || view! { <ProgressBar progress=run.with(|run| run.progress) show_percent=true /> }}
            <RunnerContact run />
            {move || view! { <RunFacts run=run.get() campaign_name=campaign_name.clone() /> }}
            {move || run.with(|run| run.error.clone()).map(|error| view! {
                <section class="run-error" role="alert">
                    <h2>"Error"{error.code.clone().map(|code| view! { " "<code>{code}</code> })}</h2>
                    <p>{error.message.clone()}</p>
                    {move || failed_step.get().map(|(step_id, attempt, name)| view! {
                        <p class="failed-step">
                            "Failed at step "<strong>{name.clone()}</strong>
                            {(attempt > 1).then(|| format!(" (attempt {attempt})"))}
                            " · "
                            <button type="button" class="link-button" on:click=move |_| {
                                select_step.run(Some((step_id.clone(), attempt)));
                                if let Some(trace) = document().get_element_by_id("steps-heading") {
                                    trace.scroll_into_view();
                                }
                            }>"Show the step and its log"</button>
                        </p>
                    })}
                    {error.details.clone().map(|details| view! { <JsonView label="Details" value=details /> })}
                </section>
            })}
            <section class="panels">
                <JsonView label="Input" value=input open=true />
                {move || view! { <JsonView label="Context" value=context.get() /> }}
            </section>
            <div class="run-trace">
                <section aria-labelledby="steps-heading">
                    <h2 id="steps-heading">"Steps"</h2>
                    <StepTimeline steps end=timeline_end selected=selected_step on_select=select_step />
                </section>
                <section aria-labelledby="events-heading">
                    <h2 id="events-heading">"Events"</h2>
                    <EventLog run_id initial=events filter=log_filter opened_at_error />
                </section>
            </div>
            <section aria-labelledby="artifacts-heading">
                <h2 id="artifacts-heading">"Artifacts"</h2>
                {move || view! { <ArtifactList artifacts=artifacts.get() /> }}
            </section>
        </main>
    }
}

/// Where an open run stands with its runner: when it was last heard from (every
/// runner callback counts), when a claim's lease ends, when a failed run's
/// automatic retry is due. The sweeper acts on exactly these times.
#[component]
fn RunnerContact(run: RwSignal<Run>) -> impl IntoView {
    let clock = use_clock();
    let line = move || {
        // The page's clock once it ticks; the render's own time before.
        let now = clock.now().unwrap_or_else(Utc::now);
        run.with(|run| {
            if let Some(at) = run.retry_at {
                return Some(format!(
                    "Attempt {} starts automatically at {}",
                    run.attempt + 1,
                    format_timestamp(at)
                ));
            }
            if run.status.is_terminal() {
                return None;
            }
            let heard = match run.last_seen_at {
                Some(at) => format!("Last heard from the runner {}", format_age(at, now)),
                None => "No word from a runner yet".to_string(),
            };
            Some(match run.lease_expires_at {
                Some(ends) if run.status == RunStatus::Queued => {
                    let left = (ends - now).num_seconds().max(0);
                    format!("{heard} · claimed; back to the queue in {left} s unless it starts")
                }
                _ => heard,
            })
        })
    };
    move || line().map(|text| view! { <p class="run-seen" data-testid="runner-contact">{text}</p> })
}

#[component]
fn RunFacts(run: Run, campaign_name: Option<String>) -> impl IntoView {
    let id = run.id.to_string();
    let duration = match (run.duration_ms, run.status, run.started_at) {
        (Some(ms), _, _) => format_duration_ms(ms).into_any(),
        (None, RunStatus::Running, Some(since)) => view! { <Elapsed since /> }.into_any(),
        _ => "—".into_any(),
    };
    view! {
        <dl class="facts run-facts">
            <dt>"Run"</dt>
            <dd><code>{id.clone()}</code>" "<CopyButton text=id label="Copy id" /></dd>
            <dt>"Agent"</dt>
            <dd><code>{run.agent.clone()}</code></dd>
            <dt>"Campaign"</dt>
            <dd>
                {match run.campaign_id {
                    Some(campaign) => view! {
                        <a href=format!("/?campaign={campaign}")>{campaign_name.unwrap_or_else(|| campaign.to_string())}</a>
                    }
                    .into_any(),
                    None => view! { <span>"—"</span> }.into_any(),
                }}
            </dd>
            <dt>"Initiator"</dt>
            <dd>{or_dash(run.initiator.clone())}</dd>
            <dt>"Created"</dt>
            <dd><Exact at=run.created_at /></dd>
            <dt>"Started"</dt>
            <dd><Exact at=run.started_at /></dd>
            <dt>"Completed"</dt>
            <dd><Exact at=run.completed_at /></dd>
            <dt>"Duration"</dt>
            <dd>{duration}</dd>
            <dt>"Attempt"</dt>
            <dd>
                {run.attempt}
                {run.retry_of.map(|original| view! {
                    " (retry of "<a href=format!("/runs/{original}")>{model::short_id(original)}</a>")"
                })}
            </dd>
            <dt>"Last heard"</dt>
            <dd><Ago at=run.last_seen_at /></dd>
            <dt>"Webhook"</dt>
            <dd>{run.webhook_status.as_str()}</dd>
        </dl>
    }
}

/// After the new-run form: the runner token of this run, shown this once, with a
/// first callback to copy.
#[component]
fn RunnerTokenBanner(run_id: String) -> impl IntoView {
    let just_started = use_context::<JustStarted>();
    move || {
        let (id, token) = just_started?.0.get()?;
        (id == run_id).then(|| {
            #[cfg(feature = "hydrate")]
            let origin = window().location().origin().unwrap_or_default();
            #[cfg(not(feature = "hydrate"))]
            let origin = String::new();
            let example = format!(
                "curl -X POST \"{origin}/api/runner/runs/{id}/status\" \\\n  -H \"Authorization: Bearer {token}\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\"status\": \"running\", \"progress\": 0.1}}'"
            );
            view! {
                <section class="secret runner-token" role="status" aria-label="Runner token">
                    <p>
                        <strong>"Run started."</strong>
                        " Its runner reports with this token (shown only now; it expires in about a day):"
                    </p>
                    <code class="token-secret">{token.clone()}</code>
                    " "
                    <CopyButton text=token.clone() label="Copy token" />
                    <pre><code>{example.clone()}</code></pre>
                    <CopyButton text=example label="Copy example" />
                    " "
                    <button
                        type="button"
                        class="button subtle small"
                        on:click=move |_| { if let Some(started) = just_started { started.0.set(None) } }
                    >
                        "Hide"
                    </button>
                </section>
            }
        })
    }
}

/// Which action waits for a confirmation.
#[derive(Clone, Copy, PartialEq)]
enum Pending {
    Cancel,
    Delete,
}

#[component]
fn RunActions(
    id: String,
    status: Signal<RunStatus>,
    pinned: Signal<bool>,
    on_change: Callback<()>,
) -> impl IntoView {
    let confirming = RwSignal::new(None::<Pending>);
    let cancel = ServerAction::<CancelRun>::new();
    let pin = ServerAction::<PinRun>::new();
    let retry = ServerAction::<RetryRun>::new();
    let delete = ServerAction::<DeleteRun>::new();
    let navigate = use_navigate();

    Effect::new(move |_| {
        if let Some(Ok(_)) = cancel.value().get() {
            confirming.set(None);
            on_change.run(());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = pin.value().get() {
            on_change.run(());
        }
    });
    Effect::new({
        let navigate = navigate.clone();
        move |_| {
            if let Some(Ok(new_id)) = retry.value().get() {
                navigate(&format!("/runs/{new_id}"), Default::default());
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/", Default::default());
        }
    });
    let failure = move || {
        [
            cancel.value().get().and_then(Result::err),
            pin.value().get().and_then(Result::err),
            retry.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| error.to_string())
    };

    let can_cancel = move || !status.get().is_terminal();
    let can_retry = move || matches!(status.get(), RunStatus::Failed | RunStatus::Cancelled);
    let id = StoredValue::new(id);
    view! {
        <div class="actions">
            {move || match confirming.get() {
                None => view! {
                    <A href=format!("/runs/{}/compare", id.get_value()) attr:class="button" attr:title="Side by side with the previous completed run of this agent, or any other run">
                        "Compare with…"
                    </A>
                    <IfRole needed=Role::Member>
                        <button
                            type="button"
                            class="button"
                            aria-pressed=move || pinned.get().to_string()
                            title="A pinned run is never pruned by the retention policy"
                            disabled=move || pin.pending().get()
                            on:click=move |_| { pin.dispatch(PinRun { id: id.get_value(), pinned: !pinned.get_untracked() }); }
                        >
                            {move || if pinned.get() { "Unpin" } else { "Pin" }}
                        </button>
                        {move || can_cancel().then(|| view! {
                            <button type="button" class="button" on:click=move |_| confirming.set(Some(Pending::Cancel))>"Cancel run"</button>
                        })}
                        {move || can_retry().then(|| view! {
                            <button
                                type="button"
                                class="button"
                                disabled=move || retry.pending().get()
                                on:click=move |_| { retry.dispatch(RetryRun { id: id.get_value() }); }
                            >
                                "Retry"
                            </button>
                        })}
                    </IfRole>
                    <IfRole needed=Role::Owner>
                        <button type="button" class="button danger" on:click=move |_| confirming.set(Some(Pending::Delete))>"Delete"</button>
                    </IfRole>
                }
                .into_any(),
                Some(pending) => {
                    let (question, confirm_label) = match pending {
                        Pending::Cancel => ("Cancel this run? Its runner will be told to stop.", "Yes, cancel it"),
                        Pending::Delete => ("Delete this run with its steps, events and artifacts? This cannot be undone.", "Yes, delete it"),
                    };
                    view! {
                        <div class="confirm" role="alertdialog" aria-label="Confirm">
                            <span>{question}</span>
                            <button
                                type="button"
                                class="button danger"
                                on:click=move |_| match pending {
                                    Pending::Cancel => { cancel.dispatch(CancelRun { id: id.get_value() }); }
                                    Pending::Delete => { delete.dispatch(DeleteRun { id: id.get_value() }); }
                                }
                            >
                                {confirm_label}
                            </button>
                            <button type="button" class="button subtle" on:click=move |_| confirming.set(None)>"Keep it"</button>
                        </div>
                    }
                    .into_any()
                }
            }}
            {move || failure().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        </div>
    }
}
