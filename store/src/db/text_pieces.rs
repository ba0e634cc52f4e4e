//! The events' full-text index, kept in pieces of bounded size.
//!
//! One FTS5 index over every event's message grows with the log: at 20M events
//! a step of merging its segments wrote a common word's whole doclist at once
//! and held the single writer for up to 2 s, inside ingest and pruning
//! transactions alike (docs/performance.md, "Which pruning transactions hold the
//! writer too long"). So the index is a row of FTS5 tables, `event_text_1`,
//! `event_text_2`, …, each holding the events of one range of run keys: a new
//! piece starts with the first run created after the newest piece has taken
//! about [`PIECE_EVENTS`] events. Every merge and every deletion then works on
//! one piece, and its cost is bounded by the piece's size, not the log's.
//!
//! - Keys stay `run key * 2^24 + seq` ([`super::events::text_key`]), so a piece
//!   is one key range and the pieces, newest first, read like the one index did.
//! - Writing: [`append`] puts a batch's messages into its run's piece.
//! - Deleting: a trigger on `events` queues the key of every deleted message in
//!   `event_text_gone` (cascades from deleted runs included), and [`flush_gone`]
//!   removes the queued keys from their pieces; the deleting transactions call it
//!   before they commit, and any key left queued goes with the next flush.
//! - Reading: the view `event_text (key, message)` is every piece at once, for
//!   `SELECT key FROM event_text WHERE message MATCH ?` (SQLite pushes the
//!   `MATCH` into each piece; an aggregate straight over the view cannot use
//!   `MATCH` and fails); the runs list's search walks the pieces themselves
//!   newest first ([`super::text_search`]).

use crate::db::sql::{self, Backend, Conn, SqlBuilder};

/// About how many events a piece takes before the next run starts a new one.
/// Measured: merging an index of up to 1M such messages while events arrive
/// holds the writer at most ~35 ms, at 20M up to 200 ms (see the module doc).
pub const PIECE_EVENTS: i64 = 500_000;

/// One piece: the events of the runs with keys from `first_run` up to, not
/// including, `end_run` (`None`: the newest piece, open above).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub number: i64,
    pub first_run: i64,
    pub end_run: Option<i64>,
}

impl Piece {
    pub fn table(&self) -> String {
        table_name(self.number)
    }

    /// Whether the piece's range of runs reaches into `low..=high`.
    pub fn reaches(&self, low: i64, high: i64) -> bool {
        self.first_run <= high && self.end_run.is_none_or(|end| low < end)
    }
}

/// The FTS5 table of piece `number`.
pub fn table_name(number: i64) -> String {
    format!("event_text_{number}")
}

/// The statements that create piece `number`'s table. Its merges reclaim
/// deleted entries when they merge anyway (`deletemerge` 0): pruning deletes
/// the oldest entries, which sit in the largest segments.
pub fn create_piece_sql(number: i64) -> [String; 2] {
    let table = table_name(number);
    [
        format!("CREATE VIRTUAL TABLE {table} USING fts5 (message, content = '', contentless_delete = 1)"),
        format!("INSERT INTO {table} ({table}, rank) VALUES ('deletemerge', 0)"),
    ]
}

/// The statements that make the view `event_text` every piece of `numbers`.
pub fn view_sql(numbers: &[i64]) -> [String; 2] {
    let arms: Vec<String> = numbers
        .iter()
        .map(|&number| format!("SELECT rowid AS key, message FROM {}", table_name(number)))
        .collect();
    [
        "DROP VIEW IF EXISTS event_text".to_string(),
        format!("CREATE VIEW event_text AS {}", arms.join(" UNION ALL ")),
    ]
}

/// Every piece, newest first.
pub async fn pieces(conn: &mut Conn) -> Result<Vec<Piece>, sqlx::Error> {
    let rows: Vec<(i64, i64, Option<i64>)> = sql::query_as(
        "SELECT piece, first_run_pk, lag(first_run_pk) OVER (ORDER BY piece DESC)
         FROM event_text_pieces ORDER BY piece DESC",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(number, first_run, end_run)| Piece {
            number,
            first_run,
            end_run,
        })
        .collect())
}

/// The table of the piece that holds run `run_pk`'s events.
pub async fn table_of(conn: &mut Conn, run_pk: i64) -> Result<String, sqlx::Error> {
    let number: i64 = sql::query_scalar(
        "SELECT piece FROM event_text_pieces WHERE first_run_pk <= ? ORDER BY first_run_pk DESC LIMIT 1",
    )
    .bind(run_pk)
    .fetch_one(&mut *conn)
    .await?;
    Ok(table_name(number))
}

/// Messages per `INSERT` into a piece: 2 parameters each.
const INSERT_CHUNK: usize = 4_000;

/// Indexes a batch of one run's messages (`(seq, message)`, seq ascending).
pub async fn append(
    conn: &mut Conn,
    run_pk: i64,
    messages: &[(i64, &str)],
) -> Result<(), sqlx::Error> {
    if messages.is_empty() || conn.backend() == Backend::Postgres {
        // PostgreSQL indexes the events' own text (docs/postgres.md).
        return Ok(());
    }
    let table = table_of(conn, run_pk).await?;
    for chunk in messages.chunks(INSERT_CHUNK) {
        let mut insert = SqlBuilder::new(format!("INSERT INTO {table} (rowid, message) "));
        insert.push_values(chunk, |mut row, &(seq, message)| {
            row.push_bind((run_pk << 24) + seq).push_bind(message);
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// After run `run_pk` was created: when the newest piece has taken its share
/// of events, a new piece starts at this run (every earlier run keeps its piece).
pub async fn start_piece_if_full(conn: &mut Conn, run_pk: i64) -> Result<(), sqlx::Error> {
    if conn.backend() == Backend::Postgres {
        // PostgreSQL's text search is the events' own column (docs/postgres.md).
        return Ok(());
    }
    let (newest, taken): (i64, i64) = sql::query_as(
        "SELECT piece, (SELECT coalesce(max(pk), 0) FROM events) - first_event_pk
         FROM event_text_pieces ORDER BY piece DESC LIMIT 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    if taken < PIECE_EVENTS {
        return Ok(());
    }
    add_piece(conn, newest + 1, run_pk).await
}

/// Creates piece `number` for the runs from `first_run` on and remakes the view.
pub async fn add_piece(conn: &mut Conn, number: i64, first_run: i64) -> Result<(), sqlx::Error> {
    for statement in create_piece_sql(number) {
        sql::query(statement).execute(&mut *conn).await?;
    }
    sql::query(
        "INSERT INTO event_text_pieces (piece, first_run_pk, first_event_pk)
         VALUES (?, ?, (SELECT coalesce(max(pk), 0) FROM events))",
    )
    .bind(number)
    .bind(first_run)
    .execute(&mut *conn)
    .await?;
    let numbers: Vec<i64> = sql::query_scalar("SELECT piece FROM event_text_pieces ORDER BY piece")
        .fetch_all(&mut *conn)
        .await?;
    for statement in view_sql(&numbers) {
        sql::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes the queued keys of deleted messages from their pieces and empties
/// the queue; the pieces the queued keys do not reach are not touched.
pub async fn flush_gone(conn: &mut Conn) -> Result<(), sqlx::Error> {
    if conn.backend() == Backend::Postgres {
        // PostgreSQL's text search is the events' own column (docs/postgres.md).
        return Ok(());
    }
    let (low, high): (Option<i64>, Option<i64>) =
        sql::query_as("SELECT min(key), max(key) FROM event_text_gone")
            .fetch_one(&mut *conn)
            .await?;
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(());
    };
    let (low_run, high_run) = (low >> 24, high >> 24);
    for piece in pieces(conn).await? {
        if !piece.reaches(low_run, high_run) {
            continue;
        }
        let table = piece.table();
        sql::query(format!(
            "DELETE FROM {table} WHERE rowid IN
             (SELECT key FROM event_text_gone WHERE key >= ? AND key < ?)"
        ))
        .bind(piece.first_run << 24)
        .bind(piece.end_run.map_or(i64::MAX, |end| end << 24))
        .execute(&mut *conn)
        .await?;
    }
    sql::query("DELETE FROM event_text_gone")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The tables of every piece, oldest first (for maintenance: FTS5 commands).
pub async fn tables<'c>(executor: impl sql::Executor<'c>) -> Result<Vec<String>, sqlx::Error> {
    let executor = executor.target();
    if executor.backend() == Backend::Postgres {
        return Ok(Vec::new());
    }
    let numbers: Vec<i64> = sql::query_scalar("SELECT piece FROM event_text_pieces ORDER BY piece")
        .fetch_all(executor)
        .await?;
    Ok(numbers.into_iter().map(table_name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_reaches_the_runs_of_its_range() {
        let closed = Piece {
            number: 2,
            first_run: 100,
            end_run: Some(200),
        };
        assert!(!closed.reaches(10, 99));
        assert!(closed.reaches(10, 100));
        assert!(closed.reaches(199, 300));
        assert!(!closed.reaches(200, 300));
        let newest = Piece {
            number: 3,
            first_run: 200,
            end_run: None,
        };
        assert!(newest.reaches(i64::MAX >> 24, i64::MAX >> 24));
        assert!(!newest.reaches(1, 199));
        assert_eq!(newest.table(), "event_text_3");
    }

    #[test]
    fn the_view_is_every_piece() {
        let [drop, create] = view_sql(&[1, 2]);
        assert_eq!(drop, "DROP VIEW IF EXISTS event_text");
        assert_eq!(
            create,
            "CREATE VIEW event_text AS SELECT rowid AS key, message FROM event_text_1 \
             UNION ALL SELECT rowid AS key, message FROM event_text_2"
        );
    }
}
