//! The audit log (`/settings/audit`, owners): every change a person or an API
//! token made, and every login, newest first, filtered by actor and action and
//! read on page by page.

use crate::components::time::Exact;
use crate::functions::team::{read_audit_log, AUDIT_PAGE};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use model::{AuditAction, AuditEntry};
use strum::IntoEnumIterator;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let actor = move || query.read().get("actor").unwrap_or_default();
    let action = move || query.read().get("action").unwrap_or_default();
    // Pages read so far; "Older" appends the next.
    let older = RwSignal::new(Vec::<AuditEntry>::new());
    let cursor = RwSignal::new(None::<i64>);
    let first = Resource::new(
        move || (actor(), action()),
        move |(actor, action)| {
            older.set(Vec::new());
            read_audit_log(None, actor, action)
        },
    );
    let load_older = move |from: i64| {
        let (actor, action) = (actor(), action());
        leptos::task::spawn_local(async move {
            if let Ok(page) = read_audit_log(Some(from), actor, action).await {
                cursor.set(page.next_cursor);
                older.update(|entries| entries.extend(page.entries));
            }
        });
    };

    view! {
        <Title text="Audit log" />
        <main class="page">
            <nav class="crumbs" aria-label="Breadcrumb"><A href="/settings">"Settings"</A>" / "<span>"Audit log"</span></nav>
            <header class="page-header"><h1>"Audit log"</h1></header>
            <form method="get" class="inline-form filters" aria-label="Filter the audit log">
                <label>
                    <span>"Actor"</span>
                    <input type="text" name="actor" value=actor placeholder="email or system" />
                </label>
                <label>
                    <span>"Action"</span>
                    <select name="action">
                        <option value="">"any"</option>
                        {AuditAction::iter().map(|each| view! {
                            <option value=each.as_str() selected=move || action() == each.as_str()>{each.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="button">"Apply"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(page) if page.entries.is_empty() => view! {
                            <div class="empty"><h2>"Nothing recorded"</h2><p>"No entry matches these filters."</p></div>
                        }
                        .into_any(),
                        Ok(page) => {
                            cursor.set(page.next_cursor);
                            view! {
                                <div class="table-scroll">
                                    <table class="audit">
                                        <thead><tr><th>"Time"</th><th>"Actor"</th><th>"Action"</th><th>"Target"</th><th>"Details"</th><th>"From"</th></tr></thead>
                                        <tbody>
                                            {page.entries.into_iter().map(|entry| view! { <AuditRow entry /> }).collect_view()}
                                            <For each=move || older.get() key=|entry| entry.id let:entry>
                                                <AuditRow entry />
                                            </For>
                                        </tbody>
                                    </table>
                                </div>
                                // Inside the loaded branch: the server renders it after the first
                                // page set the cursor, as the browser hydrates it (outside, the
                                // server rendered no button and the browser expected one).
                                {move || cursor.get().map(|from| view! {
                                    <button type="button" class="button" on:click=move |_| load_older(from)>
                                        {format!("Older (next {AUDIT_PAGE})")}
                                    </button>
                                })}
                            }
                            .into_any()
                        }
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let target = match (&entry.target_type, &entry.target_id) {
        (Some(kind), Some(id)) if kind == "run" => {
            view! { <A href=format!("/runs/{id}")>{format!("run {}", model::short_id(id))}</A> }
                .into_any()
        }
        (Some(kind), Some(id)) => {
            let short = model::short_id(id);
            view! { <span title=id.clone()>{format!("{kind} {short}")}</span> }.into_any()
        }
        _ => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let detail = entry.detail.as_ref().map(readable).unwrap_or_default();
    view! {
        <tr data-action=entry.action.as_str()>
            <td class="nowrap"><Exact at=entry.at /></td>
            <td>{entry.actor.clone()}<span class="muted">{format!(" ({})", entry.via)}</span></td>
            <td><code>{entry.action.as_str()}</code></td>
            <td>{target}</td>
            <td class="detail">{detail}</td>
            <td>{entry.ip.clone().unwrap_or_default()}</td>
        </tr>
    }
}

/// An entry's detail as `key: value` pairs (`email: a@b · role: viewer`).
fn readable(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => format!("{key}: {text}"),
                other => format!("{key}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}
