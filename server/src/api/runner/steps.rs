//! `POST /api/runner/runs/{run_id}/steps`: one attempt of a step, created or updated.

use super::{authorize_open, MAX_SMALL_BODY};
use crate::http::{ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use model::{AppError, Step, StepStatus};
use serde::Deserialize;
use serde_json::Value;
use store::db::runner::report_step;
use store::db::steps::StepReport;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepBody {
    step_id: String,
    attempt: Option<i64>,
    idx: Option<i64>,
    name: Option<String>,
    skill_id: Option<String>,
    status: Option<StepStatus>,
    cache_hit: Option<bool>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    output_preview: Option<String>,
    error: Option<Value>,
    output_artifact_ids: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/runner/runs/{run_id}/steps", tag = "runner", params(("run_id" = Uuid, Path)),
    request_body = StepBody, security(("runner_token" = [])),
    description = "Creates or updates one attempt of a step, by `stepId` and `attempt` (default 1).",
    responses((status = 200, body = Envelope<Step>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
async fn post_step(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let run = authorize_open(&state, &headers, &run_id).await?;
    let body: StepBody = ApiJson::read(body, MAX_SMALL_BODY).await?;
    if body.step_id.trim().is_empty() || body.step_id.len() > 200 {
        return Err(AppError::invalid("stepId", "stepId must be 1–200 characters").into());
    }
    let attempt = body.attempt.unwrap_or(1);
    if attempt < 1 {
        return Err(AppError::invalid("attempt", "attempt starts at 1").into());
    }
    let report = StepReport {
        step_id: body.step_id,
        attempt,
        idx: body.idx,
        name: body.name,
        skill_id: body.skill_id,
        status: body.status,
        cache_hit: body.cache_hit,
        started_at: body.started_at.map(|at| at.timestamp_millis()),
        ended_at: body.ended_at.map(|at| at.timestamp_millis()),
        output_preview: body.output_preview,
        error: body.error,
        output_artifact_ids: body.output_artifact_ids,
    };
    ok(report_step(&state.db, &run, &report).await?)
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_step))
}
