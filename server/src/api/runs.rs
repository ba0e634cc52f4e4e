//! The owner API for runs: create (with the legacy aliases), list with every filter,
//! read, change, cancel, retry, pin, delete, and the run's steps, events and artifacts.

use super::auth::Caller;
use crate::http::{created, ok, ApiError, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use model::{
    parse_public_id, AppError, Artifact, Columns, EventPage, Role, Run, RunComparison, RunError,
    RunFilter, RunPage, RunStatus, Step,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::db::events::EventQuery;
use store::db::runs::{self, CreateRun, RunPatch, StoredRun};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRunBody {
    /// The agent's slug: letters, digits, `-`, `_`, `.`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}$")]
    agent: String,
    input: Option<Value>,
    campaign_id: Option<Uuid>,
    /// Where the run's final state is posted: an http(s) URL.
    #[schema(max_length = 2048, pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]*$")]
    webhook_url: Option<String>,
    initiator: Option<String>,
    summary: Option<String>,
    /// Any JSON; `bundleUrl`, when given, must be an http(s) URL (the run's campaign links to it).
    context: Option<Value>,
    /// Labels for finding the run (`tag:nightly`): at most 20, each 1–64 characters.
    #[schema(schema_with = super::tag_list)]
    tags: Option<Vec<String>>,
}

/// The legacy agent-run body: `{agentSlug, params}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AgentRunBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,100}$")]
    agent_slug: String,
    params: Option<Value>,
    initiator: Option<String>,
    summary: Option<String>,
}

/// The legacy pipeline-run body, for `POST /pipelines/:pipelineId/runs`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
struct PipelineRunBody {
    input: Option<Value>,
    #[serde(alias = "initial_input")]
    initial_input: Option<Value>,
    #[schema(max_length = 2048, pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]*$")]
    webhook_url: Option<String>,
    /// Used when `webhookUrl` is not given (then it must be an http(s) URL).
    #[serde(alias = "webhook_url")]
    webhook: Option<String>,
    initiator: Option<String>,
    summary: Option<String>,
}

/// The answer to a run creation: the run and the runner token for its callbacks.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunCreated {
    pub run: Run,
    /// Bearer token for this run's runner callbacks; valid about 24 hours.
    pub runner_token: String,
}

fn run_created(state: &AppState, stored: &StoredRun) -> ApiResult {
    let runner_token = state.keys.runner_token(stored.run.id)?;
    created(RunCreated {
        run: stored.run.clone(),
        runner_token,
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStatusView {
    pub id: Uuid,
    pub status: RunStatus,
    pub progress: f64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error: Option<RunError>,
}

#[derive(Serialize, ToSchema)]
pub struct StepList {
    pub steps: Vec<Step>,
}

#[derive(Serialize, ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<Artifact>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: Uuid,
    pub deleted: bool,
}

#[utoipa::path(post, path = "/api/runs", tag = "runs", request_body = CreateRunBody,
    responses((status = 201, description = "The run, and the token its runner uses for callbacks", body = Envelope<RunCreated>),
        (status = 400, description = "A field is invalid (a `webhookUrl` to a private, loopback or metadata address included)", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope),
        (status = 413, description = "The `input` nests deeper than 32 levels or has more than 10,000 fields", body = ErrorEnvelope)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateRunBody>,
) -> ApiResult {
    caller.require(Role::Member)?;
    let request = CreateRun {
        agent: body.agent,
        input: body.input,
        campaign_id: body.campaign_id,
        webhook_url: body.webhook_url,
        initiator: body.initiator,
        summary: body.summary,
        context: body.context,
        tags: body.tags,
    };
    let stored = runs::create_run(&state.db, &caller.actor(), request).await?;
    run_created(&state, &stored)
}

#[utoipa::path(post, path = "/agents/run", tag = "runs", request_body = AgentRunBody,
    description = "The legacy agent-run way to create a run: `{agentSlug, params}`.",
    responses((status = 201, body = Envelope<RunCreated>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope),
        (status = 413, description = "The `params` (the input) nest deeper than 32 levels or have more than 10,000 fields", body = ErrorEnvelope)))]
async fn create_agent_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AgentRunBody>,
) -> ApiResult {
    caller.require(Role::Member)?;
    let request = CreateRun {
        agent: body.agent_slug,
        input: body.params,
        initiator: body.initiator,
        summary: body.summary,
        ..CreateRun::default()
    };
    let stored = runs::create_run(&state.db, &caller.actor(), request)
        .await
        .map_err(|error| rename_field(error, "agent", "agentSlug"))?;
    run_created(&state, &stored)
}

#[utoipa::path(post, path = "/pipelines/{pipeline}/runs", tag = "runs", request_body = PipelineRunBody,
    description = "The legacy pipeline way to create a run: the pipeline is the agent.",
    params(("pipeline" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$", description = "The agent (pipeline) slug")),
    responses((status = 201, body = Envelope<RunCreated>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope),
        (status = 413, description = "The input nests deeper than 32 levels or has more than 10,000 fields", body = ErrorEnvelope)))]
async fn create_pipeline_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(pipeline): Path<String>,
    ApiJson(body): ApiJson<PipelineRunBody>,
) -> ApiResult {
    caller.require(Role::Member)?;
    // An error about the URL names the field it came from.
    let webhook_field = if body.webhook_url.is_none() && body.webhook.is_some() {
        "webhook"
    } else {
        "webhookUrl"
    };
    let request = CreateRun {
        agent: pipeline,
        input: body.input.or(body.initial_input),
        webhook_url: body.webhook_url.or(body.webhook),
        initiator: body.initiator,
        summary: body.summary,
        ..CreateRun::default()
    };
    let stored = runs::create_run(&state.db, &caller.actor(), request)
        .await
        .map_err(|error| rename_field(error, "agent", "pipelineId"))
        .map_err(|error| rename_field(error, "webhookUrl", webhook_field))?;
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
    RunFilter::from_query_string(query.unwrap_or(""))
}

#[utoipa::path(get, path = "/api/runs", tag = "runs", params(RunListParams),
    description = "Runs of the caller's account, newest first. Every filter is optional; filters are AND-combined. \
        Besides the listed parameters, `input.<path>=<value>` (alias `initial_input.<path>`) matches a field of the \
        run's input, nested paths with dots (`input.address.city=Dublin`), case-insensitively with `ci=true`.",
    responses((status = 200, body = Envelope<RunPage>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let mut filter = filter_from(query.as_deref())?;
    let columns = filter.fields.take();
    let page = runs::list_runs(&state.db.read, caller.account_pk, &filter).await?;
    match columns {
        None => ok(page),
        Some(columns) => {
            let columns = Columns::parse("fields", &columns)?;
            ok(page.map_runs(|run| columns.project(&run)))
        }
    }
}

#[utoipa::path(get, path = "/runs", tag = "runs", params(RunListParams),
    description = "The legacy path of the run list; the same as `GET /api/runs`.",
    responses((status = 200, body = Envelope<RunPage>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
async fn list_alias(state: State<AppState>, caller: Caller, query: RawQuery) -> ApiResult {
    list(state, caller, query).await
}

/// The run list's query parameters, for the API document. `RunFilter::from_query`
/// reads them; a test checks that it accepts every one listed here.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RunListParams {
    /// One status or a comma list: requested, queued, running, completed, failed, cancelled.
    #[param(
        pattern = r"^((requested|queued|running|completed|failed|cancelled)(,(requested|queued|running|completed|failed|cancelled))*)?$"
    )]
    status: Option<String>,
    /// Agent slug.
    agent: Option<String>,
    /// Alias of `agent` (the legacy pipeline name).
    pipeline_id: Option<String>,
    /// Campaign id.
    #[param(schema_with = super::id_filter)]
    campaign: Option<Uuid>,
    initiator: Option<String>,
    /// Created at or after (RFC 3339 time or a date).
    #[param(rename = "createdAfter")]
    #[param(schema_with = super::time_filter)]
    created_after: Option<String>,
    /// Created before (RFC 3339 time or a date).
    #[param(rename = "createdBefore")]
    #[param(schema_with = super::time_filter)]
    created_before: Option<String>,
    #[param(rename = "minDurationMs", schema_with = super::number_filter)]
    min_duration_ms: Option<i64>,
    #[param(rename = "maxDurationMs", schema_with = super::number_filter)]
    max_duration_ms: Option<i64>,
    /// A query in the runs query language (docs/query.md): qualifiers such as
    /// `status:failed agent:crawler created:>-7d`, full text, `-`/`NOT`, `OR`,
    /// parentheses. A syntax error is a 400 with `field` "q" and `position`.
    q: Option<String>,
    /// Compare `input.<path>` values case-insensitively.
    #[param(schema_with = super::flag_filter)]
    ci: Option<bool>,
    /// Page size, 1–100 (default 20).
    #[param(schema_with = super::page_size)]
    limit: Option<i64>,
    #[param(schema_with = super::page_offset)]
    offset: Option<i64>,
    /// `nextCursor` of the previous page: keyset paging, fast at any depth.
    #[param(pattern = r"^([0-9]{1,15}\.[0-9]{1,15})?$")]
    cursor: Option<String>,
    /// The columns of each item, comma-separated: any of id, agent, campaign, status,
    /// progress, initiator, summary, createdAt, startedAt, completedAt, durationMs,
    /// input, webhookStatus, tags, error, lastSeenAt, and `input.<path>` for one
    /// field of the input. Every field when absent.
    #[param(schema_with = super::fields_filter)]
    fields: Option<String>,
    /// The order: `-createdAt` (newest first, the default), `createdAt`,
    /// `-durationMs` (longest first) or `durationMs`; a duration order lists the
    /// runs that have one (finished runs). A search for words (`q` with free
    /// text) lists newest first only, an input field filter by creation only:
    /// another order with them is a 400.
    #[param(pattern = r"^(-?createdAt|-?durationMs)?$")]
    sort: Option<String>,
}

/// The names of [`RunListParams`], as the API document lists them.
pub const RUN_LIST_PARAMS: [&str; 16] = [
    "status",
    "agent",
    "pipeline_id",
    "campaign",
    "initiator",
    "createdAfter",
    "createdBefore",
    "minDurationMs",
    "maxDurationMs",
    "q",
    "ci",
    "limit",
    "offset",
    "cursor",
    "fields",
    "sort",
];

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<StoredRun, AppError> {
    runs::find_run(&state.db.read, caller.account_pk, parse_public_id(id)?).await
}

#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<Run>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, description = "Unknown, or another account's", body = ErrorEnvelope)))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(load(&state, &caller, &id).await?.run)
}

/// Lightweight status for polling.
#[utoipa::path(get, path = "/api/runs/{id}/status", tag = "runs", params(("id" = Uuid, Path)),
    description = "Lightweight status for polling.",
    responses((status = 200, body = Envelope<RunStatusView>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let run = load(&state, &caller, &id).await?.run;
    ok(RunStatusView {
        id: run.id,
        status: run.status,
        progress: run.progress,
        created_at: run.created_at,
        started_at: run.started_at,
        updated_at: run.updated_at,
        completed_at: run.completed_at,
        duration_ms: run.duration_ms,
        error: run.error,
    })
}

#[utoipa::path(get, path = "/api/runs/{id}/steps", tag = "runs", params(("id" = Uuid, Path)),
    description = "Every attempt of every step, in step order.",
    responses((status = 200, body = Envelope<StepList>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn steps(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    let run = load(&state, &caller, &id).await?;
    ok(StepList {
        steps: store::db::steps::list_steps(&state.db.read, run.pk).await?,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventParams {
    after: Option<i64>,
    /// The page just before this sequence number (in sequence order), to read backwards.
    before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "runs", params(("id" = Uuid, Path), EventParams),
    description = "Events by sequence number; pass `nextAfter` as `after` for the next page.",
    responses((status = 200, body = Envelope<EventPage>), (status = 400, body = ErrorEnvelope), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(params) =
        params.map_err(|rejection| AppError::invalid("query", rejection.body_text()))?;
    let run = load(&state, &caller, &id).await?;
    let query = EventQuery {
        after: params.after,
        before: params.before,
        limit: params.limit.unwrap_or(100),
        event_type: params.event_type.filter(|value| !value.is_empty()),
        q: params.q.filter(|value| !value.trim().is_empty()),
        received: None,
    };
    ok(store::db::events::list_events(&state.db.read, run.pk, &query).await?)
}

#[utoipa::path(get, path = "/api/runs/{id}/artifacts", tag = "runs", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<ArtifactList>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn artifacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let run = load(&state, &caller, &id).await?;
    ok(ArtifactList {
        artifacts: store::db::artifacts::list_artifacts(&state.db.read, run.pk).await?,
    })
}

#[utoipa::path(get, path = "/api/runs/{id}/compare/{other_id}", tag = "runs",
    params(("id" = Uuid, Path), ("other_id" = Uuid, Path, description = "The run to compare with (the baseline)")),
    description = "The run against another run of the account: input key by key, steps by step id (status, \
        attempts, duration delta, cache use), error, artifacts matched by name (line diff of text and JSON), and the \
        first event whose type differs. Read from the other run to this one: `added` is in this run only, \
        `removed` in the other only.",
    responses((status = 200, body = Envelope<RunComparison>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, description = "Either run unknown, or another account's", body = ErrorEnvelope)))]
async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, other_id)): Path<(String, String)>,
) -> ApiResult {
    let run = load(&state, &caller, &id).await?;
    let other = load(&state, &caller, &other_id).await?;
    ok(store::compare::compare_runs(&state.db, &state.store, &run, &other).await?)
}

#[utoipa::path(get, path = "/api/runs/{id}/compare", tag = "runs", params(("id" = Uuid, Path)),
    description = "The run against the newest completed run of its agent created before it: what \
        `/api/runs/{id}/compare/{otherId}` answers for that run. A 400 (`otherId`) when there is none.",
    responses((status = 200, body = Envelope<RunComparison>), (status = 400, body = ErrorEnvelope), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn compare_previous(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let run = load(&state, &caller, &id).await?;
    let Some(other_id) = runs::previous_completed(&state.db.read, &run).await? else {
        return Err(no_baseline(&run.run).into());
    };
    let other = runs::find_run(&state.db.read, caller.account_pk, other_id).await?;
    ok(store::compare::compare_runs(&state.db, &state.store, &run, &other).await?)
}

/// Why a run has nothing to be compared with by default.
fn no_baseline(run: &Run) -> AppError {
    AppError::invalid(
        "otherId",
        format!(
            "agent `{}` has no completed run before this one; name the run to compare with: /api/runs/{}/compare/{{otherId}}",
            run.agent, run.id
        ),
    )
}

/// The bytes of an artifact, served as [`super::content`] says.
#[utoipa::path(get, path = "/api/runs/{id}/artifacts/{artifact_id}/content", tag = "runs",
    params(("id" = Uuid, Path), ("artifact_id" = Uuid, Path)),
    description = "The artifact's bytes (uploaded files) or its inline text, with a sandboxing \
        Content-Security-Policy and `nosniff`. Images and plain text are sent `inline`, anything else as an \
        `attachment`; script types are sent as `text/plain`. An artifact that is a link (`url`) has no content \
        here: 404, with the URL in the message.",
    responses((status = 200, description = "The content"), (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 404, description = "Unknown, or a link artifact (the message names its URL)", body = ErrorEnvelope)))]
async fn artifact_content(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, artifact_id)): Path<(String, String)>,
    request: HeaderMap,
) -> ApiResult {
    let run = load(&state, &caller, &id).await?;
    let artifact =
        store::db::artifacts::get_artifact(&state.db.read, run.pk, parse_public_id(&artifact_id)?)
            .await?;
    let body = match (
        &artifact.storage_key,
        artifact.stored,
        &artifact.inline_text,
        &artifact.url,
    ) {
        (Some(key), true, _, _) => Body::from_stream(state.store.open(key).await?),
        (_, _, Some(text), _) => Body::from(text.clone()),
        (_, _, _, Some(url)) => return Ok(super::content::link_only(url)),
        _ => return Err(ApiError(AppError::NotFound)),
    };
    Ok(super::content::response(&artifact, body, &request))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchBody {
    summary: Option<String>,
    /// Any JSON; `bundleUrl`, when given, must be an http(s) URL (the run's campaign links to it).
    context: Option<Value>,
    status: Option<RunStatus>,
    /// Replaces the run's tags: at most 20, each 1–64 characters.
    #[schema(schema_with = super::tag_list)]
    tags: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/api/runs/{id}", tag = "runs", params(("id" = Uuid, Path)), request_body = PatchBody,
    responses((status = 200, body = Envelope<Run>), (status = 400, body = ErrorEnvelope), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "An illegal status transition", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchBody>,
) -> ApiResult {
    caller.require(Role::Member)?;
    let patch = RunPatch {
        summary: body.summary,
        context: body.context,
        status: body.status,
        tags: body.tags,
    };
    ok(
        runs::patch_run(&state.db, &caller.actor(), parse_public_id(&id)?, patch)
            .await?
            .run,
    )
}

#[utoipa::path(post, path = "/api/runs/{id}/cancel", tag = "runs", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<Run>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "The run has finished already (`run_finished`)", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Role::Member)?;
    ok(
        runs::cancel_run(&state.db, &caller.actor(), parse_public_id(&id)?)
            .await?
            .run,
    )
}

#[utoipa::path(post, path = "/api/runs/{id}/retry", tag = "runs", params(("id" = Uuid, Path)),
    description = "A new run with the same agent, input and campaign, `retryOf` the old one and `attempt + 1`.",
    responses((status = 201, body = Envelope<RunCreated>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Only failed or cancelled runs can be retried (`not_retryable`)", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn retry(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    caller.require(Role::Member)?;
    let stored = runs::retry_run(&state.db, &caller.actor(), parse_public_id(&id)?).await?;
    run_created(&state, &stored)
}

#[utoipa::path(post, path = "/api/runs/{id}/pin", tag = "runs", params(("id" = Uuid, Path)),
    description = "Pins the run: the retention policy never prunes it, nor its events or artifacts. Pinning a pinned run changes nothing.",
    responses((status = 200, body = Envelope<Run>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn pin(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    set_pinned(state, caller, id, true).await
}

#[utoipa::path(delete, path = "/api/runs/{id}/pin", tag = "runs", params(("id" = Uuid, Path)),
    description = "Unpins the run: the retention policy applies to it again.",
    responses((status = 200, body = Envelope<Run>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn unpin(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    set_pinned(state, caller, id, false).await
}

async fn set_pinned(state: AppState, caller: Caller, id: String, pinned: bool) -> ApiResult {
    caller.require(Role::Member)?;
    let id = parse_public_id(&id)?;
    ok(runs::set_pinned(&state.db, &caller.actor(), id, pinned)
        .await?
        .run)
}

#[utoipa::path(delete, path = "/api/runs/{id}", tag = "runs", params(("id" = Uuid, Path)),
    description = "Deletes the run with its steps, events, artifacts and stored files.",
    responses((status = 200, body = Envelope<Deleted>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let id = parse_public_id(&id)?;
    let keys = runs::delete_run(&state.db, &caller.actor(), id).await?;
    store::prune::discard_files(&state.db, &state.store, &keys).await;
    ok(Deleted { id, deleted: true })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(list_alias))
        .routes(routes!(create_agent_run))
        .routes(routes!(create_pipeline_run))
        .routes(routes!(get_one, patch, delete))
        .routes(routes!(status))
        .routes(routes!(steps))
        .routes(routes!(events))
        .routes(routes!(artifacts))
        .routes(routes!(artifact_content))
        .routes(routes!(compare))
        .routes(routes!(compare_previous))
        .routes(routes!(cancel))
        .routes(routes!(retry))
        .routes(routes!(pin, unpin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_list_parameter_is_accepted() {
        for name in RUN_LIST_PARAMS {
            let value = match name {
                "status" => "running",
                "campaign" => "01900000-0000-7000-8000-000000000000",
                "createdAfter" | "createdBefore" => "2026-01-01",
                "minDurationMs" | "maxDurationMs" | "offset" => "1",
                "limit" => "10",
                "ci" => "true",
                "cursor" => "1.1",
                "fields" => "id,input.company.name",
                "sort" => "-durationMs",
                _ => "x",
            };
            assert!(RunFilter::from_query([(name, value)]).is_ok(), "{name}");
        }
    }
}
