//! `GET /api/audit`: the account's audit log for its owners, newest first.

use super::auth::Caller;
use crate::http::{ok, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use model::{AppError, AuditAction, AuditPage, Role};
use serde::Deserialize;
use store::db::audit::{self, AuditQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    /// Page size, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(minimum = 0)]
    cursor: Option<i64>,
    /// Only this actor's entries: an email, or `system`.
    actor: Option<String>,
    /// Only this action, e.g. `run.delete`.
    action: Option<AuditAction>,
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditParams),
    description = "Every mutation made by a person or an API token, and every login, newest first. Owners only.",
    responses((status = 200, body = Envelope<AuditPage>), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Not an owner", body = ErrorEnvelope)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let Query(params) =
        params.map_err(|rejection| AppError::invalid("query", rejection.body_text()))?;
    let query = AuditQuery {
        limit: params.limit.unwrap_or(100),
        cursor: params.cursor,
        actor: params.actor.filter(|actor| !actor.trim().is_empty()),
        action: params.action,
    };
    ok(audit::list(&state.db.read, caller.account_pk, &query).await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
