//! The SQL of pruning ([`crate::prune`] drives it): which runs the policy
//! selects, and the small write transactions that remove them, their events,
//! their artifacts and old change-log entries. Each write function owns one
//! transaction and reports how long it held the writer, so that the caller can
//! size the next one; each re-checks in its transaction what it was given (a run
//! pinned meanwhile is left alone).
//!
//! Which runs a policy selects is written once here ([`DELETABLE`],
//! [`EVENTS_DUE`], [`ARTIFACTS_DUE`]) and used both by the prune and by the
//! preview of what it would remove.

use super::events::{append_events, NewEvent};
use super::{artifacts, changes, from_ms, text_pieces, Db, WriteTx};
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{AccountPk, AppError, ChangeData, DeletedRun, PruneCounts, PruneReport, RunPk, DAY_MS};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A cutoff that nothing is older than: the kind is kept forever.
pub const NEVER: i64 = i64::MIN;

pub use model::PRUNED_EVENT;

/// The cutoff for keeping `days` at `now`: things that ended before it go.
pub fn cutoff(now: i64, days: Option<i64>) -> i64 {
    match days {
        Some(days) => now.saturating_sub(days.saturating_mul(DAY_MS)),
        None => NEVER,
    }
}

/// What the policy means for one agent's runs at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentCutoffs {
    pub account_pk: AccountPk,
    pub agent_pk: i64,
    /// Completed and cancelled runs that ended before this are deleted.
    pub runs: i64,
    /// Failed runs that ended before this are deleted.
    pub failed_runs: i64,
    /// Runs that ended before this lose their events…
    pub events: i64,
    /// …and before this their artifacts.
    pub artifacts: i64,
}

impl AgentCutoffs {
    /// The statuses whose runs are deleted, each with its cutoff.
    pub fn deletions(&self) -> Vec<(&'static str, i64)> {
        [
            ("completed", self.runs),
            ("cancelled", self.runs),
            ("failed", self.failed_runs),
        ]
        .into_iter()
        .filter(|(_, cutoff)| *cutoff != NEVER)
        .collect()
    }
}

/// The runs of an agent and status that ended before the cutoff and are not
/// pinned: deleted with everything they hold. Binds: account, agent, status,
/// cutoff, cutoff. Read by `runs_account_agent_st` (account, agent, status, created_at).
pub const DELETABLE: &str = "account_pk = ? AND agent_pk = ? AND status = ? \
     AND created_at < ? AND completed_at < ? AND pinned = 0";

/// The runs of an agent whose events are due (they ended before the events
/// cutoff), not pinned, and that are not deleted instead. Binds: agent, cutoff,
/// cutoff, failed-runs cutoff, runs cutoff. Read by `runs_events_kept`.
pub const EVENTS_DUE: &str = "agent_pk = ? AND events_pruned_at IS NULL \
     AND created_at < ? AND completed_at < ? AND pinned = 0 \
     AND completed_at >= CASE status WHEN 'failed' THEN ? ELSE ? END";

/// As [`EVENTS_DUE`], for artifacts. Read by `runs_artifacts_kept`.
pub const ARTIFACTS_DUE: &str = "agent_pk = ? AND artifacts_pruned_at IS NULL \
     AND created_at < ? AND completed_at < ? AND pinned = 0 \
     AND completed_at >= CASE status WHEN 'failed' THEN ? ELSE ? END";

/// A run the policy selects, with how many events it may hold (what deleting
/// them costs): its event count, or a handful once its log was pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Candidate {
    pub pk: RunPk,
    pub created_at: i64,
    pub events: i64,
}

/// Where a walk through the candidates stands: after this (created_at, pk).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub created_at: i64,
    pub pk: i64,
}

impl Position {
    pub const START: Position = Position {
        created_at: i64::MIN,
        pk: i64::MIN,
    };

    pub fn after(candidate: &Candidate) -> Position {
        Position {
            created_at: candidate.created_at,
            pk: candidate.pk.0,
        }
    }
}

/// Which set of candidates to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Runs of this status to delete.
    Delete(&'static str),
    Events,
    Artifacts,
}

impl Kind {
    /// For logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Delete(_) => "runs",
            Kind::Events => "events",
            Kind::Artifacts => "artifacts",
        }
    }
}

/// The candidate query of `kind` for one agent, oldest first, after `from`.
pub fn candidates_query(cut: &AgentCutoffs, kind: Kind, from: Position, limit: i64) -> SqlBuilder {
    let mut query = SqlBuilder::new(
        "SELECT pk, created_at, CASE WHEN events_pruned_at IS NULL THEN event_seq ELSE 2 END AS events FROM runs WHERE ",
    );
    push_due(&mut query, cut, kind);
    query
        .push(" AND (created_at, pk) > (")
        .push_bind(from.created_at)
        .push(", ")
        .push_bind(from.pk)
        .push(") ORDER BY created_at, pk LIMIT ")
        .push_bind(limit);
    query
}

/// A value bound into a condition.
#[derive(Clone, Copy)]
enum Bind {
    Int(i64),
    Text(&'static str),
}

/// The condition of `kind` ([`DELETABLE`], [`EVENTS_DUE`], [`ARTIFACTS_DUE`]) with its binds.
fn push_due(query: &mut SqlBuilder, cut: &AgentCutoffs, kind: Kind) {
    use Bind::{Int, Text};
    let (sql, binds) = match kind {
        Kind::Delete(status) => {
            let cutoff = if status == "failed" {
                cut.failed_runs
            } else {
                cut.runs
            };
            (
                DELETABLE,
                vec![
                    Int(cut.account_pk.0),
                    Int(cut.agent_pk),
                    Text(status),
                    Int(cutoff),
                    Int(cutoff),
                ],
            )
        }
        Kind::Events => (
            EVENTS_DUE,
            vec![
                Int(cut.agent_pk),
                Int(cut.events),
                Int(cut.events),
                Int(cut.failed_runs),
                Int(cut.runs),
            ],
        ),
        Kind::Artifacts => (
            ARTIFACTS_DUE,
            vec![
                Int(cut.agent_pk),
                Int(cut.artifacts),
                Int(cut.artifacts),
                Int(cut.failed_runs),
                Int(cut.runs),
            ],
        ),
    };
    let mut parts = sql.split('?');
    query.push(parts.next().unwrap_or_default());
    for (part, bind) in parts.zip(binds) {
        match bind {
            Int(value) => query.push_bind(value),
            Text(value) => query.push_bind(value),
        };
        query.push(part);
    }
}

/// Up to `limit` candidates of `kind`, oldest first, after `from`.
pub async fn candidates(
    pool: &Pool,
    cut: &AgentCutoffs,
    kind: Kind,
    from: Position,
    limit: i64,
) -> Result<Vec<Candidate>, AppError> {
    Ok(candidates_query(cut, kind, from, limit)
        .build_query_as()
        .fetch_all(pool)
        .await?)
}

/// What a write transaction did and how long it held the writer (from the
/// moment it had the write lock until its commit returned).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub counts: PruneCounts,
    /// Change-log entries or files removed.
    pub other: i64,
    /// Stored files now in the trash, to delete after the commit.
    pub trashed: i64,
    pub held: Duration,
    /// Of `held`, the commit: SQLite checkpoints the write-ahead log in the
    /// commit that passes 1,000 pages.
    pub commit: Duration,
}

impl Written {
    /// A transaction that removed `count` change-log entries or files (or, for a
    /// merge step, changed that many rows of a text index).
    fn other(count: i64) -> Written {
        Written {
            other: count,
            ..Written::default()
        }
    }
}

/// Commits a pruning transaction that had the writer from `started`, with how
/// long it held it.
async fn commit(
    mut tx: WriteTx,
    started: Instant,
    mut written: Written,
) -> Result<Written, AppError> {
    // The deleted events' messages leave the text index in this transaction.
    text_pieces::flush_gone(&mut tx).await?;
    let committing = Instant::now();
    tx.commit().await?;
    written.commit = committing.elapsed();
    written.held = started.elapsed();
    Ok(written)
}

pub(crate) fn push_pks(query: &mut SqlBuilder, pks: &[RunPk]) {
    query.push("(");
    let mut list = query.separated(", ");
    for pk in pks {
        list.push_bind(pk.0);
    }
    query.push(")");
}

/// The runs of `pks` still eligible in this transaction: unpinned, and for
/// `unpruned` (a column) not yet pruned.
async fn still_eligible(
    conn: &mut Conn,
    pks: &[RunPk],
    unpruned: Option<&str>,
) -> Result<Vec<RunPk>, AppError> {
    let mut query = SqlBuilder::new("SELECT pk FROM runs WHERE pk IN ");
    push_pks(&mut query, pks);
    query.push(" AND pinned = 0");
    if let Some(column) = unpruned {
        query.push(format!(" AND {column} IS NULL"));
    }
    Ok(query.build_query_scalar().fetch_all(&mut *conn).await?)
}

/// Artifacts of each of `pks`: how many, and the bytes of the stored ones.
async fn artifact_totals(
    conn: &mut Conn,
    pks: &[RunPk],
) -> Result<HashMap<RunPk, (i64, i64)>, AppError> {
    let mut query = SqlBuilder::new(
        "SELECT run_pk, count(*), CAST(coalesce(sum(CASE WHEN stored = 1 THEN size_bytes END), 0) AS BIGINT)
         FROM artifacts WHERE run_pk IN ",
    );
    push_pks(&mut query, pks);
    query.push(" GROUP BY run_pk");
    let rows: Vec<(RunPk, i64, i64)> = query.build_query_as().fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|(pk, count, bytes)| (pk, (count, bytes)))
        .collect())
}

/// Deletes the runs of `pks` that are still unpinned, with everything they hold:
/// their stored files go to the trash, their weight leaves `run_counts`, and
/// each leaves a `run.deleted` change. One transaction.
pub async fn delete_runs(db: &Db, pks: &[RunPk], now: i64) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let pks = still_eligible(&mut tx, pks, None).await?;
    let mut written = Written::default();
    if pks.is_empty() {
        return commit(tx, started, written).await;
    }
    let totals = artifact_totals(&mut tx, &pks).await?;
    written.counts.artifacts = totals.values().map(|(count, _)| count).sum();
    written.counts.artifact_bytes = totals.values().map(|(_, bytes)| bytes).sum();
    written.trashed = artifacts::trash_files(&mut tx, &pks, now).await?.len() as i64;

    let mut query = SqlBuilder::new("DELETE FROM events WHERE run_pk IN ");
    push_pks(&mut query, &pks);
    written.counts.events = query.build().execute(&mut *tx).await?.rows_affected() as i64;

    // The chips' and chart's counters lose these runs; counters left at zero go.
    let mut query = SqlBuilder::new(
        "INSERT INTO run_counts (account_pk, day, agent_pk, status, count)
         SELECT account_pk, created_at / 86400000, agent_pk, status, -count(*) FROM runs WHERE pk IN ",
    );
    push_pks(&mut query, &pks);
    query.push(
        " GROUP BY account_pk, created_at / 86400000, agent_pk, status
         ON CONFLICT (account_pk, day, agent_pk, status) DO UPDATE SET count = run_counts.count + excluded.count",
    );
    query.build().execute(&mut *tx).await?;
    let mut query = SqlBuilder::new(
        "DELETE FROM run_counts WHERE count = 0 AND (account_pk, day, agent_pk, status) IN
         (SELECT account_pk, created_at / 86400000, agent_pk, status FROM runs WHERE pk IN ",
    );
    push_pks(&mut query, &pks);
    query.push(")");
    query.build().execute(&mut *tx).await?;

    let mut query = SqlBuilder::new("SELECT account_pk, id FROM runs WHERE pk IN ");
    push_pks(&mut query, &pks);
    let ids: Vec<(AccountPk, String)> = query.build_query_as().fetch_all(&mut *tx).await?;
    for (account_pk, id) in ids {
        let Ok(id) = id.parse::<Uuid>() else {
            continue;
        };
        changes::record(
            &mut tx,
            account_pk,
            Some(id),
            &ChangeData::RunDeleted(DeletedRun { id }),
        )
        .await?;
    }

    let mut query = SqlBuilder::new("DELETE FROM runs WHERE pk IN ");
    push_pks(&mut query, &pks);
    written.counts.runs = query.build().execute(&mut *tx).await?.rows_affected() as i64;
    commit(tx, started, written).await
}

/// Deletes up to `limit` of the oldest events of one unpinned run (not the
/// notes pruning left): how a log too long for one transaction is taken apart
/// before its run is deleted or marked.
pub async fn delete_event_chunk(db: &Db, run_pk: RunPk, limit: i64) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let mut written = Written::default();
    if !still_eligible(&mut tx, &[run_pk], None).await?.is_empty() {
        written.counts.events = sql::query(
            "DELETE FROM events WHERE pk IN
             (SELECT pk FROM events WHERE run_pk = ? AND event_type <> ? ORDER BY seq LIMIT ?)",
        )
        .bind(run_pk)
        .bind(PRUNED_EVENT)
        .bind(limit)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
    }
    commit(tx, started, written).await
}

/// The note a pruned run's log gets.
fn note(
    what: &str,
    days: Option<i64>,
    now: i64,
    removed: String,
    metadata: serde_json::Value,
) -> NewEvent {
    let date = from_ms(now).format("%Y-%m-%d");
    let message = match days {
        Some(days) => format!(
            "{what} older than {days} days were pruned on {date}: {removed} removed by the retention policy."
        ),
        None => format!("{what} were pruned on {date}: {removed} removed by the retention policy."),
    };
    NewEvent {
        client_id: None,
        event_type: PRUNED_EVENT.to_string(),
        message: Some(message),
        metadata: Some(metadata),
    }
}

/// Removes the events of the runs of `pks` that are still unpinned and whose
/// events are still kept (the notes of earlier prunes stay), marks the runs
/// pruned, and leaves a note in each log that lost events. `earlier` counts
/// events of these runs already removed in pieces ([`delete_event_chunk`]),
/// for the notes. One transaction.
pub async fn prune_events(
    db: &Db,
    pks: &[RunPk],
    earlier: &[(RunPk, i64)],
    days: Option<i64>,
    now: i64,
) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let pks = still_eligible(&mut tx, pks, Some("events_pruned_at")).await?;
    let mut written = Written::default();
    if !pks.is_empty() {
        let mut query = SqlBuilder::new("SELECT run_pk, count(*) FROM events WHERE event_type <> ");
        query.push_bind(PRUNED_EVENT).push(" AND run_pk IN ");
        push_pks(&mut query, &pks);
        query.push(" GROUP BY run_pk");
        let mut counts: HashMap<RunPk, i64> = query
            .build_query_as::<(RunPk, i64)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        for (pk, removed) in earlier {
            if pks.contains(pk) {
                *counts.entry(*pk).or_default() += removed;
            }
        }
        let mut counts: Vec<(RunPk, i64)> = counts.into_iter().collect();
        counts.sort();

        let mut query = SqlBuilder::new("DELETE FROM events WHERE event_type <> ");
        query.push_bind(PRUNED_EVENT).push(" AND run_pk IN ");
        push_pks(&mut query, &pks);
        written.counts.events = query.build().execute(&mut *tx).await?.rows_affected() as i64;

        let mut query = SqlBuilder::new("UPDATE runs SET events_pruned_at = ");
        query.push_bind(now).push(" WHERE pk IN ");
        push_pks(&mut query, &pks);
        query.build().execute(&mut *tx).await?;
        written.counts.event_logs = pks.len() as i64;

        for (run_pk, count) in counts.into_iter().filter(|(_, count)| *count > 0) {
            let removed = if count == 1 {
                "1 event".to_string()
            } else {
                format!("{} events", model::format_count(count))
            };
            let metadata = json!({"pruned": "events", "count": count, "keepDays": days});
            append_events(
                &mut tx,
                run_pk,
                &[note("Events", days, now, removed, metadata)],
            )
            .await?;
        }
    }
    commit(tx, started, written).await
}

/// Removes the artifacts of the runs of `pks` that are still unpinned and whose
/// artifacts are still kept (their stored files go to the trash), marks the
/// runs pruned, and leaves a note in each log that lost artifacts. One transaction.
pub async fn prune_artifacts(
    db: &Db,
    pks: &[RunPk],
    days: Option<i64>,
    now: i64,
) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let pks = still_eligible(&mut tx, pks, Some("artifacts_pruned_at")).await?;
    let mut written = Written::default();
    if !pks.is_empty() {
        let totals = artifact_totals(&mut tx, &pks).await?;
        written.counts.artifacts = totals.values().map(|(count, _)| count).sum();
        written.counts.artifact_bytes = totals.values().map(|(_, bytes)| bytes).sum();
        written.trashed = artifacts::trash_files(&mut tx, &pks, now).await?.len() as i64;

        let mut query = SqlBuilder::new("DELETE FROM artifacts WHERE run_pk IN ");
        push_pks(&mut query, &pks);
        query.build().execute(&mut *tx).await?;

        let mut query = SqlBuilder::new("UPDATE runs SET artifacts_pruned_at = ");
        query.push_bind(now).push(" WHERE pk IN ");
        push_pks(&mut query, &pks);
        query.build().execute(&mut *tx).await?;
        written.counts.artifact_sets = pks.len() as i64;

        let mut noted: Vec<_> = totals
            .into_iter()
            .filter(|(_, (count, _))| *count > 0)
            .collect();
        noted.sort_by_key(|(pk, _)| *pk);
        for (run_pk, (count, bytes)) in noted {
            let mut removed = if count == 1 {
                "1 artifact".to_string()
            } else {
                format!("{} artifacts", model::format_count(count))
            };
            if bytes > 0 {
                removed.push_str(&format!(" ({})", model::format_bytes(bytes)));
            }
            let metadata =
                json!({"pruned": "artifacts", "count": count, "bytes": bytes, "keepDays": days});
            append_events(
                &mut tx,
                run_pk,
                &[note("Artifacts", days, now, removed, metadata)],
            )
            .await?;
        }
    }
    commit(tx, started, written).await
}

/// The full-text indexes whose merging a pass does itself: every piece of the
/// events' messages but the newest (oldest first).
///
/// What a pass does to a text index is tombstones (deletions from contentless
/// indexes), which FTS5 merges nothing for (`deletemerge` 0); merge work comes
/// from inserts. The newest piece and the runs' index (`runs_fts`) take ingest's
/// inserts, so they keep merging by themselves, as they do without a pass:
/// turned off, their segments from ingest piled up for the pass to merge, and
/// finishing that merge took one step of 57–90 ms (docs/performance.md, "What
/// the remaining long merge steps are made of"). An older piece takes inserts
/// only from the pass's own notes ("events pruned …"), which is why a pass turns
/// its merging off and does it in steps of its own.
pub async fn text_indexes<'c>(executor: impl sql::Executor<'c>) -> Result<Vec<String>, AppError> {
    let mut pieces = text_pieces::tables(executor).await?;
    pieces.pop();
    Ok(pieces)
}

/// FTS5's own `automerge` (segments per level before it merges them), restored
/// after a pass.
const AUTOMERGE: i64 = 4;

/// Turns FTS5's automatic merging of the [`text_indexes`] off (for the length of
/// a pass) or back on. Left on, FTS5 does merge work of its own inside whichever
/// transaction crosses its write counter (64 pages times the number of levels at a
/// time): at 20M events, 40–200 ms inside a pruning transaction that took 10 ms
/// itself, and up to 1.5 s when the pass's notes set off a whole piece's merge.
/// Off, the pass does that work in [`merge_text`] steps of its own size.
/// FTS5 keeps the setting in the index (every connection sees it); a pass
/// interrupted by a crash leaves it off until the next pass, which starts and
/// ends by setting it. One transaction.
pub async fn set_automerge(db: &Db, on: bool) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    // Back on for every piece, the newest included (a piece that was the newest
    // when an earlier pass started may have been turned off).
    let tables = if on {
        text_pieces::tables(&mut *tx).await?
    } else {
        text_indexes(&mut *tx).await?
    };
    for table in tables {
        sql::query(format!(
            "INSERT INTO {table} ({table}, rank) VALUES ('automerge', ?)"
        ))
        .bind(if on { AUTOMERGE } else { 0 })
        .execute(&mut *tx)
        .await?;
    }
    commit(tx, started, Written::default()).await
}

/// Whether FTS5's automatic merging of some piece of the events' text index is
/// off (a pass turned it off and has not turned it back on).
pub async fn automerge_off(pool: &Pool) -> Result<bool, AppError> {
    for table in text_pieces::tables(pool).await? {
        let value: Option<i64> = sql::query_scalar(format!(
            "SELECT v FROM {table}_config WHERE k = 'automerge'"
        ))
        .fetch_optional(pool)
        .await?;
        if value == Some(0) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Up to about `pages` pages of merge work on one text index (FTS5's `merge`
/// command: levels with 4 or more segments, then segments with 10 % or more
/// deleted entries); `other` is the rows of the index that changed (about the
/// pages written; under 2 when there was nothing to merge). One transaction.
pub async fn merge_text(db: &Db, table: &str, pages: i64) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let before: i64 = sql::query_scalar("SELECT total_changes()")
        .fetch_one(&mut *tx)
        .await?;
    sql::query(format!(
        "INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)"
    ))
    .bind(pages.max(1))
    .execute(&mut *tx)
    .await?;
    let after: i64 = sql::query_scalar("SELECT total_changes()")
        .fetch_one(&mut *tx)
        .await?;
    // FTS5: a difference of two or more means the command found work.
    let other = if after - before >= 2 {
        after - before
    } else {
        0
    };
    commit(tx, started, Written::other(other)).await
}

/// The first change-log entry to keep: the oldest one created at or after
/// `before`, else the newest (sequence numbers are never reused, so the newest
/// row always stays). `None` when the log is empty. The log is in creation
/// order, so this reads only the entries that go, and one more.
pub async fn changes_kept_from(pool: &Pool, before: i64) -> Result<Option<i64>, AppError> {
    Ok(sql::query_scalar(
        "SELECT coalesce((SELECT seq FROM changes WHERE created_at >= ? ORDER BY seq LIMIT 1),
                         (SELECT max(seq) FROM changes))",
    )
    .bind(before)
    .fetch_one(pool)
    .await?)
}

/// The query that removes up to `limit` change-log entries before `kept_from`, oldest first.
pub fn changes_batch_query(kept_from: i64, limit: i64) -> SqlBuilder {
    let mut query =
        SqlBuilder::new("DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq < ");
    query
        .push_bind(kept_from)
        .push(" ORDER BY seq LIMIT ")
        .push_bind(limit)
        .push(")");
    query
}

/// Removes up to `limit` change-log entries before `kept_from`. One transaction.
pub async fn prune_changes(db: &Db, kept_from: i64, limit: i64) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let removed = changes_batch_query(kept_from, limit)
        .build()
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
    commit(tx, started, Written::other(removed)).await
}

/// Change-log entries before `kept_from` (what a prune would remove).
pub async fn changes_before(pool: &Pool, kept_from: i64) -> Result<i64, AppError> {
    Ok(
        sql::query_scalar("SELECT count(*) FROM changes WHERE seq < ?")
            .bind(kept_from)
            .fetch_one(pool)
            .await?,
    )
}

/// Up to `limit` keys of stored files waiting in the trash.
pub async fn trashed_files(pool: &Pool, limit: i64) -> Result<Vec<String>, AppError> {
    Ok(
        sql::query_scalar("SELECT storage_key FROM storage_trash ORDER BY storage_key LIMIT ?")
            .bind(limit)
            .fetch_all(pool)
            .await?,
    )
}

/// How many stored files wait in the trash.
pub async fn trash_size(pool: &Pool) -> Result<i64, AppError> {
    Ok(sql::query_scalar("SELECT count(*) FROM storage_trash")
        .fetch_one(pool)
        .await?)
}

/// Forgets trashed keys whose files are gone. One transaction.
pub async fn forget_files(db: &Db, keys: &[String]) -> Result<Written, AppError> {
    let mut tx = db.begin_write().await?;
    let started = Instant::now();
    let mut query = SqlBuilder::new("DELETE FROM storage_trash WHERE storage_key IN (");
    let mut list = query.separated(", ");
    for key in keys {
        list.push_bind(key.clone());
    }
    query.push(")");
    let removed = if keys.is_empty() {
        0
    } else {
        query.build().execute(&mut *tx).await?.rows_affected() as i64
    };
    commit(tx, started, Written::other(removed)).await
}

/// The agents of an account: (pk, slug).
pub async fn agents_of(pool: &Pool, account_pk: AccountPk) -> Result<Vec<(i64, String)>, AppError> {
    Ok(
        sql::query_as("SELECT pk, slug FROM agents WHERE account_pk = ? ORDER BY slug")
            .bind(account_pk)
            .fetch_all(pool)
            .await?,
    )
}

/// Reports kept per account: the storage page lists the newest.
const KEPT_REPORTS: i64 = 100;

/// Records what a pass removed from an account (keeping the last 100 reports).
pub async fn record_report(
    db: &Db,
    account_pk: AccountPk,
    report: &PruneReport,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let removed = &report.removed;
    sql::query(
        "INSERT INTO prune_reports (account_pk, started_at, finished_at, origin, runs, events, artifacts,
            artifact_bytes, event_logs, artifact_sets, changes, files, transactions, longest_hold_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(account_pk)
    .bind(report.started_at.timestamp_millis())
    .bind(report.finished_at.timestamp_millis())
    .bind(&report.origin)
    .bind(removed.runs)
    .bind(removed.events)
    .bind(removed.artifacts)
    .bind(removed.artifact_bytes)
    .bind(removed.event_logs)
    .bind(removed.artifact_sets)
    .bind(report.changes)
    .bind(report.files)
    .bind(report.transactions)
    .bind(report.longest_hold_ms)
    .execute(&mut *tx)
    .await?;
    sql::query(
        "DELETE FROM prune_reports WHERE account_pk = ? AND pk <
         (SELECT pk FROM prune_reports WHERE account_pk = ? ORDER BY pk DESC LIMIT 1 OFFSET ?)",
    )
    .bind(account_pk)
    .bind(account_pk)
    .bind(KEPT_REPORTS - 1)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    started_at: i64,
    finished_at: i64,
    origin: String,
    runs: i64,
    events: i64,
    artifacts: i64,
    artifact_bytes: i64,
    event_logs: i64,
    artifact_sets: i64,
    changes: i64,
    files: i64,
    transactions: i64,
    longest_hold_ms: i64,
}

/// An account's last `limit` prune reports, newest first.
pub async fn last_reports(
    pool: &Pool,
    account_pk: AccountPk,
    limit: i64,
) -> Result<Vec<PruneReport>, AppError> {
    let rows: Vec<ReportRow> = sql::query_as(
        "SELECT started_at, finished_at, origin, runs, events, artifacts, artifact_bytes, event_logs,
                artifact_sets, changes, files, transactions, longest_hold_ms
         FROM prune_reports WHERE account_pk = ? ORDER BY pk DESC LIMIT ?",
    )
    .bind(account_pk)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| PruneReport {
            started_at: from_ms(row.started_at),
            finished_at: from_ms(row.finished_at),
            origin: row.origin,
            removed: PruneCounts {
                runs: row.runs,
                events: row.events,
                artifacts: row.artifacts,
                artifact_bytes: row.artifact_bytes,
                event_logs: row.event_logs,
                artifact_sets: row.artifact_sets,
            },
            changes: row.changes,
            files: row.files,
            transactions: row.transactions,
            longest_hold_ms: row.longest_hold_ms,
        })
        .collect())
}

/// What removing the first `cap` candidates of `kind` would remove (all of
/// them without a cap), and whether the cap was reached: the preview's count.
pub fn preview_query(cut: &AgentCutoffs, kind: Kind, cap: Option<i64>) -> SqlBuilder {
    let mut query = SqlBuilder::new("WITH due AS (SELECT pk FROM runs WHERE ");
    push_due(&mut query, cut, kind);
    if let Some(cap) = cap {
        query.push(" LIMIT ").push_bind(cap);
    }
    // A deleted run loses the notes of earlier prunes too; a pruned log keeps them.
    let notes = if matches!(kind, Kind::Delete(_)) {
        ""
    } else {
        PRUNED_EVENT
    };
    query.push(
        ") SELECT (SELECT count(*) FROM due),
                  (SELECT count(*) FROM events WHERE event_type <> ",
    );
    query.push_bind(notes).push(
        " AND run_pk IN (SELECT pk FROM due)),
                  (SELECT count(*) FROM artifacts WHERE run_pk IN (SELECT pk FROM due)),
                  (SELECT CAST(coalesce(sum(size_bytes), 0) AS BIGINT) FROM artifacts WHERE stored = 1 AND run_pk IN (SELECT pk FROM due))",
    );
    query
}

/// Runs, events, artifacts and stored bytes that `kind` would remove now (see [`preview_query`]).
pub async fn preview(
    pool: &Pool,
    cut: &AgentCutoffs,
    kind: Kind,
    cap: Option<i64>,
) -> Result<(i64, i64, i64, i64), AppError> {
    Ok(preview_query(cut, kind, cap)
        .build_query_as()
        .fetch_one(pool)
        .await?)
}
