//! The run page (`/runs/:id`): header with status, progress and timings; input
//! and context; the step timeline; the events log; artifacts; and the owner's
//! actions. An unknown or another account's run is the 404 page, with status 404.

use crate::components::artifact_list::ArtifactList;
use crate::components::event_log::EventLog;
use crate::components::json_view::{CopyButton, JsonView};
use crate::components::layout::JustStarted;
use crate::components::progress_bar::ProgressBar;
use crate::components::status_badge::StatusBadge;
use crate::components::step_timeline::StepTimeline;
use crate::error::AppError;
use crate::functions::run_page::{load_run, CancelRun, DeleteRun, RetryRun};
use crate::model::{format_duration_ms, format_timestamp, Run, RunDetail, RunStatus};
use crate::pages::not_found::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let detail = Resource::new(move || id.get(), load_run);
    view! {
        <Suspense fallback=|| view! { <main class="page"><p class="muted">"Loading the run…"</p></main> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail_data) => view! { <RunView detail=detail_data on_change=move || detail.refetch() /> }.into_any(),
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

#[component]
fn RunView(detail: RunDetail, #[prop(into)] on_change: Callback<()>) -> impl IntoView {
    let run = detail.run;
    let id = run.id.to_string();
    let short_id: String = id.chars().take(8).collect();
    let timeline_end = run.completed_at.unwrap_or(run.updated_at);
    let duration = match (run.duration_ms, run.status) {
        (Some(ms), _) => format_duration_ms(ms),
        (None, RunStatus::Running) => "running…".to_string(),
        (None, _) => "—".to_string(),
    };
    let error = run.error.clone();
    view! {
        <Title text=format!("Run {short_id}") />
        <main class="page run-page">
            <nav class="crumbs" aria-label="Breadcrumb">
                <A href="/">"Runs"</A>
                " / "
                <span>{run.agent.clone()}</span>
            </nav>
            <header class="run-header">
                <div class="run-title">
                    <h1>{run.summary.clone().unwrap_or_else(|| format!("{} run", run.agent))}</h1>
                    <StatusBadge status=run.status />
                </div>
                <RunActions run=run.clone() on_change />
            </header>
            <RunnerTokenBanner run_id=id.clone() />
            <ProgressBar progress=run.progress />
            <dl class="facts run-facts">
                <dt>"Run"</dt>
                <dd><code>{id.clone()}</code>" "<CopyButton text=id.clone() label="Copy id" /></dd>
                <dt>"Agent"</dt>
                <dd><code>{run.agent.clone()}</code></dd>
                <dt>"Campaign"</dt>
                <dd>
                    {match (run.campaign_id, detail.campaign_name.clone()) {
                        (Some(campaign), name) => view! {
                            <a href=format!("/?campaign={campaign}")>{name.unwrap_or_else(|| campaign.to_string())}</a>
                        }
                        .into_any(),
                        (None, _) => view! { <span>"—"</span> }.into_any(),
                    }}
                </dd>
                <dt>"Initiator"</dt>
                <dd>{or_dash(run.initiator.clone())}</dd>
                <dt>"Created"</dt>
                <dd>{format_timestamp(run.created_at)}</dd>
                <dt>"Started"</dt>
                <dd>{or_dash(run.started_at.map(format_timestamp))}</dd>
                <dt>"Completed"</dt>
                <dd>{or_dash(run.completed_at.map(format_timestamp))}</dd>
                <dt>"Duration"</dt>
                <dd>{duration}</dd>
                <dt>"Attempt"</dt>
                <dd>
                    {run.attempt}
                    {run.retry_of.map(|original| view! {
                        " (retry of "<a href=format!("/runs/{original}")>{original.to_string().chars().take(8).collect::<String>()}</a>")"
                    })}
                </dd>
                <dt>"Webhook"</dt>
                <dd>{run.webhook_status.as_str()}</dd>
            </dl>
            {error.map(|error| view! {
                <section class="run-error" role="alert">
                    <h2>"Error"{error.code.clone().map(|code| view! { " "<code>{code}</code> })}</h2>
                    <p>{error.message.clone()}</p>
                    {error.details.clone().map(|details| view! { <JsonView label="Details" value=details /> })}
                </section>
            })}
            <section class="panels">
                <JsonView label="Input" value=run.input.clone() open=true />
                <JsonView label="Context" value=run.context.clone() />
            </section>
            <section aria-labelledby="steps-heading">
                <h2 id="steps-heading">"Steps"</h2>
                <StepTimeline steps=detail.steps end=timeline_end />
            </section>
            <section aria-labelledby="events-heading">
                <h2 id="events-heading">"Events"</h2>
                <EventLog run_id=id.clone() />
            </section>
            <section aria-labelledby="artifacts-heading">
                <h2 id="artifacts-heading">"Artifacts"</h2>
                <ArtifactList artifacts=detail.artifacts />
            </section>
        </main>
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
fn RunActions(run: Run, on_change: Callback<()>) -> impl IntoView {
    let id = run.id.to_string();
    let confirming = RwSignal::new(None::<Pending>);
    let cancel = ServerAction::<CancelRun>::new();
    let retry = ServerAction::<RetryRun>::new();
    let delete = ServerAction::<DeleteRun>::new();
    let navigate = use_navigate();

    Effect::new(move |_| {
        if let Some(Ok(_)) = cancel.value().get() {
            confirming.set(None);
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
            retry.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| error.to_string())
    };

    let can_cancel = !run.status.is_terminal();
    let can_retry = matches!(run.status, RunStatus::Failed | RunStatus::Cancelled);
    let (cancel_id, retry_id, delete_id) = (id.clone(), id.clone(), id);
    view! {
        <div class="actions">
            {move || match confirming.get() {
                None => view! {
                    {can_cancel.then(|| view! {
                        <button type="button" class="button" on:click=move |_| confirming.set(Some(Pending::Cancel))>"Cancel run"</button>
                    })}
                    {can_retry.then(|| {
                        let retry_id = retry_id.clone();
                        view! {
                            <button
                                type="button"
                                class="button"
                                disabled=move || retry.pending().get()
                                on:click=move |_| { retry.dispatch(RetryRun { id: retry_id.clone() }); }
                            >
                                "Retry"
                            </button>
                        }
                    })}
                    <button type="button" class="button danger" on:click=move |_| confirming.set(Some(Pending::Delete))>"Delete"</button>
                }
                .into_any(),
                Some(pending) => {
                    let (question, confirm_label) = match pending {
                        Pending::Cancel => ("Cancel this run? Its runner will be told to stop.", "Yes, cancel it"),
                        Pending::Delete => ("Delete this run with its steps, events and artifacts? This cannot be undone.", "Yes, delete it"),
                    };
                    let (cancel_id, delete_id) = (cancel_id.clone(), delete_id.clone());
                    view! {
                        <div class="confirm" role="alertdialog" aria-label="Confirm">
                            <span>{question}</span>
                            <button
                                type="button"
                                class="button danger"
                                on:click=move |_| match pending {
                                    Pending::Cancel => { cancel.dispatch(CancelRun { id: cancel_id.clone() }); }
                                    Pending::Delete => { delete.dispatch(DeleteRun { id: delete_id.clone() }); }
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
