//! Changes: what the live stream (`GET /api/events/stream`) announces. Every
//! committed change has a sequence number, its SSE `id`, so a client that
//! reconnects with `Last-Event-ID` resumes exactly where it stopped.

use crate::{Artifact, BulkJob, Campaign, Event, Run, RunBrief, Step};
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
    /// A run was created or changed, as a list of runs shows it ([`RunBrief`]):
    /// a stream that asks for `run.brief` instead of `run.created` and
    /// `run.updated` gets a few hundred bytes per change instead of the whole
    /// run. Sent in their place, never stored.
    #[serde(rename = "run.brief")]
    #[strum(serialize = "run.brief")]
    RunBrief,
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

    /// The kinds the change log stores for this one: `run.brief` is sent in
    /// place of `run.created` and `run.updated`; every other kind is its own.
    pub fn stored_kinds(self) -> &'static [ChangeKind] {
        match self {
            ChangeKind::RunBrief => &[ChangeKind::RunCreated, ChangeKind::RunUpdated],
            ChangeKind::RunCreated => &[ChangeKind::RunCreated],
            ChangeKind::RunUpdated => &[ChangeKind::RunUpdated],
            ChangeKind::RunDeleted => &[ChangeKind::RunDeleted],
            ChangeKind::StepChanged => &[ChangeKind::StepChanged],
            ChangeKind::EventsAppended => &[ChangeKind::EventsAppended],
            ChangeKind::ArtifactAdded => &[ChangeKind::ArtifactAdded],
            ChangeKind::CampaignChanged => &[ChangeKind::CampaignChanged],
            ChangeKind::BulkJobChanged => &[ChangeKind::BulkJobChanged],
            ChangeKind::Resync => &[ChangeKind::Resync],
        }
    }

    /// How a follower of `wanted` kinds is sent a change of this kind: as
    /// itself, as a `run.brief`, or not at all (a resync always goes).
    pub fn sent_as(self, wanted: &[ChangeKind]) -> Option<ChangeKind> {
        if self == ChangeKind::Resync || wanted.contains(&self) {
            Some(self)
        } else if ChangeKind::RunBrief.stored_kinds().contains(&self)
            && wanted.contains(&ChangeKind::RunBrief)
        {
            Some(ChangeKind::RunBrief)
        } else {
            None
        }
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
    /// A run was created or changed, in brief (streams that ask for `run.brief`).
    #[serde(rename = "run.brief")]
    RunBrief(RunBrief),
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
            ChangeData::RunBrief(_) => ChangeKind::RunBrief,
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
            ChangeData::RunBrief(brief) => serde_json::to_string(brief),
            ChangeData::Resync(resync) => serde_json::to_string(resync),
        }
    }

    /// Whether a change of this kind can alter a row of the runs list.
    pub fn touches_run_list(&self) -> bool {
        match self {
            ChangeData::RunCreated(_)
            | ChangeData::RunUpdated(_)
            | ChangeData::RunDeleted(_)
            | ChangeData::RunBrief(_)
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

    /// This change as a `run.brief`, if it is a run's creation or update.
    pub fn brief(&self) -> Option<Change> {
        match &self.data {
            ChangeData::RunCreated(run) | ChangeData::RunUpdated(run) => Some(Change {
                seq: self.seq,
                run_id: self.run_id,
                data: ChangeData::RunBrief(RunBrief::from(run)),
            }),
            _ => None,
        }
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
            ChangeKind::RunBrief => ChangeData::RunBrief(from_value(wire.data)?),
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
    fn run_briefs_stand_in_for_run_changes_only_when_asked_for() {
        use ChangeKind::*;
        assert_eq!(RunUpdated.sent_as(&[RunBrief, RunDeleted]), Some(RunBrief));
        assert_eq!(RunCreated.sent_as(&[RunBrief]), Some(RunBrief));
        assert_eq!(
            RunUpdated.sent_as(&[RunBrief, RunUpdated]),
            Some(RunUpdated)
        );
        assert_eq!(RunDeleted.sent_as(&[RunBrief]), None);
        assert_eq!(EventsAppended.sent_as(&[RunBrief, RunDeleted]), None);
        assert_eq!(Resync.sent_as(&[]), Some(Resync));
        assert_eq!(RunBrief.stored_kinds(), &[RunCreated, RunUpdated]);
        for &kind in ChangeKind::ALL {
            if kind != RunBrief {
                assert_eq!(kind.stored_kinds(), &[kind]);
            }
        }
    }

    #[test]
    fn a_brief_keeps_what_a_row_shows_and_reads_back() {
        let run: Run = serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "agent": "bot", "campaignId": null, "status": "failed",
            "progress": 0.5, "initiator": null, "summary": "half",
            "input": {"big": "x".repeat(500)}, "context": {"big": "y".repeat(500)},
            "error": {"code": "boom", "message": "it broke", "details": {"trace": "z".repeat(500)}},
            "createdAt": "2026-12-03T06:00:00Z", "startedAt": "2026-12-03T06:00:01Z",
            "completedAt": "2026-12-03T06:00:03Z", "updatedAt": "2026-12-03T06:00:03Z",
            "durationMs": 2000, "webhookUrl": null, "webhookStatus": "none", "retryOf": null,
            "attempt": 1, "lastSeenAt": null, "leaseExpiresAt": null, "retryAt": null,
            "tags": ["nightly"]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let change = Change {
            seq: 9,
            run_id: Some(run.id),
            data: ChangeData::RunUpdated(run.clone()),
        };
        let brief = change.brief().unwrap_or_else(|| panic!("no brief"));
        let wire = serde_json::to_string(&brief).unwrap_or_default();
        assert!(wire.len() < 450, "{wire}");
        assert!(!wire.contains("xxx") && !wire.contains("yyy") && !wire.contains("zzz"));
        assert!(!wire.contains("null"), "empty fields are left out: {wire}");
        let back: Change = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, brief);
        let ChangeData::RunBrief(read) = back.data else {
            panic!("not a brief")
        };
        assert_eq!((read.status, read.progress), (run.status, run.progress));
        assert_eq!(read.error.map(|e| e.message), Some("it broke".to_string()));
        assert_eq!(read.tags, ["nightly"]);
        let deleted = Change {
            seq: 10,
            run_id: None,
            data: ChangeData::RunDeleted(DeletedRun { id: run.id }),
        };
        assert_eq!(deleted.brief(), None);
    }

    #[test]
    fn a_change_of_an_unknown_kind_is_refused() {
        let wire = r#"{"seq":7,"kind":"run.exploded","runId":null,"data":{}}"#;
        assert!(serde_json::from_str::<Change>(wire).is_err());
    }
}
