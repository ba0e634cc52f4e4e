//! The runs list's actions on many runs: export (a download of the list's
//! filters as CSV or NDJSON, every run, not one page) and bulk actions (cancel,
//! retry, tag, untag, delete) on the rows the user ticked or on every matching
//! run. A bulk action is previewed first (the exact count it would change, in a
//! confirmation), then runs as a job whose progress the live stream reports. The
//! ticked rows travel as the query language's `id:` term, so a selection is a
//! query like any other.

use crate::components::layout::IfRole;
use crate::components::progress_bar::ProgressBar;
use crate::functions::bulk::{cancel_bulk, preview_bulk, start_bulk};
use crate::live::{on_change, Follow};
use leptos::prelude::*;
use model::{format_count, BulkAction, BulkJob, BulkPreview, ChangeData, ChangeKind, Role};
use uuid::Uuid;

/// The rows ticked on a runs list, in the order they were ticked: what "Run on
/// N selected" covers. Cleared when the list's filters change.
#[derive(Clone, Copy, Debug)]
pub struct Selection(pub RwSignal<Vec<Uuid>>);

impl Selection {
    pub fn new() -> Self {
        Self(RwSignal::new(Vec::new()))
    }

    pub fn contains(&self, id: Uuid) -> bool {
        self.0.with(|ids| ids.contains(&id))
    }

    /// Ticks or unticks one row.
    pub fn set(&self, id: Uuid, ticked: bool) {
        self.0.update(|ids| {
            ids.retain(|other| *other != id);
            if ticked {
                ids.push(id);
            }
        });
    }

    /// Ticks or unticks every row of a page.
    pub fn set_all(&self, page: &[Uuid], ticked: bool) {
        self.0.update(|ids| {
            ids.retain(|other| !page.contains(other));
            if ticked {
                ids.extend_from_slice(page);
            }
        });
    }

    pub fn clear(&self) {
        self.0.set(Vec::new());
    }
}

impl Default for Selection {
    fn default() -> Self {
        Self::new()
    }
}

/// The query string of a job over exactly these runs.
fn selection_query(ids: &[Uuid]) -> String {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &format!("id:{}", ids.join(",")))
        .finish()
}

/// The list's query string without paging and order: what an export or a job
/// covers (an export is newest first, a job has no order).
fn without_paging(query: &str) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        if !matches!(key.as_ref(), "limit" | "offset" | "cursor" | "sort") && !value.is_empty() {
            serializer.append_pair(&key, &value);
        }
    }
    serializer.finish()
}

/// The export's address for the list's query and a format.
pub fn export_href(query: &str, format: &str) -> String {
    let query = without_paging(query);
    if query.is_empty() {
        format!("/api/runs/export?format={format}")
    } else {
        format!("/api/runs/export?{query}&format={format}")
    }
}

/// "Export CSV" and "NDJSON": downloads of every run the list matches, with the
/// list's columns.
#[component]
pub fn ExportLinks(query: Signal<String>) -> impl IntoView {
    view! {
        <span class="export-links">
            <a class="button subtle" rel="external" href=move || export_href(&query.get(), "csv")>"Export CSV"</a>
            <a class="button subtle" rel="external" href=move || export_href(&query.get(), "ndjson")>"NDJSON"</a>
        </span>
    }
}

/// What the bulk control shows.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    Choosing,
    /// The action, its tag, the preview, and the query string it covers.
    Confirming(BulkAction, Option<String>, BulkPreview, Covered),
    Working(BulkJob),
}

/// What a job covers: the ticked rows or every matching run, as a query string.
#[derive(Clone, Debug, PartialEq)]
struct Covered {
    query: String,
    selected: bool,
}

/// How many jobs' newest reported states a list keeps (jobs started from this
/// page are the only ones it looks up, and those are recent).
const REPORTED_JOBS: usize = 16;

/// Keeps `job` as the newest reported state of its job, dropping the oldest
/// job's when more than [`REPORTED_JOBS`] are kept.
fn remember(jobs: &mut Vec<BulkJob>, job: BulkJob) {
    jobs.retain(|seen| seen.id != job.id);
    jobs.push(job);
    if jobs.len() > REPORTED_JOBS {
        jobs.remove(0);
    }
}

/// The later of two states of one job: a finished job stays finished, else the
/// one updated last (the stream's on a tie, as it is never older).
fn later(answered: BulkJob, reported: BulkJob) -> BulkJob {
    let rank = |job: &BulkJob| (job.status.is_finished(), job.updated_at);
    if rank(&answered) > rank(&reported) {
        answered
    } else {
        reported
    }
}

fn verb(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Cancel => "Cancel",
        BulkAction::Retry => "Retry",
        BulkAction::Delete => "Delete",
        BulkAction::Tag => "Tag",
        BulkAction::Untag => "Untag",
    }
}

/// "Run on N selected…" or "Run on all matching…": choose an action, confirm
/// the previewed count, then follow the job's progress.
#[component]
pub fn BulkActions(
    query: Signal<String>,
    total: Signal<Option<i64>>,
    selection: Selection,
) -> impl IntoView {
    let stage = RwSignal::new(Stage::Choosing);
    let error = RwSignal::new(None::<String>);
    let action = NodeRef::<leptos::html::Select>::new();
    let tag = NodeRef::<leptos::html::Input>::new();
    let chosen = RwSignal::new(BulkAction::Cancel);
    // The worker may take a job up, and even finish it, before the answer that
    // started it arrives: the newest state the stream reported for each job is
    // kept, so that answer cannot put an older state on screen.
    let reported = StoredValue::new(Vec::<BulkJob>::new());
    on_change(
        Follow::every_run(&[ChangeKind::BulkJobChanged]),
        move |change| {
            if let ChangeData::BulkJobChanged(job) = &change.data {
                reported.update_value(|jobs| remember(jobs, job.clone()));
                if matches!(stage.get_untracked(), Stage::Working(ref current) if current.id == job.id)
                {
                    stage.set(Stage::Working(job.clone()));
                }
            }
        },
    );
    let newest = move |job: BulkJob| match reported
        .with_value(|jobs| jobs.iter().find(|seen| seen.id == job.id).cloned())
    {
        Some(seen) => later(job, seen),
        None => job,
    };
    let chosen_tag = move || {
        tag.get()
            .map(|input| input.value().trim().to_string())
            .filter(|tag| !tag.is_empty())
    };
    let preview = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let action = chosen.get_untracked();
        let tag = action.takes_tag().then(chosen_tag).flatten();
        let covered = selection.0.with_untracked(|ids| {
            if ids.is_empty() {
                Covered {
                    query: without_paging(&query.get_untracked()),
                    selected: false,
                }
            } else {
                Covered {
                    query: selection_query(ids),
                    selected: true,
                }
            }
        });
        leptos::task::spawn_local(async move {
            match preview_bulk(action, covered.query.clone(), tag.clone()).await {
                Ok(preview) => {
                    error.set(None);
                    stage.set(Stage::Confirming(action, tag, preview, covered));
                }
                Err(failed) => error.set(Some(failed.to_string())),
            }
        });
    };
    let confirm = move |_| {
        let Stage::Confirming(action, tag, _, covered) = stage.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match start_bulk(action, covered.query, tag).await {
                Ok(job) => {
                    error.set(None);
                    if covered.selected {
                        selection.clear();
                    }
                    stage.set(Stage::Working(newest(job)));
                }
                Err(failed) => error.set(Some(failed.to_string())),
            }
        });
    };
    let stop = move |_| {
        let Stage::Working(job) = stage.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match cancel_bulk(job.id.to_string()).await {
                Ok(job) => stage.set(Stage::Working(newest(job))),
                Err(failed) => error.set(Some(failed.to_string())),
            }
        });
    };
    let on_action = move |_| {
        if let Some(select) = action.get() {
            let picked = match select.value().as_str() {
                "retry" => BulkAction::Retry,
                "delete" => BulkAction::Delete,
                "tag" => BulkAction::Tag,
                "untag" => BulkAction::Untag,
                _ => BulkAction::Cancel,
            };
            chosen.set(picked);
        }
    };
    let ticked = move || selection.0.with(Vec::len);
    let any_ticked = move || ticked() != 0;
    let matching = move || match ticked() {
        0 => total
            .get()
            .map(|total| format!("Run on all {} matching…", format_count(total)))
            .unwrap_or_else(|| "Run on all matching…".to_string()),
        1 => "Run on 1 selected…".to_string(),
        ticked => format!("Run on {} selected…", format_count(ticked as i64)),
    };
    view! {
        <IfRole needed=Role::Member>
            <div class="bulk-actions">
                {move || match stage.get() {
                    Stage::Choosing => view! {
                        <form class="inline-form bulk-form" on:submit=preview aria-label="Change every matching run">
                            <select node_ref=action aria-label="Bulk action" on:change=on_action>
                                <option value="cancel">"Cancel"</option>
                                <option value="retry">"Retry"</option>
                                <option value="tag">"Add tag"</option>
                                <option value="untag">"Remove tag"</option>
                                <IfRole needed=Role::Owner><option value="delete">"Delete"</option></IfRole>
                            </select>
                            <Show when=move || chosen.get().takes_tag()>
                                <input node_ref=tag type="text" maxlength="64" required placeholder="tag" aria-label="Tag" />
                            </Show>
                            <button type="submit" class="button subtle">{matching}</button>
                            <Show when=any_ticked>
                                <button type="button" class="button subtle" on:click=move |_| selection.clear()>"Clear selection"</button>
                            </Show>
                        </form>
                    }.into_any(),
                    Stage::Confirming(action, tag, preview, covered) => {
                        let which = if covered.selected { "selected" } else { "matching" };
                        let what = match &tag {
                            Some(tag) => format!("{} “{tag}”", verb(action).to_lowercase()),
                            None => verb(action).to_lowercase(),
                        };
                        let unchanged = preview.matched - preview.would_change;
                        view! {
                            <div class="bulk-confirm" role="alertdialog" aria-label="Confirm the bulk action">
                                <p>
                                    <strong>{format!("{} {} of {} {which} runs?", verb(action), format_count(preview.would_change), format_count(preview.matched))}</strong>
                                    {(unchanged > 0).then(|| format!(" {} would be left as they are (the action does not apply to them).", format_count(unchanged)))}
                                </p>
                                <button type="button" class="button primary" class:danger=action == BulkAction::Delete
                                    disabled=preview.would_change == 0 on:click=confirm>{format!("Yes, {what}")}</button>
                                <button type="button" class="button subtle" on:click=move |_| stage.set(Stage::Choosing)>"Keep them"</button>
                            </div>
                        }.into_any()
                    }
                    Stage::Working(job) => {
                        let reached = job.done + job.skipped + job.failed;
                        let progress = if job.matched > 0 { reached as f64 / job.matched as f64 } else { 1.0 };
                        let finished = job.status.is_finished();
                        view! {
                            <div class="bulk-job" data-status=job.status.as_str()>
                                <span class="bulk-job-title">{format!("{}: {}", verb(job.action), job.status.as_str())}</span>
                                <ProgressBar progress />
                                <span class="muted bulk-job-counts">
                                    {format!("{} of {} · {} changed, {} skipped, {} failed",
                                        format_count(reached), format_count(job.matched), format_count(job.done),
                                        format_count(job.skipped), format_count(job.failed))}
                                </span>
                                {if finished {
                                    view! { <button type="button" class="button subtle" on:click=move |_| stage.set(Stage::Choosing)>"Done"</button> }.into_any()
                                } else {
                                    view! { <button type="button" class="button subtle" on:click=stop>"Stop"</button> }.into_any()
                                }}
                            </div>
                        }.into_any()
                    }
                }}
                {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            </div>
        </IfRole>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_cover_the_filters_without_paging() {
        assert_eq!(
            export_href(
                "?status=failed&offset=40&cursor=1.2&fields=input.x&q=",
                "csv"
            ),
            "/api/runs/export?status=failed&fields=input.x&format=csv"
        );
        assert_eq!(export_href("", "ndjson"), "/api/runs/export?format=ndjson");
    }

    #[test]
    fn a_selection_is_a_query_of_its_ids() {
        let one: Uuid = "0193a5f0-0000-7000-8000-000000000001".parse().unwrap();
        let two: Uuid = "0193a5f0-0000-7000-8000-000000000002".parse().unwrap();
        let query = selection_query(&[one, two]);
        let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(q, vec![("q".to_string(), format!("id:{one},{two}"))]);
        let parsed = model::query::Query::parse(&q[0].1).unwrap().unwrap();
        assert_eq!(parsed.to_string(), format!("id:{one},{two}"));
    }

    fn job(status: model::BulkJobStatus, updated_ms: i64, done: i64) -> BulkJob {
        let at = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
        BulkJob {
            id: "0193a5f0-0000-7000-8000-000000000009".parse().unwrap(),
            action: BulkAction::Retry,
            q: "agent:x".to_string(),
            filter: Default::default(),
            tag: None,
            matched: 4,
            done,
            skipped: 0,
            failed: 0,
            status,
            created_by: "owner@example.com".to_string(),
            created_at: at,
            updated_at: at + chrono::Duration::milliseconds(updated_ms),
            finished_at: None,
            error: None,
        }
    }

    #[test]
    fn an_answer_older_than_the_stream_does_not_undo_its_progress() {
        use model::BulkJobStatus::{Done, Queued, Running};
        // The job finished before the answer that started it arrived.
        assert_eq!(later(job(Queued, 0, 0), job(Done, 5, 4)).status, Done);
        assert_eq!(later(job(Queued, 0, 0), job(Running, 5, 2)).done, 2);
        // An answer newer than what the stream reported so far is kept.
        assert_eq!(later(job(Running, 9, 3), job(Running, 5, 2)).done, 3);
        // A finished job stays finished, whatever the clocks say.
        assert_eq!(later(job(Done, 1, 4), job(Running, 5, 2)).status, Done);
    }

    #[test]
    fn the_newest_report_of_each_job_is_kept_and_old_jobs_drop_out() {
        let mut jobs = Vec::new();
        remember(&mut jobs, job(model::BulkJobStatus::Queued, 0, 0));
        remember(&mut jobs, job(model::BulkJobStatus::Running, 1, 1));
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].done, 1);
        for n in 0..REPORTED_JOBS as u128 + 3 {
            let mut other = job(model::BulkJobStatus::Queued, 0, 0);
            other.id = Uuid::from_u128(n + 100);
            remember(&mut jobs, other);
        }
        assert_eq!(jobs.len(), REPORTED_JOBS);
        assert!(jobs.iter().all(|seen| seen.id.as_u128() >= 100));
    }
}
