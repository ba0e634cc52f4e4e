//! The owner API for named API tokens: created (shown once), listed, revoked.
//! Members manage their own tokens; owners may list and revoke every token of
//! the account.

use super::auth::Caller;
use crate::http::{created, ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use model::{parse_public_id, ApiToken, AppError, Role};
use serde::{Deserialize, Serialize};
use store::db::tokens::{self, TokenScope};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    /// 1–100 characters, not only spaces (leading and trailing spaces are dropped).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    /// Days the token works; without it, until revoked.
    #[serde(rename = "expiresInDays")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    expires_in_days: Option<serde_json::Number>,
}

/// A whole number of days, however JSON spelled it (`30` or `30.0`).
fn whole_days(number: Option<serde_json::Number>) -> Result<Option<u32>, AppError> {
    let Some(number) = number else {
        return Ok(None);
    };
    number
        .as_f64()
        .filter(|days| days.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(days))
        .map(|days| Some(days as u32))
        .ok_or_else(|| {
            AppError::invalid(
                "expiresInDays",
                "expiresInDays must be a whole number of days",
            )
        })
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub token: ApiToken,
    /// The token itself: shown only in this answer, stored only as a hash.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<ApiToken>,
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: bool,
}

#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = CreateTokenBody,
    responses((status = 201, body = Envelope<TokenCreated>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult {
    caller.require(Role::Member)?;
    let (token, secret) = tokens::create_token(
        &state.db,
        &caller.actor(),
        &body.name,
        whole_days(body.expires_in_days)?,
    )
    .await?;
    created(TokenCreated { token, secret })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// Every token of the account, not only the caller's own (owners only).
    all: Option<bool>,
}

/// Whose tokens a caller reaches: their own, or with `all` (owners) the account's.
fn scope(caller: &Caller, all: bool) -> Result<TokenScope, AppError> {
    caller.require(Role::Member)?;
    if all {
        caller.require(Role::Owner)?;
        Ok(TokenScope::Account)
    } else {
        Ok(TokenScope::Own)
    }
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens", params(ListParams),
    description = "The caller's own tokens; with `all=true`, every token of the account (owners only).",
    responses((status = 200, body = Envelope<TokenList>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult {
    let Query(params) =
        params.map_err(|rejection| AppError::invalid("query", rejection.body_text()))?;
    let scope = scope(&caller, params.all.unwrap_or(false))?;
    ok(TokenList {
        tokens: tokens::list_tokens(&state.db.read, &caller.actor(), scope).await?,
    })
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path)),
    description = "Revokes one of the caller's tokens; owners may revoke any token of the account.",
    responses((status = 200, body = Envelope<Revoked>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let scope = scope(&caller, caller.role == Role::Owner)?;
    tokens::revoke_token(&state.db, &caller.actor(), parse_public_id(&id)?, scope).await?;
    ok(Revoked { revoked: true })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
}
