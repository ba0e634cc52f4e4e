//! The people of an account and what they did: members as the owners' list shows
//! them, and entries of the audit log.

use crate::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user of the account, as owners manage them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// Invited without a password and not yet joined.
    pub pending: bool,
    pub created_at: DateTime<Utc>,
}

/// A member just added. `invite_url` is there when no password was given: the
/// one-time link (valid 72 h) that lets the new user set one. It is shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AddedMember {
    #[serde(flatten)]
    pub member: Member,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_url: Option<String>,
}

/// How an actor reached Runboard.
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
    strum::Display,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Via {
    /// The dashboard's session cookie.
    Session,
    /// A JWT from `POST /api/auth/token`.
    Jwt,
    /// A named API token (`rb_…`).
    Token,
    /// The command line on the server's machine.
    Cli,
    /// The server itself (demo mode, start-up).
    System,
}

/// What an audit entry records. The string forms are the API's `action` values.
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
    strum::Display,
    strum::EnumIter,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum AuditAction {
    #[serde(rename = "run.create")]
    #[strum(serialize = "run.create")]
    RunCreate,
    #[serde(rename = "run.update")]
    #[strum(serialize = "run.update")]
    RunUpdate,
    #[serde(rename = "run.cancel")]
    #[strum(serialize = "run.cancel")]
    RunCancel,
    #[serde(rename = "run.retry")]
    #[strum(serialize = "run.retry")]
    RunRetry,
    #[serde(rename = "run.delete")]
    #[strum(serialize = "run.delete")]
    RunDelete,
    #[serde(rename = "run.pin")]
    #[strum(serialize = "run.pin")]
    RunPin,
    #[serde(rename = "run.unpin")]
    #[strum(serialize = "run.unpin")]
    RunUnpin,
    /// A bulk action by query was started (its detail: action, q, filter, tag, matched).
    #[serde(rename = "bulk.create")]
    #[strum(serialize = "bulk.create")]
    BulkCreate,
    #[serde(rename = "bulk.cancel")]
    #[strum(serialize = "bulk.cancel")]
    BulkCancel,
    #[serde(rename = "campaign.create")]
    #[strum(serialize = "campaign.create")]
    CampaignCreate,
    #[serde(rename = "view.create")]
    #[strum(serialize = "view.create")]
    ViewCreate,
    #[serde(rename = "view.update")]
    #[strum(serialize = "view.update")]
    ViewUpdate,
    #[serde(rename = "view.delete")]
    #[strum(serialize = "view.delete")]
    ViewDelete,
    #[serde(rename = "alert.create")]
    #[strum(serialize = "alert.create")]
    AlertCreate,
    #[serde(rename = "alert.update")]
    #[strum(serialize = "alert.update")]
    AlertUpdate,
    #[serde(rename = "alert.delete")]
    #[strum(serialize = "alert.delete")]
    AlertDelete,
    /// An owner sent a rule's test notification.
    #[serde(rename = "alert.test")]
    #[strum(serialize = "alert.test")]
    AlertTest,
    #[serde(rename = "agent.update")]
    #[strum(serialize = "agent.update")]
    AgentUpdate,
    #[serde(rename = "retention.update")]
    #[strum(serialize = "retention.update")]
    RetentionUpdate,
    #[serde(rename = "token.create")]
    #[strum(serialize = "token.create")]
    TokenCreate,
    #[serde(rename = "token.revoke")]
    #[strum(serialize = "token.revoke")]
    TokenRevoke,
    #[serde(rename = "user.create")]
    #[strum(serialize = "user.create")]
    UserCreate,
    #[serde(rename = "user.role")]
    #[strum(serialize = "user.role")]
    UserRole,
    #[serde(rename = "user.remove")]
    #[strum(serialize = "user.remove")]
    UserRemove,
    #[serde(rename = "user.password")]
    #[strum(serialize = "user.password")]
    UserPassword,
    #[serde(rename = "user.join")]
    #[strum(serialize = "user.join")]
    UserJoin,
    #[serde(rename = "login.success")]
    #[strum(serialize = "login.success")]
    LoginSuccess,
    #[serde(rename = "login.failure")]
    #[strum(serialize = "login.failure")]
    LoginFailure,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Increases with time; pass the last one as `cursor` for the next (older) page.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The actor's email at the time, or `system`.
    pub actor: String,
    pub via: Via,
    pub action: AuditAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// What changed, where the action alone does not say (a new role, a token's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<Object>))]
    pub detail: Option<serde_json::Value>,
    /// The client's address as the server saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
}
