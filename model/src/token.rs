//! Named owner API tokens. The secret is shown once, at creation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the token, to recognise it in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// After this the token no longer works; `None`: until revoked.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The email of the user the token acts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}
