//! The caller's account, including the secret that signs its webhooks.

use super::auth::Caller;
use crate::http::{ok, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::State;
use model::Role;
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
    description = "The caller's account with its webhook secret; owners only.",
    responses((status = 200, body = Envelope<Account>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn account(State(state): State<AppState>, caller: Caller) -> ApiResult {
    caller.require(Role::Owner)?;
    let account = store::db::accounts::get_account(&state.db.read, caller.account_pk).await?;
    ok(Account {
        id: account.id,
        name: account.name,
        webhook_secret: account.webhook_secret,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account))
}
