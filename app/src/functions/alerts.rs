//! Server functions of the Alerts pages: the rules and one rule's history for
//! every member, and creating, enabling, testing and deleting rules for owners.
//! They call `store::db::alerts`, as `/api/alerts` does.

// The new-alert form's nine fields are `create_alert`'s arguments; the `#[server]`
// macro copies them into the browser's stub too, where an item attribute does not reach.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use model::{AlertFiring, AlertRule, AppError};
use serde::{Deserialize, Serialize};

/// The alerts page: the rules, and whether the caller may manage them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRules {
    pub rules: Vec<AlertRule>,
    pub can_manage: bool,
    /// Email channels can be chosen (the server has an SMTP relay).
    pub email: bool,
    /// The account's agents, for the scope's choice.
    pub agents: Vec<String>,
}

#[server(prefix = "/fn", endpoint = "alerts_page")]
pub async fn alerts_page() -> Result<AlertRules, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let pool = &state.db.read;
        Ok(AlertRules {
            rules: store::db::alerts::list_alerts(pool, user.account_pk).await?,
            can_manage: user.role.allows(model::Role::Owner),
            email: state.alert_delivery.email,
            agents: store::db::agents::list_agents(pool, user.account_pk)
                .await?
                .into_iter()
                .map(|agent| agent.slug)
                .collect(),
        })
    })
    .await
}

/// One rule's page: the rule, its history, and whether the caller may manage it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertHistory {
    pub rule: AlertRule,
    pub firings: Vec<AlertFiring>,
    pub can_manage: bool,
}

#[server(prefix = "/fn", endpoint = "alert_detail")]
pub async fn alert_detail(id: String) -> Result<AlertHistory, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let id = model::parse_public_id(&id)?;
        let pool = &state.db.read;
        Ok(AlertHistory {
            rule: store::db::alerts::get_alert(pool, user.account_pk, id).await?,
            firings: store::db::alerts::list_firings(pool, user.account_pk, id).await?,
            can_manage: user.role.allows(model::Role::Owner),
        })
    })
    .await
}

/// A number field of the form: empty is `None`, anything else must parse.
#[cfg(feature = "ssr")]
fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| AppError::invalid(field, format!("{field} must be a number")))
}

/// The new-alert form. Thresholds come as the form shows them: a failure rate in
/// percent, a duration in seconds.
#[server(prefix = "/fn", endpoint = "create_alert")]
pub async fn create_alert(
    name: String,
    condition: String,
    threshold: String,
    window_mins: String,
    min_runs: String,
    agent: String,
    q: String,
    channel: String,
    target: String,
) -> Result<AlertRule, AppError> {
    use model::{AlertChannel, AlertCondition, AlertConditionType, AlertRuleChange, AlertScope};

    super::ssr::with_status(async {
        let (state, _user, actor) = super::ssr::require_role(model::Role::Owner).await?;
        let kind = AlertConditionType::parse(&condition)
            .ok_or_else(|| AppError::invalid("condition", "choose a condition"))?;
        let threshold = number::<f64>("threshold", &threshold)?.map(|value| match kind {
            AlertConditionType::FailureRate => value / 100.0,
            AlertConditionType::P95Duration => value * 1000.0,
            _ => value,
        });
        let takes_window = kind.is_threshold();
        let change = AlertRuleChange {
            name: Some(name),
            scope: Some(AlertScope {
                agent: Some(agent).filter(|agent| !agent.trim().is_empty()),
                campaign: None,
                q: Some(q).filter(|q| !q.trim().is_empty()),
            }),
            condition: Some(AlertCondition {
                kind,
                threshold,
                window_mins: if takes_window {
                    number("windowMins", &window_mins)?
                } else {
                    None
                },
                min_runs: if matches!(
                    kind,
                    AlertConditionType::FailureRate | AlertConditionType::P95Duration
                ) {
                    number("minRuns", &min_runs)?
                } else {
                    None
                },
            }),
            channels: Some(vec![AlertChannel::from_parts(&channel, target.trim())
                .ok_or_else(|| {
                    AppError::invalid("channel", "choose where to send it")
                })?]),
            enabled: Some(true),
        };
        store::db::alerts::create_alert(&state.db, &actor, change, state.alert_delivery).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "set_alert_enabled")]
pub async fn set_alert_enabled(id: String, enabled: bool) -> Result<AlertRule, AppError> {
    super::ssr::with_status(async {
        let (state, _user, actor) = super::ssr::require_role(model::Role::Owner).await?;
        let change = model::AlertRuleChange {
            enabled: Some(enabled),
            ..Default::default()
        };
        let id = model::parse_public_id(&id)?;
        store::db::alerts::update_alert(&state.db, &actor, id, change, state.alert_delivery).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "send_alert_test")]
pub async fn send_alert_test(id: String) -> Result<AlertFiring, AppError> {
    super::ssr::with_status(async {
        let (state, _user, actor) = super::ssr::require_role(model::Role::Owner).await?;
        store::db::alerts::send_test(&state.db, &actor, model::parse_public_id(&id)?).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "delete_alert")]
pub async fn delete_alert(id: String) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, _user, actor) = super::ssr::require_role(model::Role::Owner).await?;
        store::db::alerts::delete_alert(&state.db, &actor, model::parse_public_id(&id)?).await?;
        leptos_axum::redirect("/alerts");
        Ok(())
    })
    .await
}
