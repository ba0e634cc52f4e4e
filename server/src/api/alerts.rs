//! The owner API for alert rules (`/api/alerts`): owners create, change, delete
//! and test rules; every member of the account sees them and their history.
//! What a rule may hold and when it fires is [`store::db::alerts`]' business.

use super::auth::Caller;
use crate::http::{created, ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, State};
use model::{parse_public_id, AlertFiring, AlertRule, AlertRuleChange, Role};
use serde::Serialize;
use store::db::alerts;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<AlertRule>,
}

#[derive(Serialize, ToSchema)]
pub struct FiringList {
    /// Newest first, at most 100.
    pub firings: Vec<AlertFiring>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertDeleted {
    pub deleted: bool,
}

#[utoipa::path(get, path = "/api/alerts", tag = "alerts",
    description = "The account's alert rules, by name.",
    responses((status = 200, body = Envelope<AlertList>), (status = 401, body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult {
    ok(AlertList {
        alerts: alerts::list_alerts(&state.db.read, caller.account_pk).await?,
    })
}

#[utoipa::path(post, path = "/api/alerts", tag = "alerts", request_body = AlertRuleChange,
    description = "Creates a rule: `name`, `condition` and `channels` are required; an empty or absent scope watches every run of the account.",
    responses((status = 201, body = Envelope<AlertRule>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Only owners manage alerts", body = ErrorEnvelope)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AlertRuleChange>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    created(alerts::create_alert(&state.db, &caller.actor(), body, state.alert_delivery).await?)
}

#[utoipa::path(get, path = "/api/alerts/{id}", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<AlertRule>), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(alerts::get_alert(&state.db.read, caller.account_pk, parse_public_id(&id)?).await?)
}

#[utoipa::path(patch, path = "/api/alerts/{id}", tag = "alerts", params(("id" = Uuid, Path)), request_body = AlertRuleChange,
    description = "Changes the fields given. A new scope or condition, or disabling, starts a threshold rule over as `ok`.",
    responses((status = 200, body = Envelope<AlertRule>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Only owners manage alerts", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AlertRuleChange>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let id = parse_public_id(&id)?;
    ok(alerts::update_alert(&state.db, &caller.actor(), id, body, state.alert_delivery).await?)
}

#[utoipa::path(delete, path = "/api/alerts/{id}", tag = "alerts", params(("id" = Uuid, Path)),
    description = "Deletes the rule with its history.",
    responses((status = 200, body = Envelope<AlertDeleted>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Only owners manage alerts", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    alerts::delete_alert(&state.db, &caller.actor(), parse_public_id(&id)?).await?;
    ok(AlertDeleted { deleted: true })
}

#[utoipa::path(get, path = "/api/alerts/{id}/firings", tag = "alerts", params(("id" = Uuid, Path)),
    description = "What the rule did, newest first, with each channel's delivery status (`pending`, `delivered`, `failed`).",
    responses((status = 200, body = Envelope<FiringList>), (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn firings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(FiringList {
        firings: alerts::list_firings(&state.db.read, caller.account_pk, parse_public_id(&id)?)
            .await?,
    })
}

#[utoipa::path(post, path = "/api/alerts/{id}/test", tag = "alerts", params(("id" = Uuid, Path)),
    description = "Sends a test notification through every channel of the rule; it is recorded in the history as `test`.",
    responses((status = 201, body = Envelope<AlertFiring>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Only owners manage alerts", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn test(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    caller.require(Role::Owner)?;
    created(alerts::send_test(&state.db, &caller.actor(), parse_public_id(&id)?).await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, patch, delete))
        .routes(routes!(firings))
        .routes(routes!(test))
}
