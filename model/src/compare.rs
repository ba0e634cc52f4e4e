//! Two runs side by side: what `GET /api/runs/{id}/compare/{otherId}` answers and
//! the comparison page draws. The diff reads from the other run to this one, the
//! way a reader asks "what changed since the run that worked?": `added` is in
//! this run only, `removed` only in the other, and a text diff's `insert` lines
//! are this run's.
//!
//! The pure parts live here (input key by key, steps by step id), so the server
//! and the tests share one rule; the store reads the runs, their logs and their
//! artifacts' text and fills the rest.

use crate::{Event, RunError, RunStatus, Step, StepStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most input fields listed; a bigger input says `inputTruncated`.
pub const MAX_COMPARED_FIELDS: usize = 2_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunComparison {
    pub run: ComparedRun,
    pub other: ComparedRun,
    /// Every leaf of either input, by path (`company.name`, `items[0]`), in order.
    pub input: Vec<FieldDiff>,
    pub input_truncated: bool,
    /// One row per step id of either run, in the runs' step order.
    pub steps: Vec<StepComparison>,
    pub error: ErrorComparison,
    /// Artifacts matched by name (else by type and position).
    pub artifacts: Vec<ArtifactComparison>,
    pub log: LogComparison,
}

/// The facts of one side, for the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComparedRun {
    pub id: Uuid,
    pub agent: String,
    pub status: RunStatus,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    pub attempt: i64,
}

/// How an item of this run differs from the other run's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Difference {
    Same,
    /// In this run only.
    Added,
    /// In the other run only.
    Removed,
    Changed,
}

impl Difference {
    pub fn as_str(self) -> &'static str {
        match self {
            Difference::Same => "same",
            Difference::Added => "added",
            Difference::Removed => "removed",
            Difference::Changed => "changed",
        }
    }

    fn of<T>(run: Option<&T>, other: Option<&T>, same: impl FnOnce(&T, &T) -> bool) -> Difference {
        match (run, other) {
            (Some(run), Some(other)) if same(run, other) => Difference::Same,
            (Some(_), Some(_)) => Difference::Changed,
            (Some(_), None) => Difference::Added,
            (None, _) => Difference::Removed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldDiff {
    /// The field's path as the query language writes it (`input.<path>`); empty
    /// when the input is a single value.
    pub path: String,
    pub change: Difference,
    pub run: Option<Value>,
    pub other: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StepComparison {
    pub step_id: String,
    pub name: Option<String>,
    /// `same` when status, attempts and cache use agree (durations always vary).
    pub change: Difference,
    pub run: Option<ComparedStep>,
    pub other: Option<ComparedStep>,
    /// This run's duration minus the other's, when both have one.
    pub duration_delta_ms: Option<i64>,
}

/// A step's latest attempt, and how many attempts it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComparedStep {
    pub status: StepStatus,
    pub attempts: i64,
    pub duration_ms: Option<i64>,
    pub cache_hit: bool,
    pub error: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorComparison {
    pub change: Difference,
    pub run: Option<RunError>,
    pub other: Option<RunError>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ArtifactComparison {
    /// The name both sides share (or `<type> #<n>` for unnamed artifacts).
    pub key: String,
    /// `same` when the bytes (hash, text or link) agree.
    pub change: Difference,
    pub run: Option<ComparedArtifact>,
    pub other: Option<ComparedArtifact>,
    /// Line diff of the two texts (JSON pretty-printed first), when both are
    /// small text and differ.
    pub text_diff: Option<TextDiff>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComparedArtifact {
    pub id: Uuid,
    pub name: Option<String>,
    pub artifact_type: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    /// Where the bytes can be fetched (or the link opened).
    pub content_url: Option<String>,
    /// Shown as an image beside the other side's.
    pub image: bool,
}

/// Changed regions of two texts with a few lines of context each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TextDiff {
    pub hunks: Vec<Vec<DiffLine>>,
    pub inserted: usize,
    pub deleted: usize,
    /// More changed lines than are listed.
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiffLine {
    pub op: DiffOp,
    pub text: String,
    /// 1-based line numbers in this run's and the other run's text.
    pub run_line: Option<usize>,
    pub other_line: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DiffOp {
    Equal,
    /// In this run's text only.
    Insert,
    /// In the other run's text only.
    Delete,
}

/// Where the two logs first differ in event types, read in sequence order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LogComparison {
    /// Events read from each log before the answer was known.
    pub compared: i64,
    /// False when the logs agreed for as far as the comparison reads and went on.
    pub complete: bool,
    pub divergence: Option<LogDivergence>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LogDivergence {
    /// 0-based position in both logs (events before it agree in type).
    pub index: i64,
    /// The event at that position in each log; `None` where a log ended there.
    pub run: Option<Event>,
    pub other: Option<Event>,
}

/// A run offered to compare with: one of the agent's latest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunChoice {
    pub id: Uuid,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub summary: Option<String>,
}

/// What the comparison page shows: the comparison, when there is a run to
/// compare with, and the agent's latest runs to pick another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparisonView {
    pub run_id: Uuid,
    pub agent: String,
    /// `None` when no run was named and the agent has no completed run before this one.
    pub comparison: Option<RunComparison>,
    pub choices: Vec<RunChoice>,
}

/// Both inputs leaf by leaf, in the order the paths first appear (this run's
/// first), capped at [`MAX_COMPARED_FIELDS`] (the flag says so).
pub fn diff_inputs(run: &Value, other: &Value) -> (Vec<FieldDiff>, bool) {
    let mut run_leaves = Vec::new();
    flatten(run, String::new(), &mut run_leaves);
    let mut other_leaves = Vec::new();
    flatten(other, String::new(), &mut other_leaves);
    let other_by_path: BTreeMap<&str, &Value> = other_leaves
        .iter()
        .map(|(path, value)| (path.as_str(), *value))
        .collect();
    let run_paths: std::collections::BTreeSet<&str> =
        run_leaves.iter().map(|(path, _)| path.as_str()).collect();
    let mut fields: Vec<FieldDiff> = run_leaves
        .iter()
        .map(|(path, value)| {
            let other = other_by_path.get(path.as_str()).copied();
            FieldDiff {
                path: path.clone(),
                change: Difference::of(Some(*value), other, |a, b| a == b),
                run: Some((*value).clone()),
                other: other.cloned(),
            }
        })
        .collect();
    fields.extend(
        other_leaves
            .iter()
            .filter(|(path, _)| !run_paths.contains(path.as_str()))
            .map(|(path, value)| FieldDiff {
                path: path.clone(),
                change: Difference::Removed,
                run: None,
                other: Some((*value).clone()),
            }),
    );
    let truncated = fields.len() > MAX_COMPARED_FIELDS;
    fields.truncate(MAX_COMPARED_FIELDS);
    (fields, truncated)
}

/// Leaves of a JSON value with their paths: objects by key (`a.b`), arrays by
/// index (`a[0]`); an empty object or array is a leaf of its own.
fn flatten<'a>(value: &'a Value, path: String, leaves: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(child, child_path, leaves);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, child) in items.iter().enumerate() {
                flatten(child, format!("{path}[{index}]"), leaves);
            }
        }
        leaf => leaves.push((path, leaf)),
    }
}

/// The steps of both runs by step id, in step order (a step of the other run
/// only is placed by its index), each side its latest attempt.
pub fn compare_steps(run: &[Step], other: &[Step]) -> Vec<StepComparison> {
    let run_steps = latest_attempts(run);
    let other_steps = latest_attempts(other);
    let mut ids: Vec<(i64, usize, &str)> = Vec::new();
    for (order, (id, (step, _))) in run_steps.iter().enumerate() {
        ids.push((step.idx, order, id));
    }
    for (order, (id, (step, _))) in other_steps.iter().enumerate() {
        if !run_steps.iter().any(|(run_id, _)| run_id == id) {
            ids.push((step.idx, run_steps.len() + order, id));
        }
    }
    ids.sort();
    ids.into_iter()
        .map(|(_, _, id)| {
            let mine = find_step(&run_steps, id);
            let theirs = find_step(&other_steps, id);
            let compared = |found: Option<(&Step, i64)>| {
                found.map(|(step, attempts)| ComparedStep {
                    status: step.status,
                    attempts,
                    duration_ms: step.duration_ms,
                    cache_hit: step.cache_hit,
                    error: step.error.clone(),
                })
            };
            let (run, other) = (compared(mine), compared(theirs));
            let change = Difference::of(run.as_ref(), other.as_ref(), |a, b| {
                a.status == b.status && a.attempts == b.attempts && a.cache_hit == b.cache_hit
            });
            let duration_delta_ms = match (&run, &other) {
                (Some(run), Some(other)) => {
                    run.duration_ms.zip(other.duration_ms).map(|(a, b)| a - b)
                }
                _ => None,
            };
            StepComparison {
                step_id: id.to_string(),
                name: mine.or(theirs).and_then(|(step, _)| step.name.clone()),
                change,
                run,
                other,
                duration_delta_ms,
            }
        })
        .collect()
}

fn find_step<'a>(steps: &[(&'a str, (&'a Step, i64))], id: &str) -> Option<(&'a Step, i64)> {
    steps
        .iter()
        .find(|(step_id, _)| *step_id == id)
        .map(|(_, found)| *found)
}

/// Each step id once, in first-seen order, with its latest attempt and the
/// number of attempts recorded.
fn latest_attempts(steps: &[Step]) -> Vec<(&str, (&Step, i64))> {
    let mut latest: Vec<(&str, (&Step, i64))> = Vec::new();
    for step in steps {
        match latest.iter_mut().find(|(id, _)| *id == step.step_id) {
            Some((_, (kept, attempts))) => {
                *attempts += 1;
                if step.attempt > kept.attempt {
                    *kept = step;
                }
            }
            None => latest.push((&step.step_id, (step, 1))),
        }
    }
    latest
}

/// The two runs' errors: the same when both have none, or the same code and message.
pub fn compare_errors(run: Option<&RunError>, other: Option<&RunError>) -> ErrorComparison {
    let change = match (run, other) {
        (None, None) => Difference::Same,
        _ => Difference::of(run, other, |a, b| {
            a.code == b.code && a.message == b.message
        }),
    };
    ErrorComparison {
        change,
        run: run.cloned(),
        other: other.cloned(),
    }
}

/// The first position where two lists of event types differ (one ending
/// before the other counts), or `None` when they are equal.
pub fn first_difference<T: PartialEq>(run: &[T], other: &[T]) -> Option<usize> {
    run.iter()
        .zip(other)
        .position(|(a, b)| a != b)
        .or_else(|| (run.len() != other.len()).then_some(run.len().min(other.len())))
}

/// A signed duration for people: `+1.2 s`, `−350 ms`, `±0 ms`.
pub fn format_delta_ms(delta: i64) -> String {
    let sign = match delta.signum() {
        1 => "+",
        -1 => "−",
        _ => "±",
    };
    format!("{sign}{}", crate::format_duration_ms(delta.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(id: &str, idx: i64, attempt: i64, status: StepStatus, ms: i64) -> Step {
        let at = DateTime::<Utc>::from_timestamp_millis(0).unwrap();
        Step {
            step_id: id.into(),
            attempt,
            idx,
            name: Some(format!("Step {id}")),
            skill_id: None,
            status,
            cache_hit: false,
            started_at: None,
            ended_at: None,
            duration_ms: Some(ms),
            output_preview: None,
            error: None,
            output_artifact_ids: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn inputs_are_compared_leaf_by_leaf() {
        let run =
            json!({"company": {"name": "Stripe", "size": 10}, "tags": ["a", "b"], "new": true});
        let other = json!({"company": {"name": "Acme", "size": 10}, "tags": ["a"], "old": {}});
        let (fields, truncated) = diff_inputs(&run, &other);
        assert!(!truncated);
        let by_path: BTreeMap<&str, &FieldDiff> = fields
            .iter()
            .map(|field| (field.path.as_str(), field))
            .collect();
        assert_eq!(by_path["company.name"].change, Difference::Changed);
        assert_eq!(by_path["company.name"].other, Some(json!("Acme")));
        assert_eq!(by_path["company.size"].change, Difference::Same);
        assert_eq!(by_path["tags[0]"].change, Difference::Same);
        assert_eq!(by_path["tags[1]"].change, Difference::Added);
        assert_eq!(by_path["new"].change, Difference::Added);
        assert_eq!(by_path["old"].change, Difference::Removed);
        assert_eq!(by_path["old"].other, Some(json!({})));
        assert_eq!(fields.len(), 6);
        // A scalar input against an object: one leaf each side.
        let (fields, _) = diff_inputs(&json!(3), &json!({"a": 1}));
        assert_eq!(
            fields
                .iter()
                .map(|f| (f.path.as_str(), f.change))
                .collect::<Vec<_>>(),
            vec![("", Difference::Added), ("a", Difference::Removed)]
        );
    }

    #[test]
    fn big_inputs_are_capped_and_say_so() {
        let run: serde_json::Map<String, Value> = (0..MAX_COMPARED_FIELDS + 5)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        let (fields, truncated) = diff_inputs(&Value::Object(run), &json!({}));
        assert!(truncated);
        assert_eq!(fields.len(), MAX_COMPARED_FIELDS);
    }

    #[test]
    fn steps_are_matched_by_id_with_their_latest_attempt() {
        let run = vec![
            step("fetch", 0, 1, StepStatus::Failed, 100),
            step("fetch", 0, 2, StepStatus::Completed, 300),
            step("parse", 1, 1, StepStatus::Completed, 50),
        ];
        let other = vec![
            step("fetch", 0, 1, StepStatus::Completed, 200),
            step("parse", 1, 1, StepStatus::Completed, 70),
            step("store", 2, 1, StepStatus::Completed, 5),
        ];
        let steps = compare_steps(&run, &other);
        let rows: Vec<(&str, Difference, Option<i64>)> = steps
            .iter()
            .map(|s| (s.step_id.as_str(), s.change, s.duration_delta_ms))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("fetch", Difference::Changed, Some(100)),
                ("parse", Difference::Same, Some(-20)),
                ("store", Difference::Removed, None),
            ]
        );
        assert_eq!(steps[0].run.as_ref().unwrap().attempts, 2);
        assert_eq!(steps[0].run.as_ref().unwrap().status, StepStatus::Completed);
        assert_eq!(steps[0].other.as_ref().unwrap().attempts, 1);
    }

    #[test]
    fn errors_and_logs_compare() {
        let error = |code: &str| RunError {
            code: Some(code.into()),
            message: "boom".into(),
            details: None,
        };
        assert_eq!(compare_errors(None, None).change, Difference::Same);
        assert_eq!(
            compare_errors(Some(&error("x")), None).change,
            Difference::Added
        );
        assert_eq!(
            compare_errors(None, Some(&error("x"))).change,
            Difference::Removed
        );
        assert_eq!(
            compare_errors(Some(&error("x")), Some(&error("y"))).change,
            Difference::Changed
        );
        let types = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            first_difference(&types(&["a", "b"]), &types(&["a", "b"])),
            None
        );
        assert_eq!(
            first_difference(&types(&["a", "b"]), &types(&["a", "c"])),
            Some(1)
        );
        assert_eq!(
            first_difference(&types(&["a"]), &types(&["a", "c"])),
            Some(1)
        );
        assert_eq!(first_difference(&[], &types(&["a"])), Some(0));
        assert_eq!(format_delta_ms(1_200), "+1.2 s");
        assert_eq!(format_delta_ms(-350), "−350 ms");
    }
}
