//! Server functions of the new-run form and the settings page: start a run, API
//! tokens, password. They call the same database functions as the JSON API.

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use model::Role;
use model::{ApiToken, AppError};
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use store::db::tokens::TokenScope;
use uuid::Uuid;

/// What the new-run form offers to pick from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunChoices {
    pub agents: Vec<String>,
    pub campaigns: Vec<(Uuid, String)>,
}

#[server(prefix = "/fn", endpoint = "new_run_choices")]
pub async fn new_run_choices() -> Result<RunChoices, AppError> {
    super::ssr::with_status(async {
        let (state, user, _) = super::ssr::require_role(Role::Member).await?;
        let (agents, campaigns) = super::ssr::choices(&state, user.account_pk).await?;
        Ok(RunChoices { agents, campaigns })
    })
    .await
}

/// A run just started from the dashboard, with the token its runner will use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartedRun {
    pub id: String,
    pub runner_token: String,
}

/// Starts a run. `input` is JSON text (empty for `{}`); empty optional fields are absent.
#[server(prefix = "/fn", endpoint = "start_run")]
pub async fn start_run(
    agent: String,
    input: String,
    campaign: String,
    webhook_url: String,
    summary: String,
) -> Result<StartedRun, AppError> {
    super::ssr::with_status(async {
        let (state, user, actor) = super::ssr::require_role(Role::Member).await?;
        let input = if input.trim().is_empty() {
            None
        } else {
            Some(
                serde_json::from_str::<serde_json::Value>(&input).map_err(|error| {
                    AppError::invalid("input", format!("input is not valid JSON: {error}"))
                })?,
            )
        };
        let campaign_id =
            match campaign.trim() {
                "" => None,
                id => Some(id.parse().map_err(|_| {
                    AppError::invalid("campaignId", "choose a campaign from the list")
                })?),
            };
        let nonempty =
            |value: String| Some(value.trim().to_string()).filter(|value| !value.is_empty());
        let request = store::db::runs::CreateRun {
            agent: agent.trim().to_string(),
            input,
            campaign_id,
            webhook_url: nonempty(webhook_url),
            initiator: Some(user.email.clone()),
            summary: nonempty(summary),
            context: None,
            tags: None,
        };
        let stored = store::db::runs::create_run(&state.db, &actor, request).await?;
        Ok(StartedRun {
            id: stored.run.id.to_string(),
            runner_token: state.keys.runner_token(stored.run.id)?,
        })
    })
    .await
}

#[server(prefix = "/fn", endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<ApiToken>, AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(Role::Member).await?;
        store::db::tokens::list_tokens(&state.db.read, &actor, TokenScope::Own).await
    })
    .await
}

/// Creates an API token; the secret is returned this once.
#[server(prefix = "/fn", endpoint = "create_token")]
pub async fn create_token(name: String, expires_in_days: String) -> Result<String, AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(Role::Member).await?;
        let expires_in_days = match expires_in_days.trim() {
            "" => None,
            days => Some(days.parse().map_err(|_| {
                AppError::invalid("expiresInDays", "choose how long the token works")
            })?),
        };
        let (_, secret) =
            store::db::tokens::create_token(&state.db, &actor, &name, expires_in_days).await?;
        Ok(secret)
    })
    .await
}

#[server(prefix = "/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, _, actor) = super::ssr::require_role(Role::Member).await?;
        let id = model::parse_public_id(&id)?;
        store::db::tokens::revoke_token(&state.db, &actor, id, TokenScope::Own).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "change_password")]
pub async fn change_password(
    current: String,
    new_password: String,
    repeat: String,
) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        if new_password != repeat {
            return Err(AppError::invalid(
                "repeat",
                "the new passwords do not match",
            ));
        }
        let actor = super::ssr::actor(&user).await;
        let epoch =
            store::db::members::change_password(&state.db, &actor, &current, &new_password).await?;
        // This session stays signed in; every other one of the user's ends.
        crate::session::keep_session(&super::ssr::session().await?, epoch).await
    })
    .await
}
