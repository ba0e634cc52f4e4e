//! Agents (`/agents`): slug (leading to its health page), its last 24 hours
//! (runs, success rate, duration p95), runs by status, last run, and for owners the
//! dispatch URL and the limits that keep runs from staying stuck (heartbeat
//! timeout, maximum run time, queue timeout, maximum attempts, claim lease).

use crate::components::layout::IfRole;
use crate::components::status_badge::StatusBadge;
use crate::components::time::Ago;
use crate::functions::directory::{
    list_agent_overviews, AgentOverview, SetAgentLimits, SetDispatchUrl,
};
use leptos::prelude::*;
use leptos_meta::Title;
use model::{format_count, format_duration_ms, format_secs, AgentLimits, Role};

#[component]
pub fn AgentsPage() -> impl IntoView {
    let save = ServerAction::<SetDispatchUrl>::new();
    let save_limits = ServerAction::<SetAgentLimits>::new();
    let agents = Resource::new(
        move || (save.version().get(), save_limits.version().get()),
        |_| list_agent_overviews(),
    );
    let error = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .or_else(|| save_limits.value().get().and_then(Result::err))
            .map(|error| error.to_string())
    };
    view! {
        <Title text="Agents" />
        <main class="page">
            <header class="page-header"><h1>"Agents"</h1></header>
            {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <Transition fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
                {move || Suspend::new(async move {
                    match agents.await {
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty"><h2>"No agents yet"</h2><p>"An agent appears with its first run."</p></div>
                        }
                        .into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table class="agents">
                                    <thead><tr><th>"Agent"</th><th>"Last 24 h"</th><th>"Runs by status"</th><th>"Last run"</th><th>"Limits"</th><th>"Dispatch URL"</th></tr></thead>
                                    <tbody>{list.into_iter().map(|overview| view! { <AgentRow overview save save_limits /> }).collect_view()}</tbody>
                                </table>
                            </div>
                        }
                        .into_any(),
                        Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn AgentRow(
    overview: AgentOverview,
    save: ServerAction<SetDispatchUrl>,
    save_limits: ServerAction<SetAgentLimits>,
) -> impl IntoView {
    let slug = overview.agent.slug.clone();
    let limits = overview.agent.limits;
    // What the owners' form shows; a stored value, as the form may render again.
    let form = StoredValue::new((
        slug.clone(),
        overview.agent.dispatch_url.clone().unwrap_or_default(),
    ));
    view! {
        <tr data-agent=slug.clone()>
            <td>
                <a href=format!("/agents/{slug}") title="Health"><code>{slug.clone()}</code></a>
                {overview.agent.name.clone().map(|name| view! { <div class="muted">{name}</div> })}
            </td>
            <td class="last-day">
                {
                    let day = overview.last_day.clone();
                    if day.runs == 0 {
                        view! { <span class="muted">"no runs"</span> }.into_any()
                    } else {
                        view! {
                            <a href=format!("/agents/{slug}")>{format!("{} runs", format_count(day.runs))}</a>
                            <div class="muted">
                                {day.success_rate.map(|rate| format!("{:.0} % succeeded", rate * 100.0)).unwrap_or_else(|| "none finished".into())}
                                {day.duration_p95_ms.map(|ms| format!(" · p95 {}", format_duration_ms(ms))).unwrap_or_default()}
                            </div>
                        }
                        .into_any()
                    }
                }
            </td>
            <td class="counts">
                {overview
                    .counts
                    .into_iter()
                    .filter(|(_, count)| *count > 0)
                    .map(|(status, count)| view! {
                        <a href=format!("/?agent={slug}&status={}", status.as_str()) class="count-link">
                            <StatusBadge status />
                            <span class="count">{count}</span>
                        </a>
                    })
                    .collect_view()}
            </td>
            <td><Ago at=overview.last_run_at /></td>
            <td class="limits">
                <LimitsSummary limits />
                <IfRole needed=Role::Owner>
                    <LimitsForm slug=form.get_value().0 limits save_limits />
                </IfRole>
            </td>
            <td>
                <IfRole needed=Role::Owner>
                    {
                        let (slug, dispatch_url) = form.get_value();
                        view! {
                            <ActionForm action=save attr:class="inline-form">
                                <input type="hidden" name="slug" value=slug.clone() />
                                <input
                                    type="url"
                                    name="dispatch_url"
                                    value=dispatch_url
                                    placeholder="none: runners pull or are told"
                                    aria-label=format!("Dispatch URL of {slug}")
                                />
                                <button type="submit" class="button small">"Save"</button>
                            </ActionForm>
                        }
                    }
                </IfRole>
            </td>
        </tr>
    }
}

/// The limits that are on, one per line; "No limits" when none is.
#[component]
fn LimitsSummary(limits: AgentLimits) -> impl IntoView {
    let on: Vec<(String, String)> = AgentLimits::ALL
        .iter()
        .filter_map(|limit| {
            limits.get(limit.field).map(|value| {
                let shown = if limit.seconds {
                    format_secs(value)
                } else {
                    value.to_string()
                };
                (limit.label.to_string(), shown)
            })
        })
        .collect();
    if on.is_empty() {
        return view! { <span class="muted">"No limits"</span> }.into_any();
    }
    view! {
        <ul class="limit-list">
            {on.into_iter().map(|(label, value)| view! { <li>{label}": "<strong>{value}</strong></li> }).collect_view()}
        </ul>
    }
    .into_any()
}

/// The owners' form for an agent's limits: seconds (or attempts), empty for off.
#[component]
fn LimitsForm(
    slug: String,
    limits: AgentLimits,
    save_limits: ServerAction<SetAgentLimits>,
) -> impl IntoView {
    view! {
        <details class="limits-edit">
            <summary>"Edit limits"</summary>
            <ActionForm action=save_limits attr:class="limits-form">
                <input type="hidden" name="slug" value=slug.clone() />
                {AgentLimits::ALL
                    .iter()
                    .map(|limit| {
                        let unit = if limit.seconds { "seconds" } else { "attempts" };
                        view! {
                            <label>
                                <span>{limit.label}" ("{unit}")"</span>
                                <input
                                    type="number"
                                    name=limit.form_name
                                    min="1"
                                    max=limit.max
                                    step="1"
                                    inputmode="numeric"
                                    placeholder="off"
                                    value=limits.get(limit.field).map(|value| value.to_string()).unwrap_or_default()
                                    aria-label=format!("{} of {slug}", limit.label)
                                />
                            </label>
                        }
                    })
                    .collect_view()}
                <button type="submit" class="button small">"Save limits"</button>
            </ActionForm>
        </details>
    }
}
