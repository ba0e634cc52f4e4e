//! Bulk actions by query: one action (cancel, retry, delete, tag, untag) applied to
//! every run a query matches, by a durable job that works in small transactions
//! and goes on after a restart. The action decides the role it needs and whether
//! it takes a tag, here once, for the API, its preview and the job alike.

use crate::{AppError, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What a bulk job does to each run.
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
    strum::Display,
    strum::VariantArray,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum BulkAction {
    /// Cancels runs not yet finished (as `POST /api/runs/{id}/cancel`).
    Cancel,
    /// A new attempt of each failed or cancelled run (as `POST /api/runs/{id}/retry`).
    Retry,
    /// Deletes runs with everything they have (as `DELETE /api/runs/{id}`).
    Delete,
    /// Adds `tag` to runs that do not have it.
    Tag,
    /// Removes `tag` from runs that have it.
    Untag,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The least role that may take (or preview, or cancel) this action on many
    /// runs: the role the same action on one run needs.
    pub fn role(self) -> Role {
        match self {
            BulkAction::Delete => Role::Owner,
            BulkAction::Cancel | BulkAction::Retry | BulkAction::Tag | BulkAction::Untag => {
                Role::Member
            }
        }
    }

    /// Whether the action takes a tag.
    pub fn takes_tag(self) -> bool {
        matches!(self, BulkAction::Tag | BulkAction::Untag)
    }

    /// The action's tag, checked: required for `tag` and `untag` (and valid as a
    /// run's tag), refused for the others. `field` names it in errors.
    pub fn checked_tag(self, field: &str, tag: Option<&str>) -> Result<Option<String>, AppError> {
        match (self.takes_tag(), tag) {
            (true, Some(tag)) => crate::validate_tag(field, tag).map(Some),
            (true, None) => Err(AppError::invalid(
                field,
                format!("the {self} action needs a `{field}`"),
            )),
            (false, None) => Ok(None),
            (false, Some(_)) => Err(AppError::invalid(
                field,
                format!("`{field}` is only for the tag and untag actions, not {self}"),
            )),
        }
    }
}

/// Where a bulk job is.
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
    strum::Display,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum BulkJobStatus {
    /// Waiting for the worker.
    Queued,
    Running,
    /// Every matching run was reached.
    Done,
    /// Stopped by a person; what was done stays done.
    Cancelled,
    /// Stopped by an error (`error` says which); what was done stays done.
    Failed,
}

impl BulkJobStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Done, cancelled or failed: the job does nothing more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            BulkJobStatus::Done | BulkJobStatus::Cancelled | BulkJobStatus::Failed
        )
    }
}

/// A bulk job, as the API and the live stream (`bulk_job.changed`) show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkJob {
    pub id: Uuid,
    pub action: BulkAction,
    /// The query, as given.
    pub q: String,
    /// The other filter parameters of the runs list, as given (`{"status": "failed"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Runs that matched when the job was created.
    pub matched: i64,
    /// Runs the action changed.
    pub done: i64,
    /// Runs reached that the action no longer applied to (finished already, not
    /// retryable, already tagged, deleted meanwhile…).
    pub skipped: i64,
    /// Runs the action refused (a 21st tag).
    pub failed: i64,
    pub status: BulkJobStatus,
    /// Who created the job (an email, or `system`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why a failed job stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a bulk action would do now (`dryRun`), changing nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkPreview {
    /// Runs that match the query.
    pub matched: i64,
    /// Of those, runs the action would change.
    pub would_change: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn actions_read_and_write_their_names() {
        for &action in BulkAction::VARIANTS {
            assert_eq!(action.as_str().parse::<BulkAction>(), Ok(action));
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(serde_json::Value::String(action.as_str().to_string()))
            );
        }
        assert!("explode".parse::<BulkAction>().is_err());
    }

    #[test]
    fn deleting_needs_an_owner_and_the_rest_a_member() {
        assert_eq!(BulkAction::Delete.role(), Role::Owner);
        for action in [
            BulkAction::Cancel,
            BulkAction::Retry,
            BulkAction::Tag,
            BulkAction::Untag,
        ] {
            assert_eq!(action.role(), Role::Member);
        }
    }

    #[test]
    fn only_tag_and_untag_take_a_tag() {
        assert_eq!(
            BulkAction::Tag.checked_tag("tag", Some(" nightly ")),
            Ok(Some("nightly".into()))
        );
        for (action, tag) in [
            (BulkAction::Tag, None),
            (BulkAction::Untag, Some("")),
            (BulkAction::Cancel, Some("x")),
        ] {
            let error = action.checked_tag("tag", tag).unwrap_err();
            assert_eq!(error.field(), Some("tag"), "{action} {tag:?}");
        }
        assert_eq!(BulkAction::Delete.checked_tag("tag", None), Ok(None));
    }
}
