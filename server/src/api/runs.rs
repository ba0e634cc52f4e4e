//! The owner API for runs: create (with the seed aliases), list with every filter,
//! read, change, cancel, retry, delete, and the run's steps, events and artifacts.

use super::auth::Owner;
use super::envelope::{created, ok, ApiError, ApiJson, ApiResult};
use app::db::events::EventQuery;
use app::db::runs::{self, CreateRun, RunPatch, StatusUpdate, StoredRun};
use app::error::AppError;
use app::model::{RunFilter, RunStatus};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// A path id that is not a UUID names no run: 404, like an unknown one.
pub fn parse_id(id: &str) -> Result<Uuid, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRunBody {
    agent: String,
    input: Option<Value>,
    campaign_id: Option<Uuid>,
    webhook_url: Option<String>,
    initiator: Option<String>,
    summary: Option<String>,
    context: Option<Value>,
}

/// Seed 000's body: `{agentSlug, params}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentRunBody {
    agent_slug: String,
    params: Option<Value>,
    initiator: Option<String>,
    summary: Option<String>,
}

/// Seed 001's body for `POST /pipelines/:pipelineId/runs`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PipelineRunBody {
    input: Option<Value>,
    #[serde(alias = "initial_input")]
    initial_input: Option<Value>,
    webhook_url: Option<String>,
    #[serde(alias = "webhook_url")]
    webhook: Option<String>,
    initiator: Option<String>,
    summary: Option<String>,
}

/// The answer to a run creation: the run and the runner token for its callbacks.
fn run_created(state: &AppState, stored: &StoredRun) -> ApiResult {
    let runner_token = state.keys.runner_token(stored.run.id)?;
    created(json!({"run": stored.run, "runnerToken": runner_token}))
}

async fn create(
    State(state): State<AppState>,
    owner: Owner,
    ApiJson(body): ApiJson<CreateRunBody>,
) -> ApiResult {
    let request = CreateRun {
        agent: body.agent,
        input: body.input,
        campaign_id: body.campaign_id,
        webhook_url: body.webhook_url,
        initiator: body.initiator,
        summary: body.summary,
        context: body.context,
    };
    let stored = runs::create_run(&state.db, owner.account_pk, request).await?;
    run_created(&state, &stored)
}

async fn create_agent_run(
    State(state): State<AppState>,
    owner: Owner,
    ApiJson(body): ApiJson<AgentRunBody>,
) -> ApiResult {
    let request = CreateRun {
        agent: body.agent_slug,
        input: body.params,
        initiator: body.initiator,
        summary: body.summary,
        ..CreateRun::default()
    };
    let stored = runs::create_run(&state.db, owner.account_pk, request)
        .await
        .map_err(|error| rename_field(error, "agent", "agentSlug"))?;
    run_created(&state, &stored)
}

async fn create_pipeline_run(
    State(state): State<AppState>,
    owner: Owner,
    Path(pipeline): Path<String>,
    ApiJson(body): ApiJson<PipelineRunBody>,
) -> ApiResult {
    let request = CreateRun {
        agent: pipeline,
        input: body.input.or(body.initial_input),
        webhook_url: body.webhook_url.or(body.webhook),
        initiator: body.initiator,
        summary: body.summary,
        ..CreateRun::default()
    };
    let stored = runs::create_run(&state.db, owner.account_pk, request)
        .await
        .map_err(|error| rename_field(error, "agent", "pipelineId"))?;
    run_created(&state, &stored)
}

fn rename_field(error: AppError, from: &str, to: &str) -> AppError {
    match error {
        AppError::Invalid { field, message } if field == from => {
            AppError::invalid(to, message.replacen(from, to, 1))
        }
        other => other,
    }
}

/// The run filter of a request's query string (`input.<path>` may repeat).
pub fn filter_from(query: Option<&str>) -> Result<RunFilter, AppError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    RunFilter::from_query(
        pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    )
}

async fn list(State(state): State<AppState>, owner: Owner, RawQuery(query): RawQuery) -> ApiResult {
    let filter = filter_from(query.as_deref())?;
    ok(runs::list_runs(&state.db.read, owner.account_pk, &filter).await?)
}

async fn load(state: &AppState, owner: Owner, id: &str) -> Result<StoredRun, AppError> {
    let mut conn = state.db.read.acquire().await?;
    runs::get_run(&mut conn, owner.account_pk, parse_id(id)?).await
}

async fn get_one(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    ok(load(&state, owner, &id).await?.run)
}

/// Lightweight status for polling.
async fn status(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    let run = load(&state, owner, &id).await?.run;
    ok(json!({
        "id": run.id,
        "status": run.status,
        "progress": run.progress,
        "createdAt": run.created_at,
        "startedAt": run.started_at,
        "updatedAt": run.updated_at,
        "completedAt": run.completed_at,
        "durationMs": run.duration_ms,
        "error": run.error,
    }))
}

async fn steps(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    let run = load(&state, owner, &id).await?;
    ok(json!({"steps": app::db::steps::list_steps(&state.db.read, run.pk).await?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventParams {
    after: Option<i64>,
    limit: Option<i64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    q: Option<String>,
}

async fn events(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
    params: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(params) =
        params.map_err(|rejection| AppError::invalid("query", rejection.body_text()))?;
    let run = load(&state, owner, &id).await?;
    let query = EventQuery {
        after: params.after,
        limit: params.limit.unwrap_or(100),
        event_type: params.event_type.filter(|value| !value.is_empty()),
        q: params.q.filter(|value| !value.trim().is_empty()),
    };
    ok(app::db::events::list_events(&state.db.read, run.pk, &query).await?)
}

async fn artifacts(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
) -> ApiResult {
    let run = load(&state, owner, &id).await?;
    ok(json!({"artifacts": app::db::artifacts::list_artifacts(&state.db.read, run.pk).await?}))
}

/// The bytes of an artifact. Stored files are served with a sandboxing CSP and
/// `nosniff`, so an uploaded HTML file can never run as this site.
async fn artifact_content(
    State(state): State<AppState>,
    owner: Owner,
    Path((id, artifact_id)): Path<(String, String)>,
) -> ApiResult {
    let run = load(&state, owner, &id).await?;
    let artifact =
        app::db::artifacts::get_artifact(&state.db.read, run.pk, parse_id(&artifact_id)?).await?;
    let content_type = artifact
        .content_type
        .clone()
        .filter(|value| HeaderValue::from_str(value).is_ok())
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let body = match (
        &artifact.storage_key,
        artifact.stored,
        &artifact.inline_text,
        &artifact.url,
    ) {
        (Some(key), true, _, _) => {
            let file = state.store.open(key).await?;
            Body::from_stream(tokio_util::io::ReaderStream::new(file))
        }
        (_, _, Some(text), _) => Body::from(text.clone()),
        (_, _, _, Some(url)) => return Ok(Redirect::to(url).into_response()),
        _ => return Err(ApiError(AppError::NotFound)),
    };
    let name = artifact
        .name
        .as_deref()
        .unwrap_or("artifact")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect::<String>();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
                    .to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchBody {
    summary: Option<String>,
    context: Option<Value>,
    status: Option<RunStatus>,
}

async fn patch(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchBody>,
) -> ApiResult {
    let patch = RunPatch {
        summary: body.summary,
        context: body.context,
        status: body.status,
    };
    ok(
        runs::patch_run(&state.db, owner.account_pk, parse_id(&id)?, patch)
            .await?
            .run,
    )
}

async fn cancel(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    let run = load(&state, owner, &id).await?;
    let update = StatusUpdate {
        status: Some(RunStatus::Cancelled),
        ..StatusUpdate::default()
    };
    ok(runs::update_status(&state.db, &run, &update).await?.run)
}

async fn retry(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    let stored = runs::retry_run(&state.db, owner.account_pk, parse_id(&id)?).await?;
    run_created(&state, &stored)
}

async fn delete(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let keys = runs::delete_run(&state.db, owner.account_pk, id).await?;
    for key in keys {
        if let Err(error) = state.store.delete(&key).await {
            tracing::warn!(?error, %key, "could not delete a stored artifact file");
        }
    }
    ok(json!({"id": id, "deleted": true}))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/runs", post(create).get(list))
        .route("/runs", get(list))
        .route("/agents/run", post(create_agent_run))
        .route("/pipelines/{pipeline}/runs", post(create_pipeline_run))
        .route("/api/runs/{id}", get(get_one).patch(patch).delete(delete))
        .route("/api/runs/{id}/status", get(status))
        .route("/api/runs/{id}/steps", get(steps))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/artifacts", get(artifacts))
        .route(
            "/api/runs/{id}/artifacts/{artifact_id}/content",
            get(artifact_content),
        )
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/runs/{id}/retry", post(retry))
}
