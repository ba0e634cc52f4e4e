//! Server functions of the settings page's Retention section and the storage
//! page (owners), and of the run page's pin button (members). They call the
//! same storage functions as `/api/retention`, `/api/storage` and
//! `/api/runs/{id}/pin`.

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use model::Role;
use model::{AppError, RetentionPolicy, Run, StorageReport};
use serde::{Deserialize, Serialize};

/// The policy and the agents an override can be set for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetentionSettings {
    pub policy: RetentionPolicy,
    pub agents: Vec<String>,
}

#[server(prefix = "/fn", endpoint = "read_retention")]
pub async fn read_retention() -> Result<RetentionSettings, AppError> {
    ssr::with_status(async {
        let (state, user, _) = ssr::require_role(Role::Owner).await?;
        let policy = store::db::retention::get_policy(&state.db.read, user.account_pk).await?;
        let agents = store::db::agents::list_agents(&state.db.read, user.account_pk)
            .await?
            .into_iter()
            .map(|agent| agent.slug)
            .collect();
        Ok(RetentionSettings { policy, agents })
    })
    .await
}

/// Sets the account's days; an empty field keeps forever. Agents' overrides stay.
#[server(prefix = "/fn", endpoint = "save_retention")]
pub async fn save_retention(
    keep_runs_days: String,
    keep_failed_runs_days: String,
    keep_events_days: String,
    keep_artifacts_days: String,
) -> Result<RetentionPolicy, AppError> {
    ssr::with_status(async {
        let (state, _, actor) = ssr::require_role(Role::Owner).await?;
        let runs = model::parse_days_field("keepRunsDays", &keep_runs_days)?;
        let failed = model::parse_days_field("keepFailedRunsDays", &keep_failed_runs_days)?;
        let events = model::parse_days_field("keepEventsDays", &keep_events_days)?;
        let artifacts = model::parse_days_field("keepArtifactsDays", &keep_artifacts_days)?;
        store::db::retention::update_policy(&state.db, &actor, |policy| {
            policy.keep_runs_days = runs;
            policy.keep_failed_runs_days = failed;
            policy.keep_events_days = events;
            policy.keep_artifacts_days = artifacts;
            Ok(())
        })
        .await
    })
    .await
}

/// Sets one agent's override: per field, empty follows the account, `forever`
/// keeps forever, a number of days replaces the account's. All empty removes it.
#[server(prefix = "/fn", endpoint = "save_agent_retention")]
pub async fn save_agent_retention(
    agent: String,
    keep_runs_days: String,
    keep_failed_runs_days: String,
    keep_events_days: String,
    keep_artifacts_days: String,
) -> Result<RetentionPolicy, AppError> {
    ssr::with_status(async {
        let (state, _, actor) = ssr::require_role(Role::Owner).await?;
        let field = |name: &str| format!("agents.{agent}.{name}");
        let entry = model::AgentRetention {
            keep_runs_days: parse_override(&field("keepRunsDays"), &keep_runs_days)?,
            keep_failed_runs_days: parse_override(
                &field("keepFailedRunsDays"),
                &keep_failed_runs_days,
            )?,
            keep_events_days: parse_override(&field("keepEventsDays"), &keep_events_days)?,
            keep_artifacts_days: parse_override(&field("keepArtifactsDays"), &keep_artifacts_days)?,
        };
        store::db::retention::update_policy(&state.db, &actor, |policy| {
            if entry == model::AgentRetention::default() {
                policy.agents.remove(&agent);
            } else {
                policy.agents.insert(agent.clone(), entry);
            }
            Ok(())
        })
        .await
    })
    .await
}

/// An override field of the form: empty follows the account, `forever` keeps forever.
#[cfg(feature = "ssr")]
fn parse_override(field: &str, text: &str) -> Result<Option<Option<i64>>, AppError> {
    if text.trim().eq_ignore_ascii_case("forever") {
        return Ok(Some(None));
    }
    Ok(model::parse_days_field(field, text)?.map(Some))
}

#[server(prefix = "/fn", endpoint = "load_storage")]
pub async fn load_storage() -> Result<StorageReport, AppError> {
    ssr::with_status(async {
        let (state, user, _) = ssr::require_role(Role::Owner).await?;
        store::prune::storage_report(&state.db, user.account_pk).await
    })
    .await
}

/// Pins or unpins a run; returns it.
#[server(prefix = "/fn", endpoint = "pin_run")]
pub async fn pin_run(id: String, pinned: bool) -> Result<Run, AppError> {
    ssr::with_status(async {
        let (state, _, actor) = ssr::require_role(Role::Member).await?;
        let id = model::parse_public_id(&id)?;
        Ok(store::db::runs::set_pinned(&state.db, &actor, id, pinned)
            .await?
            .run)
    })
    .await
}

#[cfg(feature = "ssr")]
use super::ssr;
