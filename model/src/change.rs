//! Changes: what the live stream (`GET /api/events/stream`) announces. Every
//! committed change has a sequence number, its SSE `id`, so a client that
//! reconnects with `Last-Event-ID` resumes exactly where it stopped.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// What changed; the SSE `event:` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    /// A new run; `data` is the run.
    #[serde(rename = "run.created")]
    RunCreated,
    /// Status, progress, error, summary or context of a run; `data` is the run.
    #[serde(rename = "run.updated")]
    RunUpdated,
    /// `data` is `{id}`.
    #[serde(rename = "run.deleted")]
    RunDeleted,
    /// A step attempt was created or updated; `data` is the step.
    #[serde(rename = "step.changed")]
    StepChanged,
    /// Events were appended; `data` is an [`EventsAppended`].
    #[serde(rename = "events.appended")]
    EventsAppended,
    /// `data` is the artifact.
    #[serde(rename = "artifact.added")]
    ArtifactAdded,
    /// `data` is the campaign.
    #[serde(rename = "campaign.changed")]
    CampaignChanged,
    /// The client missed more than the server replays: reload everything, then
    /// follow on from this message's id.
    #[serde(rename = "resync")]
    Resync,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 8] = [
        ChangeKind::RunCreated,
        ChangeKind::RunUpdated,
        ChangeKind::RunDeleted,
        ChangeKind::StepChanged,
        ChangeKind::EventsAppended,
        ChangeKind::ArtifactAdded,
        ChangeKind::CampaignChanged,
        ChangeKind::Resync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::RunCreated => "run.created",
            ChangeKind::RunUpdated => "run.updated",
            ChangeKind::RunDeleted => "run.deleted",
            ChangeKind::StepChanged => "step.changed",
            ChangeKind::EventsAppended => "events.appended",
            ChangeKind::ArtifactAdded => "artifact.added",
            ChangeKind::CampaignChanged => "campaign.changed",
            ChangeKind::Resync => "resync",
        }
    }

    /// Whether a change of this kind can alter a row of the runs list.
    pub fn touches_run_list(self) -> bool {
        matches!(
            self,
            ChangeKind::RunCreated
                | ChangeKind::RunUpdated
                | ChangeKind::RunDeleted
                | ChangeKind::Resync
        )
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeKind {
    type Err = ();

    fn from_str(value: &str) -> Result<ChangeKind, ()> {
        ChangeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or(())
    }
}

/// One message of the live stream (its `data`), as clients receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Also the message's SSE `id`; increases with every committed change.
    pub seq: i64,
    pub kind: ChangeKind,
    /// The run the change belongs to, if any.
    pub run_id: Option<Uuid>,
    pub data: serde_json::Value,
}

/// The `data` of an `events.appended` change. Small batches carry their events;
/// for a large one `events` holds the first few and `complete` is false, and a
/// client reads the rest from the events API (`after = firstSeq - 1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventsAppended {
    pub first_seq: i64,
    pub last_seq: i64,
    pub count: i64,
    pub complete: bool,
    pub events: Vec<super::Event>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in ChangeKind::ALL {
            assert_eq!(kind.as_str().parse::<ChangeKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::String(kind.as_str().to_string()))
            );
        }
        assert!("run.exploded".parse::<ChangeKind>().is_err());
    }
}
