//! The durable change log behind the live stream. Every write that a dashboard or
//! API client could want to see records a change in the same transaction, so a
//! change exists exactly when what it describes was committed; the stream reads
//! committed rows only, and replays them by sequence to reconnecting clients.
//!
//! On PostgreSQL, where write transactions overlap, a change is inserted at a
//! provisional negative position and numbered as its transaction commits
//! (`runboard_order_changes()`, called by [`super::WriteTx::commit`]), so that
//! positions become visible in order and a tail never skips one.

use super::now_ms;
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{AccountPk, AppError, Change, ChangeData, ChangeKind, Event, EventsAppended, RunPk};
use std::sync::OnceLock;
use uuid::Uuid;

/// Which of an account's changes a stream follows: one run's or all runs', and
/// every kind or only some (a list of runs needs no step, event or artifact
/// traffic). A `resync` always gets through.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangeFilter {
    pub run_id: Option<String>,
    /// `None`: every kind.
    pub kinds: Option<Vec<ChangeKind>>,
}

impl ChangeFilter {
    /// How a change of `run_id` and `kind` is sent to this follower: as
    /// itself, as a `run.brief` ([`ChangeKind::sent_as`]), or not at all.
    pub fn sends(&self, run_id: Option<&str>, kind: ChangeKind) -> Option<ChangeKind> {
        if let Some(wanted) = &self.run_id {
            if run_id != Some(wanted.as_str()) {
                return None;
            }
        }
        match &self.kinds {
            Some(kinds) => kind.sent_as(kinds),
            None => Some(kind),
        }
    }
}

/// How long changes are kept for replay; a client away longer gets a resync.
/// Older ones are removed in batches by [`crate::prune`].
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// How many events an `events.appended` change carries inline.
pub const INLINE_EVENTS: usize = 50;

/// A committed change as the stream's fan-out handles it: the account it belongs
/// to, and the message already serialised once for every subscriber.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedChange {
    pub seq: i64,
    pub account_pk: AccountPk,
    pub run_id: Option<String>,
    pub kind: ChangeKind,
    /// The JSON text of the [`Change`].
    pub json: String,
    /// The JSON text of the change as a `run.brief`, made at most once.
    brief: OnceLock<Option<String>>,
}

impl LoggedChange {
    /// The message as a `run.brief` (made by the first subscriber that asks for
    /// it, for all of them); `None` for a change that is not a run's creation
    /// or update.
    pub fn brief_json(&self) -> Option<&str> {
        self.brief
            .get_or_init(|| {
                let change: Change = serde_json::from_str(&self.json).ok()?;
                serde_json::to_string(&change.brief()?).ok()
            })
            .as_deref()
    }
}

fn payload(change: &ChangeData) -> Result<String, AppError> {
    change.data_json().map_err(|error| {
        tracing::error!(%error, "a change could not be serialised");
        AppError::Internal
    })
}

/// Records a change of an account, in the caller's transaction.
pub async fn record(
    conn: &mut Conn,
    account_pk: AccountPk,
    run_id: Option<Uuid>,
    change: &ChangeData,
) -> Result<(), AppError> {
    sql::query(
        "INSERT INTO changes (account_pk, run_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .postgres(
        "INSERT INTO changes (seq, account_pk, run_id, kind, payload, created_at)
         VALUES (-nextval(pg_get_serial_sequence('changes', 'seq')), ?, ?, ?, ?, ?)",
    )
    .bind(account_pk)
    .bind(run_id.map(|id| id.to_string()))
    .bind(change.kind().as_str())
    .bind(payload(change)?)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a change of the run with key `run_pk` (its account and id come from the run).
pub async fn record_for_run(
    conn: &mut Conn,
    run_pk: RunPk,
    change: &ChangeData,
) -> Result<(), AppError> {
    sql::query(
        "INSERT INTO changes (account_pk, run_id, kind, payload, created_at)
         SELECT account_pk, id, ?, ?, ? FROM runs WHERE pk = ?",
    )
    .postgres(
        "INSERT INTO changes (seq, account_pk, run_id, kind, payload, created_at)
         SELECT -nextval(pg_get_serial_sequence('changes', 'seq')), account_pk, id, ?, ?, ?
         FROM runs WHERE pk = ?",
    )
    .bind(change.kind().as_str())
    .bind(payload(change)?)
    .bind(now_ms())
    .bind(run_pk)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that `events` (consecutive, just appended) were added to a run.
pub async fn record_events(
    conn: &mut Conn,
    run_pk: RunPk,
    events: &[Event],
) -> Result<(), AppError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(());
    };
    let appended = EventsAppended {
        first_seq: first.seq,
        last_seq: last.seq,
        count: events.len() as i64,
        complete: events.len() <= INLINE_EVENTS,
        events: events.iter().take(INLINE_EVENTS).cloned().collect(),
    };
    record_for_run(conn, run_pk, &ChangeData::EventsAppended(appended)).await
}

/// A row of `changes`.
#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    account_pk: AccountPk,
    run_id: Option<String>,
    kind: String,
    payload: String,
}

fn to_logged(row: ChangeRow) -> Option<LoggedChange> {
    let ChangeRow {
        seq,
        account_pk,
        run_id,
        kind,
        payload,
    } = row;
    let kind: ChangeKind = kind.parse().ok()?;
    let run_json = match &run_id {
        Some(id) => format!("\"{id}\""),
        None => "null".to_string(),
    };
    let json = format!(
        r#"{{"seq":{seq},"kind":"{kind}","runId":{run_json},"data":{payload}}}"#,
        kind = kind.as_str()
    );
    Some(LoggedChange {
        seq,
        account_pk,
        run_id,
        kind,
        json,
        brief: OnceLock::new(),
    })
}

/// Committed changes of every account after `after`, oldest first: what the
/// fan-out task passes on to subscribers.
pub async fn after(pool: &Pool, after: i64, limit: i64) -> Result<Vec<LoggedChange>, AppError> {
    let rows: Vec<ChangeRow> = sql::query_as(
        "SELECT seq, account_pk, run_id, kind, payload FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(to_logged).collect())
}

/// One account's changes after `after` that pass `filter`, oldest first: what a
/// reconnecting client missed.
pub async fn for_account_after(
    pool: &Pool,
    account_pk: AccountPk,
    filter: &ChangeFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<LoggedChange>, AppError> {
    let mut query = SqlBuilder::new(
        "SELECT seq, account_pk, run_id, kind, payload FROM changes WHERE account_pk = ",
    );
    query
        .push_bind(account_pk)
        .push(" AND seq > ")
        .push_bind(after);
    if let Some(run_id) = &filter.run_id {
        query.push(" AND run_id = ").push_bind(run_id.clone());
    }
    if let Some(kinds) = &filter.kinds {
        query.push(" AND kind IN (");
        let mut list = query.separated(", ");
        list.push_bind(ChangeKind::Resync.as_str());
        for stored in kinds.iter().flat_map(|kind| kind.stored_kinds()) {
            list.push_bind(stored.as_str());
        }
        query.push(")");
    }
    query.push(" ORDER BY seq LIMIT ").push_bind(limit);
    let rows: Vec<ChangeRow> = query.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().filter_map(to_logged).collect())
}

/// The newest sequence number (0 when nothing has changed yet).
pub async fn head(pool: &Pool) -> Result<i64, AppError> {
    Ok(
        sql::query_scalar::<Option<i64>>("SELECT max(seq) FROM changes")
            .fetch_one(pool)
            .await?
            .unwrap_or(0),
    )
}

/// The oldest sequence number still kept, if any change is kept.
pub async fn oldest(pool: &Pool) -> Result<Option<i64>, AppError> {
    Ok(
        sql::query_scalar::<Option<i64>>("SELECT min(seq) FROM changes")
            .fetch_one(pool)
            .await?,
    )
}

/// Parses a stored change's JSON, for tests and tools that want the typed form.
pub fn parse(change: &LoggedChange) -> Option<Change> {
    serde_json::from_str(&change.json).ok()
}
