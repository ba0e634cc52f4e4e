//! The runner callback API, path- and body-compatible with the original runner
//! protocol (status, events, artifacts), plus steps, reading the run (to learn
//! of a cancellation) and pull claims. Every callback is authorized for exactly
//! one run.

mod artifacts;
mod events;
mod steps;

pub use artifacts::ArtifactAck;
pub use events::{AppendedEvent, AppendedEvents, EventsAck, MAX_BATCH_EVENTS};

use crate::api::auth::{bearer, caller_from_bearer};
use crate::api::runs::RunCreated;
use crate::http::{ok, ApiError, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::{parse_public_id, AppError, Run, RunError, RunStatus};
use serde::Deserialize;
use serde_json::Value;
use store::db::runs::{self, StatusUpdate, StoredRun};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Largest JSON body of the small callbacks (status, steps, artifact registration).
const MAX_SMALL_BODY: usize = 1024 * 1024;

/// Checks the bearer credential for `run_id` and loads the run: a runner token
/// must name this very run; the legacy RUNNER_AUTH_SECRET is accepted as is.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    run_id: &str,
) -> Result<StoredRun, AppError> {
    let token = bearer(headers).ok_or(AppError::Unauthorized)?;
    let run_id: Uuid = if state.keys.is_legacy_runner_secret(token) {
        parse_public_id(run_id)?
    } else {
        let token_run = state.keys.verify_runner_token(token)?;
        if run_id.parse::<Uuid>().ok() != Some(token_run) {
            return Err(AppError::Unauthorized);
        }
        token_run
    };
    runs::find_run_any_account(&state.db.read, run_id).await
}

/// The run a callback that adds to it (events, steps, artifacts) names: authorized
/// by its runner token, and not finished (a finished run answers 409
/// `run_finished`; the write checks again inside its transaction).
async fn authorize_open(
    state: &AppState,
    headers: &HeaderMap,
    run_id: &str,
) -> Result<StoredRun, AppError> {
    let run = authorize(state, headers, run_id).await?;
    store::db::runner::ensure_open(&run)?;
    Ok(run)
}

/// `error` as the original runner protocol sends it (a string) or as a
/// structured `{code, message, details}`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum ErrorBody {
    Message(String),
    Structured {
        code: Option<String>,
        message: String,
        details: Option<Value>,
    },
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StatusBody {
    status: Option<RunStatus>,
    progress: Option<f64>,
    error: Option<ErrorBody>,
}

#[utoipa::path(post, path = "/api/runner/runs/{run_id}/status", tag = "runner", params(("run_id" = Uuid, Path)),
    request_body = StatusBody, security(("runner_token" = [])),
    description = "Status and/or progress. Progress is clamped to [0, 1]; `running` stamps startedAt once; \
        a final status stamps completedAt and durationMs, and sets progress 1 unless given.",
    responses((status = 200, description = "`{ok: true, data: run}`", body = Envelope<Run>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`illegal_transition`, or `run_finished`: stop working on this run", body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope)))]
async fn post_status(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let run = authorize(&state, &headers, &run_id).await?;
    let body: StatusBody = ApiJson::read(body, MAX_SMALL_BODY).await?;
    if body.status.is_none() && body.progress.is_none() && body.error.is_none() {
        return Err(AppError::invalid("status", "provide status, progress or both").into());
    }
    let update = StatusUpdate {
        status: body.status,
        progress: body.progress,
        lease_lapsed: false,
        error: body.error.map(|error| match error {
            ErrorBody::Message(message) => RunError {
                code: None,
                message,
                details: None,
            },
            ErrorBody::Structured {
                code,
                message,
                details,
            } => RunError {
                code,
                message,
                details,
            },
        }),
    };
    ok(runs::update_status(&state.db, &run, &update).await?.run)
}

/// The run as stored, so a runner can see that it was cancelled.
#[utoipa::path(get, path = "/api/runner/runs/{run_id}", tag = "runner", params(("run_id" = Uuid, Path)),
    security(("runner_token" = [])),
    description = "The run as stored, so a runner learns of a cancellation.",
    responses((status = 200, body = Envelope<Run>), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn get_run(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let run = authorize(&state, &headers, &run_id).await?;
    ok(run.run)
}

/// A runner's sign of life between other callbacks: stamps `lastSeenAt` and
/// renews a claimed run's lease. Every other callback counts as one too.
#[utoipa::path(post, path = "/api/runner/runs/{run_id}/heartbeat", tag = "runner", params(("run_id" = Uuid, Path)),
    security(("runner_token" = [])),
    description = "A sign of life with an empty body: stamps lastSeenAt (every other runner callback does too) \
        and renews a claimed run's lease. Answers the run as stored, so a runner also learns of a cancellation.",
    responses((status = 200, body = Envelope<Run>), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`run_finished`: the run ended (a stalled run included); stop working on it", body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope)))]
async fn heartbeat(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let run = authorize_open(&state, &headers, &run_id).await?;
    ok(store::db::runner::heartbeat(&state.db, &run).await?)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    /// The agent's slug.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}$")]
    agent: String,
}

/// Pull model: the oldest requested run of an agent becomes queued and is handed
/// to this claimant with its runner token; 204 when there is none.
#[utoipa::path(post, path = "/api/runner/claim", tag = "runner", request_body = ClaimBody,
    description = "Pull model: the oldest requested run of the agent becomes queued and is returned with its runner \
        token. Authenticated with an owner API token (its account's runs) or the legacy RUNNER_AUTH_SECRET.",
    responses((status = 200, body = Envelope<RunCreated>), (status = 204, description = "No requested run"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
async fn claim(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let account_pk = claimant_account(&state, &parts).await?;
    let body: ClaimBody = ApiJson::read(body, MAX_SMALL_BODY).await?;
    match runs::claim_next(&state.db, account_pk, &body.agent).await? {
        Some(run) => {
            let runner_token = state.keys.runner_token(run.run.id)?;
            ok(RunCreated {
                run: run.run,
                runner_token,
            })
        }
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Claims come from an owner credential (scoped to its account) or the legacy
/// runner secret (any account, as the original protocol's shared secret was).
async fn claimant_account(
    state: &AppState,
    parts: &Parts,
) -> Result<Option<model::AccountPk>, AppError> {
    let token = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
    if state.keys.is_legacy_runner_secret(token) {
        return Ok(None);
    }
    // Claiming moves a run on (requested → queued): a member's work.
    let caller =
        caller_from_bearer(state, token, app::session::client_ip(&parts.extensions)).await?;
    caller.require(model::Role::Member)?;
    Ok(Some(caller.account_pk))
}

pub fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_run))
        .routes(routes!(post_status))
        .routes(routes!(heartbeat))
        .merge(events::router())
        .merge(artifacts::router(max_upload_bytes))
        .merge(steps::router())
        .routes(routes!(claim))
}
