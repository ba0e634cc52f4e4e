//! Server functions of the agents and campaigns pages.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use model::{Agent, AgentDay, AgentStats, AppError, Campaign, RunStatus};
use serde::{Deserialize, Serialize};

/// An agent with its runs by status, its latest run's time and its last 24 hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentOverview {
    pub agent: Agent,
    pub counts: Vec<(RunStatus, i64)>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_day: AgentDay,
}

#[server(prefix = "/fn", endpoint = "list_agent_overviews")]
pub async fn list_agent_overviews() -> Result<Vec<AgentOverview>, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let activity = store::db::agents::agent_activity(&state.db.read, user.account_pk).await?;
        let mut last_days =
            store::db::health::agents_last_day(&state.db.read, user.account_pk).await?;
        Ok(activity
            .into_iter()
            .map(|(agent, counts, last)| AgentOverview {
                last_day: last_days.remove(&agent.slug).unwrap_or_default(),
                agent: agent.as_seen_by(user.role),
                counts,
                last_run_at: last.map(store::db::from_ms),
            })
            .collect())
    })
    .await
}

/// An agent's health page: the agent and its numbers over `window` (`24h`, `7d`, `30d`).
#[server(prefix = "/fn", endpoint = "agent_health")]
pub async fn agent_health(slug: String, window: String) -> Result<(Agent, AgentStats), AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let window = if window.is_empty() {
            model::StatsWindow::default()
        } else {
            model::StatsWindow::parse(&window)?
        };
        let (agent_pk, agent) =
            store::db::agents::find_agent(&state.db.read, user.account_pk, &slug).await?;
        let stats =
            store::db::health::agent_stats(&state.db.read, agent_pk, &agent.slug, window, None)
                .await?;
        Ok((agent.as_seen_by(user.role), stats))
    })
    .await
}

/// Sets (or, empty, removes) an agent's dispatch URL.
#[server(prefix = "/fn", endpoint = "set_dispatch_url")]
pub async fn set_dispatch_url(slug: String, dispatch_url: String) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(model::Role::Owner).await?;
        let update = store::db::agents::AgentUpdate {
            dispatch_url: Some(dispatch_url.trim().to_string()),
            ..Default::default()
        };
        store::db::agents::put_agent(&state.db, &actor, &slug, update).await?;
        Ok(())
    })
    .await
}

/// Sets an agent's limits from the agents page's form: each a whole number, or
/// empty to turn it off.
#[server(prefix = "/fn", endpoint = "set_agent_limits")]
pub async fn set_agent_limits(
    slug: String,
    heartbeat_timeout_secs: String,
    max_runtime_secs: String,
    queue_timeout_secs: String,
    max_attempts: String,
    lease_secs: String,
) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(model::Role::Owner).await?;
        let given = [
            heartbeat_timeout_secs,
            max_runtime_secs,
            queue_timeout_secs,
            max_attempts,
            lease_secs,
        ];
        let mut limits = Vec::new();
        for (limit, text) in model::AgentLimits::ALL.iter().zip(given) {
            let text = text.trim();
            let value = if text.is_empty() {
                None
            } else {
                Some(text.parse::<i64>().map_err(|_| {
                    AppError::invalid(
                        limit.field,
                        format!(
                            "{} must be a whole number, or empty for no limit",
                            limit.label
                        ),
                    )
                })?)
            };
            limits.push((limit.field, value));
        }
        let update = store::db::agents::AgentUpdate {
            limits,
            ..Default::default()
        };
        store::db::agents::put_agent(&state.db, &actor, &slug, update).await?;
        Ok(())
    })
    .await
}

#[server(prefix = "/fn", endpoint = "campaign_list")]
pub async fn campaign_list() -> Result<Vec<Campaign>, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        Ok(
            store::db::campaigns::list_campaigns(&state.db.read, user.account_pk, 100, 0)
                .await?
                .0,
        )
    })
    .await
}

#[server(prefix = "/fn", endpoint = "new_campaign")]
pub async fn new_campaign(name: String) -> Result<Campaign, AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(model::Role::Member).await?;
        store::db::campaigns::create_campaign(&state.db, &actor, &name).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "campaign_detail")]
pub async fn campaign_detail(id: String) -> Result<Campaign, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let id = model::parse_public_id(&id)?;
        store::db::campaigns::get_campaign(&state.db.read, user.account_pk, id).await
    })
    .await
}
