//! Run comparison: two runs of an account read side by side into a
//! [`RunComparison`]. The pure diffs are `model`'s; this adds what needs the
//! database and the object store: matching artifacts and diffing their text,
//! and walking both logs in order to the first event whose type differs.

use crate::db::runs::StoredRun;
use crate::db::{artifacts, events, steps, Db};
use crate::preview::{self, ArtifactKind};
use crate::storage::Store;
use model::{
    AppError, Artifact, ArtifactComparison, ComparedArtifact, ComparedRun, DiffLine, DiffOp,
    Difference, LogComparison, LogDivergence, RunComparison, TextDiff,
};
use std::time::Duration;
use uuid::Uuid;

/// Events read from each log, at most, looking for the first difference.
pub const MAX_COMPARED_EVENTS: i64 = 100_000;
/// Events read per round trip of the walk.
const EVENT_CHUNK: i64 = 2_000;
/// Artifacts compared per run, at most (the page shows the rest on the runs' pages).
pub const MAX_COMPARED_ARTIFACTS: usize = 200;
/// Diff lines returned per artifact, at most.
const MAX_DIFF_LINES: usize = 2_000;
/// Lines of unchanged context around each changed region.
const DIFF_CONTEXT: usize = 3;
/// How long the line diff may search for a minimal answer before settling.
const DIFF_DEADLINE: Duration = Duration::from_millis(250);

/// `run` against `other`, two runs the caller read within one account.
pub async fn compare_runs(
    db: &Db,
    store: &Store,
    run: &StoredRun,
    other: &StoredRun,
) -> Result<RunComparison, AppError> {
    let (input, input_truncated) = model::diff_inputs(&run.run.input, &other.run.input);
    let steps = model::compare_steps(
        &steps::list_steps(&db.read, run.pk).await?,
        &steps::list_steps(&db.read, other.pk).await?,
    );
    let error = model::compare_errors(run.run.error.as_ref(), other.run.error.as_ref());
    let artifacts = compare_artifacts(db, store, run, other).await?;
    let log = compare_logs(db, run, other, MAX_COMPARED_EVENTS).await?;
    Ok(RunComparison {
        run: compared_run(run),
        other: compared_run(other),
        input,
        input_truncated,
        steps,
        error,
        artifacts,
        log,
    })
}

fn compared_run(stored: &StoredRun) -> ComparedRun {
    let run = &stored.run;
    ComparedRun {
        id: run.id,
        agent: run.agent.clone(),
        status: run.status,
        summary: run.summary.clone(),
        created_at: run.created_at,
        duration_ms: run.duration_ms,
        attempt: run.attempt,
    }
}

/// A run's artifacts under the keys they are matched by: the name (a repeated
/// name gets ` #2`, ` #3`…), or `<type> #<n>` for unnamed ones.
fn keyed(artifacts: Vec<Artifact>) -> Vec<(String, Artifact)> {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    artifacts
        .into_iter()
        .take(MAX_COMPARED_ARTIFACTS)
        .map(|artifact| {
            let name = artifact.name.clone().filter(|name| !name.trim().is_empty());
            let named = name.is_some();
            let base = name.unwrap_or_else(|| artifact.artifact_type.clone());
            let count = seen.entry(base.clone()).or_default();
            *count += 1;
            let key = match (*count, named) {
                (1, true) => base,
                (n, _) => format!("{base} #{n}"),
            };
            (key, artifact)
        })
        .collect()
}

async fn compare_artifacts(
    db: &Db,
    store: &Store,
    run: &StoredRun,
    other: &StoredRun,
) -> Result<Vec<ArtifactComparison>, AppError> {
    let mine = keyed(artifacts::list_artifacts(&db.read, run.pk).await?);
    let mut theirs = keyed(artifacts::list_artifacts(&db.read, other.pk).await?);
    let mut compared = Vec::new();
    for (key, artifact) in mine {
        let matched = theirs
            .iter()
            .position(|(their_key, _)| *their_key == key)
            .map(|at| theirs.remove(at).1);
        compared.push(compare_pair(store, key, run, Some(artifact), other, matched).await);
    }
    for (key, artifact) in theirs {
        compared.push(compare_pair(store, key, run, None, other, Some(artifact)).await);
    }
    Ok(compared)
}

async fn compare_pair(
    store: &Store,
    key: String,
    run: &StoredRun,
    mine: Option<Artifact>,
    other: &StoredRun,
    theirs: Option<Artifact>,
) -> ArtifactComparison {
    let (change, text_diff) = match (&mine, &theirs) {
        (Some(a), Some(b)) => same_bytes(store, a, b).await,
        (Some(_), None) => (Difference::Added, None),
        _ => (Difference::Removed, None),
    };
    ArtifactComparison {
        key,
        change,
        run: mine.map(|artifact| compared_artifact(run.run.id, artifact)),
        other: theirs.map(|artifact| compared_artifact(other.run.id, artifact)),
        text_diff,
    }
}

fn compared_artifact(run_id: Uuid, artifact: Artifact) -> ComparedArtifact {
    let content_url = preview::content_url(run_id, &artifact);
    ComparedArtifact {
        image: preview::kind_of(&artifact) == ArtifactKind::Image && content_url.is_some(),
        content_url,
        id: artifact.id,
        name: artifact.name,
        artifact_type: artifact.artifact_type,
        content_type: artifact.content_type,
        size_bytes: artifact.size_bytes,
        sha256: artifact.sha256,
    }
}

/// Whether two matched artifacts hold the same thing, and the line diff of their
/// texts when both are small text that differs.
async fn same_bytes(store: &Store, a: &Artifact, b: &Artifact) -> (Difference, Option<TextDiff>) {
    let verdict = |same: bool| {
        if same {
            Difference::Same
        } else {
            Difference::Changed
        }
    };
    let (kind_a, kind_b) = (preview::kind_of(a), preview::kind_of(b));
    if kind_a.is_text() && kind_b.is_text() {
        let texts = (
            preview::small_text(store, a).await,
            preview::small_text(store, b).await,
        );
        if let (Some(mine), Some(theirs)) = texts {
            let json = kind_a == ArtifactKind::Json && kind_b == ArtifactKind::Json;
            let (mine, theirs) = if json {
                (preview::pretty_json(mine), preview::pretty_json(theirs))
            } else {
                (mine, theirs)
            };
            if mine == theirs {
                return (Difference::Same, None);
            }
            return (Difference::Changed, Some(text_diff(&theirs, &mine)));
        }
    }
    match (&a.sha256, &b.sha256) {
        (Some(x), Some(y)) => (verdict(x == y), None),
        _ if a.url.is_some() || b.url.is_some() => (verdict(a.url == b.url), None),
        _ => (
            verdict(a.inline_text == b.inline_text && a.size_bytes == b.size_bytes),
            None,
        ),
    }
}

/// The changed regions of `other` → `run`, line by line with context.
pub fn text_diff(other: &str, run: &str) -> TextDiff {
    use similar::ChangeTag;
    let diff = similar::TextDiff::configure()
        .timeout(DIFF_DEADLINE)
        .diff_lines(other, run);
    let mut hunks = Vec::new();
    let (mut inserted, mut deleted, mut lines) = (0, 0, 0);
    for group in diff.grouped_ops(DIFF_CONTEXT) {
        let mut hunk = Vec::new();
        for op in &group {
            for change in diff.iter_changes(op) {
                let op = match change.tag() {
                    ChangeTag::Equal => DiffOp::Equal,
                    ChangeTag::Insert => {
                        inserted += 1;
                        DiffOp::Insert
                    }
                    ChangeTag::Delete => {
                        deleted += 1;
                        DiffOp::Delete
                    }
                };
                lines += 1;
                if lines > MAX_DIFF_LINES {
                    continue;
                }
                hunk.push(DiffLine {
                    op,
                    text: change.value().trim_end_matches(['\n', '\r']).to_string(),
                    run_line: change.new_index().map(|at| at + 1),
                    other_line: change.old_index().map(|at| at + 1),
                });
            }
        }
        if !hunk.is_empty() {
            hunks.push(hunk);
        }
    }
    TextDiff {
        hunks,
        inserted,
        deleted,
        truncated: lines > MAX_DIFF_LINES,
    }
}

/// A chunk's event types, borrowed.
fn types(chunk: &[(i64, String)]) -> Vec<&str> {
    chunk.iter().map(|(_, kind)| kind.as_str()).collect()
}

/// Walks both logs in sequence order, a chunk at a time, to the first position
/// whose event types differ (or where one log ends first), reading at most
/// `cap` of each ([`MAX_COMPARED_EVENTS`]).
async fn compare_logs(
    db: &Db,
    run: &StoredRun,
    other: &StoredRun,
    cap: i64,
) -> Result<LogComparison, AppError> {
    let (mut run_after, mut other_after, mut compared) = (0_i64, 0_i64, 0_i64);
    loop {
        // At the cap, one more event of each says whether the logs end there.
        let at_cap = compared >= cap;
        let limit = if at_cap {
            1
        } else {
            EVENT_CHUNK.min(cap - compared)
        };
        let mine = events::event_types_after(&db.read, run.pk, run_after, limit).await?;
        let theirs = events::event_types_after(&db.read, other.pk, other_after, limit).await?;
        if let Some(at) = model::first_difference(&types(&mine), &types(&theirs)) {
            let seq_at = |chunk: &[(i64, String)]| chunk.get(at).map(|(seq, _)| *seq);
            return Ok(LogComparison {
                compared: compared + at as i64,
                complete: true,
                divergence: Some(LogDivergence {
                    index: compared + at as i64,
                    run: event_at(db, run, seq_at(&mine)).await?,
                    other: event_at(db, other, seq_at(&theirs)).await?,
                }),
            });
        }
        if at_cap {
            // Past the cap the answer is open unless both logs ended at it.
            return Ok(LogComparison {
                compared,
                complete: mine.is_empty(),
                divergence: None,
            });
        }
        compared += mine.len() as i64;
        if (mine.len() as i64) < limit {
            return Ok(LogComparison {
                compared,
                complete: true,
                divergence: None,
            });
        }
        run_after = mine.last().map(|(seq, _)| *seq).unwrap_or(run_after);
        other_after = theirs.last().map(|(seq, _)| *seq).unwrap_or(other_after);
    }
}

async fn event_at(
    db: &Db,
    run: &StoredRun,
    seq: Option<i64>,
) -> Result<Option<model::Event>, AppError> {
    let Some(seq) = seq else { return Ok(None) };
    let page = events::list_events(
        &db.read,
        run.pk,
        &events::EventQuery {
            after: Some(seq - 1),
            limit: 1,
            ..Default::default()
        },
    )
    .await?;
    Ok(page.events.into_iter().next())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::accounts::create_account;
    use crate::db::audit::Actor;
    use crate::db::events::{append_events, NewEvent};
    use crate::db::runs::{create_run, CreateRun};

    /// Runs of one account with these event types, one run each.
    async fn runs_with_logs(logs: &[&[&str]]) -> (tempfile::TempDir, Db, Vec<StoredRun>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/compare.db", dir.path().display()))
            .await
            .unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let account_pk = create_account(&mut tx, "Compare tests").await.unwrap();
        tx.commit().await.unwrap();
        let actor = Actor::system(account_pk, model::Via::System);
        let mut runs = Vec::new();
        for log in logs {
            let run = create_run(
                &db,
                &actor,
                CreateRun {
                    agent: "a".into(),
                    ..CreateRun::default()
                },
            )
            .await
            .unwrap();
            let events: Vec<NewEvent> = log
                .iter()
                .map(|kind| NewEvent {
                    client_id: None,
                    event_type: kind.to_string(),
                    message: None,
                    metadata: None,
                })
                .collect();
            let mut tx = db.begin_write().await.unwrap();
            append_events(&mut tx, run.pk, &events).await.unwrap();
            tx.commit().await.unwrap();
            runs.push(run);
        }
        (dir, db, runs)
    }

    #[tokio::test]
    async fn at_the_cap_logs_agree_only_if_both_end_there() {
        let (_dir, db, runs) = runs_with_logs(&[
            &["a", "b", "c"],
            &["a", "b", "c"],
            &["a", "b", "c", "d"],
            &["a", "b", "x"],
        ])
        .await;
        let log = compare_logs(&db, &runs[0], &runs[1], 3).await.unwrap();
        assert_eq!(
            (log.compared, log.complete, log.divergence),
            (3, true, None),
            "both end at the cap"
        );
        let log = compare_logs(&db, &runs[2], &runs[0], 3).await.unwrap();
        let divergence = log.divergence.expect("one log goes on past the cap");
        assert_eq!((divergence.index, divergence.other), (3, None));
        assert_eq!(divergence.run.unwrap().event_type, "d");
        let log = compare_logs(&db, &runs[2], &runs[2], 2).await.unwrap();
        assert_eq!(
            (log.compared, log.complete, log.divergence),
            (2, false, None),
            "both go on alike: unknown"
        );
        let log = compare_logs(&db, &runs[3], &runs[0], 2).await.unwrap();
        let divergence = log
            .divergence
            .expect("the first event past the cap differs");
        assert_eq!((log.compared, divergence.index), (2, 2));
        assert_eq!(divergence.run.unwrap().event_type, "x");
    }

    #[test]
    fn text_diffs_show_changed_lines_with_context_and_line_numbers() {
        let other = (1..=20).map(|n| format!("line {n}\n")).collect::<String>();
        let run = other.replace("line 10\n", "line ten\n") + "line 21\n";
        let diff = text_diff(&other, &run);
        assert_eq!((diff.inserted, diff.deleted), (2, 1));
        assert_eq!(diff.hunks.len(), 2, "{diff:?}");
        let first = &diff.hunks[0];
        assert_eq!(first.len(), 3 + 2 + 3, "three lines of context each side");
        let deleted = first.iter().find(|l| l.op == DiffOp::Delete).unwrap();
        assert_eq!(
            (deleted.text.as_str(), deleted.other_line, deleted.run_line),
            ("line 10", Some(10), None)
        );
        let inserted = first.iter().find(|l| l.op == DiffOp::Insert).unwrap();
        assert_eq!(
            (inserted.text.as_str(), inserted.run_line),
            ("line ten", Some(10))
        );
        assert!(!diff.truncated);
    }

    #[test]
    fn artifacts_are_keyed_by_name_then_type_and_position() {
        let artifact = |name: Option<&str>, kind: &str| Artifact {
            id: Uuid::new_v4(),
            step_id: None,
            name: name.map(str::to_string),
            artifact_type: kind.into(),
            content_type: None,
            size_bytes: None,
            sha256: None,
            storage_key: None,
            stored: false,
            url: None,
            inline_text: None,
            metadata: None,
            created_at: chrono::Utc::now(),
        };
        let keys: Vec<String> = keyed(vec![
            artifact(Some("report.md"), "file"),
            artifact(None, "link"),
            artifact(Some("report.md"), "file"),
            artifact(None, "link"),
        ])
        .into_iter()
        .map(|(key, _)| key)
        .collect();
        assert_eq!(keys, ["report.md", "link #1", "report.md #2", "link #2"]);
    }
}
