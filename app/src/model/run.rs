//! Runs: the status lifecycle, the row the runs list shows, and the list filter.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Where a run is in its lifecycle: `requested → queued → running → completed | failed | cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Requested,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Requested,
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Requested => "requested",
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// A terminal status never changes again; a retry is a new run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    fn stage(self) -> u8 {
        match self {
            RunStatus::Requested => 0,
            RunStatus::Queued => 1,
            RunStatus::Running => 2,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled => 3,
        }
    }

    /// The one rule for status changes: never out of a terminal status, never
    /// backwards; skipping ahead (a runner going straight from requested to running,
    /// a queued run being cancelled) is allowed. Repeating the current status is a
    /// no-op and allowed, so a runner may resend `running` with new progress.
    pub fn can_transition_to(self, next: RunStatus) -> bool {
        if self == next {
            return !self.is_terminal();
        }
        !self.is_terminal() && next.stage() > self.stage()
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status `{s}`; expected one of requested, queued, running, completed, failed, cancelled"
                )
            })
    }
}

/// A run as the runs list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRow {
    pub id: Uuid,
    pub agent: String,
    pub status: RunStatus,
    pub progress: f64,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;

/// Which runs to list. Every field is optional and the fields are AND-combined.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFilter {
    /// Any of these statuses; empty means every status.
    #[serde(default)]
    pub statuses: Vec<RunStatus>,
    pub agent: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl RunFilter {
    /// Parses a comma list of statuses as used in URLs (`?status=failed,cancelled`).
    pub fn parse_statuses(value: &str) -> Result<Vec<RunStatus>, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(RunStatus::from_str)
            .collect()
    }

    /// The validated page size and offset: the default size is 20, the largest 100.
    pub fn page(&self) -> Result<(i64, i64), AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}"),
            ));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::invalid("offset", "offset must not be negative"));
        }
        Ok((limit, offset))
    }

    /// Serialises the statuses back into the comma list form.
    pub fn statuses_param(statuses: &[RunStatus]) -> String {
        statuses
            .iter()
            .map(|status| status.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One page of the runs list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    pub runs: Vec<RunRow>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_transitions_follow_the_lifecycle() {
        use RunStatus::*;
        assert!(Requested.can_transition_to(Queued));
        assert!(Requested.can_transition_to(Running));
        assert!(Queued.can_transition_to(Running));
        assert!(Running.can_transition_to(Running));
        for terminal in [Completed, Failed, Cancelled] {
            assert!(Requested.can_transition_to(terminal));
            assert!(Running.can_transition_to(terminal));
        }
    }

    #[test]
    fn terminal_statuses_never_change_and_nothing_goes_backwards() {
        use RunStatus::*;
        for terminal in [Completed, Failed, Cancelled] {
            for next in RunStatus::ALL {
                assert!(!terminal.can_transition_to(next), "{terminal} -> {next}");
            }
        }
        assert!(!Running.can_transition_to(Queued));
        assert!(!Queued.can_transition_to(Requested));
    }

    #[test]
    fn status_lists_parse_and_reject_unknown_names() {
        assert_eq!(
            RunFilter::parse_statuses("failed, cancelled"),
            Ok(vec![RunStatus::Failed, RunStatus::Cancelled])
        );
        let error = RunFilter::parse_statuses("failed,done").unwrap_err();
        assert!(error.contains("`done`"), "{error}");
    }

    #[test]
    fn page_size_defaults_to_20_and_rejects_more_than_100() {
        assert_eq!(RunFilter::default().page(), Ok((20, 0)));
        let too_big = RunFilter {
            limit: Some(101),
            ..RunFilter::default()
        };
        assert!(matches!(too_big.page(), Err(AppError::Invalid { field, .. }) if field == "limit"));
        let negative = RunFilter {
            offset: Some(-1),
            ..RunFilter::default()
        };
        assert!(
            matches!(negative.page(), Err(AppError::Invalid { field, .. }) if field == "offset")
        );
    }
}
