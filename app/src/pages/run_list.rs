//! The runs list (`/`): newest first, with a filter bar for every filter of the
//! API. The filters live in the URL, with the API's own parameter names, so a
//! filtered view can be shared and reloaded, back and forward work, and the server
//! renders the filtered page directly; after hydration, changing a filter swaps the
//! list without a page reload.

use crate::components::bulk_actions::{BulkActions, ExportLinks, Selection};
use crate::components::layout::{IfRole, SignedInRole};
use crate::components::progress_bar::ProgressBar;
use crate::components::query_box::QueryBox;
use crate::components::runs_chart::RunsChart;
use crate::components::status_badge::StatusBadge;
use crate::components::views_sidebar::{SaveViewForm, ViewsSidebar};
use crate::functions::runs::list_runs;
use crate::live::{debounced, on_change};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};
use model::{
    cell_text, format_duration_ms, format_timestamp, input_field, AppError, Role, RunListView,
    RunRow, RunStatus,
};
use uuid::Uuid;

/// The pairs of a query string (without its `?`).
fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .into_owned()
        .collect()
}

/// The list URL (`base` is `/` or a campaign's page) for these pairs, leaving out empty values.
fn href(base: &str, pairs: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        serializer.append_pair(key, value);
    }
    let query = serializer.finish();
    if query.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{query}")
    }
}

/// The current query with `key` set to `value` (removed when empty), back on page one.
pub fn with_param(base: &str, query: &str, key: &str, value: &str) -> String {
    let mut kept: Vec<(String, String)> = pairs(query)
        .into_iter()
        .filter(|(name, _)| name != key && name != "offset" && name != "cursor")
        .collect();
    kept.push((key.to_string(), value.to_string()));
    href(base, &kept)
}

/// The current query at another page: `("offset", n)`, or `("cursor", c)` for
/// keyset paging (fast at any depth); `("offset", "0")` is the first page.
fn at_page(base: &str, query: &str, key: &str, value: &str) -> String {
    let mut kept: Vec<(String, String)> = pairs(query)
        .into_iter()
        .filter(|(name, _)| name != "offset" && name != "cursor")
        .collect();
    if value != "0" {
        kept.push((key.to_string(), value.to_string()));
    }
    href(base, &kept)
}

fn param(query: &str, key: &str) -> String {
    pairs(query)
        .into_iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
        .unwrap_or_default()
}

/// How long the list waits after a change before reloading, gathering a burst.
const LIVE_RELOAD_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

/// Where the runs list lives: `/`, or a campaign's page (whose campaign is then
/// fixed and not part of its URL).
#[derive(Clone, Debug)]
pub struct ListBase(pub String);

fn list_base() -> String {
    use_context::<ListBase>()
        .map(|base| base.0)
        .unwrap_or_else(|| "/".to_string())
}

#[component]
pub fn RunListPage() -> impl IntoView {
    view! {
        <Title text="Runs" />
        <main class="page page-wide">
            <div class="runs-layout">
                <ViewsSidebar current=None />
                <section class="runs-main">
                    <header class="page-header">
                        <h1>"Runs"</h1>
                    </header>
                    <RunsExplorer base="/".to_string() fixed=Vec::new() />
                </section>
            </div>
        </main>
    }
}

/// The URL's query string with `defaults` filled in for the keys it lacks.
fn with_defaults(query: &str, defaults: &[(String, String)]) -> String {
    let mut all = pairs(query);
    for (key, value) in defaults {
        if !all.iter().any(|(name, _)| name == key) {
            all.push((key.clone(), value.clone()));
        }
    }
    href("", &all).trim_start_matches('?').to_string()
}

/// The input fields the list shows as columns (`fields=input.company.name,…`).
fn input_columns(query: &str) -> Vec<String> {
    param(query, "fields")
        .split(',')
        .filter_map(|name| name.trim().strip_prefix("input."))
        .filter(|path| !path.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `fields` value with these input columns.
fn fields_param(columns: &[String]) -> String {
    columns
        .iter()
        .map(|path| format!("input.{path}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The filter bar, status chips, chart and table over the URL's filters plus the
/// `fixed` ones (a campaign's page fixes its campaign), with `defaults` for what
/// the URL leaves out (a view's page: the view's query and columns).
#[component]
pub fn RunsExplorer(
    base: String,
    fixed: Vec<(String, String)>,
    #[prop(optional)] defaults: Vec<(String, String)>,
) -> impl IntoView {
    provide_context(ListBase(base));
    let location = use_location();
    let query = Memo::new(move |_| with_defaults(&location.search.get(), &defaults));
    let role = use_context::<SignedInRole>()
        .map(|SignedInRole(role)| Signal::from(role))
        .unwrap_or_else(|| Signal::from(RwSignal::new(None)));
    let fixed_campaign = fixed.iter().any(|(key, _)| key == "campaign");
    // What the list covers: the URL's filters and the fixed ones.
    let scope = Memo::new(move |_| {
        let mut all = pairs(&query.get());
        all.extend(fixed.iter().cloned());
        href("", &all).trim_start_matches('?').to_string()
    });
    let runs = Resource::new(move || scope.get(), list_runs);
    // Ticked rows belong to the filters they were ticked under.
    let selection = Selection::new();
    provide_context(selection);
    Effect::watch(move || scope.get(), move |_, _, _| selection.clear(), false);
    let total = Signal::derive(move || runs.get().and_then(Result::ok).map(|view| view.page.total));
    // Live: a change that can touch a row (or a count) reloads the page's view,
    // under the same filters; a burst of changes is one reload.
    let reload = debounced(LIVE_RELOAD_DELAY, move || runs.refetch());
    on_change(move |change| {
        if change.data.touches_run_list() {
            reload();
        }
    });

    view! {
        <FilterBar query runs fixed_campaign />
        <div class="list-tools">
            {(!fixed_campaign).then(|| view! { <SaveViewForm query=Signal::from(query) role /> })}
            <AddColumnForm query />
            <ExportLinks query=Signal::from(scope) />
        </div>
        <BulkActions query=Signal::from(scope) total selection />
        <Transition fallback=|| view! { <p class="muted loading">"Loading runs…"</p> }>
            {move || Suspend::new(async move {
                let current = query.get_untracked();
                match runs.await {
                    Ok(view) => view! { <RunListBody view query=current /> }.into_any(),
                    Err(error) => view! { <ListError error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

type Runs = Resource<Result<RunListView, AppError>>;

#[component]
fn FilterBar(query: Memo<String>, runs: Runs, fixed_campaign: bool) -> impl IntoView {
    let base = list_base();
    let (action, clear) = (base.clone(), base.clone());
    let navigate = use_navigate();
    let fields: [(&'static str, NodeRef<leptos::html::Input>); 7] = [
        ("q", NodeRef::new()),
        ("initiator", NodeRef::new()),
        ("createdAfter", NodeRef::new()),
        ("createdBefore", NodeRef::new()),
        ("minDurationMs", NodeRef::new()),
        ("maxDurationMs", NodeRef::new()),
        ("agent", NodeRef::new()),
    ];
    let campaign = NodeRef::<leptos::html::Select>::new();
    let problem = RwSignal::new(None);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if problem.get_untracked().is_some() {
            // The mistake is shown under the field; searching would only fail.
            if let Some(input) = fields[0].1.get() {
                let _ = input.focus();
            }
            return;
        }
        let current = query.get_untracked();
        let mut chosen: Vec<(String, String)> = vec![
            ("status".into(), param(&current, "status")),
            ("fields".into(), param(&current, "fields")),
        ];
        for (name, node) in fields {
            if let Some(input) = node.get() {
                chosen.push((name.to_string(), input.value().trim().to_string()));
            }
        }
        if let Some(select) = campaign.get() {
            chosen.push(("campaign".to_string(), select.value()));
        }
        navigate(&href(&base, &chosen), Default::default());
    };
    let value = move |name: &'static str| move || param(&query.get(), name);
    let agents = Signal::derive(move || {
        runs.get()
            .and_then(Result::ok)
            .map(|view| view.agents)
            .unwrap_or_default()
    });
    // `/` anywhere on the page (outside a field) goes to the search box.
    #[cfg(feature = "hydrate")]
    {
        let search = fields[0].1;
        let handle = window_event_listener(leptos::ev::keydown, move |event| {
            if event.key() != "/" || event.ctrl_key() || event.meta_key() || event.alt_key() {
                return;
            }
            let typing = document().active_element().is_some_and(|element| {
                matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                    || element.has_attribute("contenteditable")
            });
            if let (false, Some(input)) = (typing, search.get_untracked()) {
                event.prevent_default();
                let _ = input.focus();
            }
        });
        on_cleanup(move || handle.remove());
    }
    // On a narrow screen the fields besides the search fold behind "Filters".
    let more_open = RwSignal::new(false);
    let active = move || {
        let current = query.get();
        [
            "agent",
            "campaign",
            "initiator",
            "createdAfter",
            "createdBefore",
            "minDurationMs",
            "maxDurationMs",
        ]
        .iter()
        .filter(|name| !param(&current, name).is_empty())
        .count()
    };
    view! {
        <form class="filter-bar" class:more-open=move || more_open.get() method="get" action=action on:submit=submit role="search" aria-label="Filter runs">
            <input type="hidden" name="status" value=value("status") />
            <div class="grow search-field">
                <label for="q-input">"Search"</label>
                <QueryBox node_ref=fields[0].1 value=Signal::derive(value("q")) agents problem />
            </div>
            <button
                type="button"
                class="button more-filters-toggle"
                aria-expanded=move || more_open.get().to_string()
                on:click=move |_| more_open.update(|open| *open = !*open)
            >
                {move || match active() {
                    0 => "Filters".to_string(),
                    count => format!("Filters ({count})"),
                }}
            </button>
            <label>
                <span>"Agent"</span>
                <input node_ref=fields[6].1 type="text" name="agent" value=value("agent") list="agent-choices" placeholder="any" />
            </label>
            {(!fixed_campaign).then(|| view! {
                <label>
                    <span>"Campaign"</span>
                    <select node_ref=campaign name="campaign">
                        <CampaignOptions query runs />
                    </select>
                </label>
            })}
            <label>
                <span>"Initiator"</span>
                <input node_ref=fields[1].1 type="text" name="initiator" value=value("initiator") placeholder="any" />
            </label>
            <label>
                <span>"Created from"</span>
                <input node_ref=fields[2].1 type="date" name="createdAfter" value=value("createdAfter") />
            </label>
            <label>
                <span>"Created before"</span>
                <input node_ref=fields[3].1 type="date" name="createdBefore" value=value("createdBefore") />
            </label>
            <label>
                <span>"Min duration (ms)"</span>
                <input node_ref=fields[4].1 type="number" min="0" name="minDurationMs" value=value("minDurationMs") />
            </label>
            <label>
                <span>"Max duration (ms)"</span>
                <input node_ref=fields[5].1 type="number" min="0" name="maxDurationMs" value=value("maxDurationMs") />
            </label>
            <div class="filter-actions">
                <button type="submit" class="button primary">"Apply"</button>
                <a class="button subtle" href=clear>"Clear"</a>
            </div>
        </form>
    }
}

/// "Add column": shows a field of the runs' input as a column of the table
/// (kept in the URL as `fields=input.<path>`, and saved with a view).
#[component]
fn AddColumnForm(query: Memo<String>) -> impl IntoView {
    let path = NodeRef::<leptos::html::Input>::new();
    let navigate = use_navigate();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(input) = path.get() else { return };
        let wanted = input.value();
        let wanted = wanted.trim().trim_start_matches("input.");
        if wanted.is_empty() {
            return;
        }
        let current = query.get_untracked();
        let mut columns = input_columns(&current);
        if !columns.iter().any(|column| column == wanted) {
            columns.push(wanted.to_string());
        }
        input.set_value("");
        let base = list_base();
        navigate(
            &with_param(&base, &current, "fields", &fields_param(&columns)),
            Default::default(),
        );
    };
    view! {
        <form class="add-column inline-form" on:submit=submit aria-label="Add an input field as a column">
            <input node_ref=path type="text" name="column" placeholder="Input field, e.g. company_name"
                aria-label="Input field to show as a column" />
            <button type="submit" class="button subtle">"Add column"</button>
        </form>
    }
}

/// The campaign choices, which come with the list.
#[component]
fn CampaignOptions(query: Memo<String>, runs: Runs) -> impl IntoView {
    view! {
        <option value="">"any"</option>
        <Transition>
            {move || Suspend::new(async move {
                let selected = param(&query.get_untracked(), "campaign");
                runs
                    .await
                    .map(|view| {
                        view.campaigns
                            .into_iter()
                            .map(|(id, name)| {
                                let id = id.to_string();
                                let is_selected = id == selected;
                                view! { <option value=id selected=is_selected>{name}</option> }
                            })
                            .collect_view()
                    })
                    .ok()
            })}
        </Transition>
    }
}

#[component]
fn RunListBody(view: RunListView, query: String) -> impl IntoView {
    let base = list_base();
    let current = param(&query, "status");
    let total_all: i64 = view.status_counts.iter().map(|(_, count)| count).sum();
    // Past the count cap the chips count a sample of the matches: say so.
    let sampled = !view.page.total_exact;
    let chip = |label: String, value: String, count: i64| {
        let active = current == value;
        view! {
            // A plain link: the router still navigates client-side, and unlike
            // `<A>` it does not mark every chip current (they share the path `/`).
            <a
                href=with_param(&base, &query, "status", &value)
                class=if active { "chip active" } else { "chip" }
                aria-current=active.then_some("true")
                data-status=if value.is_empty() { "all".to_string() } else { value.clone() }
            >
                {label}
                <span class="count" title=sampled.then_some("counted over the first 10,000 matching runs")>
                    {if sampled { format!("{count}+") } else { count.to_string() }}
                </span>
            </a>
        }
    };
    let chips = std::iter::once(chip("All".into(), String::new(), total_all))
        .chain(view.status_counts.iter().map(|(status, count)| {
            chip(
                status.as_str().to_string(),
                status.as_str().to_string(),
                *count,
            )
        }))
        .collect_view();
    let agents = view.agents.clone();
    let chart = view.chart.clone();
    view! {
        <RunsChart days=chart />
        <nav class="filters" aria-label="Filter by status">{chips}</nav>
        <datalist id="agent-choices">
            {agents.into_iter().map(|agent| view! { <option value=agent></option> }).collect_view()}
        </datalist>
        <RunTable view query />
    }
}

#[component]
fn RunTable(view: RunListView, query: String) -> impl IntoView {
    let base = list_base();
    let page = view.page;
    let keyset = !param(&query, "cursor").is_empty();
    if page.runs.is_empty() && keyset {
        return view! {
            <div class="empty">
                <h2>"No older runs"</h2>
                <p><a href=at_page(&base, &query, "offset", "0")>"← Newest runs"</a></p>
            </div>
        }
        .into_any();
    }
    if page.runs.is_empty() {
        let filtered = !pairs(&query).is_empty();
        return view! { <EmptyState filtered /> }.into_any();
    }
    let shown = page.runs.len() as i64;
    let total = if page.total_exact {
        page.total.to_string()
    } else {
        format!("{}+", page.total)
    };
    // Keyset pages know what they hold, not where they are: they count, and lead back to the newest.
    let position = if keyset {
        format!("{shown} older runs of {total}")
    } else {
        format!("{}–{} of {total}", page.offset + 1, page.offset + shown)
    };
    let newer = if keyset {
        Some(("← Newest", at_page(&base, &query, "offset", "0")))
    } else {
        (page.offset > 0).then(|| {
            (
                "← Newer",
                at_page(
                    &base,
                    &query,
                    "offset",
                    &(page.offset - page.limit).max(0).to_string(),
                ),
            )
        })
    };
    let more = keyset || !page.total_exact || page.offset + shown < page.total;
    let older = page
        .next_cursor
        .clone()
        .filter(|_| more)
        .map(|cursor| at_page(&base, &query, "cursor", &cursor));
    let columns = input_columns(&query);
    let page_ids: Vec<Uuid> = page.runs.iter().map(|run| run.id).collect();
    let column_headers = columns
        .iter()
        .map(|path| {
            let rest: Vec<String> = columns.iter().filter(|other| *other != path).cloned().collect();
            let remove = with_param(&base, &query, "fields", &fields_param(&rest));
            view! {
                <th scope="col" class="input-column">
                    <span class="column-name">{path.clone()}</span>
                    <a href=remove class="remove-column" aria-label=format!("Remove the column {path}") title="Remove this column">"×"</a>
                </th>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="runs">
                <thead>
                    <tr>
                        <IfRole needed=Role::Member>
                            <th scope="col" class="select-cell"><SelectPage ids=page_ids.clone() /></th>
                        </IfRole>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Summary"</th>
                        <th scope="col">"Campaign"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col" class="num">"Duration"</th>
                        <th scope="col">"Progress"</th>
                        {column_headers}
                    </tr>
                </thead>
                <tbody>
                    {page.runs.into_iter().map(|run| view! { <RunRowView run columns=columns.clone() /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <span class="muted">{position}</span>
            {newer.map(|(label, href)| view! { <a href=href class="button subtle">{label}</a> })}
            {older.map(|href| view! { <a href=href class="button subtle">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn RunRowView(run: RunRow, columns: Vec<String>) -> impl IntoView {
    let base = list_base();
    let cells = columns
        .iter()
        .map(|path| {
            let text = input_field(&run.input, path)
                .map(cell_text)
                .unwrap_or_default();
            view! { <td class="input-cell">{text}</td> }
        })
        .collect_view();
    let tags = run
        .tags
        .iter()
        .map(|tag| {
            let filter = with_param(&base, "", "q", &format!("tag:{}", model::query_value(tag)));
            view! { <a class="tag" href=filter>{tag.clone()}</a> }
        })
        .collect_view();
    let title = run
        .summary
        .clone()
        .unwrap_or_else(|| format!("{} run", run.agent));
    let row_label = title.clone();
    let no_campaign = run.campaign.is_none();
    let duration = match (run.duration_ms, run.status) {
        (Some(ms), _) => format_duration_ms(ms),
        (None, RunStatus::Running) => "running…".to_string(),
        (None, _) => "—".to_string(),
    };
    view! {
        <tr data-run-id=run.id.to_string()>
            <IfRole needed=Role::Member>
                <td class="select-cell"><SelectRow id=run.id label=row_label.clone() /></td>
            </IfRole>
            <td class="status-cell"><StatusBadge status=run.status /></td>
            <td class="agent">{run.agent.clone()}</td>
            <td class="summary">
                <a href=format!("/runs/{}", run.id)>{title.clone()}</a>
                {(!run.tags.is_empty()).then(|| view! { <span class="tags">{tags}</span> })}
            </td>
            <td class="campaign-cell" class:none=no_campaign>{run.campaign.unwrap_or_default()}</td>
            <td class="created-cell">
                <time datetime=run.created_at.to_rfc3339()>{format_timestamp(run.created_at)}</time>
            </td>
            <td class="num duration-cell">{duration}</td>
            <td class="progress-cell"><ProgressBar progress=run.progress /></td>
            {cells}
        </tr>
    }
}

/// The checkbox that ticks one row for "Run on N selected".
#[component]
fn SelectRow(id: Uuid, label: String) -> impl IntoView {
    let selection = expect_context::<Selection>();
    view! {
        <input type="checkbox" class="select-run" aria-label=format!("Select {label}")
            prop:checked=move || selection.contains(id)
            on:change=move |event| selection.set(id, event_target_checked(&event)) />
    }
}

/// The header's checkbox: ticks or unticks every row of the page.
#[component]
fn SelectPage(ids: Vec<Uuid>) -> impl IntoView {
    let selection = expect_context::<Selection>();
    let page = ids.clone();
    let all = move || !ids.is_empty() && ids.iter().all(|id| selection.contains(*id));
    view! {
        <input type="checkbox" class="select-page" aria-label="Select every run on this page"
            prop:checked=all
            on:change=move |event| selection.set_all(&page, event_target_checked(&event)) />
    }
}

#[component]
fn EmptyState(filtered: bool) -> impl IntoView {
    if filtered {
        view! {
            <div class="empty">
                <h2>"No runs match these filters"</h2>
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
        AppError::Invalid { .. } | AppError::InvalidAt { .. } => {
            view! { <A href="/">"Show all runs"</A> }.into_any()
        }
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
    use super::*;

    #[test]
    fn filter_links_keep_the_other_filters_and_go_back_to_page_one() {
        assert_eq!(with_param("/", "", "status", "failed"), "/?status=failed");
        assert_eq!(
            with_param("/", "agent=a&status=running&offset=40", "status", "failed"),
            "/?agent=a&status=failed"
        );
        assert_eq!(with_param("/", "status=failed", "status", ""), "/");
        assert_eq!(
            at_page("/", "q=input.x%3D1", "offset", "20"),
            "/?q=input.x%3D1&offset=20"
        );
        assert_eq!(at_page("/", "offset=20", "offset", "0"), "/");
        assert_eq!(
            at_page("/", "status=failed&offset=20", "cursor", "17.4"),
            "/?status=failed&cursor=17.4"
        );
    }
}
