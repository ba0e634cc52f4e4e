//! Alerts (`/alerts`): the account's rules with their state, and for owners a form
//! for a new rule; `/alerts/:id`: one rule, its history with each channel's
//! delivery, and for owners enable/disable, "Send test" and delete.

use crate::components::time::Ago;
use crate::functions::alerts::{
    alert_detail, alerts_page, AlertRules, CreateAlert, DeleteAlert, SendAlertTest, SetAlertEnabled,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::{
    format_duration_ms, format_timestamp, AlertChannel, AlertConditionType, AlertFiring, AlertRule,
    AlertState, FiringKind,
};

/// What a rule watches for, in words: "Failure rate at or above 30 % over 60 min
/// (at least 5 runs)".
fn condition_text(rule: &AlertRule) -> String {
    let condition = &rule.condition;
    let window = condition
        .window_mins
        .map(|mins| format!(" over {}", format_duration_ms(mins * 60_000)))
        .unwrap_or_default();
    let at_least = condition
        .min_runs
        .filter(|runs| *runs > 1)
        .map(|runs| format!(" (at least {runs} runs)"))
        .unwrap_or_default();
    match condition.kind {
        AlertConditionType::FailureRate => format!(
            "{} {:.0} %{window}{at_least}",
            condition.kind.label(),
            condition.threshold.unwrap_or_default() * 100.0
        ),
        AlertConditionType::P95Duration => format!(
            "{} {}{window}{at_least}",
            condition.kind.label(),
            format_duration_ms(condition.threshold.unwrap_or_default() as i64)
        ),
        AlertConditionType::NoSuccess => format!(
            "{} {}",
            condition.kind.label(),
            format_duration_ms(condition.window_mins.unwrap_or_default() * 60_000)
        ),
        kind => kind.label().to_string(),
    }
}

/// Which runs a rule watches, in words.
fn scope_text(rule: &AlertRule) -> String {
    let mut parts = Vec::new();
    if let Some(agent) = &rule.scope.agent {
        parts.push(format!("agent {agent}"));
    }
    if let Some(campaign) = rule.scope.campaign {
        parts.push(format!("campaign {campaign}"));
    }
    if let Some(q) = &rule.scope.q {
        parts.push(format!("runs matching {q}"));
    }
    if parts.is_empty() {
        "every run".to_string()
    } else {
        parts.join(", ")
    }
}

fn channel_text(channel: &AlertChannel) -> String {
    match channel {
        AlertChannel::Webhook { url } => format!("Webhook {url}"),
        AlertChannel::Slack { url } => format!("Slack {url}"),
        AlertChannel::Email { to } => format!("Email {to}"),
    }
}

#[component]
fn RuleState(rule: AlertRule) -> impl IntoView {
    let (class, text) = match (rule.enabled, rule.state) {
        (false, _) => ("badge status-cancelled", "disabled"),
        (true, AlertState::Firing) => ("badge status-failed", "firing"),
        (true, AlertState::Ok) => ("badge status-completed", "ok"),
    };
    view! { <span class=class>{text}</span> }
}

#[component]
pub fn AlertsListPage() -> impl IntoView {
    let create = ServerAction::<CreateAlert>::new();
    let page = Resource::new(move || create.version().get(), |_| alerts_page());
    view! {
        <Title text="Alerts" />
        <main class="page">
            <header class="page-header"><h1>"Alerts"</h1></header>
            <p class="muted">
                "Rules that tell people when runs fail, stall or time out, when a campaign fails or goes live, "
                "or when an agent's failure rate, duration or successes cross a line. Each notification goes "
                "once, through a signed webhook, a Slack channel or email."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading alerts…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <AlertsBody page create /> }.into_any(),
                        Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn AlertsBody(page: AlertRules, create: ServerAction<CreateAlert>) -> impl IntoView {
    let AlertRules {
        rules,
        can_manage,
        email,
        agents,
    } = page;
    let list = if rules.is_empty() {
        view! {
            <div class="empty"><h2>"No alerts yet"</h2><p>"An owner can add the first below."</p></div>
        }
        .into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="alerts">
                    <thead><tr><th>"Alert"</th><th>"When"</th><th>"Watching"</th><th>"Sends to"</th><th>"State"</th></tr></thead>
                    <tbody>
                        {rules
                            .into_iter()
                            .map(|rule| {
                                let href = format!("/alerts/{}", rule.id);
                                view! {
                                    <tr>
                                        <td><a href=href>{rule.name.clone()}</a></td>
                                        <td>{condition_text(&rule)}</td>
                                        <td>{scope_text(&rule)}</td>
                                        <td>{rule.channels.iter().map(channel_text).collect::<Vec<_>>().join(", ")}</td>
                                        <td><RuleState rule=rule.clone() /></td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        {list}
        {can_manage.then(|| view! { <NewAlertForm create email agents /> })}
    }
}

#[component]
fn NewAlertForm(
    create: ServerAction<CreateAlert>,
    email: bool,
    agents: Vec<String>,
) -> impl IntoView {
    let outcome = move || {
        create.value().get().map(|result| match result {
            Ok(rule) => view! {
                <p class="form-ok" role="status">"Created "<a href=format!("/alerts/{}", rule.id)>{rule.name}</a>"."</p>
            }
            .into_any(),
            Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card stack" aria-labelledby="new-alert-heading">
            <h2 id="new-alert-heading">"New alert"</h2>
            <ActionForm action=create attr:class="stack alert-form">
                <label>"Name"<input name="name" required maxlength="80" placeholder="Crawler failing" /></label>
                <div class="form-row">
                    <label>
                        "When"
                        <select name="condition">
                            {AlertConditionType::ALL
                                .into_iter()
                                .map(|kind| view! { <option value=kind.as_str()>{kind.label()}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <label>"Threshold"<input name="threshold" inputmode="decimal" placeholder="30 (%), or 120 (s)" /></label>
                    <label>"Window (min)"<input name="window_mins" inputmode="numeric" placeholder="60" /></label>
                    <label>"At least (runs)"<input name="min_runs" inputmode="numeric" placeholder="1" /></label>
                </div>
                <p class="muted small">
                    "Failure rate takes a percentage, duration p95 seconds; both are judged over the runs that "
                    "finished in the window. No completed run is judged over the window alone."
                </p>
                <div class="form-row">
                    <label>
                        "Agent"
                        <select name="agent">
                            <option value="">"Any agent"</option>
                            {agents.into_iter().map(|slug| view! { <option value=slug.clone()>{slug.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="grow">"Runs matching"<input name="q" placeholder="status:failed input.company.name:Stripe" /></label>
                </div>
                <div class="form-row">
                    <label>
                        "Send to"
                        <select name="channel">
                            <option value="webhook">"Webhook"</option>
                            <option value="slack">"Slack"</option>
                            {email.then(|| view! { <option value="email">"Email"</option> })}
                        </select>
                    </label>
                    <label class="grow">"URL or address"<input name="target" required placeholder="https://hooks.slack.com/services/…" /></label>
                </div>
                <div><button type="submit" class="button">"Create alert"</button></div>
            </ActionForm>
            {outcome}
        </section>
    }
}

#[component]
pub fn AlertPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let toggle = ServerAction::<SetAlertEnabled>::new();
    let test = ServerAction::<SendAlertTest>::new();
    let delete = ServerAction::<DeleteAlert>::new();
    let detail = Resource::new(
        move || (id(), toggle.version().get(), test.version().get()),
        |(id, ..)| alert_detail(id),
    );
    let error = move || {
        toggle
            .value()
            .get()
            .and_then(|result| result.err())
            .or_else(|| test.value().get().and_then(|result| result.err()))
            .or_else(|| delete.value().get().and_then(|result| result.err()))
            .map(|error| view! { <p class="form-error" role="alert">{error.to_string()}</p> })
    };
    view! {
        <main class="page">
            <Transition fallback=|| view! { <p class="muted">"Loading the alert…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => {
                            let rule = detail.rule;
                            let rule_id = rule.id.to_string();
                            let manage = detail.can_manage.then(|| {
                                let enable = !rule.enabled;
                                let (id_test, id_toggle, id_delete) =
                                    (rule_id.clone(), rule_id.clone(), rule_id.clone());
                                view! {
                                    <div class="actions">
                                        <ActionForm action=test>
                                            <input type="hidden" name="id" value=id_test.clone() />
                                            <button type="submit" class="button">"Send test"</button>
                                        </ActionForm>
                                        <ActionForm action=toggle>
                                            <input type="hidden" name="id" value=id_toggle.clone() />
                                            <input type="hidden" name="enabled" value=enable.to_string() />
                                            <button type="submit" class="button secondary">{if enable { "Enable" } else { "Disable" }}</button>
                                        </ActionForm>
                                        <DeleteAlertButton id=id_delete delete />
                                    </div>
                                }
                            });
                            view! {
                                <Title text=rule.name.clone() />
                                <nav class="crumbs"><a href="/alerts">"Alerts"</a></nav>
                                <header class="page-header">
                                    <h1>{rule.name.clone()}</h1>
                                    <RuleState rule=rule.clone() />
                                </header>
                                {error}
                                <dl class="facts">
                                    <dt>"When"</dt><dd>{condition_text(&rule)}</dd>
                                    <dt>"Watching"</dt><dd>{scope_text(&rule)}</dd>
                                    <dt>"Sends to"</dt>
                                    <dd>{rule.channels.iter().map(|channel| view! { <div>{channel_text(channel)}</div> }).collect_view()}</dd>
                                    <dt>"Created"</dt><dd>{format!("{} by {}", format_timestamp(rule.created_at), rule.created_by)}</dd>
                                </dl>
                                {manage}
                                <section class="card stack" aria-labelledby="history-heading">
                                    <h2 id="history-heading">"History"</h2>
                                    <History firings=detail.firings />
                                </section>
                            }
                            .into_any()
                        }
                        Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn History(firings: Vec<AlertFiring>) -> impl IntoView {
    if firings.is_empty() {
        return view! { <p class="muted">"Nothing yet: firings and tests appear here with how each was delivered."</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="firings">
                <thead><tr><th>"When"</th><th>"What"</th><th>"Message"</th><th>"Delivery"</th></tr></thead>
                <tbody>
                    {firings
                        .into_iter()
                        .map(|firing| {
                            let kind_class = match firing.kind {
                                FiringKind::Fired => "badge status-failed",
                                FiringKind::Resolved => "badge status-completed",
                                FiringKind::Test => "badge status-queued",
                            };
                            let run = firing.run_id.map(|id| {
                                view! { " "<a href=format!("/runs/{id}")>"Open run"</a> }
                            });
                            view! {
                                <tr>
                                    <td><Ago at=firing.at /></td>
                                    <td><span class=kind_class>{firing.kind.as_str()}</span></td>
                                    <td>{firing.message.clone()}{run}</td>
                                    <td>
                                        {firing
                                            .channels
                                            .iter()
                                            .map(|channel| {
                                                let title = channel.error.clone().unwrap_or_default();
                                                view! { <div title=title>{format!("{}: {}", channel.kind, channel.status)}</div> }
                                            })
                                            .collect_view()}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// "Delete", then the question asked in the page ("Yes, delete it" / "Keep it"):
/// the page's CSP refuses inline handlers, so a `confirm()` in `onsubmit` never runs.
#[component]
fn DeleteAlertButton(id: String, delete: ServerAction<DeleteAlert>) -> impl IntoView {
    let confirming = RwSignal::new(false);
    move || {
        if confirming.get() {
            let id = id.clone();
            view! {
                <ActionForm action=delete attr:class="confirm" attr:role="alertdialog" attr:aria-label="Confirm">
                    <input type="hidden" name="id" value=id />
                    <span>"Delete this alert and its history? This cannot be undone."</span>
                    <button type="submit" class="button danger">"Yes, delete it"</button>
                    <button type="button" class="button subtle" on:click=move |_| confirming.set(false)>"Keep it"</button>
                </ActionForm>
            }
            .into_any()
        } else {
            view! {
                <button type="button" class="button danger" on:click=move |_| confirming.set(true)>"Delete"</button>
            }
            .into_any()
        }
    }
}
