//! The caller's account, including the secret that signs its webhooks.

use super::auth::Owner;
use crate::http::{ok, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::State;
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
    let account = store::db::accounts::get_account(&state.db.read, owner.account_pk).await?;
    ok(Account {
        id: account.id,
        name: account.name,
        webhook_secret: account.webhook_secret,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account))
}
