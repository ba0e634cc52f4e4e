//! Campaigns group runs; a campaign follows the outcome of its latest run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
pub enum CampaignStatus {
    Draft,
    Running,
    Live,
    Failed,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A stored value; anything unknown reads as `draft`.
    pub fn parse(value: &str) -> CampaignStatus {
        value.parse().unwrap_or(CampaignStatus::Draft)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: Uuid,
    pub name: String,
    pub status: CampaignStatus,
    pub bundle_url: Option<String>,
    pub latest_run_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
