//! `GET /api/events/stream`: the caller's committed changes as server-sent events.
//! Every message's `id` is its change sequence number; a client that reconnects
//! with `Last-Event-ID` (or `?lastEventId=`) is replayed what it missed, and one
//! too far behind gets a `resync` message instead of a silent gap. The fan-out
//! itself lives in `store::fanout`.

use crate::api::auth::Caller;
use crate::http::{ApiError, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use model::{AppError, Change, ChangeData, ChangeKind, Resync};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use store::db::changes::{ChangeFilter, LoggedChange};
use store::fanout::{Message, Subscription};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long a browser waits before reconnecting a dropped stream.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Where a stream starts and what it follows, from the query and headers.
#[derive(Debug, Default, PartialEq)]
struct StreamRequest {
    run_id: Option<uuid::Uuid>,
    kinds: Option<Vec<ChangeKind>>,
    last_event_id: Option<i64>,
}

fn parse_request(query: Option<&str>, headers: &HeaderMap) -> Result<StreamRequest, AppError> {
    let mut request = StreamRequest::default();
    let event_id = |field: &str, value: &str| {
        value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| {
                AppError::invalid(
                    field,
                    format!("{field} must be the id of a message of this stream"),
                )
            })
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "runId" => {
                request.run_id =
                    Some(value.parse().map_err(|_| {
                        AppError::invalid("runId", "runId must be a run id (a UUID)")
                    })?)
            }
            "kinds" => request.kinds = Some(parse_kinds(&value)?),
            "lastEventId" => request.last_event_id = Some(event_id("lastEventId", &value)?),
            other => {
                return Err(AppError::invalid(
                    other,
                    format!(
                        "unknown parameter {other}; the stream takes runId, kinds and lastEventId"
                    ),
                ))
            }
        }
    }
    // The header is what a browser sends when it reconnects by itself: it is newer
    // than a lastEventId the page put in the URL when it first connected.
    if let Some(value) = headers.get("last-event-id") {
        let value = value
            .to_str()
            .map_err(|_| AppError::invalid("Last-Event-ID", "Last-Event-ID must be a number"))?;
        if !value.trim().is_empty() {
            request.last_event_id = Some(event_id("Last-Event-ID", value)?);
        }
    }
    Ok(request)
}

/// `kinds`: change kinds separated by commas (empty: none but `resync`).
fn parse_kinds(value: &str) -> Result<Vec<ChangeKind>, AppError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|kind| !kind.is_empty())
        .map(|kind| {
            kind.parse::<ChangeKind>().map_err(|_| {
                let known: Vec<&str> = ChangeKind::ALL
                    .iter()
                    .filter(|kind| **kind != ChangeKind::Resync)
                    .map(|kind| kind.as_str())
                    .collect();
                AppError::invalid(
                    "kinds",
                    format!("unknown change kind {kind}; kinds are {}", known.join(", ")),
                )
            })
        })
        .collect()
}

/// A change of the log as an SSE message: its sequence number is the `id`.
fn logged_event(change: &LoggedChange, kind: ChangeKind, json: &str) -> Event {
    Event::default()
        .id(change.seq.to_string())
        .event(kind.as_str())
        .data(json)
}

fn to_event(message: Message) -> Event {
    match message {
        Message::Change(change) => logged_event(&change, change.kind, &change.json),
        Message::Brief(change) => match change.brief_json() {
            Some(brief) => logged_event(&change, ChangeKind::RunBrief, brief),
            // Only runs' creations and updates are sent in brief, and a stored
            // run always reads back: the whole change is the safe fallback.
            None => logged_event(&change, change.kind, &change.json),
        },
        Message::Resync { seq, reason } => {
            let change = Change {
                seq,
                run_id: None,
                data: ChangeData::Resync(Resync {
                    reason: reason.to_string(),
                }),
            };
            Event::default()
                .id(seq.to_string())
                .event(ChangeKind::Resync.as_str())
                .data(serde_json::to_string(&change).unwrap_or_default())
        }
    }
}

/// One message of the stream, for the API document (as OpenAPI 3.2 describes
/// server-sent events: `event`, `id`, `retry`, and `data` as text).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum StreamEvent {
    Ready(ReadyEvent),
    Change(ChangeEvent),
}

/// The first message: where the stream starts. It has no `id`, so it does not
/// move the client's position.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct ReadyEvent {
    #[schema(pattern = "^ready$")]
    event: String,
    /// Milliseconds a browser waits before it reconnects a dropped stream.
    retry: u64,
    /// A [`StreamReady`] as JSON text: `{"position": …}`.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// A committed change. `event` is its kind; `resync` says the client missed more
/// than the server replays: reload, then follow on from this message's id.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct ChangeEvent {
    event: ChangeKind,
    /// The change's sequence number: send it back as `Last-Event-ID` to resume.
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    /// A `Change` as JSON text (for `resync`, its `data` is `{"reason": …}`).
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// The `data` of the `ready` message.
#[derive(Serialize, ToSchema)]
struct StreamReady {
    /// The sequence number of the newest change when the stream began.
    position: i64,
}

/// The SSE messages of a subscription: first `ready` (no id, so it does not move
/// the client's position), then every change.
fn messages(subscription: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    let ready = StreamReady {
        position: subscription.position(),
    };
    let ready = Event::default()
        .event("ready")
        .retry(RECONNECT_AFTER)
        .data(serde_json::to_string(&ready).unwrap_or_default());
    let changes = futures::stream::unfold(subscription, |mut subscription| async move {
        let message = subscription.next().await?;
        Some((Ok(to_event(message)), subscription))
    });
    futures::StreamExt::chain(futures::stream::once(async { Ok(ready) }), changes)
}

#[utoipa::path(get, path = "/api/events/stream", tag = "live",
    params(
        ("runId" = Option<uuid::Uuid>, Query, description = "Follow only this run"),
        ("kinds" = Option<String>, Query,
            // Every change kind (tests/it/openapi.rs checks it against model::ChangeKind).
            pattern = r"^((run\.created|run\.updated|run\.deleted|step\.changed|events\.appended|artifact\.added|campaign\.changed|bulk_job\.changed|run\.brief|resync)(,(run\.created|run\.updated|run\.deleted|step\.changed|events\.appended|artifact\.added|campaign\.changed|bulk_job\.changed|run\.brief|resync))*)?$",
            description = "Follow only these kinds of change, separated by commas \
            (e.g. `run.brief,run.deleted` for a list of runs: no step, event or artifact traffic, and each run's \
            creation or update as a `run.brief` of a few hundred bytes instead of the whole run; a stream that \
            also asks for `run.created` or `run.updated` gets those whole); `resync` always comes"),
        ("lastEventId" = Option<i64>, Query, minimum = 0, description = "Replay what came after this message id \
            (the `Last-Event-ID` header, which browsers send when they reconnect, takes precedence)"),
    ),
    description = "Server-sent events of the caller's account, each after it was committed: \
        `run.created`, `run.updated`, `run.deleted`, `step.changed`, `events.appended`, `artifact.added`, \
        `campaign.changed`, `bulk_job.changed`, `run.brief` when asked for (the `id` is the change's sequence \
        number, `data` a `Change`), `resync` when the client \
        missed more than the server replays (reload, then follow on), a first `ready` message, and heartbeat \
        comments while idle. Works with the session cookie and with a bearer token.",
    responses(
        (status = 200, content_type = "text/event-stream", body = StreamEvent,
            description = "Server-sent events: a `ready` message, then the changes"),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = parse_request(query.as_deref(), &headers)?;
    let run_id = match request.run_id {
        Some(id) => {
            let run = store::db::runs::find_run(&state.db.read, caller.account_pk, id).await?;
            Some(run.run.id.to_string())
        }
        None => None,
    };
    let filter = ChangeFilter {
        run_id,
        kinds: request.kinds,
    };
    let subscription = state
        .live
        .subscribe(caller.account_pk, filter, request.last_event_id)
        .await?;
    let keep_alive = KeepAlive::new()
        .interval(state.live.options.heartbeat)
        .text("heartbeat");
    let checks = state.live.options.heartbeat;
    let revoked = credential_revoked(state.clone(), caller, checks);
    let stream = futures::StreamExt::take_until(messages(subscription), revoked);
    let mut response = Sse::new(stream).keep_alive(keep_alive).into_response();
    // Proxies such as nginx would otherwise buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    Ok(response)
}

/// Completes once the caller's credential stops being accepted (their password or
/// role changed, they were removed, the token was revoked), checked every `every`:
/// the stream ends then, and the browser's reconnect meets a 401.
async fn credential_revoked(state: AppState, caller: Caller, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if !caller.still_valid(&state).await {
            return;
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_over_the_query_and_bad_ids_are_refused() {
        let mut headers = HeaderMap::new();
        let run = "0193a000-0000-7000-8000-000000000000";
        let query = format!("runId={run}&lastEventId=5");
        assert_eq!(
            parse_request(Some(&query), &headers).ok(),
            Some(StreamRequest {
                run_id: run.parse().ok(),
                kinds: None,
                last_event_id: Some(5)
            })
        );
        headers.insert("last-event-id", http::HeaderValue::from_static("9"));
        assert_eq!(
            parse_request(Some(&query), &headers)
                .ok()
                .and_then(|r| r.last_event_id),
            Some(9)
        );
        assert!(parse_request(Some("lastEventId=-1"), &HeaderMap::new()).is_err());
        assert!(parse_request(Some("runId=nope"), &HeaderMap::new()).is_err());
        assert!(parse_request(Some("since=3"), &HeaderMap::new()).is_err());
        let mut bad = HeaderMap::new();
        bad.insert("last-event-id", http::HeaderValue::from_static("abc"));
        assert!(parse_request(None, &bad).is_err());
    }

    #[test]
    fn kinds_are_a_comma_list_of_change_kinds() {
        let kinds = |query: &str| parse_request(Some(query), &HeaderMap::new()).map(|r| r.kinds);
        assert_eq!(
            kinds("kinds=run.created,%20run.updated").ok(),
            Some(Some(vec![ChangeKind::RunCreated, ChangeKind::RunUpdated]))
        );
        assert_eq!(kinds("kinds=").ok(), Some(Some(vec![])));
        assert_eq!(kinds("").ok(), Some(None));
        let Err(error) = kinds("kinds=run.created,run.exploded") else {
            panic!("an unknown kind must be refused");
        };
        assert!(error.to_string().contains("run.exploded"), "{error}");
    }
}
