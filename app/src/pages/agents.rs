//! Agents (`/agents`): slug, dispatch URL (editable), runs by status, last run.

use crate::components::layout::IfRole;
use crate::components::status_badge::StatusBadge;
use crate::functions::directory::{list_agent_overviews, AgentOverview, SetDispatchUrl};
use leptos::prelude::*;
use leptos_meta::Title;
use model::{format_timestamp, Role};

#[component]
pub fn AgentsPage() -> impl IntoView {
    let save = ServerAction::<SetDispatchUrl>::new();
    let agents = Resource::new(move || save.version().get(), |_| list_agent_overviews());
    let error = move || {
        save.value()
            .get()
            .and_then(Result::err)
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
                                    <thead><tr><th>"Agent"</th><th>"Runs by status"</th><th>"Last run"</th><th>"Dispatch URL"</th></tr></thead>
                                    <tbody>{list.into_iter().map(|overview| view! { <AgentRow overview save /> }).collect_view()}</tbody>
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
fn AgentRow(overview: AgentOverview, save: ServerAction<SetDispatchUrl>) -> impl IntoView {
    let slug = overview.agent.slug.clone();
    // What the owners' form shows; a stored value, as the form may render again.
    let form = StoredValue::new((
        slug.clone(),
        overview.agent.dispatch_url.clone().unwrap_or_default(),
    ));
    view! {
        <tr data-agent=slug.clone()>
            <td>
                <a href=format!("/?agent={slug}")><code>{slug.clone()}</code></a>
                {overview.agent.name.clone().map(|name| view! { <div class="muted">{name}</div> })}
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
            <td>{overview.last_run_at.map(format_timestamp).unwrap_or_else(|| "—".into())}</td>
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
