//! Events: appended in batches with a per-run sequence number, idempotent by the
//! runner's own event id; read back by sequence, page by page.

use super::filter::fts_query;
use super::{changes, from_ms, now_ms, text_pieces};
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{AppError, Event, EventPage, RunPk};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The runner's own id for the event; a repeat with the same id is not stored twice.
    pub client_id: Option<String>,
    pub event_type: String,
    pub message: Option<String>,
    pub metadata: Option<Value>,
}

/// Where an appended event ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub id: Uuid,
    pub seq: i64,
    /// Stored by this call (not a repeat of an event the run already had, nor a
    /// second mention of one within the batch).
    pub new: bool,
}

/// The most events one run holds: the full-text index keys an event by
/// `run_pk * 2^24 + seq` (db::text_pieces).
pub const MAX_RUN_EVENTS: i64 = (1 << 24) - 1;

/// An event's key in the events' full-text index (db::text_pieces).
pub fn text_key(run_pk: RunPk, seq: i64) -> i64 {
    (run_pk.0 << 24) + seq
}

/// Rows per multi-row `INSERT`: 8 parameters each, under SQLite's 32,766.
const INSERT_CHUNK: usize = 4_000;
/// Client ids per lookup of already stored events.
const LOOKUP_CHUNK: usize = 900;

/// Appends events in order; an event whose `client_id` the run already has (or
/// that an earlier event of the same batch has) is answered with that event
/// instead of being inserted again.
///
/// The new events go in with one multi-row `INSERT` per 4,000: inside a
/// transaction every statement opens a savepoint, and FTS5 flushes a segment to
/// disk at each one, so one statement per event made every event a segment
/// (docs/performance.md "Scale benchmark", ingest).
pub async fn append_events(
    conn: &mut Conn,
    run_pk: RunPk,
    events: &[NewEvent],
) -> Result<Vec<Appended>, AppError> {
    let mut seq: i64 = sql::query_scalar("SELECT event_seq FROM runs WHERE pk = ?")
        .bind(run_pk)
        .fetch_one(&mut *conn)
        .await?;
    let mut known = stored_client_ids(conn, run_pk, events).await?;
    let now = now_ms();
    let mut appended = Vec::with_capacity(events.len());
    // The events this call stores (not the repeats): inserted, then logged.
    let mut added = Vec::with_capacity(events.len());
    let mut fresh: Vec<&NewEvent> = Vec::with_capacity(events.len());
    for event in events {
        if let Some(stored) = event.client_id.as_ref().and_then(|id| known.get(id)) {
            appended.push(*stored);
            continue;
        }
        seq += 1;
        let stored = Appended {
            id: Uuid::now_v7(),
            seq,
            new: true,
        };
        if let Some(client_id) = &event.client_id {
            known.insert(
                client_id.clone(),
                Appended {
                    new: false,
                    ..stored
                },
            );
        }
        appended.push(stored);
        fresh.push(event);
        added.push(Event {
            id: stored.id,
            seq,
            event_type: event.event_type.clone(),
            message: event.message.clone(),
            metadata: event.metadata.clone(),
            created_at: from_ms(now),
        });
    }
    if seq > MAX_RUN_EVENTS {
        return Err(AppError::TooLarge(format!(
            "a run holds at most {MAX_RUN_EVENTS} events"
        )));
    }
    for (events, rows) in fresh.chunks(INSERT_CHUNK).zip(added.chunks(INSERT_CHUNK)) {
        let mut insert = SqlBuilder::new(
            "INSERT INTO events (run_pk, seq, id, client_id, event_type, message, metadata, created_at) ",
        );
        insert.push_values(events.iter().zip(rows), |mut row, (event, stored)| {
            row.push_bind(run_pk)
                .push_bind(stored.seq)
                .push_bind(stored.id.as_bytes().to_vec())
                .push_bind(event.client_id.clone())
                .push_bind(event.event_type.clone())
                .push_bind(event.message.clone())
                .push_bind(event.metadata.as_ref().map(Value::to_string))
                .push_bind(now);
        });
        insert.build().execute(&mut *conn).await?;
    }
    let messages: Vec<(i64, &str)> = added
        .iter()
        .filter_map(|event| Some((event.seq, event.message.as_deref()?)))
        .collect();
    text_pieces::append(conn, run_pk.0, &messages).await?;
    sql::query("UPDATE runs SET event_seq = ?, updated_at = ? WHERE pk = ?")
        .bind(seq)
        .bind(now)
        .bind(run_pk)
        .execute(&mut *conn)
        .await?;
    changes::record_events(conn, run_pk, &added).await?;
    Ok(appended)
}

/// The events of this run already stored under the batch's client ids.
async fn stored_client_ids(
    conn: &mut Conn,
    run_pk: RunPk,
    events: &[NewEvent],
) -> Result<HashMap<String, Appended>, AppError> {
    let client_ids: Vec<&str> = events
        .iter()
        .filter_map(|event| event.client_id.as_deref())
        .collect();
    let mut known = HashMap::new();
    for chunk in client_ids.chunks(LOOKUP_CHUNK) {
        let mut lookup = SqlBuilder::new("SELECT client_id, id, seq FROM events WHERE run_pk = ");
        lookup.push_bind(run_pk).push(" AND client_id IN (");
        let mut separated = lookup.separated(", ");
        for client_id in chunk {
            separated.push_bind(*client_id);
        }
        lookup.push(")");
        let rows: Vec<(String, Vec<u8>, i64)> =
            lookup.build_query_as().fetch_all(&mut *conn).await?;
        for (client_id, id, seq) in rows {
            let id = Uuid::from_slice(&id).map_err(|_| AppError::Internal)?;
            known.insert(
                client_id,
                Appended {
                    id,
                    seq,
                    new: false,
                },
            );
        }
    }
    Ok(known)
}

/// The stored answer to an earlier request with this idempotency key.
pub async fn idempotent_response(
    conn: &mut Conn,
    run_pk: RunPk,
    key: &str,
) -> Result<Option<String>, sqlx::Error> {
    sql::query_scalar("SELECT response FROM idempotency_keys WHERE run_pk = ? AND key = ?")
        .bind(run_pk)
        .bind(key)
        .fetch_optional(conn)
        .await
}

pub async fn remember_response(
    conn: &mut Conn,
    run_pk: RunPk,
    key: &str,
    response: &str,
) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO idempotency_keys (run_pk, key, response, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(run_pk)
    .bind(key)
    .bind(response)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Which events to read.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    /// Only events with a sequence number above this.
    pub after: Option<i64>,
    /// Only events with a sequence number below this: the page just before it
    /// (still returned in sequence order), for reading a log backwards.
    pub before: Option<i64>,
    pub limit: i64,
    /// The type or a type under it ([`model::type_matches`]).
    pub event_type: Option<String>,
    pub q: Option<String>,
    /// Only events received in this window (ms, both ends included): what
    /// arrived while a step ran.
    pub received: Option<(i64, i64)>,
}

pub const MAX_EVENT_PAGE: i64 = 1000;

/// A row of [`list_query`].
#[derive(sqlx::FromRow)]
struct EventRow {
    id: Vec<u8>,
    seq: i64,
    event_type: String,
    message: Option<String>,
    metadata: Option<String>,
    created_at: i64,
}

pub async fn list_events(
    pool: &Pool,
    run_pk: RunPk,
    query: &EventQuery,
) -> Result<EventPage, AppError> {
    let sql = list_query(run_pk, query)?;
    let backwards = query.before.is_some();
    let mut rows: Vec<EventRow> = sql.build_query_as().fetch_all(pool).await?;
    if backwards {
        rows.reverse();
    }
    let full = rows.len() as i64 == query.limit;
    let events: Vec<Event> = rows
        .into_iter()
        .filter_map(|row| {
            Some(Event {
                id: Uuid::from_slice(&row.id).ok()?,
                seq: row.seq,
                event_type: row.event_type,
                message: row.message,
                metadata: row
                    .metadata
                    .and_then(|text| serde_json::from_str(&text).ok()),
                created_at: from_ms(row.created_at),
            })
        })
        .collect();
    let next_after = if full {
        events.last().map(|event| event.seq)
    } else {
        None
    };
    Ok(EventPage { events, next_after })
}

/// The SQL of [`list_events`]: one page of a run's events in sequence order
/// (descending when reading backwards from `before`). Public so that a test can
/// explain its plan.
pub fn list_query(run_pk: RunPk, query: &EventQuery) -> Result<SqlBuilder, AppError> {
    if !(1..=MAX_EVENT_PAGE).contains(&query.limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_EVENT_PAGE}"),
        ));
    }
    let mut sql = SqlBuilder::new(
        "SELECT e.id, e.seq, e.event_type, e.message, e.metadata, e.created_at FROM events e WHERE e.run_pk = ",
    );
    sql.push_bind(run_pk);
    if let Some(after) = query.after {
        sql.push(" AND e.seq > ").push_bind(after);
    }
    if let Some(event_type) = &query.event_type {
        // model::type_matches: the type, or one under it after a dot.
        sql.push(" AND (e.event_type = ")
            .push_bind(event_type.clone())
            .push(" OR substr(e.event_type, 1, CAST(")
            .push_bind(event_type.chars().count() as i64 + 1)
            .push(" AS INTEGER)) = ")
            .push_bind(format!("{event_type}."))
            .push(")");
    }
    if let Some((from, until)) = query.received {
        sql.push(" AND e.created_at BETWEEN ")
            .push_bind(from)
            .push(" AND ")
            .push_bind(until);
    }
    if let Some(before) = query.before {
        sql.push(" AND e.seq < ").push_bind(before);
    }
    if let Some(text) = query.q.as_deref().and_then(fts_query) {
        // The run's own key range of the index (db::text_pieces); on
        // PostgreSQL the events' own `search` column.
        let first = text_key(run_pk, 0);
        sql.push(" AND e.seq IN (SELECT key - ").push_bind(first);
        let first_arg = sql.arg_count();
        sql.push_dialect(
            " FROM event_text WHERE message MATCH ",
            &format!(
                " FROM (SELECT run_pk * 16777216 + seq AS key FROM events \
                 WHERE run_pk = ?{first_arg} / 16777216 AND search @@ fts5_tsquery("
            ),
        )
        .push_bind(text)
        .push_dialect(" AND key BETWEEN ", ")) m WHERE key BETWEEN ")
        .push_bind(first)
        .push(" AND ")
        .push_bind(text_key(run_pk, MAX_RUN_EVENTS))
        .push(")");
    }
    sql.push(if query.before.is_some() {
        " ORDER BY e.seq DESC LIMIT "
    } else {
        " ORDER BY e.seq LIMIT "
    })
    .push_bind(query.limit);
    Ok(sql)
}

/// The sequence number of a run's first event at the error level
/// ([`model::EventLevel`]): where a failed run's log opens. Reads types only,
/// in order, a page at a time, and stops at the first.
pub async fn first_error_seq(pool: &Pool, run_pk: RunPk) -> Result<Option<i64>, AppError> {
    const PAGE: i64 = 2_000;
    let mut after = 0;
    loop {
        let page = event_types_after(pool, run_pk, after, PAGE).await?;
        if let Some((seq, _)) = page
            .iter()
            .find(|(_, event_type)| model::EventLevel::of(event_type) == model::EventLevel::Error)
        {
            return Ok(Some(*seq));
        }
        match page.last() {
            Some((seq, _)) if page.len() as i64 == PAGE => after = *seq,
            _ => return Ok(None),
        }
    }
}

/// Sequence numbers and types of a run's events after `after`, in order: the
/// light read run comparison walks two logs with.
pub async fn event_types_after(
    pool: &Pool,
    run_pk: RunPk,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, AppError> {
    Ok(event_types_query(run_pk, after, limit)
        .build_query_as()
        .fetch_all(pool)
        .await?)
}

/// The SQL of [`event_types_after`].
pub fn event_types_query(run_pk: RunPk, after: i64, limit: i64) -> SqlBuilder {
    let mut query = SqlBuilder::new("SELECT seq, event_type FROM events WHERE run_pk = ");
    query
        .push_bind(run_pk)
        .push(" AND seq > ")
        .push_bind(after)
        .push(" ORDER BY seq LIMIT ")
        .push_bind(limit);
    query
}
