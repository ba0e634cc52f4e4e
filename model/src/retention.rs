//! Retention: how long an account keeps its runs, failed runs, events and
//! artifacts (with per-agent overrides), what pruning removed, and the storage
//! figures owners watch. One shape for the API, the settings page and the CLI.

use crate::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The longest a policy may keep anything, in days (a century): beyond it, keep
/// forever (`null`).
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// The event type of the notes pruning leaves in a run's log ("Events older
/// than 7 days were pruned on …"). Pruning a log keeps them, so a run says what
/// was removed from it for as long as it exists.
pub const PRUNED_EVENT: &str = "retention.pruned";

/// One day in the unit the schema stores.
pub const DAY_MS: i64 = 86_400_000;

/// An account's retention policy. Every field is a whole number of days, 1 to
/// 36,500, or `None` (`null`) to keep forever, the default. Ages are counted
/// from the end of a run (`completedAt`): runs still in flight and pinned runs
/// are never pruned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Completed and cancelled runs are deleted, with everything they hold, this
    /// many days after they ended.
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(minimum = 1, maximum = 36500))]
    pub keep_runs_days: Option<i64>,
    /// Failed runs are deleted this many days after they ended (often longer
    /// than other runs, to investigate).
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(minimum = 1, maximum = 36500))]
    pub keep_failed_runs_days: Option<i64>,
    /// A run's events are removed this many days after it ended; the run stays,
    /// and its log says what was pruned.
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(minimum = 1, maximum = 36500))]
    pub keep_events_days: Option<i64>,
    /// A run's artifacts (and their stored files) are removed this many days
    /// after it ended; the run stays, and its log says what was pruned.
    #[serde(default)]
    #[cfg_attr(feature = "utoipa", schema(minimum = 1, maximum = 36500))]
    pub keep_artifacts_days: Option<i64>,
    /// Overrides by agent slug (an agent of the account).
    #[serde(default)]
    pub agents: BTreeMap<String, AgentRetention>,
}

/// An agent's override of the account's policy: a field that is absent follows
/// the account, `null` keeps forever, a number of days replaces the account's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentRetention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "utoipa",
        schema(value_type = Option<i64>, minimum = 1, maximum = 36500)
    )]
    pub keep_runs_days: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "utoipa",
        schema(value_type = Option<i64>, minimum = 1, maximum = 36500)
    )]
    pub keep_failed_runs_days: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "utoipa",
        schema(value_type = Option<i64>, minimum = 1, maximum = 36500)
    )]
    pub keep_events_days: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "utoipa",
        schema(value_type = Option<i64>, minimum = 1, maximum = 36500)
    )]
    pub keep_artifacts_days: Option<Option<i64>>,
}

// Both read only from JSON objects: serde's derive would also take an array of
// the fields in order (`[30, null]`), which the API document does not allow.

/// [`RetentionPolicy`] as it is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyObject {
    #[serde(default)]
    keep_runs_days: Option<i64>,
    #[serde(default)]
    keep_failed_runs_days: Option<i64>,
    #[serde(default)]
    keep_events_days: Option<i64>,
    #[serde(default)]
    keep_artifacts_days: Option<i64>,
    #[serde(default)]
    agents: BTreeMap<String, AgentRetention>,
}

/// [`AgentRetention`] as it is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentObject {
    #[serde(default, deserialize_with = "present")]
    keep_runs_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    keep_failed_runs_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    keep_events_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    keep_artifacts_days: Option<Option<i64>>,
}

/// Reads a `T` from a JSON object only (a map), keeping the deserializer's
/// own error paths.
fn from_object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Object<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Object<T> {
        type Value = T;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(Object(std::marker::PhantomData))
}

impl<'de> Deserialize<'de> for RetentionPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object: PolicyObject = from_object(deserializer)?;
        Ok(RetentionPolicy {
            keep_runs_days: object.keep_runs_days,
            keep_failed_runs_days: object.keep_failed_runs_days,
            keep_events_days: object.keep_events_days,
            keep_artifacts_days: object.keep_artifacts_days,
            agents: object.agents,
        })
    }
}

impl<'de> Deserialize<'de> for AgentRetention {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object: AgentObject = from_object(deserializer)?;
        Ok(AgentRetention {
            keep_runs_days: object.keep_runs_days,
            keep_failed_runs_days: object.keep_failed_runs_days,
            keep_events_days: object.keep_events_days,
            keep_artifacts_days: object.keep_artifacts_days,
        })
    }
}

/// A field that is present, `null` included: `Some(None)` for `null`. With
/// `#[serde(default)]`, an absent field stays `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// What applies to one agent's runs: days per kind, `None` for forever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionDays {
    pub runs: Option<i64>,
    pub failed_runs: Option<i64>,
    pub events: Option<i64>,
    pub artifacts: Option<i64>,
}

impl RetentionDays {
    /// Whether nothing is ever pruned.
    pub fn keeps_everything(&self) -> bool {
        [self.runs, self.failed_runs, self.events, self.artifacts]
            .iter()
            .all(Option::is_none)
    }
}

/// The four fields of a policy, by their API names, for messages and forms.
pub const RETENTION_FIELDS: [&str; 4] = [
    "keepRunsDays",
    "keepFailedRunsDays",
    "keepEventsDays",
    "keepArtifactsDays",
];

impl RetentionPolicy {
    /// Whether the policy keeps everything of every agent (no row needed).
    pub fn is_default(&self) -> bool {
        *self == RetentionPolicy::default()
    }

    /// The account's own days.
    pub fn account_days(&self) -> RetentionDays {
        RetentionDays {
            runs: self.keep_runs_days,
            failed_runs: self.keep_failed_runs_days,
            events: self.keep_events_days,
            artifacts: self.keep_artifacts_days,
        }
    }

    /// The days that apply to an agent's runs: its overrides over the account's.
    pub fn for_agent(&self, slug: &str) -> RetentionDays {
        let account = self.account_days();
        let Some(agent) = self.agents.get(slug) else {
            return account;
        };
        RetentionDays {
            runs: agent.keep_runs_days.unwrap_or(account.runs),
            failed_runs: agent.keep_failed_runs_days.unwrap_or(account.failed_runs),
            events: agent.keep_events_days.unwrap_or(account.events),
            artifacts: agent.keep_artifacts_days.unwrap_or(account.artifacts),
        }
    }

    /// Every number of days is whole and within 1–36,500: else a 400 naming the
    /// field (`keepRunsDays`, `agents.<slug>.keepEventsDays`). Whether each slug
    /// is an agent of the account is the database layer's to check.
    pub fn validate(&self) -> Result<(), AppError> {
        let account = [
            self.keep_runs_days,
            self.keep_failed_runs_days,
            self.keep_events_days,
            self.keep_artifacts_days,
        ];
        for (field, days) in RETENTION_FIELDS.iter().zip(account) {
            check_days(field, days)?;
        }
        for (slug, agent) in &self.agents {
            let overrides = [
                agent.keep_runs_days,
                agent.keep_failed_runs_days,
                agent.keep_events_days,
                agent.keep_artifacts_days,
            ];
            for (field, days) in RETENTION_FIELDS.iter().zip(overrides) {
                check_days(&format!("agents.{slug}.{field}"), days.flatten())?;
            }
        }
        Ok(())
    }
}

fn check_days(field: &str, days: Option<i64>) -> Result<(), AppError> {
    match days {
        Some(days) if !(1..=MAX_RETENTION_DAYS).contains(&days) => Err(AppError::invalid(
            field,
            format!(
                "{field} must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, or null to keep forever"
            ),
        )),
        _ => Ok(()),
    }
}

/// Parses a days field of the settings form: empty is `None`, else whole days
/// within 1–36,500 (a 400 naming `field`).
pub fn parse_days_field(field: &str, text: &str) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let days = text.parse::<i64>().map_err(|_| {
        AppError::invalid(
            field,
            format!("{field} must be a whole number of days, or empty"),
        )
    })?;
    check_days(field, Some(days))?;
    Ok(Some(days))
}

/// What one prune removed, or what the policy would remove now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PruneCounts {
    /// Runs deleted with everything they held.
    pub runs: i64,
    /// Events deleted, those of deleted runs included.
    pub events: i64,
    /// Artifacts deleted, those of deleted runs included.
    pub artifacts: i64,
    /// Bytes of the stored files of those artifacts.
    pub artifact_bytes: i64,
    /// Runs that stay but whose events were removed.
    pub event_logs: i64,
    /// Runs that stay but whose artifacts were removed.
    pub artifact_sets: i64,
}

impl PruneCounts {
    pub fn is_empty(&self) -> bool {
        *self == PruneCounts::default()
    }

    pub fn add(&mut self, other: &PruneCounts) {
        self.runs += other.runs;
        self.events += other.events;
        self.artifacts += other.artifacts;
        self.artifact_bytes += other.artifact_bytes;
        self.event_logs += other.event_logs;
        self.artifact_sets += other.artifact_sets;
    }
}

/// One prune of an account, as the storage page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `server` (the background task) or `cli` (`runboard prune`).
    pub origin: String,
    /// What was removed from this account.
    pub removed: PruneCounts,
    /// Change-log entries (of every account) older than a day, removed in the same pass.
    pub changes: i64,
    /// Stored artifact files deleted in the same pass.
    pub files: i64,
    /// Write transactions the pass took.
    pub transactions: i64,
    /// The longest any of them held the database's writer, in milliseconds.
    pub longest_hold_ms: i64,
}

/// Rows of one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TableRows {
    pub table: String,
    pub rows: i64,
}

/// Stored artifact files of one agent of the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentArtifacts {
    pub agent: String,
    pub files: i64,
    pub bytes: i64,
}

/// What the policy would remove if pruning ran now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PrunePreview {
    pub counts: PruneCounts,
    /// The counts stopped at a limit (1,000 runs per kind and agent): there is
    /// at least this much to remove.
    pub capped: bool,
}

/// The storage page: the database's size, its rows and artifact bytes as last
/// counted, what the policy will remove next and what the last prunes removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StorageReport {
    /// The database file's pages (`page_count × page_size`), the whole installation.
    pub database_bytes: i64,
    /// Of those, pages free for reuse (`freelist_count × page_size`).
    pub free_bytes: i64,
    /// The write-ahead log beside the file.
    pub wal_bytes: i64,
    /// Rows per table of the whole installation, as last counted (counting reads
    /// whole tables, so the server does it now and then, not per request).
    pub tables: Vec<TableRows>,
    /// Stored artifact files of this account, per agent, as last counted.
    pub artifacts: Vec<AgentArtifacts>,
    /// When rows and artifacts were counted; `None` before the first count.
    pub counted_at: Option<DateTime<Utc>>,
    /// Stored files whose rows are gone, waiting to be deleted.
    pub files_pending: i64,
    pub policy: RetentionPolicy,
    pub next: PrunePreview,
    /// This account's last prunes, newest first.
    pub last_prunes: Vec<PruneReport>,
}

/// Bytes for people: `1.5 MB`, `320 KB`, `12 B` (powers of 1,000).
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value.abs() >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if value.abs() >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A count with thousands separators: `1,234,567`.
pub fn format_count(count: i64) -> String {
    let digits = count.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if count < 0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> RetentionPolicy {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_agent_override_replaces_inherits_or_keeps_forever() {
        let policy = parse(json!({
            "keepRunsDays": 30,
            "keepFailedRunsDays": 90,
            "keepEventsDays": 7,
            "agents": {"crawler": {"keepRunsDays": 3, "keepEventsDays": null}}
        }));
        assert_eq!(
            policy.for_agent("crawler"),
            RetentionDays {
                runs: Some(3),
                failed_runs: Some(90),
                events: None,
                artifacts: None
            }
        );
        assert_eq!(policy.for_agent("other"), policy.account_days());
        // Absent and null stay apart on the way out, too.
        let written = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            written["agents"]["crawler"],
            json!({"keepRunsDays": 3, "keepEventsDays": null})
        );
        assert_eq!(parse(written), policy);
    }

    #[test]
    fn days_must_be_whole_and_at_least_one() {
        assert_eq!(RetentionPolicy::default().validate(), Ok(()));
        let field = |value: serde_json::Value| {
            parse(value)
                .validate()
                .unwrap_err()
                .field()
                .map(str::to_string)
        };
        assert_eq!(
            field(json!({"keepRunsDays": 0})).as_deref(),
            Some("keepRunsDays")
        );
        assert_eq!(
            field(json!({"keepEventsDays": 36501})).as_deref(),
            Some("keepEventsDays")
        );
        assert_eq!(
            field(json!({"agents": {"a": {"keepArtifactsDays": -3}}})).as_deref(),
            Some("agents.a.keepArtifactsDays")
        );
        assert!(serde_json::from_value::<RetentionPolicy>(json!({"keepRunsDays": 1.5})).is_err());
        assert!(serde_json::from_value::<RetentionPolicy>(json!({"keepRunDays": 3})).is_err());
        assert!(
            serde_json::from_value::<RetentionPolicy>(json!({"agents": {"a": {"days": 3}}}))
                .is_err()
        );
        // Objects only: not the fields in order as an array.
        assert!(serde_json::from_value::<RetentionPolicy>(json!([null, null])).is_err());
        assert!(serde_json::from_value::<RetentionPolicy>(json!({"agents": {"a": [3]}})).is_err());
        assert_eq!(parse_days_field("keepRunsDays", " 14 "), Ok(Some(14)));
        assert_eq!(parse_days_field("keepRunsDays", ""), Ok(None));
        assert!(parse_days_field("keepRunsDays", "0").is_err());
        assert!(parse_days_field("keepRunsDays", "2.5").is_err());
    }

    #[test]
    fn sizes_and_counts_read_well() {
        assert_eq!(format_bytes(12), "12 B");
        assert_eq!(format_bytes(1_500), "1.5 KB");
        assert_eq!(format_bytes(6_938_521_600), "6.9 GB");
        assert_eq!(format_bytes(320_000_000), "320 MB");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_count(-1000), "-1,000");
    }
}
