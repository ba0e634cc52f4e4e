//! Bulk actions by query: `POST /api/runs/bulk` previews (`dryRun`) or starts a
//! job that cancels, retries, deletes, tags or untags every run a query matches;
//! `/api/bulk-jobs` reads and cancels jobs. Each action needs the role its
//! single-run form needs ([`model::BulkAction::role`]), for the preview and the
//! cancellation too. The work is [`store::bulk`]'s, in the background.

use super::auth::Caller;
use crate::http::{ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use model::{parse_public_id, BulkAction, BulkJob, BulkPreview};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::db::bulk::{self, NewJob};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
#[allow(unused_imports)]
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BulkBody {
    action: BulkAction,
    /// The runs list's query (`q` of `GET /api/runs`); empty or absent for every run.
    #[serde(default)]
    q: String,
    /// The runs list's other filter parameters by their query-string names, each a
    /// string: `{"status": "failed,cancelled", "agent": "crawler", "input.company": "Stripe"}`.
    /// AND-combined with `q`.
    #[serde(default)]
    #[schema(schema_with = super::filter_object)]
    filter: BTreeMap<String, String>,
    /// The tag to add or remove: required for `tag` and `untag`, refused otherwise.
    #[schema(schema_with = super::tag)]
    tag: Option<String>,
    /// Count what the action would change, changing nothing.
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(post, path = "/api/runs/bulk", tag = "runs", request_body = BulkBody,
    description = "Applies `action` to every run of the caller's account that matches `q` and `filter` (the runs \
        list's filters). With `dryRun: true` it answers 200 `{matched, wouldChange}`, exact counts, and changes \
        nothing. Otherwise it answers 202 with a queued job, which the server works through in the background \
        (newest runs first, each run by the single-run action's rule; runs the action no longer applies to when \
        reached count as `skipped`). Each action needs the role of its single-run form: `delete` an owner, the \
        others a member; the preview too.",
    responses(
        (status = 200, description = "`dryRun`: what the action would do", body = Envelope<BulkPreview>),
        (status = 202, description = "The job, queued", body = Envelope<BulkJob>),
        (status = 400, description = "An unknown action, a missing or needless `tag`, or an invalid `q` or `filter` parameter (the error names it)", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this action", body = ErrorEnvelope)))]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BulkBody>,
) -> ApiResult {
    caller.require(body.action.role())?;
    if body.dry_run {
        let filter = bulk::job_filter(&body.q, &body.filter)?;
        let tag = body.action.checked_tag("tag", body.tag.as_deref())?;
        let preview = bulk::preview(
            &state.db.read,
            caller.account_pk,
            body.action,
            tag.as_deref(),
            &filter,
        )
        .await?;
        return ok(preview);
    }
    let job = bulk::create_job(
        &state.db,
        &caller.actor(),
        NewJob {
            action: body.action,
            q: body.q,
            filter: body.filter,
            tag: body.tag,
        },
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Envelope {
            ok: true,
            data: job,
        }),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
struct BulkJobList {
    /// The account's newest jobs (at most 50), newest first.
    jobs: Vec<BulkJob>,
}

#[utoipa::path(get, path = "/api/bulk-jobs", tag = "runs",
    description = "The account's newest bulk jobs (at most 50), newest first.",
    responses((status = 200, body = Envelope<BulkJobList>),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult {
    ok(BulkJobList {
        jobs: bulk::list_jobs(&state.db.read, caller.account_pk).await?,
    })
}

#[utoipa::path(get, path = "/api/bulk-jobs/{id}", tag = "runs", params(("id" = Uuid, Path)),
    description = "A bulk job and its progress (the live stream announces it too: `bulk_job.changed`).",
    responses((status = 200, body = Envelope<BulkJob>),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "Unknown, or another account's", body = ErrorEnvelope)))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(bulk::get_job(&state.db.read, caller.account_pk, parse_public_id(&id)?).await?)
}

#[utoipa::path(post, path = "/api/bulk-jobs/{id}/cancel", tag = "runs", params(("id" = Uuid, Path)),
    description = "Stops a queued or running job before its next transaction; what it did stays done. \
        Needs the role of the job's action.",
    responses((status = 200, description = "The job, cancelled", body = Envelope<BulkJob>),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow the job's action", body = ErrorEnvelope),
        (status = 404, description = "Unknown, or another account's", body = ErrorEnvelope),
        (status = 409, description = "The job is done, cancelled or failed already (`job_finished`)", body = ErrorEnvelope)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_public_id(&id)?;
    let job = bulk::get_job(&state.db.read, caller.account_pk, id).await?;
    caller.require(job.action.role())?;
    ok(bulk::cancel_job(&state.db, &caller.actor(), id).await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(cancel))
}
