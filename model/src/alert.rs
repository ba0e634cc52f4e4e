//! Alert rules: which runs they watch (scope), what makes them fire (condition)
//! and who hears of it (channels), with the checks of what a rule may hold, for
//! the JSON API and the dashboard alike, and what a rule did (firings).

use crate::{validate_display_name, validate_http_url, validate_view_query, AppError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Channels one rule may notify.
pub const MAX_ALERT_CHANNELS: usize = 10;
/// Rules one account may have.
pub const MAX_ALERT_RULES: i64 = 200;
/// The longest window of a threshold rule: a week.
pub const MAX_WINDOW_MINS: i64 = 7 * 24 * 60;
/// The window of a threshold rule that names none.
pub const DEFAULT_WINDOW_MINS: i64 = 60;

/// What makes a rule fire.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AlertConditionType {
    /// A run ended failed (whatever its error code).
    RunFailed,
    /// A run failed because its runner stopped calling back (`stalled`).
    RunStalled,
    /// A run failed because it ran longer than its agent allows (`timed_out`).
    RunTimedOut,
    /// A campaign became failed.
    CampaignFailed,
    /// A campaign became live.
    CampaignLive,
    /// Failed over finished runs in the window reached `threshold` (0–1).
    FailureRate,
    /// The finished runs' 95th percentile duration reached `threshold` ms.
    P95Duration,
    /// No run completed in the window.
    NoSuccess,
}

impl AlertConditionType {
    pub const ALL: [AlertConditionType; 8] = [
        AlertConditionType::RunFailed,
        AlertConditionType::RunStalled,
        AlertConditionType::RunTimedOut,
        AlertConditionType::CampaignFailed,
        AlertConditionType::CampaignLive,
        AlertConditionType::FailureRate,
        AlertConditionType::P95Duration,
        AlertConditionType::NoSuccess,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> Option<AlertConditionType> {
        text.parse().ok()
    }

    /// Evaluated over a window, periodically; fires when crossed, resolves when back.
    pub fn is_threshold(self) -> bool {
        matches!(
            self,
            AlertConditionType::FailureRate
                | AlertConditionType::P95Duration
                | AlertConditionType::NoSuccess
        )
    }

    /// Fired by a campaign's change rather than a run's.
    pub fn is_campaign(self) -> bool {
        matches!(
            self,
            AlertConditionType::CampaignFailed | AlertConditionType::CampaignLive
        )
    }

    /// The run error code this condition fires on (`None`: any failed run).
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            AlertConditionType::RunStalled => Some("stalled"),
            AlertConditionType::RunTimedOut => Some("timed_out"),
            _ => None,
        }
    }

    /// How the dashboard names it.
    pub fn label(self) -> &'static str {
        match self {
            AlertConditionType::RunFailed => "A run failed",
            AlertConditionType::RunStalled => "A run stalled",
            AlertConditionType::RunTimedOut => "A run timed out",
            AlertConditionType::CampaignFailed => "A campaign failed",
            AlertConditionType::CampaignLive => "A campaign went live",
            AlertConditionType::FailureRate => "Failure rate at or above",
            AlertConditionType::P95Duration => "Duration p95 at or above",
            AlertConditionType::NoSuccess => "No completed run for",
        }
    }
}

/// Which runs a rule watches; all empty means every run of the account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertScope {
    /// An agent's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// A campaign's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<Uuid>,
    /// A runs query (docs/query.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertCondition {
    #[serde(rename = "type")]
    pub kind: AlertConditionType,
    /// `failure_rate`: 0–1; `p95_duration`: milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Threshold rules: the window, in minutes (default 60, at most a week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_mins: Option<i64>,
    /// `failure_rate` and `p95_duration`: the fewest finished runs to judge by (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_runs: Option<i64>,
}

/// Where a rule's notifications go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AlertChannel {
    /// A JSON POST signed like run webhooks (`Runboard-Signature`).
    Webhook { url: String },
    /// A Slack-compatible incoming webhook: `{"text": …}`.
    Slack { url: String },
    /// An email, over the server's SMTP relay (`RUNBOARD_SMTP_URL`).
    Email { to: String },
}

impl AlertChannel {
    pub fn kind(&self) -> &'static str {
        match self {
            AlertChannel::Webhook { .. } => "webhook",
            AlertChannel::Slack { .. } => "slack",
            AlertChannel::Email { .. } => "email",
        }
    }

    /// The URL or address it goes to.
    pub fn target(&self) -> &str {
        match self {
            AlertChannel::Webhook { url } | AlertChannel::Slack { url } => url,
            AlertChannel::Email { to } => to,
        }
    }

    /// The URL to check against the outbound policy, for HTTP channels.
    pub fn url(&self) -> Option<&str> {
        match self {
            AlertChannel::Webhook { url } | AlertChannel::Slack { url } => Some(url),
            AlertChannel::Email { .. } => None,
        }
    }

    pub fn from_parts(kind: &str, target: &str) -> Option<AlertChannel> {
        let target = target.to_string();
        match kind {
            "webhook" => Some(AlertChannel::Webhook { url: target }),
            "slack" => Some(AlertChannel::Slack { url: target }),
            "email" => Some(AlertChannel::Email { to: target }),
            _ => None,
        }
    }
}

/// Whether a threshold rule is past its threshold now.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AlertState {
    #[default]
    Ok,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> AlertState {
        text.parse().unwrap_or_default()
    }
}

/// A rule as the API and the dashboard show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    pub id: Uuid,
    pub name: String,
    pub scope: AlertScope,
    pub condition: AlertCondition,
    pub channels: Vec<AlertChannel>,
    pub enabled: bool,
    /// Threshold rules: whether the condition holds now (`ok` for the others).
    pub state: AlertState,
    /// Threshold rules: the value measured at the last evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Who made it (email).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new rule (every field but `enabled` required) or a change (`None`: keep).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRuleChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub scope: Option<AlertScope>,
    #[serde(default)]
    pub condition: Option<AlertCondition>,
    #[serde(default)]
    pub channels: Option<Vec<AlertChannel>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// What a firing was.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FiringKind {
    Fired,
    Resolved,
    /// Sent by "Send test".
    Test,
}

impl FiringKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> Option<FiringKind> {
        text.parse().ok()
    }
}

/// How one channel's notification of a firing went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FiringChannel {
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// Why the last attempt failed, in general terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One thing a rule did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertFiring {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: FiringKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
    /// Threshold rules: the measured value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub message: String,
    pub channels: Vec<FiringChannel>,
}

/// The rule's parts as stored, once checked by [`validate_rule`].
#[derive(Clone, Debug, PartialEq)]
pub struct ValidRule {
    pub name: String,
    pub scope: AlertScope,
    pub condition: AlertCondition,
    pub channels: Vec<AlertChannel>,
}

/// Checks a whole rule: a name, a scope that suits the condition, a condition
/// with exactly the settings its type takes (defaults filled in), and 1–10
/// channels of valid URLs and addresses. The outbound policy (which addresses
/// may be called) and whether the server can send email are checked by the
/// store, which knows them.
pub fn validate_rule(
    name: &str,
    scope: AlertScope,
    condition: AlertCondition,
    channels: Vec<AlertChannel>,
) -> Result<ValidRule, AppError> {
    let name = validate_display_name("name", "an alert", name)?;
    let scope = validate_scope(scope, condition.kind)?;
    let condition = validate_condition(condition)?;
    let channels = validate_channels(channels)?;
    Ok(ValidRule {
        name,
        scope,
        condition,
        channels,
    })
}

fn validate_scope(scope: AlertScope, kind: AlertConditionType) -> Result<AlertScope, AppError> {
    let agent = scope
        .agent
        .map(|agent| agent.trim().to_string())
        .filter(|agent| !agent.is_empty());
    let q = scope
        .q
        .map(|q| validate_view_query(&q).map_err(|error| rename_field(error, "scope.q")))
        .transpose()?
        .filter(|q| !q.is_empty());
    if kind.is_campaign() && (agent.is_some() || q.is_some()) {
        return Err(AppError::invalid(
            "scope",
            "campaign conditions are scoped by campaign only",
        ));
    }
    Ok(AlertScope {
        agent,
        campaign: scope.campaign,
        q,
    })
}

fn rename_field(error: AppError, field: &str) -> AppError {
    match error {
        AppError::Invalid { message, .. } => AppError::invalid(field, message),
        AppError::InvalidAt {
            message, position, ..
        } => AppError::InvalidAt {
            field: field.to_string(),
            message,
            position,
        },
        other => other,
    }
}

fn validate_condition(condition: AlertCondition) -> Result<AlertCondition, AppError> {
    let kind = condition.kind;
    let takes_threshold = matches!(
        kind,
        AlertConditionType::FailureRate | AlertConditionType::P95Duration
    );
    if !kind.is_threshold() && (condition.window_mins.is_some() || condition.min_runs.is_some()) {
        return Err(AppError::invalid(
            "condition",
            format!(
                "{} takes no windowMins or minRuns: it fires on each matching run",
                kind.as_str()
            ),
        ));
    }
    if !takes_threshold && (condition.threshold.is_some() || condition.min_runs.is_some()) {
        return Err(AppError::invalid(
            "condition.threshold",
            format!("{} takes no threshold or minRuns", kind.as_str()),
        ));
    }
    let threshold = match (kind, condition.threshold) {
        (AlertConditionType::FailureRate, Some(rate)) if (0.0..=1.0).contains(&rate) => Some(rate),
        (AlertConditionType::FailureRate, _) => {
            return Err(AppError::invalid(
                "condition.threshold",
                "failure_rate needs a threshold between 0 and 1",
            ))
        }
        (AlertConditionType::P95Duration, Some(ms)) if ms.is_finite() && ms >= 1.0 => {
            Some(ms.round())
        }
        (AlertConditionType::P95Duration, _) => {
            return Err(AppError::invalid(
                "condition.threshold",
                "p95_duration needs a threshold in milliseconds (at least 1)",
            ))
        }
        _ => None,
    };
    let window_mins = match condition.window_mins {
        Some(mins) if !(1..=MAX_WINDOW_MINS).contains(&mins) => {
            return Err(AppError::invalid(
                "condition.windowMins",
                format!("windowMins must be between 1 and {MAX_WINDOW_MINS} (a week)"),
            ))
        }
        Some(mins) => Some(mins),
        None => kind.is_threshold().then_some(DEFAULT_WINDOW_MINS),
    };
    let min_runs = match condition.min_runs {
        Some(runs) if !(1..=1_000_000).contains(&runs) => {
            return Err(AppError::invalid(
                "condition.minRuns",
                "minRuns must be between 1 and 1000000",
            ))
        }
        Some(runs) => Some(runs),
        None => takes_threshold.then_some(1),
    };
    Ok(AlertCondition {
        kind,
        threshold,
        window_mins,
        min_runs,
    })
}

/// Longest email address accepted (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

fn validate_channels(channels: Vec<AlertChannel>) -> Result<Vec<AlertChannel>, AppError> {
    if channels.is_empty() {
        return Err(AppError::invalid(
            "channels",
            "an alert needs at least one channel (webhook, slack or email)",
        ));
    }
    if channels.len() > MAX_ALERT_CHANNELS {
        return Err(AppError::invalid(
            "channels",
            format!("an alert has at most {MAX_ALERT_CHANNELS} channels"),
        ));
    }
    channels
        .into_iter()
        .enumerate()
        .map(|(index, channel)| match channel {
            AlertChannel::Webhook { url } => Ok(AlertChannel::Webhook {
                url: checked_url(index, &url)?,
            }),
            AlertChannel::Slack { url } => Ok(AlertChannel::Slack {
                url: checked_url(index, &url)?,
            }),
            AlertChannel::Email { to } => {
                let to = to.trim().to_string();
                if !is_email(&to) {
                    return Err(AppError::invalid(
                        format!("channels[{index}].to"),
                        "an email channel needs one address, like ops@example.com",
                    ));
                }
                Ok(AlertChannel::Email { to })
            }
        })
        .collect()
}

fn checked_url(index: usize, url: &str) -> Result<String, AppError> {
    let url = url.trim();
    validate_http_url(&format!("channels[{index}].url"), url)?;
    Ok(url.to_string())
}

/// One plain address: `local@domain`, no spaces, display names or lists.
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(kind: AlertConditionType) -> AlertCondition {
        AlertCondition {
            kind,
            threshold: None,
            window_mins: None,
            min_runs: None,
        }
    }

    fn webhook() -> Vec<AlertChannel> {
        vec![AlertChannel::Webhook {
            url: "https://example.com/hook".into(),
        }]
    }

    fn field_of(result: Result<ValidRule, AppError>) -> String {
        match result {
            Err(AppError::Invalid { field, .. } | AppError::InvalidAt { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn threshold_rules_get_their_defaults_and_run_rules_none() {
        let rule = validate_rule(
            " Crawler failing ",
            AlertScope::default(),
            AlertCondition {
                threshold: Some(0.3),
                ..condition(AlertConditionType::FailureRate)
            },
            webhook(),
        )
        .unwrap();
        assert_eq!(rule.name, "Crawler failing");
        assert_eq!(rule.condition.window_mins, Some(DEFAULT_WINDOW_MINS));
        assert_eq!(rule.condition.min_runs, Some(1));
        let rule = validate_rule(
            "x",
            AlertScope::default(),
            condition(AlertConditionType::NoSuccess),
            webhook(),
        )
        .unwrap();
        assert_eq!(rule.condition.min_runs, None);
        let rule = validate_rule(
            "x",
            AlertScope::default(),
            condition(AlertConditionType::RunFailed),
            webhook(),
        )
        .unwrap();
        assert_eq!(rule.condition, condition(AlertConditionType::RunFailed));
    }

    #[test]
    fn settings_a_condition_does_not_take_are_refused_by_name() {
        let scope = AlertScope::default;
        for (condition, field) in [
            (
                AlertCondition {
                    threshold: Some(1.5),
                    ..condition(AlertConditionType::FailureRate)
                },
                "condition.threshold",
            ),
            (
                condition(AlertConditionType::P95Duration),
                "condition.threshold",
            ),
            (
                AlertCondition {
                    window_mins: Some(5),
                    ..condition(AlertConditionType::RunFailed)
                },
                "condition",
            ),
            (
                AlertCondition {
                    threshold: Some(3.0),
                    ..condition(AlertConditionType::NoSuccess)
                },
                "condition.threshold",
            ),
            (
                AlertCondition {
                    window_mins: Some(MAX_WINDOW_MINS + 1),
                    ..condition(AlertConditionType::NoSuccess)
                },
                "condition.windowMins",
            ),
        ] {
            assert_eq!(
                field_of(validate_rule("x", scope(), condition.clone(), webhook())),
                field,
                "{condition:?}"
            );
        }
        let agent_scope = AlertScope {
            agent: Some("crawler".into()),
            ..AlertScope::default()
        };
        assert_eq!(
            field_of(validate_rule(
                "x",
                agent_scope,
                condition(AlertConditionType::CampaignLive),
                webhook()
            )),
            "scope"
        );
        let bad_query = AlertScope {
            q: Some("status:".into()),
            ..AlertScope::default()
        };
        assert_eq!(
            field_of(validate_rule(
                "x",
                bad_query,
                condition(AlertConditionType::RunFailed),
                webhook()
            )),
            "scope.q"
        );
    }

    #[test]
    fn channels_need_http_urls_and_plain_addresses() {
        let rule = |channels| {
            validate_rule(
                "x",
                AlertScope::default(),
                condition(AlertConditionType::RunFailed),
                channels,
            )
        };
        assert_eq!(field_of(rule(Vec::new())), "channels");
        assert_eq!(
            field_of(rule(vec![AlertChannel::Slack {
                url: "javascript:alert(1)".into()
            }])),
            "channels[0].url"
        );
        assert_eq!(
            field_of(rule(vec![
                AlertChannel::Email {
                    to: "ops@example.com".into()
                },
                AlertChannel::Email {
                    to: "Ops <ops@example.com>".into()
                }
            ])),
            "channels[1].to"
        );
        for good in ["ops@example.com", "a.b+alerts@mail.example.org"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "a@b.com,c@d.com",
            "a b@c.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn channels_read_and_write_the_api_shape() {
        let channels: Vec<AlertChannel> = serde_json::from_str(
            r#"[{"type":"webhook","url":"https://a.example/h"},{"type":"slack","url":"https://hooks.example/x"},{"type":"email","to":"ops@example.com"}]"#,
        )
        .unwrap();
        assert_eq!(channels[2].kind(), "email");
        assert_eq!(channels[2].target(), "ops@example.com");
        assert_eq!(
            AlertChannel::from_parts("slack", "https://hooks.example/x"),
            Some(channels[1].clone())
        );
    }
}
