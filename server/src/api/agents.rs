//! The owner API for agents.

use super::auth::Owner;
use super::envelope::{ok, ApiJson, ApiResult};
use app::db::agents::{self, AgentUpdate};
use app::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

async fn list(State(state): State<AppState>, owner: Owner) -> ApiResult {
    ok(json!({"agents": agents::list_agents(&state.db.read, owner.account_pk).await?}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentBody {
    name: Option<String>,
    description: Option<String>,
    /// Where new runs of this agent are pushed; an empty string removes it.
    dispatch_url: Option<String>,
}

async fn put_agent(
    State(state): State<AppState>,
    owner: Owner,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<AgentBody>,
) -> ApiResult {
    let update = AgentUpdate {
        name: body.name,
        description: body.description,
        dispatch_url: body.dispatch_url,
    };
    ok(agents::put_agent(&state.db, owner.account_pk, &slug, update).await?)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/agents", get(list))
        .route("/api/agents/{slug}", put(put_agent))
}
