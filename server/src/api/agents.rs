//! The owner API for agents.

use super::auth::Caller;
use crate::http::{ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, State};
use model::{Agent, Role};
use serde::{Deserialize, Serialize};
use store::db::agents::{self, AgentUpdate};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

#[utoipa::path(get, path = "/api/agents", tag = "agents",
    responses((status = 200, body = Envelope<AgentList>), (status = 401, body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult {
    ok(AgentList {
        agents: agents::list_agents(&state.db.read, caller.account_pk)
            .await?
            .into_iter()
            .map(|agent| agent.as_seen_by(caller.role))
            .collect(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentBody {
    name: Option<String>,
    description: Option<String>,
    /// Where new runs of this agent are pushed; an empty string removes it.
    #[schema(max_length = 2048, pattern = r"^(https?://[^\s\x00-\x1f\x7f-\x9f]*)?$")]
    dispatch_url: Option<String>,
}

#[utoipa::path(put, path = "/api/agents/{slug}", tag = "agents",
    params(("slug" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,100}$", description = "Letters, digits, `-`, `_`, `.`")),
    request_body = AgentBody,
    description = "Registers an agent or changes it; absent fields keep their value.",
    responses((status = 200, body = Envelope<Agent>),
        (status = 400, description = "A field is invalid (a `dispatchUrl` to a private, loopback or metadata address included)", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn put_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<AgentBody>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let update = AgentUpdate {
        name: body.name,
        description: body.description,
        dispatch_url: body.dispatch_url,
    };
    ok(agents::put_agent(&state.db, &caller.actor(), &slug, update).await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(put_agent))
}
