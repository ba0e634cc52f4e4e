//! Server functions of the runs list's bulk actions: preview what an action would
//! do to every run the list's filters match, start it as a job, follow and stop
//! the job (whose progress comes on the live stream). They call `store::db::bulk`, as `POST /api/runs/bulk` and
//! `/api/bulk-jobs` do, with the role the action's single-run form needs.

use leptos::prelude::*;
use model::{AppError, BulkAction, BulkJob, BulkPreview};

/// The list's query string as a job takes it: `q`, and the other filter
/// parameters (paging and columns left out).
#[cfg(feature = "ssr")]
fn job_query(query: &str) -> (String, std::collections::BTreeMap<String, String>) {
    let mut q = String::new();
    let mut filter = std::collections::BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        match key.as_ref() {
            "q" => q = value.into_owned(),
            "limit" | "offset" | "cursor" | "fields" => {}
            _ => {
                filter.insert(key.into_owned(), value.into_owned());
            }
        }
    }
    (q, filter)
}

/// What `action` would do to the runs the list's `query` matches: exact counts.
#[server(prefix = "/fn", endpoint = "preview_bulk")]
pub async fn preview_bulk(
    action: BulkAction,
    query: String,
    tag: Option<String>,
) -> Result<BulkPreview, AppError> {
    super::ssr::with_status(async {
        let (state, user, _) = super::ssr::require_role(action.role()).await?;
        let (q, filter) = job_query(&query);
        let filter = store::db::bulk::job_filter(&q, &filter)?;
        let tag = action.checked_tag("tag", tag.as_deref())?;
        store::db::bulk::preview(
            &state.db.read,
            user.account_pk,
            action,
            tag.as_deref(),
            &filter,
        )
        .await
    })
    .await
}

/// Starts `action` on every run the list's `query` matches, as a job.
#[server(prefix = "/fn", endpoint = "start_bulk")]
pub async fn start_bulk(
    action: BulkAction,
    query: String,
    tag: Option<String>,
) -> Result<BulkJob, AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(action.role()).await?;
        let (q, filter) = job_query(&query);
        let new = store::db::bulk::NewJob {
            action,
            q,
            filter,
            tag,
        };
        store::db::bulk::create_job(&state.db, &actor, new).await
    })
    .await
}

/// Stops a job before its next transaction (the role of its action).
#[server(prefix = "/fn", endpoint = "cancel_bulk")]
pub async fn cancel_bulk(id: String) -> Result<BulkJob, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let id = model::parse_public_id(&id)?;
        let job = store::db::bulk::get_job(&state.db.read, user.account_pk, id).await?;
        user.role.require(job.action.role())?;
        let actor = super::ssr::actor(&user).await;
        store::db::bulk::cancel_job(&state.db, &actor, id).await
    })
    .await
}
