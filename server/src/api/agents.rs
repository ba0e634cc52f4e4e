//! The owner API for agents.

use super::auth::Caller;
use crate::http::{ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use model::{Agent, AgentStats, AppError, Role, StatsBucket, StatsWindow};
use serde::{Deserialize, Deserializer, Serialize};
use store::db::agents::{self, AgentUpdate};
use store::db::health;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

#[utoipa::path(get, path = "/api/agents", tag = "agents",
    responses((status = 200, body = Envelope<AgentList>), (status = 401, body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult {
    ok(AgentList {
        agents: agents::list_agents(&state.db.read, caller.account_pk)
            .await?
            .into_iter()
            .map(|agent| agent.as_seen_by(caller.role))
            .collect(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentBody {
    name: Option<String>,
    description: Option<String>,
    /// Where new runs of this agent are pushed; an empty string removes it.
    #[schema(max_length = 2048, pattern = r"^(https?://[^\s\x00-\x1f\x7f-\x9f]*)?$")]
    dispatch_url: Option<String>,
    /// Seconds without a runner callback after which a running run fails as `stalled`; null turns it off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 604800)]
    heartbeat_timeout_secs: Option<Option<i64>>,
    /// Seconds a run may run before it fails as `timed_out`; null turns it off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2592000)]
    max_runtime_secs: Option<Option<i64>>,
    /// Seconds after creation by which a run must start, or fail as `not_started`; null turns it off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2592000)]
    queue_timeout_secs: Option<Option<i64>>,
    /// Attempts a failing run gets in all (retried automatically); null turns retries off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100)]
    max_attempts: Option<Option<i64>>,
    /// Seconds a claimed run stays with its claimant without a start or heartbeat; null: forever.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 86400)]
    lease_secs: Option<Option<i64>>,
}

/// A field that is present, even as `null` (which turns a limit off), as opposed
/// to absent (which keeps it).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(deserializer).map(Some)
}

#[utoipa::path(put, path = "/api/agents/{slug}", tag = "agents",
    params(("slug" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$", description = "Letters, digits, `-`, `_`, `.`")),
    request_body = AgentBody,
    description = "Registers an agent or changes it; absent fields keep their value. The limits \
        (`heartbeatTimeoutSecs`, `maxRuntimeSecs`, `queueTimeoutSecs`, `maxAttempts`, `leaseSecs`) are \
        enforced by the sweeper; `null` turns one off.",
    responses((status = 200, body = Envelope<Agent>),
        (status = 400, description = "A field is invalid (a `dispatchUrl` to a private, loopback or metadata address included)", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn put_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<AgentBody>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let limits = [
        ("heartbeatTimeoutSecs", body.heartbeat_timeout_secs),
        ("maxRuntimeSecs", body.max_runtime_secs),
        ("queueTimeoutSecs", body.queue_timeout_secs),
        ("maxAttempts", body.max_attempts),
        ("leaseSecs", body.lease_secs),
    ];
    let update = AgentUpdate {
        name: body.name,
        description: body.description,
        dispatch_url: body.dispatch_url,
        limits: limits
            .into_iter()
            .filter_map(|(field, value)| value.map(|value| (field, value)))
            .collect(),
    };
    ok(agents::put_agent(&state.db, &caller.actor(), &slug, update).await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatsParams {
    /// How far back: `24h` (default), `7d` or `30d`, ending with the current hour.
    #[param(pattern = "^(24h|7d|30d)$")]
    window: Option<String>,
    /// The width of each of `buckets`: `1h`, `6h` or `1d` (default: 1h for 24h, 6h for 7d, 1d for 30d).
    #[param(pattern = "^(1h|6h|1d)$")]
    bucket: Option<String>,
}

#[utoipa::path(get, path = "/api/agents/{slug}/stats", tag = "agents",
    params(("slug" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$", description = "The agent's slug"), StatsParams),
    description = "The agent's health over a window, for the runs created in it: counts by status, success \
        rate (completed over finished), duration and queue-wait percentiles, cache-hit and retry rates, \
        the steps that fail most, token and cost totals when runners report `metadata.tokens` and \
        `metadata.costUsd`, and chart buckets. Read from hourly rollups; percentiles are histogram \
        estimates at most 19 % above the exact value.",
    responses((status = 200, body = Envelope<AgentStats>),
        (status = 400, description = "An unknown window or bucket", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 404, description = "No such agent in the caller's account", body = ErrorEnvelope)))]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> ApiResult {
    let Query(params) =
        params.map_err(|rejection| AppError::invalid("query", rejection.body_text()))?;
    let window = params
        .window
        .as_deref()
        .map(StatsWindow::parse)
        .transpose()?
        .unwrap_or_default();
    let bucket = params
        .bucket
        .as_deref()
        .map(StatsBucket::parse)
        .transpose()?;
    let (agent_pk, agent) = agents::find_agent(&state.db.read, caller.account_pk, &slug).await?;
    ok(health::agent_stats(&state.db.read, agent_pk, &agent.slug, window, bucket).await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(put_agent))
        .routes(routes!(stats))
}
