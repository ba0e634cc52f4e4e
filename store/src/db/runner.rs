//! What a run's runner writes — events, artifacts, steps, heartbeats — each in
//! its own write transaction that first checks, under the write lock, that the
//! run is still open (a run finished, cancelled or swept in the meantime takes
//! nothing more) and records that the runner was heard from.

use super::artifacts::{self, NewArtifact};
use super::events::{self, Appended, NewEvent};
use super::runs::{self, StoredRun};
use super::steps::{self, StepReport};
use super::{changes, now_ms, Db};
use crate::db::sql::{self, Conn};
use crate::metrics::Count;
use model::{AppError, Artifact, ChangeData, ConflictCode, Run, RunStatus, Step};
use serde_json::Value;
use uuid::Uuid;

/// A finished run takes no more callbacks: 409 `run_finished` tells the runner to stop.
pub fn ensure_open(run: &StoredRun) -> Result<(), AppError> {
    open_or_finished(run.run.id, run.run.status)
}

fn open_or_finished(id: Uuid, status: RunStatus) -> Result<(), AppError> {
    if status.is_terminal() {
        Err(AppError::conflict(
            ConflictCode::RunFinished,
            format!("run {id} is {status}; stop working on it"),
        ))
    } else {
        Ok(())
    }
}

/// How often hearing from a runner is announced on the live stream by itself
/// (a `run.updated` with the new `lastSeenAt`): often enough for the run page's
/// "last heard from", rarely enough not to flood the change log with heartbeats.
const ANNOUNCE_SEEN_EVERY_MS: i64 = 10_000;

/// `lastSeenAt` moves in steps of this much: a runner posting event batches many
/// times a second rewrites its run's row (and the index of silent runs) at most
/// once a second. Every limit is a whole number of seconds.
const STAMP_SEEN_EVERY_MS: i64 = 1_000;

/// [`ensure_open`] again inside the write transaction that adds to the run (it
/// may have finished since it was read, and nothing may be added after that),
/// then records that its runner was heard from.
async fn heard_from_open_run(conn: &mut Conn, run: &StoredRun) -> Result<(), AppError> {
    let (status, before): (String, Option<i64>) =
        sql::query_as("SELECT status, last_seen_at FROM runs WHERE pk = ?")
            .bind(run.pk)
            .fetch_one(&mut *conn)
            .await?;
    open_or_finished(run.run.id, status.parse().map_err(|_| AppError::Internal)?)?;
    let now = now_ms();
    let since = |every: i64| before.is_none_or(|before| now - before >= every);
    if since(STAMP_SEEN_EVERY_MS) {
        runs::stamp_seen(conn, run.pk, now).await?;
    }
    if since(ANNOUNCE_SEEN_EVERY_MS) {
        let seen = runs::get_run_by_pk(conn, run.pk).await?;
        changes::record(
            conn,
            run.account_pk,
            Some(run.run.id),
            &ChangeData::RunUpdated(seen.run),
        )
        .await?;
    }
    Ok(())
}

/// A runner's sign of life with nothing else to say: answers the run as stored,
/// so that the runner also learns of a cancellation.
pub async fn heartbeat(db: &Db, run: &StoredRun) -> Result<Run, AppError> {
    let mut tx = db.begin_run_write(run.pk).await?;
    heard_from_open_run(&mut tx, run).await?;
    let current = runs::get_run_by_pk(&mut tx, run.pk).await?;
    tx.commit().await?;
    Ok(current.run)
}

/// Appends a runner's events. With an idempotency key, a repeated request is
/// answered with the stored answer of the first and stores nothing; otherwise
/// `answer` turns the appended events into the answer, which is remembered under
/// the key in the same transaction.
pub async fn ingest_events(
    db: &Db,
    run: &StoredRun,
    events: &[NewEvent],
    idempotency_key: Option<&str>,
    answer: impl FnOnce(&[Appended]) -> Result<Value, AppError>,
) -> Result<Value, AppError> {
    // Only this run's rows are written: other runs' events go in beside it.
    let mut tx = db.begin_run_write(run.pk).await?;
    if let Some(key) = idempotency_key {
        if let Some(stored) = events::idempotent_response(&mut tx, run.pk, key).await? {
            return serde_json::from_str(&stored).map_err(|_| AppError::Internal);
        }
    }
    heard_from_open_run(&mut tx, run).await?;
    let appended = events::append_events(&mut tx, run.pk, events).await?;
    tx.count(Count::EventsIngested {
        agent: run.run.agent.clone(),
        events: appended.iter().filter(|event| event.new).count() as u64,
    });
    let body = answer(&appended)?;
    if let Some(key) = idempotency_key {
        events::remember_response(&mut tx, run.pk, key, &body.to_string()).await?;
    }
    tx.commit().await?;
    Ok(body)
}

/// Records an artifact of a run that is still open.
pub async fn add_artifact(
    db: &Db,
    run: &StoredRun,
    artifact: &NewArtifact,
) -> Result<Artifact, AppError> {
    let mut tx = db.begin_write().await?;
    heard_from_open_run(&mut tx, run).await?;
    let saved = artifacts::insert_artifact(&mut tx, run.pk, artifact).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Creates or updates one attempt of a step of a run that is still open.
pub async fn report_step(db: &Db, run: &StoredRun, report: &StepReport) -> Result<Step, AppError> {
    let mut tx = db.begin_write().await?;
    heard_from_open_run(&mut tx, run).await?;
    let step = steps::upsert_step(&mut tx, run.pk, report).await?;
    tx.commit().await?;
    Ok(step)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::accounts::create_account;
    use crate::db::audit::Actor;
    use crate::db::runs::{create_run, update_status, CreateRun, StatusUpdate};
    use serde_json::json;

    async fn run_of_new_account() -> (tempfile::TempDir, Db, StoredRun) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/runner.db", dir.path().display()))
            .await
            .unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let account_pk = create_account(&mut tx, "Runner tests").await.unwrap();
        tx.commit().await.unwrap();
        let request = CreateRun {
            agent: "worker".into(),
            ..CreateRun::default()
        };
        let run = create_run(&db, &Actor::system(account_pk, model::Via::System), request)
            .await
            .unwrap();
        (dir, db, run)
    }

    fn event(id: &str) -> NewEvent {
        NewEvent {
            client_id: Some(id.into()),
            event_type: "progress".into(),
            message: None,
            metadata: None,
        }
    }

    fn answer(appended: &[Appended]) -> Result<Value, AppError> {
        Ok(json!({ "seqs": appended.iter().map(|event| event.seq).collect::<Vec<_>>() }))
    }

    #[tokio::test]
    async fn a_repeated_idempotency_key_gets_the_first_answer_and_stores_nothing() {
        let (_dir, db, run) = run_of_new_account().await;
        let first = ingest_events(&db, &run, &[event("a"), event("b")], Some("k"), answer)
            .await
            .unwrap();
        assert_eq!(first, json!({ "seqs": [1, 2] }));
        let again = ingest_events(&db, &run, &[event("c")], Some("k"), answer)
            .await
            .unwrap();
        assert_eq!(again, first);
        let other_key = ingest_events(&db, &run, &[event("b"), event("c")], Some("l"), answer)
            .await
            .unwrap();
        assert_eq!(
            other_key,
            json!({ "seqs": [2, 3] }),
            "event b is stored once"
        );
    }

    #[tokio::test]
    async fn nothing_is_added_to_a_run_that_finished_since_it_was_read() {
        let (_dir, db, run) = run_of_new_account().await;
        let finished = StatusUpdate {
            status: Some(RunStatus::Completed),
            ..StatusUpdate::default()
        };
        update_status(&db, &run, &finished).await.unwrap();
        ensure_open(&run).unwrap();
        let error = ingest_events(&db, &run, &[event("late")], None, answer)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "run_finished");
        let report = StepReport {
            step_id: "build".into(),
            attempt: 1,
            ..StepReport::default()
        };
        let error = report_step(&db, &run, &report).await.unwrap_err();
        assert_eq!(error.code(), "run_finished");
        db.close().await;
    }
}
