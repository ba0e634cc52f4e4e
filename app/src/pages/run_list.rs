//! The runs list (`/`): newest first, filtered by status. The filter lives in the
//! URL, so a filtered view can be shared and reloaded, and changing it after
//! hydration swaps the list without a page reload.

use crate::components::status_badge::StatusBadge;
use crate::error::AppError;
use crate::functions::runs::list_runs;
use crate::model::{format_duration_ms, format_timestamp, RunPage, RunRow, RunStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// The list URL for a status filter (empty for all) and an offset.
fn list_href(status: &str, offset: i64) -> String {
    let mut params = Vec::new();
    if !status.is_empty() {
        params.push(format!("status={status}"));
    }
    if offset > 0 {
        params.push(format!("offset={offset}"));
    }
    if params.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", params.join("&"))
    }
}

#[component]
pub fn RunListPage() -> impl IntoView {
    let query = use_query_map();
    let status = Memo::new(move |_| query.read().get("status").unwrap_or_default());
    let offset = Memo::new(move |_| {
        query
            .read()
            .get("offset")
            .and_then(|offset| offset.parse::<i64>().ok())
            .unwrap_or(0)
    });
    let runs = Resource::new(
        move || (status.get(), offset.get()),
        |(status, offset)| list_runs(status, offset),
    );

    view! {
        <Title text="Runs" />
        <main class="page">
            <header class="page-header">
                <h1>"Runs"</h1>
            </header>
            <StatusFilter current=status />
            <Transition fallback=|| view! { <p class="muted loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    match runs.await {
                        Ok(page) => view! { <RunTable page status=status.get_untracked() /> }.into_any(),
                        Err(error) => view! { <ListError error /> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// Status chips; each is a link, so the URL always says what is shown.
#[component]
fn StatusFilter(current: Memo<String>) -> impl IntoView {
    let chip = move |label: &'static str, value: &'static str| {
        let active = move || current.get() == value;
        // A plain link: the router still navigates client-side, and unlike `<A>` it
        // does not mark every chip current (they all share the path `/`).
        view! {
            <a
                href=list_href(value, 0)
                class=move || if active() { "chip active" } else { "chip" }
                aria-current=move || active().then_some("true")
            >
                {label}
            </a>
        }
    };
    view! {
        <nav class="filters" aria-label="Filter by status">
            {chip("All", "")}
            {RunStatus::ALL.into_iter().map(|status| chip(status.as_str(), status.as_str())).collect_view()}
        </nav>
    }
}

#[component]
fn RunTable(page: RunPage, status: String) -> impl IntoView {
    if page.runs.is_empty() {
        return view! { <EmptyState filtered=!status.is_empty() /> }.into_any();
    }
    let first = page.offset + 1;
    let last = page.offset + page.runs.len() as i64;
    let newer = (page.offset > 0).then(|| list_href(&status, (page.offset - page.limit).max(0)));
    let older = (last < page.total).then(|| list_href(&status, page.offset + page.limit));
    view! {
        <div class="table-wrap">
            <table class="runs">
                <thead>
                    <tr>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Summary"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col" class="num">"Duration"</th>
                    </tr>
                </thead>
                <tbody>
                    {page.runs.into_iter().map(|run| view! { <RunRowView run /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {}", page.total)}</span>
            {newer.map(|href| view! { <a href=href class="button subtle">"← Newer"</a> })}
            {older.map(|href| view! { <a href=href class="button subtle">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn RunRowView(run: RunRow) -> impl IntoView {
    let duration = match (run.duration_ms, run.status) {
        (Some(ms), _) => format_duration_ms(ms),
        (None, RunStatus::Running) => "running…".to_string(),
        (None, _) => "—".to_string(),
    };
    view! {
        <tr data-run-id=run.id.to_string()>
            <td><StatusBadge status=run.status /></td>
            <td class="agent">{run.agent.clone()}</td>
            <td class="summary">
                <a href=format!("/runs/{}", run.id)>{run.summary.unwrap_or_else(|| format!("{} run", run.agent))}</a>
            </td>
            <td>
                <time datetime=run.created_at.to_rfc3339()>{format_timestamp(run.created_at)}</time>
            </td>
            <td class="num">{duration}</td>
        </tr>
    }
}

#[component]
fn EmptyState(filtered: bool) -> impl IntoView {
    if filtered {
        view! {
            <div class="empty">
                <h2>"No runs match this filter"</h2>
                <p><A href="/">"Show all runs"</A></p>
            </div>
        }
        .into_any()
    } else {
        view! {
            <div class="empty">
                <h2>"No runs yet"</h2>
                <p>"A run appears here as soon as a program or an agent starts one through the API:"</p>
                <pre><code>{r#"curl -X POST "$RUNBOARD_URL/api/runs" \
  -H "Authorization: Bearer $RUNBOARD_TOKEN" -H "Content-Type: application/json" \
  -d '{"agent": "my-agent", "input": {"company_name": "Stripe"}}'"#}</code></pre>
                <p>
                    "Get a token with "<code>"runboard token create --email you@example.com"</code>
                    " (the API is described in docs/api.md and at "<a href="/api/openapi.json">"/api/openapi.json"</a>
                    "). To look around with sample data instead: "<code>"runboard seed --email you@example.com"</code>
                </p>
            </div>
        }
        .into_any()
    }
}

#[component]
fn ListError(error: AppError) -> impl IntoView {
    let hint = match error {
        AppError::Unauthorized => view! { <A href="/login">"Log in again"</A> }.into_any(),
        AppError::Invalid { .. } => view! { <A href="/">"Show all runs"</A> }.into_any(),
        _ => view! { <span>"Reload the page to try again."</span> }.into_any(),
    };
    view! {
        <div class="empty error" role="alert">
            <h2>"The runs could not be loaded"</h2>
            <p>{error.to_string()}</p>
            <p>{hint}</p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::list_href;

    #[test]
    fn list_links_carry_only_the_parameters_in_use() {
        assert_eq!(list_href("", 0), "/");
        assert_eq!(list_href("failed", 0), "/?status=failed");
        assert_eq!(list_href("", 40), "/?offset=40");
        assert_eq!(list_href("failed", 20), "/?status=failed&offset=20");
    }
}
