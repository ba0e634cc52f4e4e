//! The owner API for retention: the account's policy (`GET`/`PUT
//! /api/retention`) and the storage report (`GET /api/storage`). Owners only;
//! pinning a run is with the other run actions in [`super::runs`].

use super::auth::Caller;
use crate::http::{ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::State;
use model::{RetentionPolicy, Role, StorageReport};
use store::db::retention;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const FORBIDDEN: &str = "Not an owner";

#[utoipa::path(get, path = "/api/retention", tag = "retention",
    description = "The account's retention policy: days per kind (`null` keeps forever, the default) and \
        per-agent overrides. Owners only.",
    responses((status = 200, body = Envelope<RetentionPolicy>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = FORBIDDEN, body = ErrorEnvelope)))]
async fn get_policy(State(state): State<AppState>, caller: Caller) -> ApiResult {
    caller.require(Role::Owner)?;
    ok(retention::get_policy(&state.db.read, caller.account_pk).await?)
}

#[utoipa::path(put, path = "/api/retention", tag = "retention", request_body = RetentionPolicy,
    description = "Replaces the account's retention policy (an absent field is `null`: kept forever). Days are \
        whole numbers from 1 to 36,500, counted from the end of a run. In an agent's override an absent field \
        follows the account, `null` keeps forever. Pinned runs and runs in flight are never pruned. A bad field \
        (days out of range or not whole, an unknown field, a slug that is no agent of the account) is a 400 \
        naming it, and nothing changes. Owners only.",
    responses((status = 200, description = "The stored policy", body = Envelope<RetentionPolicy>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = FORBIDDEN, body = ErrorEnvelope)))]
async fn put_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(policy): ApiJson<RetentionPolicy>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    ok(retention::set_policy(&state.db, &caller.actor(), policy).await?)
}

#[utoipa::path(get, path = "/api/storage", tag = "retention",
    description = "The database's size, rows per table and the account's artifact bytes per agent (as last \
        counted), what the policy will remove next, and the account's last prunes. Owners only.",
    responses((status = 200, body = Envelope<StorageReport>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = FORBIDDEN, body = ErrorEnvelope)))]
async fn storage(State(state): State<AppState>, caller: Caller) -> ApiResult {
    caller.require(Role::Owner)?;
    ok(store::prune::storage_report(&state.db, caller.account_pk).await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(storage))
}
