//! The Retention section of the settings page (owners): the account's days
//! per kind and each agent's overrides, saved through the same policy rules as
//! `PUT /api/retention`, and the way to the storage page.

use crate::functions::retention::{read_retention, SaveAgentRetention, SaveRetention};
use leptos::prelude::*;
use leptos_router::components::A;
use model::{AgentRetention, RetentionDays, RetentionPolicy};

/// The four kinds, as the forms name their fields and label them.
const KINDS: [(&str, &str); 4] = [
    ("keep_runs_days", "Runs"),
    ("keep_failed_runs_days", "Failed runs"),
    ("keep_events_days", "Events"),
    ("keep_artifacts_days", "Artifacts"),
];

fn days_text(days: Option<i64>) -> String {
    days.map(|days| days.to_string()).unwrap_or_default()
}

fn days_label(days: Option<i64>) -> String {
    match days {
        Some(1) => "1 day".to_string(),
        Some(days) => format!("{days} days"),
        None => "forever".to_string(),
    }
}

fn account_values(days: &RetentionDays) -> [Option<i64>; 4] {
    [days.runs, days.failed_runs, days.events, days.artifacts]
}

/// An override field as the form shows it: empty follows the account.
fn override_text(value: Option<Option<i64>>) -> String {
    match value {
        None => String::new(),
        Some(None) => "forever".to_string(),
        Some(Some(days)) => days.to_string(),
    }
}

fn override_values(agent: &AgentRetention) -> [Option<Option<i64>>; 4] {
    [
        agent.keep_runs_days,
        agent.keep_failed_runs_days,
        agent.keep_events_days,
        agent.keep_artifacts_days,
    ]
}

#[component]
pub fn RetentionSection() -> impl IntoView {
    let save = ServerAction::<SaveRetention>::new();
    let save_agent = ServerAction::<SaveAgentRetention>::new();
    let settings = Resource::new(
        move || (save.version().get(), save_agent.version().get()),
        |_| read_retention(),
    );
    let outcome = |result: Option<Result<RetentionPolicy, model::AppError>>| {
        result.map(|result| match result {
            Ok(_) => view! { <p class="form-ok" role="status">"Saved."</p> }.into_any(),
            Err(error) => {
                view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any()
            }
        })
    };

    view! {
        <section aria-labelledby="retention-heading" class="card stack" id="retention">
            <h2 id="retention-heading">"Retention"</h2>
            <p class="muted">
                "How long finished runs are kept, counted from when they ended. Events and artifacts can go "
                "sooner than their runs: the run stays and its log says what was removed. Failed runs can be "
                "kept longer. Empty keeps forever; pinned runs and runs in flight are always kept."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading the policy…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(settings) => {
                            let account = settings.policy.account_days();
                            let values = account_values(&account);
                            let agents = settings.agents.clone();
                            view! {
                                <ActionForm action=save attr:class="retention-form" attr:aria-label="Account retention">
                                    <div class="retention-fields">
                                        {KINDS.iter().zip(values).map(|((name, label), days)| view! {
                                            <label>
                                                <span>{format!("{label} (days)")}</span>
                                                <input type="number" name=*name min="1" max="36500" step="1"
                                                    inputmode="numeric" placeholder="forever" value=days_text(days) />
                                            </label>
                                        }).collect_view()}
                                    </div>
                                    <button type="submit" class="button primary">"Save policy"</button>
                                </ActionForm>
                                {move || outcome(save.value().get())}
                                <h3>"Per agent"</h3>
                                <p class="muted">
                                    "Empty follows the account (shown greyed); "<code>"forever"</code>
                                    " keeps this agent's forever; a number of days replaces the account's."
                                </p>
                                {if agents.is_empty() {
                                    view! { <p class="muted">"No agents yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="retention-agents">
                                            {agents.into_iter().map(|slug| {
                                                let overrides = settings.policy.agents.get(&slug).cloned().unwrap_or_default();
                                                view! { <AgentRow slug overrides account action=save_agent /> }
                                            }).collect_view()}
                                        </div>
                                    }.into_any()
                                }}
                                {move || outcome(save_agent.value().get())}
                            }
                            .into_any()
                        }
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <div class="inline-form">
                <A href="/settings/storage" attr:class="button">"Storage"</A>
                <span class="muted">"Database size, rows, artifact bytes and what the policy removes next."</span>
            </div>
        </section>
    }
}

#[component]
fn AgentRow(
    slug: String,
    overrides: AgentRetention,
    account: RetentionDays,
    action: ServerAction<SaveAgentRetention>,
) -> impl IntoView {
    let inherited = account_values(&account);
    let fields = KINDS
        .iter()
        .zip(override_values(&overrides))
        .zip(inherited)
        .map(|(((name, label), value), account)| {
            view! {
                <label>
                    <span>{*label}</span>
                    <input type="text" name=*name inputmode="numeric" pattern="[0-9]*|forever"
                        placeholder=days_label(account) value=override_text(value) />
                </label>
            }
        })
        .collect_view();
    let name = slug.clone();
    let label = slug.clone();
    view! {
        <ActionForm action attr:class="retention-agent" attr:data-agent=slug>
            <input type="hidden" name="agent" value=name />
            <code class="retention-agent-name">{label}</code>
            {fields}
            <button type="submit" class="button small">"Save"</button>
        </ActionForm>
    }
}
