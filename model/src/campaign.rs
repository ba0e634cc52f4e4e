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
    /// Its runs by outcome.
    #[serde(default)]
    pub runs: CampaignRuns,
}

/// A campaign's runs by outcome: how far it is and how well it goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CampaignRuns {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Requested, queued or running.
    pub active: i64,
}

impl CampaignRuns {
    /// Completed runs among those that finished completed or failed, in whole
    /// percent; `None` before any did.
    pub fn success_percent(&self) -> Option<i64> {
        let finished = self.completed + self.failed;
        (finished > 0).then(|| (self.completed * 100 + finished / 2) / finished)
    }

    /// `21 of 30 completed · 9 failed · 70 % success`, the parts that apply.
    pub fn summary(&self) -> String {
        if self.total == 0 {
            return "no runs yet".to_string();
        }
        let mut parts = vec![format!("{} of {} completed", self.completed, self.total)];
        if self.active > 0 {
            parts.push(format!("{} in progress", self.active));
        }
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.cancelled > 0 {
            parts.push(format!("{} cancelled", self.cancelled));
        }
        if let Some(percent) = self.success_percent() {
            parts.push(format!("{percent} % success"));
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaigns_runs_read_as_progress_and_success() {
        let runs = CampaignRuns {
            total: 30,
            completed: 21,
            failed: 9,
            cancelled: 0,
            active: 0,
        };
        assert_eq!(runs.success_percent(), Some(70));
        assert_eq!(
            runs.summary(),
            "21 of 30 completed · 9 failed · 70 % success"
        );
        let early = CampaignRuns {
            total: 4,
            active: 4,
            ..CampaignRuns::default()
        };
        assert_eq!(early.success_percent(), None);
        assert_eq!(early.summary(), "0 of 4 completed · 4 in progress");
        assert_eq!(CampaignRuns::default().summary(), "no runs yet");
    }
}
