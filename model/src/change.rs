//! Changes: what the live stream (`GET /api/events/stream`) announces. Every
//! committed change has a sequence number, its SSE `id`, so a client that
//! reconnects with `Last-Event-ID` resumes exactly where it stopped.

use crate::{Artifact, BulkJob, Campaign, Event, Run, Step};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What changed; the SSE `event:` name and the `kind` column of the change log.
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
pub enum ChangeKind {
    /// A new run.
    #[serde(rename = "run.created")]
    #[strum(serialize = "run.created")]
    RunCreated,
    /// Status, progress, error, summary or context of a run.
    #[serde(rename = "run.updated")]
    #[strum(serialize = "run.updated")]
    RunUpdated,
    #[serde(rename = "run.deleted")]
    #[strum(serialize = "run.deleted")]
    RunDeleted,
    /// A step attempt was created or updated.
    #[serde(rename = "step.changed")]
    #[strum(serialize = "step.changed")]
    StepChanged,
    #[serde(rename = "events.appended")]
    #[strum(serialize = "events.appended")]
    EventsAppended,
    #[serde(rename = "artifact.added")]
    #[strum(serialize = "artifact.added")]
    ArtifactAdded,
    #[serde(rename = "campaign.changed")]
    #[strum(serialize = "campaign.changed")]
    CampaignChanged,
    /// A bulk job was created, moved on (at most about once a second), finished or
    /// was cancelled.
    #[serde(rename = "bulk_job.changed")]
    #[strum(serialize = "bulk_job.changed")]
    BulkJobChanged,
    /// The client missed more than the server replays.
    #[serde(rename = "resync")]
    #[strum(serialize = "resync")]
    Resync,
}

impl ChangeKind {
    pub const ALL: &'static [ChangeKind] = <ChangeKind as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a change carries, by kind: the message's `kind` and its `data`. Clients
/// match every kind; the change log stores `kind` and `data` in two columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "data")]
pub enum ChangeData {
    #[serde(rename = "run.created")]
    RunCreated(Run),
    #[serde(rename = "run.updated")]
    RunUpdated(Run),
    #[serde(rename = "run.deleted")]
    RunDeleted(DeletedRun),
    #[serde(rename = "step.changed")]
    StepChanged(Step),
    /// Events were appended to a run.
    #[serde(rename = "events.appended")]
    EventsAppended(EventsAppended),
    #[serde(rename = "artifact.added")]
    ArtifactAdded(Artifact),
    /// A campaign was created, or its runs moved it on.
    #[serde(rename = "campaign.changed")]
    CampaignChanged(Campaign),
    /// A bulk job's progress or status.
    #[serde(rename = "bulk_job.changed")]
    BulkJobChanged(BulkJob),
    /// Reload everything, then follow on from this message's id.
    #[serde(rename = "resync")]
    Resync(Resync),
}

impl ChangeData {
    pub fn kind(&self) -> ChangeKind {
        match self {
            ChangeData::RunCreated(_) => ChangeKind::RunCreated,
            ChangeData::RunUpdated(_) => ChangeKind::RunUpdated,
            ChangeData::RunDeleted(_) => ChangeKind::RunDeleted,
            ChangeData::StepChanged(_) => ChangeKind::StepChanged,
            ChangeData::EventsAppended(_) => ChangeKind::EventsAppended,
            ChangeData::ArtifactAdded(_) => ChangeKind::ArtifactAdded,
            ChangeData::CampaignChanged(_) => ChangeKind::CampaignChanged,
            ChangeData::BulkJobChanged(_) => ChangeKind::BulkJobChanged,
            ChangeData::Resync(_) => ChangeKind::Resync,
        }
    }

    /// The JSON of `data` alone, as the change log stores it beside `kind`.
    pub fn data_json(&self) -> serde_json::Result<String> {
        match self {
            ChangeData::RunCreated(run) | ChangeData::RunUpdated(run) => serde_json::to_string(run),
            ChangeData::RunDeleted(deleted) => serde_json::to_string(deleted),
            ChangeData::StepChanged(step) => serde_json::to_string(step),
            ChangeData::EventsAppended(appended) => serde_json::to_string(appended),
            ChangeData::ArtifactAdded(artifact) => serde_json::to_string(artifact),
            ChangeData::CampaignChanged(campaign) => serde_json::to_string(campaign),
            ChangeData::BulkJobChanged(job) => serde_json::to_string(job),
            ChangeData::Resync(resync) => serde_json::to_string(resync),
        }
    }

    /// Whether a change of this kind can alter a row of the runs list.
    pub fn touches_run_list(&self) -> bool {
        match self {
            ChangeData::RunCreated(_)
            | ChangeData::RunUpdated(_)
            | ChangeData::RunDeleted(_)
            | ChangeData::Resync(_) => true,
            ChangeData::StepChanged(_)
            | ChangeData::EventsAppended(_)
            | ChangeData::ArtifactAdded(_)
            | ChangeData::CampaignChanged(_)
            | ChangeData::BulkJobChanged(_) => false,
        }
    }
}

/// The `data` of `run.deleted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct DeletedRun {
    pub id: Uuid,
}

/// The `data` of `resync`: why the client must reload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Resync {
    pub reason: String,
}

/// One message of the live stream (its `data`), as clients receive it:
/// `{seq, kind, runId, data}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", try_from = "WireChange")]
pub struct Change {
    /// Also the message's SSE `id`; increases with every committed change.
    pub seq: i64,
    /// The run the change belongs to, if any.
    pub run_id: Option<Uuid>,
    #[serde(flatten)]
    pub data: ChangeData,
}

impl Change {
    pub fn kind(&self) -> ChangeKind {
        self.data.kind()
    }
}

/// A change as read off the wire: `data` decoded by `kind` in a second step. Reading
/// through `serde_json::Value` rather than serde's flattened, tagged-enum machinery
/// keeps the browser's bundle small (the flattened form cost 12 KB gzipped).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireChange {
    seq: i64,
    kind: ChangeKind,
    run_id: Option<Uuid>,
    data: serde_json::Value,
}

impl TryFrom<WireChange> for Change {
    type Error = serde_json::Error;

    fn try_from(wire: WireChange) -> Result<Change, serde_json::Error> {
        use serde_json::from_value;
        let data = match wire.kind {
            ChangeKind::RunCreated => ChangeData::RunCreated(from_value(wire.data)?),
            ChangeKind::RunUpdated => ChangeData::RunUpdated(from_value(wire.data)?),
            ChangeKind::RunDeleted => ChangeData::RunDeleted(from_value(wire.data)?),
            ChangeKind::StepChanged => ChangeData::StepChanged(from_value(wire.data)?),
            ChangeKind::EventsAppended => ChangeData::EventsAppended(from_value(wire.data)?),
            ChangeKind::ArtifactAdded => ChangeData::ArtifactAdded(from_value(wire.data)?),
            ChangeKind::CampaignChanged => ChangeData::CampaignChanged(from_value(wire.data)?),
            ChangeKind::BulkJobChanged => ChangeData::BulkJobChanged(from_value(wire.data)?),
            ChangeKind::Resync => ChangeData::Resync(from_value(wire.data)?),
        };
        Ok(Change {
            seq: wire.seq,
            run_id: wire.run_id,
            data,
        })
    }
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
    pub events: Vec<Event>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for &kind in ChangeKind::VARIANTS {
            assert_eq!(kind.as_str().parse::<ChangeKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::String(kind.as_str().to_string()))
            );
        }
        assert!("run.exploded".parse::<ChangeKind>().is_err());
    }

    #[test]
    fn a_change_reads_as_seq_kind_run_id_and_data() {
        let id = Uuid::nil();
        let wire = r#"{"seq":7,"kind":"run.deleted","runId":"00000000-0000-0000-0000-000000000000","data":{"id":"00000000-0000-0000-0000-000000000000"}}"#;
        let change: Change = serde_json::from_str(wire).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(change.seq, 7);
        assert_eq!(change.kind(), ChangeKind::RunDeleted);
        assert_eq!(change.data, ChangeData::RunDeleted(DeletedRun { id }));
        let back: serde_json::Value = serde_json::to_value(&change).unwrap_or_default();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(wire).unwrap_or_default()
        );
        assert_eq!(
            change.data.data_json().ok().as_deref(),
            Some(r#"{"id":"00000000-0000-0000-0000-000000000000"}"#)
        );
    }

    #[test]
    fn a_change_of_an_unknown_kind_is_refused() {
        let wire = r#"{"seq":7,"kind":"run.exploded","runId":null,"data":{}}"#;
        assert!(serde_json::from_str::<Change>(wire).is_err());
    }
}
