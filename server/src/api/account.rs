//! The caller's account, including the secret that signs its webhooks.

use super::auth::Owner;
use super::envelope::{ok, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::State;
use model::AppError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    /// Key of the `Runboard-Signature` HMAC on this account's webhooks.
    pub webhook_secret: String,
}

#[utoipa::path(get, path = "/api/account", tag = "account",
    responses((status = 200, body = Envelope<Account>), (status = 401, body = ErrorEnvelope)))]
async fn account(State(state): State<AppState>, owner: Owner) -> ApiResult {
    let (id, name, webhook_secret): (String, String, String) =
        sqlx::query_as("SELECT id, name, webhook_secret FROM accounts WHERE pk = ?")
            .bind(owner.account_pk)
            .fetch_one(&state.db.read)
            .await
            .map_err(AppError::from)?;
    ok(Account {
        id,
        name,
        webhook_secret,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account))
}
