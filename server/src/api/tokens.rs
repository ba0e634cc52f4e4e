//! The owner API for named API tokens: created (shown once), listed, revoked.

use super::auth::Owner;
use crate::http::{created, ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, State};
use model::{parse_public_id, ApiToken};
use serde::{Deserialize, Serialize};
use store::db::tokens;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    /// 1–100 characters, not only spaces (leading and trailing spaces are dropped).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
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
    responses((status = 201, body = Envelope<TokenCreated>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
async fn create(
    State(state): State<AppState>,
    owner: Owner,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult {
    let (token, secret) =
        tokens::create_token(&state.db, owner.account_pk, owner.user_pk, &body.name).await?;
    created(TokenCreated { token, secret })
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = Envelope<TokenList>), (status = 401, body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, owner: Owner) -> ApiResult {
    ok(TokenList {
        tokens: tokens::list_tokens(&state.db.read, owner.account_pk).await?,
    })
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<Revoked>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn revoke(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    tokens::revoke_token(&state.db, owner.account_pk, parse_public_id(&id)?).await?;
    ok(Revoked { revoked: true })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
}
