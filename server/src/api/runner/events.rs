//! `POST /api/runner/runs/{run_id}/events`: one event or a batch, idempotent by
//! each event's own id and by the batch's `Idempotency-Key`.

use super::authorize_open;
use crate::http::json::invalid;
use crate::http::{ApiJson, ApiResult, ErrorEnvelope};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use model::AppError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::db::events::NewEvent;
use store::db::runner::ingest_events;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Most events in one request.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// The original protocol's `{"ok": true, "eventId": …}`, with every event's id and sequence.
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

/// One event of the body; `path` names it in errors (`body`, `events[3]`).
fn parse_event(value: Value, max_bytes: usize, path: &str) -> Result<NewEvent, AppError> {
    let size = serde_json::to_vec(&value)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(AppError::TooLarge(format!(
            "{path} is {size} bytes; one event may be at most {max_bytes} bytes"
        )));
    }
    let event: EventBody =
        serde_path_to_error::deserialize(value).map_err(|error| invalid(error, Some(path)))?;
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
    let run = authorize_open(&state, &headers, &run_id).await?;
    let limits = state.limits;
    let body: Value = ApiJson::read(body, limits.max_batch_bytes).await?;
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
        .filter(|key| !key.is_empty() && key.len() <= 200);
    let body = ingest_events(&state.db, &run, &events, key, |appended| {
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
        serde_json::to_value(&ack).map_err(|_| AppError::Internal)
    })
    .await?;
    Ok(Json(body).into_response())
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_events))
}
