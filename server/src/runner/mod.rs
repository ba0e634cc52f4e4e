//! The runner callback API, path- and body-compatible with seed 003 (status,
//! events, artifacts), plus steps, reading the run (to learn of a cancellation)
//! and pull claims. Every callback is authorised for exactly one run.

use crate::api::auth::{bearer, owner_from_bearer};
use crate::api::envelope::{body_error, ok, ApiError, ApiResult, Envelope, ErrorEnvelope};
use crate::api::runs::RunCreated;
use app::state::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use model::{parse_public_id, AppError, Artifact, Run, RunError, RunStatus, Step, StepStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::db::artifacts::{validate_storage_key, NewArtifact};
use store::db::events::NewEvent;
use store::db::runs::{self, StatusUpdate, StoredRun};
use store::db::steps::StepReport;
use store::storage::Store;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

/// Most events in one request.
pub const MAX_BATCH_EVENTS: usize = 1000;
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
    let mut conn = state.db.read.acquire().await?;
    runs::get_run_any_account(&mut conn, run_id).await
}

/// A finished run takes no more callbacks: 409 `run_finished` tells the runner to stop.
fn ensure_open(run: &StoredRun) -> Result<(), AppError> {
    open_or_finished(run.run.id, run.run.status)
}

fn open_or_finished(id: Uuid, status: RunStatus) -> Result<(), AppError> {
    if status.is_terminal() {
        Err(AppError::conflict(
            model::ConflictCode::RunFinished,
            format!("run {id} is {status}; stop working on it"),
        ))
    } else {
        Ok(())
    }
}

/// [`ensure_open`] again inside the write transaction that adds to the run: it
/// may have finished since it was read, and nothing may be added after that.
async fn ensure_still_open(
    conn: &mut sqlx::SqliteConnection,
    run: &StoredRun,
) -> Result<(), AppError> {
    let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE pk = ?")
        .bind(run.pk)
        .fetch_one(conn)
        .await?;
    open_or_finished(run.run.id, status.parse().map_err(|_| AppError::Internal)?)
}

/// Reads a JSON body of at most `limit` bytes (413 beyond).
async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, AppError> {
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| AppError::TooLarge(format!("the body is larger than {limit} bytes")))?;
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        if error.inner().is_syntax() || error.inner().is_eof() {
            AppError::invalid("body", "the body is not valid JSON")
        } else {
            body_error(&error.to_string())
        }
    })
}

/// Seed 003's `{"ok": true, "eventId": …}`, with every event's id and sequence.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsAck {
    pub ok: bool,
    /// The first (for a single event, the only) event's id.
    pub event_id: Option<Uuid>,
    pub event_ids: Vec<Uuid>,
    pub data: AppendedEvents,
}

#[derive(Serialize, ToSchema)]
pub struct AppendedEvents {
    pub events: Vec<AppendedEvent>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppendedEvent {
    pub event_id: Uuid,
    /// The event's number in its run: 1, 2, 3… in arrival order.
    pub seq: i64,
}

/// Seed 003's `{"ok": true, "artifactId": …}`, with the stored artifact.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactAck {
    pub ok: bool,
    pub artifact_id: Uuid,
    pub data: Artifact,
}

/// `error` as seed 003 sends it (a string) or as seed 002 has it (an object).
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
    description = "Status and/or progress (seed 003). Progress is clamped to [0, 1]; `running` stamps startedAt once; \
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
    let body: StatusBody = read_json(body, MAX_SMALL_BODY).await?;
    if body.status.is_none() && body.progress.is_none() && body.error.is_none() {
        return Err(AppError::invalid("status", "provide status, progress or both").into());
    }
    let update = StatusUpdate {
        status: body.status,
        progress: body.progress,
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventBody {
    /// The runner's own id for the event, for idempotent retries.
    id: Option<String>,
    event_type: String,
    message: Option<String>,
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EventsBody {
    Batch { events: Vec<Value> },
    One(Value),
}

fn parse_event(value: Value, max_bytes: usize, path: &str) -> Result<NewEvent, AppError> {
    let size = serde_json::to_vec(&value)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(AppError::TooLarge(format!(
            "{path} is {size} bytes; one event may be at most {max_bytes} bytes"
        )));
    }
    let event: EventBody = serde_path_to_error::deserialize(value).map_err(|error| {
        let AppError::Invalid { field, message } = body_error(&error.to_string()) else {
            return AppError::invalid(path, error.to_string());
        };
        let field = if field == "body" {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        AppError::invalid(field, message)
    })?;
    if event.event_type.trim().is_empty() {
        return Err(AppError::invalid(
            format!("{path}.eventType"),
            "eventType must not be empty",
        ));
    }
    Ok(NewEvent {
        client_id: event.id.filter(|id| !id.is_empty()),
        event_type: event.event_type,
        message: event.message,
        metadata: event.metadata,
    })
}

#[utoipa::path(post, path = "/api/runner/runs/{run_id}/events", tag = "runner", params(("run_id" = Uuid, Path)),
    request_body(content = EventBody, description = "One event, or `{\"events\": [event, …]}` with up to 1,000. \
        An event's own `id`, or an `Idempotency-Key` header for the batch, makes retries store nothing twice."),
    security(("runner_token" = [])),
    responses((status = 200, body = EventsAck), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 413, description = "An event over 256 KiB, a batch over 3 MiB or 1,000 events", body = ErrorEnvelope)))]
async fn post_events(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let run = authorize(&state, &headers, &run_id).await?;
    ensure_open(&run)?;
    let limits = state.limits;
    let body: Value = read_json(body, limits.max_batch_bytes).await?;
    let (values, single) = match serde_json::from_value::<EventsBody>(body) {
        Ok(EventsBody::Batch { events }) => (events, false),
        Ok(EventsBody::One(value)) => (vec![value], true),
        Err(_) => {
            return Err(AppError::invalid("body", "send one event or {\"events\": [...]}").into())
        }
    };
    if values.is_empty() {
        return Err(AppError::invalid("events", "events must not be empty").into());
    }
    if values.len() > MAX_BATCH_EVENTS {
        return Err(AppError::TooLarge(format!(
            "{} events in one batch; at most {MAX_BATCH_EVENTS}",
            values.len()
        ))
        .into());
    }
    let events = values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let path = if single {
                "body".to_string()
            } else {
                format!("events[{index}]")
            };
            parse_event(value, limits.max_event_bytes, &path)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty() && key.len() <= 200)
        .map(str::to_string);

    let mut tx = state.db.begin_write().await.map_err(AppError::from)?;
    if let Some(key) = &key {
        if let Some(stored) = store::db::events::idempotent_response(&mut tx, run.pk, key)
            .await
            .map_err(AppError::from)?
        {
            let body: Value = serde_json::from_str(&stored).map_err(|_| AppError::Internal)?;
            return Ok(Json(body).into_response());
        }
    }
    ensure_still_open(&mut tx, &run).await?;
    let appended = store::db::events::append_events(&mut tx, run.pk, &events).await?;
    let ack = EventsAck {
        ok: true,
        event_id: appended.first().map(|event| event.id),
        event_ids: appended.iter().map(|event| event.id).collect(),
        data: AppendedEvents {
            events: appended
                .iter()
                .map(|event| AppendedEvent {
                    event_id: event.id,
                    seq: event.seq,
                })
                .collect(),
        },
    };
    let body = serde_json::to_value(&ack).map_err(|_| AppError::Internal)?;
    if let Some(key) = &key {
        store::db::events::remember_response(&mut tx, run.pk, key, &body.to_string())
            .await
            .map_err(AppError::from)?;
    }
    tx.commit().await.map_err(AppError::from)?;
    Ok(Json(body).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArtifactBody {
    artifact_type: String,
    storage_key: Option<String>,
    name: Option<String>,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    url: Option<String>,
    inline_text: Option<String>,
    step_id: Option<String>,
    metadata: Option<Value>,
}

const MAX_INLINE_TEXT: usize = 64 * 1024;

#[utoipa::path(post, path = "/api/runner/runs/{run_id}/artifacts", tag = "runner", params(("run_id" = Uuid, Path)),
    request_body(content = ArtifactBody, description = "JSON registration of an artifact stored elsewhere, or \
        `multipart/form-data` with `file` (stored by Runboard under a generated key), `artifactType`, and optional \
        `metadata` (JSON), `contentType`, `name`, `stepId`."),
    security(("runner_token" = [])),
    responses((status = 200, body = ArtifactAck), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 413, description = "Larger than RUNBOARD_MAX_UPLOAD", body = ErrorEnvelope)))]
async fn post_artifact(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    request: Request,
) -> ApiResult {
    let run = authorize(&state, request.headers(), &run_id).await?;
    ensure_open(&run)?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    let artifact = if is_multipart {
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|rejection| AppError::invalid("body", rejection.body_text()))?;
        upload(&state, &run, multipart).await?
    } else {
        let body: ArtifactBody = read_json(request.into_body(), MAX_SMALL_BODY).await?;
        register(body)?
    };
    let mut tx = state.db.begin_write().await.map_err(AppError::from)?;
    let stored = match ensure_still_open(&mut tx, &run).await {
        Ok(()) => store::db::artifacts::insert_artifact(&mut tx, run.pk, &artifact).await,
        Err(error) => Err(error),
    };
    match stored {
        Ok(saved) => {
            tx.commit().await.map_err(AppError::from)?;
            Ok(Json(ArtifactAck {
                ok: true,
                artifact_id: saved.id,
                data: saved,
            })
            .into_response())
        }
        Err(error) => {
            drop(tx);
            if artifact.stored {
                if let Some(key) = &artifact.storage_key {
                    let _ = state.store.delete(key).await;
                }
            }
            Err(error.into())
        }
    }
}

/// A JSON registration of an artifact stored elsewhere.
fn register(body: ArtifactBody) -> Result<NewArtifact, AppError> {
    if body.artifact_type.trim().is_empty() {
        return Err(AppError::invalid(
            "artifactType",
            "artifactType must not be empty",
        ));
    }
    if let Some(key) = &body.storage_key {
        validate_storage_key(key)?;
    }
    if let Some(url) = &body.url {
        runs::validate_http_url("url", url)?;
    }
    if body.storage_key.is_none() && body.url.is_none() && body.inline_text.is_none() {
        return Err(AppError::invalid(
            "storageKey",
            "give storageKey, url or inlineText",
        ));
    }
    if body
        .inline_text
        .as_ref()
        .is_some_and(|text| text.len() > MAX_INLINE_TEXT)
    {
        return Err(AppError::TooLarge(format!(
            "inlineText may be at most {MAX_INLINE_TEXT} bytes"
        )));
    }
    Ok(NewArtifact {
        id: None,
        step_id: body.step_id,
        name: body.name,
        artifact_type: body.artifact_type,
        content_type: body.content_type,
        size_bytes: body.size_bytes,
        sha256: body.sha256,
        storage_key: body.storage_key,
        stored: false,
        url: body.url,
        inline_text: body.inline_text,
        metadata: body.metadata,
    })
}

/// A multipart upload: `file` is streamed into Runboard's store under a generated
/// key; `artifactType`, `metadata`, `contentType`, `name`, `stepId` describe it.
async fn upload(
    state: &AppState,
    run: &StoredRun,
    mut multipart: Multipart,
) -> Result<NewArtifact, AppError> {
    let artifact_id = Uuid::now_v7();
    let key = Store::new_key(run.run.id, artifact_id);
    let mut artifact = NewArtifact {
        id: Some(artifact_id),
        ..NewArtifact::default()
    };
    let mut file: Option<(u64, String)> = None;
    let bad_part = |error: axum::extract::multipart::MultipartError| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge("the upload is too large".into())
        } else {
            AppError::invalid("body", error.body_text())
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_part)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if artifact.name.is_none() {
                artifact.name = field.file_name().map(str::to_string);
            }
            if artifact.content_type.is_none() {
                artifact.content_type = field.content_type().map(str::to_string);
            }
            let mut upload = state.store.begin_upload(&key).await?;
            loop {
                let chunk = match field.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(error) => {
                        upload.abort().await;
                        return Err(bad_part(error));
                    }
                };
                if upload.size() + chunk.len() as u64 > state.limits.max_upload_bytes {
                    upload.abort().await;
                    return Err(AppError::TooLarge(format!(
                        "uploads may be at most {} bytes",
                        state.limits.max_upload_bytes
                    )));
                }
                upload.write(&chunk).await?;
            }
            file = Some(upload.finish().await?);
            continue;
        }
        let text = field.text().await.map_err(bad_part)?;
        match name.as_str() {
            "artifactType" => artifact.artifact_type = text,
            "contentType" => artifact.content_type = Some(text),
            "name" => artifact.name = Some(text),
            "stepId" => artifact.step_id = Some(text),
            "metadata" => {
                artifact.metadata =
                    Some(serde_json::from_str(&text).map_err(|_| {
                        AppError::invalid("metadata", "metadata must be a JSON object")
                    })?)
            }
            // The key is Runboard's to choose; a client's key is kept as metadata only.
            "storageKey" => {
                validate_storage_key(&text)?;
                artifact.metadata.get_or_insert_with(|| json!({}))["clientStorageKey"] =
                    Value::from(text);
            }
            other => {
                return Err(AppError::invalid(
                    other,
                    format!("unknown form field `{other}`"),
                ));
            }
        }
    }
    let Some((size, sha256)) = file else {
        return Err(AppError::invalid(
            "file",
            "the multipart body has no `file` part",
        ));
    };
    if artifact.artifact_type.trim().is_empty() {
        let _ = state.store.delete(&key).await;
        return Err(AppError::invalid(
            "artifactType",
            "artifactType must not be empty",
        ));
    }
    artifact.size_bytes = Some(size as i64);
    artifact.sha256 = Some(sha256);
    artifact.storage_key = Some(key);
    artifact.stored = true;
    Ok(artifact)
}

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
    let run = authorize(&state, &headers, &run_id).await?;
    ensure_open(&run)?;
    let body: StepBody = read_json(body, MAX_SMALL_BODY).await?;
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
    let mut tx = state.db.begin_write().await.map_err(AppError::from)?;
    ensure_still_open(&mut tx, &run).await?;
    let step = store::db::steps::upsert_step(&mut tx, run.pk, &report).await?;
    tx.commit().await.map_err(AppError::from)?;
    ok(step)
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
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
    let body: ClaimBody = read_json(body, MAX_SMALL_BODY).await?;
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
/// runner secret (any account, as seed 003's shared secret was).
async fn claimant_account(state: &AppState, parts: &Parts) -> Result<Option<i64>, AppError> {
    let token = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
    if state.keys.is_legacy_runner_secret(token) {
        return Ok(None);
    }
    Ok(Some(owner_from_bearer(state, token).await?.account_pk))
}

pub fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    // Multipart bodies are limited while streaming; leave room for the form around the file.
    let upload_limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    OpenApiRouter::new()
        .routes(routes!(get_run))
        .routes(routes!(post_status))
        .routes(routes!(post_events))
        .routes(routes!(post_artifact).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(post_step))
        .routes(routes!(claim))
}
