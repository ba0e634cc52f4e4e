//! The owner API for named API tokens: created (shown once), listed, revoked.

use super::auth::Owner;
use super::envelope::{created, ok, ApiJson, ApiResult};
use super::runs::parse_id;
use app::db::tokens;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    owner: Owner,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult {
    let (token, secret) =
        tokens::create_token(&state.db, owner.account_pk, owner.user_pk, &body.name).await?;
    created(json!({"token": token, "secret": secret}))
}

async fn list(State(state): State<AppState>, owner: Owner) -> ApiResult {
    ok(json!({"tokens": tokens::list_tokens(&state.db.read, owner.account_pk).await?}))
}

async fn revoke(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    tokens::revoke_token(&state.db, owner.account_pk, parse_id(&id)?).await?;
    ok(json!({"revoked": true}))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", post(create).get(list))
        .route("/api/tokens/{id}", delete(revoke))
}
