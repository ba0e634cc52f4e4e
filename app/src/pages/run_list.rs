//! The runs list (`/`): newest first, with a filter bar for every filter of the
//! API. The filters live in the URL, with the API's own parameter names, so a
//! filtered view can be shared and reloaded, back and forward work, and the server
//! renders the filtered page directly; after hydration, changing a filter swaps the
//! list without a page reload.

use crate::components::bulk_actions::{BulkActions, ExportLinks, Selection};
use crate::components::json_view::copy_to_clipboard;
use crate::components::layout::{IfRole, SignedInRole};
use crate::components::progress_bar::ProgressBar;
use crate::components::query_box::QueryBox;
use crate::components::runs_chart::RunsChart;
use crate::components::status_badge::StatusBadge;
use crate::components::time::{Ago, Elapsed};
use crate::components::views_sidebar::{SaveViewForm, ViewsSidebar};
use crate::functions::runs::{list_news, list_runs};
use crate::live::{debounced, on_change, Follow, RUN_LIST_CHANGES};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};
use model::{
    cell_text, format_count, format_duration_ms, input_field, AppError, ChangeData, Facet,
    FacetedQuery, Role, RunListNews, RunListView, RunRow, RunSort, RunStatus,
};
use std::collections::HashMap;
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
    let mut kept = pairs_without(query, &[key, "offset", "cursor"]);
    kept.push((key.to_string(), value.to_string()));
    href(base, &kept)
}

/// The current query at another page: `("offset", n)`, or `("cursor", c)` for
/// keyset paging (fast at any depth); `("offset", "0")` is the first page.
fn at_page(base: &str, query: &str, key: &str, value: &str) -> String {
    let mut kept = pairs_without(query, &["offset", "cursor"]);
    if value != "0" {
        kept.push((key.to_string(), value.to_string()));
    }
    href(base, &kept)
}

/// The pairs of a query string without those named `dropped`.
fn pairs_without(query: &str, dropped: &[&str]) -> Vec<(String, String)> {
    pairs(query)
        .into_iter()
        .filter(|(name, _)| !dropped.contains(&name.as_str()))
        .collect()
}

/// A filter's value on the list: its URL parameter's (a link's, or the API's
/// form) or else the one of the query `q` ([`Facet`]).
fn facet_value(query: &str, facet: Facet) -> String {
    let from_param = param(query, facet.param());
    if from_param.is_empty() {
        facet.read(&param(query, "q"))
    } else {
        facet.from_param(&from_param)
    }
}

/// The list's addresses, from its first page, with filters set in its query
/// `q`: the chips, presets and chart bars write the query the search box
/// shows. Filter parameters of the same meaning move into `q` on the way. The
/// query is parsed once for all of a page's links.
#[derive(Clone)]
struct FacetLinks {
    /// The address up to `q=`: the base and the list's other parameters
    /// (columns, order…), encoded once.
    prefix: String,
    /// The query, or its text when it does not parse (its links then keep it
    /// as it is; the search box says what is wrong).
    query: Result<FacetedQuery, String>,
}

impl FacetLinks {
    fn new(base: &str, query: &str) -> FacetLinks {
        let mut q = param(query, "q");
        for facet in Facet::ALL {
            let legacy = param(query, facet.param());
            if !legacy.is_empty() {
                if let Ok(next) = facet.write(&q, &legacy) {
                    q = next;
                }
            }
        }
        let mut dropped: Vec<&str> = Facet::ALL.iter().map(|facet| facet.param()).collect();
        dropped.extend(["q", "offset", "cursor"]);
        let kept = href(base, &pairs_without(query, &dropped));
        let separator = if kept.contains('?') { '&' } else { '?' };
        FacetLinks {
            prefix: format!("{kept}{separator}q="),
            query: FacetedQuery::parse(&q).map_err(|_| q),
        }
    }

    /// A maker of many links that each set all of `facets` (the chart's bars:
    /// status, created from and before): the rest of the query is encoded once,
    /// and each link appends its terms, written as given.
    fn setting(&self, facets: &'static [Facet]) -> impl Fn(&[&str]) -> String + Clone {
        let cleared: Vec<(Facet, String)> =
            facets.iter().map(|facet| (*facet, String::new())).collect();
        let head = self.query.as_ref().ok().map(|query| {
            let rest = query.with(&cleared);
            let mut head = self.prefix.clone();
            if !rest.is_empty() {
                head.extend(form_urlencoded::byte_serialize(rest.as_bytes()));
                head.push('+');
            }
            head
        });
        let links = self.clone();
        move |values: &[&str]| match &head {
            Some(head) => {
                let mut link = head.clone();
                for (index, (facet, value)) in facets.iter().zip(values).enumerate() {
                    if index > 0 {
                        link.push('+');
                    }
                    link.extend(form_urlencoded::byte_serialize(
                        facet.term_text(value).as_bytes(),
                    ));
                }
                link
            }
            // A query that does not parse keeps its links as they are.
            None => links.href(&[]),
        }
    }

    fn href(&self, set: &[(Facet, String)]) -> String {
        let q = match &self.query {
            Ok(query) => query.with(set),
            Err(text) => text.clone(),
        };
        if q.is_empty() {
            // No query: the address without `q=`.
            let bare = self.prefix.trim_end_matches("q=");
            return bare.trim_end_matches(['?', '&']).to_string();
        }
        let mut link = self.prefix.clone();
        link.extend(form_urlencoded::byte_serialize(q.as_bytes()));
        link
    }
}

/// The status list with `status` added, or taken out when it is in, in the
/// lifecycle's order (`queued,failed`).
fn toggled_status(chosen: &[RunStatus], status: RunStatus) -> String {
    RunStatus::ALL
        .iter()
        .filter(|each| (**each == status) != chosen.contains(each))
        .map(|each| each.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The runs list's time presets: `createdAfter` as a time ago, kept relative.
const TIME_PRESETS: [(&str, &str); 4] = [
    ("Last hour", "-1h"),
    ("24 hours", "-24h"),
    ("7 days", "-7d"),
    ("30 days", "-30d"),
];

fn param(query: &str, key: &str) -> String {
    pairs(query)
        .into_iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
        .unwrap_or_default()
}

/// How often at most an open list asks for its news (counts, chart, newer
/// runs) while changes arrive.
const NEWS_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

/// The rows on screen as the live stream changed them since the list was
/// loaded. A row is keyed by its run and follows that run's changes in place,
/// so a row (and a focused link in it) never turns into another run.
#[derive(Clone, Copy)]
struct LiveRows {
    /// The rows as loaded.
    loaded: StoredValue<Vec<RunRow>>,
    /// Rows changed since (`None`: deleted).
    changed: RwSignal<HashMap<Uuid, Option<RunRow>>>,
    /// Counts, chart and newer runs, asked for since the list was loaded.
    news: RwSignal<Option<RunListNews>>,
}

/// What a run's change did to the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Followed {
    /// A shown row changed, its status the same (progress, summary…).
    SameStatus,
    /// A shown row changed status.
    NewStatus,
    /// The run is not on screen (its change may still move the counts).
    NotShown,
}

impl LiveRows {
    fn new() -> LiveRows {
        LiveRows {
            loaded: StoredValue::new(Vec::new()),
            changed: RwSignal::new(HashMap::new()),
            news: RwSignal::new(None),
        }
    }

    /// A load of the list starts: what changed before it is in what it loads.
    /// (Changes arriving from now on may be newer than the load: they stay.)
    fn reloading(&self) {
        self.loaded.set_value(Vec::new());
        self.changed.set(HashMap::new());
        self.news.set(None);
    }

    /// The rows a load brought.
    fn show(&self, rows: &[RunRow]) {
        self.loaded.set_value(rows.to_vec());
    }

    fn current(&self, id: Uuid) -> Option<RunRow> {
        match self
            .changed
            .with_untracked(|changed| changed.get(&id).cloned())
        {
            Some(row) => row,
            None => self
                .loaded
                .with_value(|rows| rows.iter().find(|row| row.id == id).cloned()),
        }
    }

    fn follow(&self, brief: &model::RunBrief) -> Followed {
        let Some(mut row) = self.current(brief.id) else {
            return Followed::NotShown;
        };
        let before = row.status;
        row.follow(brief);
        let followed = if row.status == before {
            Followed::SameStatus
        } else {
            Followed::NewStatus
        };
        self.changed.update(|changed| {
            changed.insert(brief.id, Some(row));
        });
        followed
    }

    fn delete(&self, id: Uuid) {
        if self.current(id).is_some() {
            self.changed.update(|changed| {
                changed.insert(id, None);
            });
        }
    }

    /// A shown row as it is now (tracked): `None` once its run was deleted.
    fn row(&self, loaded: &RunRow) -> Option<RunRow> {
        self.changed
            .with(|changed| changed.get(&loaded.id).cloned())
            .unwrap_or_else(|| Some(loaded.clone()))
    }

    /// When the newest shown run was created.
    fn newest_shown(&self) -> Option<DateTime<Utc>> {
        self.loaded
            .with_value(|rows| rows.iter().map(|row| row.created_at).max())
    }
}

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
    let live = LiveRows::new();
    provide_context(live);
    let runs = Resource::new(
        move || scope.get(),
        move |scope| {
            live.reloading();
            list_runs(scope)
        },
    );
    // Ticked rows belong to the filters they were ticked under.
    let selection = Selection::new();
    provide_context(selection);
    Effect::watch(move || scope.get(), move |_, _, _| selection.clear(), false);
    let total = Signal::derive(move || runs.get().and_then(Result::ok).map(|view| view.page.total));
    // Live: rows follow their runs in place; the counts, the chart and the
    // number of newer runs are asked for now and then while changes arrive; the
    // list itself moves only when the reader asks ("N new runs").
    // Only a newest-first list has new runs at its top.
    let first_page = move || {
        query.with(|query| {
            param(query, "offset").is_empty()
                && param(query, "cursor").is_empty()
                && param(query, "sort").is_empty()
        })
    };
    let refresh_news = debounced(NEWS_DELAY, move || {
        let asked = scope.get_untracked();
        // On the first page, what is newer than its newest row (everything, when
        // it shows none) is news; a later page has none of its own.
        let newest = first_page().then(|| live.newest_shown().unwrap_or(DateTime::UNIX_EPOCH));
        leptos::task::spawn_local(async move {
            if let Ok(news) = list_news(asked.clone(), newest).await {
                // A list whose filters changed meanwhile has news of its own to come.
                if asked == scope.get_untracked() {
                    live.news.set(Some(news));
                }
            }
        });
    });
    on_change(
        Follow::every_run(RUN_LIST_CHANGES),
        move |change| match &change.data {
            ChangeData::RunBrief(brief) => {
                if live.follow(brief) != Followed::SameStatus {
                    refresh_news();
                }
            }
            ChangeData::RunDeleted(deleted) => {
                live.delete(deleted.id);
                refresh_news();
            }
            ChangeData::Resync(_) => runs.refetch(),
            ChangeData::RunCreated(_)
            | ChangeData::RunUpdated(_)
            | ChangeData::StepChanged(_)
            | ChangeData::EventsAppended(_)
            | ChangeData::ArtifactAdded(_)
            | ChangeData::CampaignChanged(_)
            | ChangeData::BulkJobChanged(_) => {}
        },
    );
    let show_new = move |_| runs.refetch();

    view! {
        <FilterBar query runs fixed_campaign />
        <div class="list-tools">
            {(!fixed_campaign).then(|| view! { <SaveViewForm query=Signal::from(query) role /> })}
            <AddColumnForm query />
            <ExportLinks query=Signal::from(scope) />
        </div>
        <BulkActions query=Signal::from(scope) total selection />
        {move || {
            let newer = live.news.with(|news| news.as_ref().map_or(0, |news| news.newer));
            (newer > 0).then(|| view! {
                <button type="button" class="new-runs-pill" on:click=show_new aria-live="polite">
                    {if newer == 1 { "1 new run".to_string() } else { format!("{} new runs", format_count(newer)) }}
                    " — show"
                </button>
            })
        }}
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
    let search = NodeRef::<leptos::html::Input>::new();
    // The filter fields, each a view of one facet of the query.
    let fields: [(Facet, NodeRef<leptos::html::Input>); 6] = [
        (Facet::Agent, NodeRef::new()),
        (Facet::Initiator, NodeRef::new()),
        (Facet::CreatedFrom, NodeRef::new()),
        (Facet::CreatedBefore, NodeRef::new()),
        (Facet::MinDuration, NodeRef::new()),
        (Facet::MaxDuration, NodeRef::new()),
    ];
    let campaign = NodeRef::<leptos::html::Select>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    // Fields that are picked rather than typed apply as soon as they change.
    let apply_now = move |_| {
        if let Some(form) = form.get_untracked() {
            let _ = form.request_submit();
        }
    };
    let problem = RwSignal::new(None);
    let field_problem = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if problem.get_untracked().is_some() {
            // The mistake is shown under the field; searching would only fail.
            if let Some(input) = search.get() {
                let _ = input.focus();
            }
            return;
        }
        let current = query.get_untracked();
        // The box's query, with what the fields say written into it: a field
        // the reader changed sets its facet; one left alone keeps what the box
        // says (and brings in a filter parameter of a link, if any).
        let mut q = search
            .get()
            .map(|input| input.value())
            .unwrap_or_else(|| param(&current, "q"));
        for (facet, node) in fields {
            let Some(input) = node.get() else { continue };
            let typed = input.value().trim().to_string();
            let legacy = param(&current, facet.param());
            let value = if typed != field_shows(&current, facet) {
                typed
            } else if !legacy.is_empty() {
                facet.from_param(&legacy)
            } else {
                continue;
            };
            match facet.write(&q, &value) {
                Ok(next) => q = next,
                Err(error) => {
                    field_problem.set(Some(error.message));
                    let _ = input.focus();
                    return;
                }
            }
        }
        let legacy_status = param(&current, "status");
        if !legacy_status.is_empty() {
            q = Facet::Status.write(&q, &legacy_status).unwrap_or(q);
        }
        field_problem.set(None);
        let mut dropped: Vec<&str> = Facet::ALL.iter().map(|facet| facet.param()).collect();
        dropped.extend(["q", "offset", "cursor", "campaign"]);
        let mut chosen = pairs_without(&current, &dropped);
        chosen.push(("q".to_string(), q));
        if let Some(select) = campaign.get() {
            chosen.push(("campaign".to_string(), select.value()));
        }
        navigate(&href(&base, &chosen), Default::default());
    };
    let value = move |name: &'static str| move || param(&query.get(), name);
    let shows = move |facet: Facet| move || field_shows(&query.get(), facet);
    let agents = Signal::derive(move || {
        runs.get()
            .and_then(Result::ok)
            .map(|view| view.agents)
            .unwrap_or_default()
    });
    // `/` anywhere on the page (outside a field) goes to the search box.
    #[cfg(feature = "hydrate")]
    {
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
        let facets = fields
            .iter()
            .filter(|(facet, _)| !facet_value(&current, *facet).is_empty())
            .count();
        facets + usize::from(!param(&current, "campaign").is_empty())
    };
    view! {
        <form node_ref=form class="filter-bar" class:more-open=move || more_open.get() method="get" action=action on:submit=submit role="search" aria-label="Filter runs">
            <input type="hidden" name="status" value=value("status") />
            <div class="grow search-field">
                <label for="q-input">"Search"</label>
                <QueryBox node_ref=search value=Signal::derive(value("q")) agents problem />
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
                <input node_ref=fields[0].1 type="text" name="agent" value=shows(Facet::Agent) prop:value=shows(Facet::Agent) list="agent-choices" placeholder="any" on:change=apply_now />
            </label>
            {(!fixed_campaign).then(|| view! {
                <label>
                    <span>"Campaign"</span>
                    <select node_ref=campaign name="campaign" on:change=apply_now>
                        <CampaignOptions query runs />
                    </select>
                </label>
            })}
            <label>
                <span>"Initiator"</span>
                <input node_ref=fields[1].1 type="text" name="initiator" value=shows(Facet::Initiator) prop:value=shows(Facet::Initiator) placeholder="any" />
            </label>
            <label>
                <span>"Created from"</span>
                <input node_ref=fields[2].1 type="date" name="createdAfter" value=shows(Facet::CreatedFrom) prop:value=shows(Facet::CreatedFrom) on:change=apply_now />
            </label>
            <label>
                <span>"Created before"</span>
                <input node_ref=fields[3].1 type="date" name="createdBefore" value=shows(Facet::CreatedBefore) prop:value=shows(Facet::CreatedBefore) on:change=apply_now />
            </label>
            <label>
                <span>"Min duration"</span>
                <input node_ref=fields[4].1 type="text" inputmode="text" name="minDurationMs" value=shows(Facet::MinDuration) prop:value=shows(Facet::MinDuration) placeholder="e.g. 90s" on:change=apply_now />
            </label>
            <label>
                <span>"Max duration"</span>
                <input node_ref=fields[5].1 type="text" inputmode="text" name="maxDurationMs" value=shows(Facet::MaxDuration) prop:value=shows(Facet::MaxDuration) placeholder="e.g. 5m" on:change=apply_now />
            </label>
            {move || field_problem.get().map(|message| view! { <p class="field-error filter-problem" role="alert">{message}</p> })}
            <div class="filter-actions">
                <button type="submit" class="button primary">"Apply"</button>
                <a class="button subtle" href=clear>"Clear"</a>
            </div>
        </form>
    }
}

/// What a filter field shows of its facet: a date field a date only (a time
/// preset such as `-24h`, or a chart bar's hour, has no date to show and is kept
/// while the field stays empty).
fn field_shows(query: &str, facet: Facet) -> String {
    let value = facet_value(query, facet);
    match facet {
        Facet::CreatedFrom | Facet::CreatedBefore => {
            let is_date = chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d").is_ok();
            if is_date {
                value
            } else {
                String::new()
            }
        }
        _ => value,
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
    let live = expect_context::<LiveRows>();
    let base = list_base();
    // The chips select statuses together: each adds its status to the list's or
    // takes it out; All clears them.
    let chosen: Vec<RunStatus> =
        model::RunFilter::parse_statuses(&facet_value(&query, Facet::Status)).unwrap_or_default();
    let links = FacetLinks::new(&base, &query);
    let query_for_table = query.clone();
    // Past the count cap the chips count a sample of the matches: say so.
    let sampled = !view.page.total_exact;
    let chip = move |label: String, value: String, count: i64| {
        let status = value.parse::<RunStatus>().ok();
        let active = match status {
            None => chosen.is_empty(),
            Some(status) => chosen.contains(&status),
        };
        let target = status.map_or_else(String::new, |status| toggled_status(&chosen, status));
        view! {
            // A plain link: the router still navigates client-side, and unlike
            // `<A>` it does not mark every chip current (they share the path `/`).
            <a
                href=links.href(&[(Facet::Status, target.clone())])
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
    // The counts and the chart as loaded, then as the list's news has them.
    let (loaded_counts, loaded_chart) = (view.status_counts.clone(), view.chart.clone());
    let counts = move || {
        live.news
            .with(|news| news.as_ref().map(|news| news.status_counts.clone()))
            .unwrap_or_else(|| loaded_counts.clone())
    };
    let chart = move || {
        live.news
            .with(|news| news.as_ref().map(|news| news.chart.clone()))
            .unwrap_or_else(|| loaded_chart.clone())
    };
    let chips = move || {
        let counts = counts();
        let total_all: i64 = counts.iter().map(|(_, count)| count).sum();
        std::iter::once(chip.clone()("All".into(), String::new(), total_all))
            .chain(counts.iter().map(|(status, count)| {
                chip.clone()(
                    status.as_str().to_string(),
                    status.as_str().to_string(),
                    *count,
                )
            }))
            .collect_view()
    };
    let agents = view.agents.clone();
    // The chart's bars narrow the list to their time and status, its other filters kept.
    let chart_link = FacetLinks::new(&list_base(), &query_for_table).setting(&[
        Facet::Status,
        Facet::CreatedFrom,
        Facet::CreatedBefore,
    ]);
    let bar_link = Callback::new(move |(from, before, status): (String, String, String)| {
        chart_link(&[&status, &from, &before])
    });
    view! {
        {move || view! { <RunsChart chart=chart() link=bar_link /> }}
        <nav class="filters" aria-label="Filter by status">{chips}</nav>
        <TimePresets query=query_for_table.clone() />
        <datalist id="agent-choices">
            {agents.into_iter().map(|agent| view! { <option value=agent></option> }).collect_view()}
        </datalist>
        <RunTable view query=query_for_table />
    }
}

/// When the runs were created: any time, the last hour, day, week or month
/// (kept relative in the address), or the custom range of the filter bar.
#[component]
fn TimePresets(query: String) -> impl IntoView {
    let base = list_base();
    let after = facet_value(&query, Facet::CreatedFrom);
    let before = facet_value(&query, Facet::CreatedBefore);
    // An empty value takes the range out: any time.
    let links = FacetLinks::new(&base, &query);
    let without_range = |after: &str| {
        links.href(&[
            (Facet::CreatedFrom, after.to_string()),
            (Facet::CreatedBefore, String::new()),
        ])
    };
    let custom = !before.is_empty()
        || (!after.is_empty() && !TIME_PRESETS.iter().any(|(_, ago)| *ago == after));
    let preset = |label: &'static str, value: &'static str| {
        let active = !custom && after == value;
        view! {
            <a href=without_range(value) class=if active { "chip active" } else { "chip" }
                aria-current=active.then_some("true") data-range=if value.is_empty() { "any" } else { value }>
                {label}
            </a>
        }
    };
    view! {
        <nav class="filters time-presets" aria-label="Filter by when the runs were created">
            {preset("Any time", "")}
            {TIME_PRESETS.iter().map(|(label, ago)| preset(label, ago)).collect_view()}
            {custom.then(|| view! { <span class="chip active" data-range="custom">"Custom range"</span> })}
        </nav>
    }
}

/// A column header that orders the list: a link to the other direction when
/// the list is in this column's order, to `first` otherwise; plain text when
/// no index gives the list this order (a search for words, say).
#[component]
fn SortHeader(
    label: &'static str,
    /// This column's orders: the first one a click gives, then the other.
    first: RunSort,
    then: RunSort,
    current: RunSort,
    orders: Vec<RunSort>,
    query: String,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    let sorted = [first, then].contains(&current);
    let aria_sort = match (sorted, current.descending()) {
        (false, _) => "none",
        (true, true) => "descending",
        (true, false) => "ascending",
    };
    let next = if current == first { then } else { first };
    let arrow = match (sorted, current.descending()) {
        (false, _) => "",
        (true, true) => " ↓",
        (true, false) => " ↑",
    };
    let content = if orders.contains(&next) {
        // The default order leaves `sort` out of the address.
        let value = if next == RunSort::default() {
            ""
        } else {
            next.as_param()
        };
        let target = with_param(&list_base(), &query, "sort", value);
        let title = format!("Order: {}", sort_label(next).to_lowercase());
        view! { <a href=target class="sort-link" title=title>{label}{arrow}</a> }.into_any()
    } else {
        view! { <span title="This list cannot be sorted by this column">{label}{arrow}</span> }
            .into_any()
    };
    view! { <th scope="col" class=class aria-sort=aria_sort>{content}</th> }
}

/// How an order reads.
fn sort_label(sort: RunSort) -> &'static str {
    match sort {
        RunSort::NewestFirst => "Newest first",
        RunSort::OldestFirst => "Oldest first",
        RunSort::LongestFirst => "Longest first",
        RunSort::ShortestFirst => "Shortest first",
    }
}

#[component]
fn RunTable(view: RunListView, query: String) -> impl IntoView {
    let base = list_base();
    let page = view.page;
    let orders = view.orders;
    let sort = RunSort::parse(&param(&query, "sort")).unwrap_or_default();
    // Pages of another order than newest first are earlier and later, not newer and older.
    let newest_first = sort == RunSort::NewestFirst;
    let keyset = !param(&query, "cursor").is_empty();
    if page.runs.is_empty() && keyset {
        return view! {
            <div class="empty">
                <h2>{if newest_first { "No older runs" } else { "No more runs" }}</h2>
                <p><a href=at_page(&base, &query, "offset", "0")>{if newest_first { "← Newest runs" } else { "← First page" }}</a></p>
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
        let which = if newest_first {
            "older runs"
        } else {
            "more runs"
        };
        format!("{shown} {which} of {total}")
    } else {
        format!("{}–{} of {total}", page.offset + 1, page.offset + shown)
    };
    let (first_label, back_label, on_label) = if newest_first {
        ("← Newest", "← Newer", "Older →")
    } else {
        ("← First", "← Previous", "Next →")
    };
    let newer = if keyset {
        Some((first_label, at_page(&base, &query, "offset", "0")))
    } else {
        (page.offset > 0).then(|| {
            (
                back_label,
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
    expect_context::<LiveRows>().show(&page.runs);
    // On a phone the runs are cards without headers: the order is a select.
    let navigate = use_navigate();
    let (order_base, order_query) = (base.clone(), query.clone());
    let choose_order = move |event: leptos::ev::Event| {
        let chosen = event_target_value(&event);
        // The default order leaves `sort` out of the address.
        let value = if chosen == RunSort::default().as_param() {
            ""
        } else {
            chosen.as_str()
        };
        navigate(
            &with_param(&order_base, &order_query, "sort", value),
            Default::default(),
        );
    };
    let order_options = RunSort::ALL
        .into_iter()
        .map(|each| {
            view! {
                <option value=each.as_param() selected=each == sort disabled=!orders.contains(&each)>
                    {sort_label(each)}
                </option>
            }
        })
        .collect_view();
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
        <label class="order-select">
            <span>"Order"</span>
            <select name="sort" on:change=choose_order>{order_options}</select>
        </label>
        <div class="table-wrap">
            <table class="runs">
                <thead>
                    <tr>
                        <IfRole needed=Role::Member>
                            <th scope="col" class="select-cell"><SelectPage ids=page_ids.clone() /></th>
                        </IfRole>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="id-cell">"Id"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Summary"</th>
                        <th scope="col">"Campaign"</th>
                        <SortHeader label="Created" first=RunSort::NewestFirst then=RunSort::OldestFirst
                            current=sort orders=orders.clone() query=query.clone() />
                        <SortHeader label="Duration" first=RunSort::LongestFirst then=RunSort::ShortestFirst
                            current=sort orders=orders.clone() query=query.clone() class="num" />
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
            {older.map(|href| view! { <a href=href class="button subtle">{on_label}</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn RunRowView(run: RunRow, columns: Vec<String>) -> impl IntoView {
    let live = expect_context::<LiveRows>();
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
    let id = run.id;
    let loaded = run.clone();
    // The row as the live stream keeps it: `None` once the run is deleted.
    let current = Memo::new(move |_| live.row(&loaded));
    let field = move |read: fn(&RunRow) -> String| {
        move || current.with(|row| row.as_ref().map(read).unwrap_or_default())
    };
    let title = field(|run| {
        run.summary
            .clone()
            .unwrap_or_else(|| format!("{} run", run.agent))
    });
    let row_label = title();
    let tags = move || {
        let tags = current.with(|row| row.as_ref().map(|row| row.tags.clone()).unwrap_or_default());
        (!tags.is_empty()).then(|| {
            let links = tags
                .into_iter()
                .map(|tag| {
                    let filter =
                        with_param(&base, "", "q", &format!("tag:{}", model::query_value(&tag)));
                    view! { <a class="tag" href=filter>{tag}</a> }
                })
                .collect_view();
            view! { <span class="tags">{links}</span> }
        })
    };
    let duration = move || {
        let timing = current.with(|row| {
            row.as_ref()
                .map(|run| (run.duration_ms, run.status, run.started_at))
        });
        match timing {
            Some((Some(ms), _, _)) => format_duration_ms(ms).into_any(),
            Some((None, RunStatus::Running, Some(since))) => view! { <Elapsed since /> }.into_any(),
            _ => "—".into_any(),
        }
    };
    let status = move || current.with(|row| row.as_ref().map_or(run.status, |row| row.status));
    let progress = move || current.with(|row| row.as_ref().map_or(0.0, |row| row.progress));
    let gone = move || current.with(Option::is_none);
    let no_campaign = run.campaign.is_none();
    let short = model::short_id(id);
    let copy_label = format!("Copy the id of run {short}");
    let copied = RwSignal::new(false);
    let copy = move |event: leptos::ev::MouseEvent| {
        // The row's own click would otherwise meet a target this re-render removed.
        event.stop_propagation();
        copy_to_clipboard(&id.to_string());
        copied.set(true);
    };
    // A click anywhere on the row opens the run; links, buttons and fields in it
    // keep their own meaning, and the title's real link serves middle-click and
    // the keyboard.
    let navigate = use_navigate();
    let open = move |event: leptos::ev::MouseEvent| {
        use leptos::wasm_bindgen::JsCast;
        if event.button() != 0
            || event.ctrl_key()
            || event.meta_key()
            || event.shift_key()
            || event.alt_key()
        {
            return;
        }
        let inside_control = event
            .target()
            .and_then(|target| target.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|element| {
                element
                    .closest("a, button, input, label, select, summary")
                    .ok()
                    .flatten()
            })
            .is_some();
        if !inside_control {
            navigate(&format!("/runs/{id}"), Default::default());
        }
    };
    view! {
        <tr data-run-id=id.to_string() class="run-row" class:deleted=gone aria-hidden=move || gone().then_some("true") on:click=open>
            <IfRole needed=Role::Member>
                <td class="select-cell"><SelectRow id label=row_label.clone() /></td>
            </IfRole>
            <td class="status-cell">{move || view! { <StatusBadge status=status() /> }}</td>
            <td class="id-cell">
                <code title=id.to_string()>{short}</code>
                <button type="button" class="copy-id" on:click=copy aria-label=copy_label
                    title=move || if copied.get() { "Copied" } else { "Copy the full id" }>
                    {move || if copied.get() {
                        view! { <span class="copied">"✓"</span> }.into_any()
                    } else {
                        // Two overlapping sheets: the usual "copy" mark.
                        view! {
                            <svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true" class="copy-icon">
                                <rect x="5" y="5" width="9" height="9" rx="1.5"></rect>
                                <path d="M11 5V3.5A1.5 1.5 0 0 0 9.5 2h-6A1.5 1.5 0 0 0 2 3.5v6A1.5 1.5 0 0 0 3.5 11H5"></path>
                            </svg>
                        }.into_any()
                    }}
                </button>
            </td>
            <td class="agent">{run.agent.clone()}</td>
            <td class="summary">
                <a href=format!("/runs/{id}")>{title}</a>
                {tags}
            </td>
            <td class="campaign-cell" class:none=no_campaign>{run.campaign.clone().unwrap_or_default()}</td>
            <td class="created-cell">
                <Ago at=run.created_at />
            </td>
            <td class="num duration-cell">{duration}</td>
            <td class="progress-cell">{move || view! { <ProgressBar progress=progress() /> }}</td>
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

    #[test]
    fn chips_presets_and_bars_write_the_query_the_box_shows() {
        // A chip sets the query's status, from the first page, its words kept.
        assert_eq!(
            FacetLinks::new("/", "q=stripe&offset=40&sort=createdAt")
                .href(&[(Facet::Status, "failed".into())]),
            "/?sort=createdAt&q=stripe+status%3Afailed"
        );
        // A link's parameters move into the query on the way.
        assert_eq!(
            FacetLinks::new("/", "status=failed&agent=crawler&minDurationMs=90000")
                .href(&[(Facet::CreatedFrom, "-24h".into())]),
            "/?q=status%3Afailed+agent%3Acrawler+duration%3A%3E%3D90s+created%3A%3E-24h"
        );
        assert_eq!(facet_value("status=failed", Facet::Status), "failed");
        assert_eq!(facet_value("q=status%3Arunning", Facet::Status), "running");
        // Any time: the range comes out.
        assert_eq!(
            FacetLinks::new("/", "q=created%3A%3E-1h+x").href(&[
                (Facet::CreatedFrom, String::new()),
                (Facet::CreatedBefore, String::new())
            ]),
            "/?q=x"
        );
        // The chart's link maker writes what href writes.
        let links = FacetLinks::new("/", "q=stripe+status%3Arunning&sort=createdAt");
        let bar = links.setting(&[Facet::Status, Facet::CreatedFrom, Facet::CreatedBefore]);
        assert_eq!(
            bar(&["failed", "2026-12-02", "2026-12-03"]),
            links.href(&[
                (Facet::Status, "failed".into()),
                (Facet::CreatedFrom, "2026-12-02".into()),
                (Facet::CreatedBefore, "2026-12-03".into()),
            ])
        );
        // A date field shows a date, not a time ago or an hour.
        assert_eq!(field_shows("q=created%3A%3E-24h", Facet::CreatedFrom), "");
        assert_eq!(
            field_shows("q=created%3A%3E%3D2026-11-01", Facet::CreatedFrom),
            "2026-11-01"
        );
        assert_eq!(
            field_shows("createdAfter=2026-11-01", Facet::CreatedFrom),
            "2026-11-01"
        );
    }
}
