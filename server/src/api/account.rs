//! The caller's account, including the secret that signs its webhooks.

use super::auth::Owner;
use super::envelope::{ok, ApiResult};
use app::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::json;

async fn account(State(state): State<AppState>, owner: Owner) -> ApiResult {
    let (id, name, webhook_secret): (String, String, String) =
        sqlx::query_as("SELECT id, name, webhook_secret FROM accounts WHERE pk = ?")
            .bind(owner.account_pk)
            .fetch_one(&state.db.read)
            .await
            .map_err(app::error::AppError::from)?;
    ok(json!({"id": id, "name": name, "webhookSecret": webhook_secret}))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/account", get(account))
}
