//! The runs list's full-text filter: the runs whose own text (summary, input,
//! error) or whose log matches, newest first, read from the two full-text
//! indexes in step until a page is certain.
//!
//! Both indexes are keyed in run order: `runs_fts` by run key, the events'
//! pieces by `run key * 2^24 + seq` (db::text_pieces), each piece one range of
//! runs. Each index is read newest first in growing chunks; every match yet
//! unread in any lies below the largest of their positions reached, so the runs
//! found above it are final and in order, and once enough of them pass the rest
//! of the filter the walk stops. A piece is read only once the walk reaches its
//! range. A common word therefore costs a page's worth of reads, not a sort of
//! every match (2.8 s for "Stripe" at 1M runs and 20M events before;
//! docs/performance.md, "Scale benchmark").
//!
//! Run keys follow creation for every run the server creates, so a text search
//! lists runs newest first by key, and its cursor is the key alone.

use super::events::text_key;
use super::filter::{push_conditions, Conditions, Reading};
use super::text_pieces;
use crate::db::sql::{self, Backend, Conn, SqlBuilder};
use model::{AccountPk, AppError, RunPk};
use std::collections::BTreeSet;

/// Rows read from each index by the first step; each further step reads four
/// times as many, up to [`LAST_CHUNK`].
const FIRST_CHUNK: i64 = 64;
const LAST_CHUNK: i64 = 8192;

/// A run that matched the text and passed the rest of the filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMatch {
    pub pk: i64,
    pub status: String,
    pub created_at: i64,
}

/// Matches of `runs_fts` (run keys) below a key, newest first: `(run, matches)`.
pub const RUNS_TEXT_SQL: &str =
    "SELECT rowid, 1 FROM runs_fts WHERE runs_fts MATCH ? AND rowid < ? \
     ORDER BY rowid DESC LIMIT ?";
/// Matches of one piece of the events' index (run key * 2^24 + seq) below a
/// key, newest first, gathered by run: `(run, matches)`, newest run first. A run
/// logs many matches; sqlx hands each row over from its SQLite thread on its
/// own, so one row per run rather than per event.
pub fn events_text_sql(piece: &str) -> String {
    format!(
        "SELECT key >> 24 AS run, count(*) FROM \
         (SELECT rowid AS key FROM {piece} WHERE {piece} MATCH ? AND rowid < ? \
          ORDER BY rowid DESC LIMIT ?) GROUP BY run ORDER BY run DESC"
    )
}

/// PostgreSQL's [`RUNS_TEXT_SQL`]: the runs' `search` column under its GIN index.
pub const RUNS_TEXT_SQL_POSTGRES: &str =
    "SELECT pk, CAST(1 AS BIGINT) FROM runs WHERE search @@ fts5_tsquery(?) AND pk < ? \
     ORDER BY pk DESC LIMIT ?";

/// PostgreSQL's [`events_text_sql`]: the events' `search` column, one index for
/// every event (the keys are computed the same way).
pub const EVENTS_TEXT_SQL_POSTGRES: &str = "SELECT run, count(*) FROM \
     (SELECT run_pk AS run FROM events WHERE search @@ fts5_tsquery(?) \
        AND run_pk * 16777216 + seq < ? ORDER BY run_pk DESC, seq DESC LIMIT ?) m \
     GROUP BY run ORDER BY run DESC";

/// One of the indexes, read newest first.
struct Index {
    sql: String,
    /// Read on from keys below this (`None`: read to the end).
    below: Option<i64>,
    /// Every run this index still holds for the search has a key below this.
    unread_below: Option<i64>,
    /// The key where a run's matches start in this index.
    run_start: fn(i64) -> i64,
}

impl Index {
    async fn step(
        &mut self,
        conn: &mut Conn,
        text: &str,
        chunk: i64,
        found: &mut BTreeSet<i64>,
    ) -> Result<(), AppError> {
        let Some(below) = self.below else {
            return Ok(());
        };
        let runs: Vec<(i64, i64)> = sql::query_as(self.sql.clone())
            .bind(text)
            .bind(below)
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await?;
        found.extend(runs.iter().map(|&(run, _)| run));
        let read: i64 = runs.iter().map(|&(_, matches)| matches).sum();
        match runs.last() {
            Some(&(run, _)) if read == chunk => {
                // The rest of the last run's matches add nothing: skip them.
                self.below = Some((self.run_start)(run));
                self.unread_below = Some(run);
            }
            _ => {
                self.below = None;
                self.unread_below = None;
            }
        }
        Ok(())
    }
}

/// Up to `want` runs of the account matching `text` (an FTS5 query, see
/// `fts_match`) and `others` (the rest of the filter: the top-level text is
/// `text`; text under `OR` or `NOT` stays in `others` as subqueries), with keys
/// below `below`, newest first.
pub async fn text_matches(
    conn: &mut Conn,
    account_pk: AccountPk,
    text: &str,
    others: &Conditions,
    below: Option<i64>,
    want: usize,
) -> Result<Vec<TextMatch>, AppError> {
    let top = below.unwrap_or(i64::MAX >> 24);
    let postgres = conn.backend() == Backend::Postgres;
    let mut indexes = vec![Index {
        sql: if postgres {
            RUNS_TEXT_SQL_POSTGRES
        } else {
            RUNS_TEXT_SQL
        }
        .to_string(),
        below: Some(top),
        unread_below: Some(top),
        run_start: |run| run,
    }];
    if postgres {
        indexes.push(Index {
            sql: EVENTS_TEXT_SQL_POSTGRES.to_string(),
            below: Some(text_key(RunPk(top), 0)),
            unread_below: Some(top),
            run_start: |run| text_key(RunPk(run), 0),
        });
    }
    let pieces = if postgres {
        Vec::new()
    } else {
        text_pieces::pieces(conn).await?
    };
    for piece in pieces {
        if piece.first_run >= top {
            continue;
        }
        // Read from the top of the walk or of the piece's range, the lower.
        let piece_top = piece.end_run.map_or(top, |end| end.min(top));
        indexes.push(Index {
            sql: events_text_sql(&piece.table()),
            below: Some(text_key(RunPk(piece_top), 0)),
            unread_below: Some(piece_top),
            run_start: |run| text_key(RunPk(run), 0),
        });
    }
    let mut candidates = BTreeSet::new();
    let mut matches = Vec::new();
    let mut chunk = FIRST_CHUNK;
    let mut frontier = Some(top);
    while matches.len() < want {
        // Only the indexes that hold the frontier up are read on: the others
        // have read beyond it already.
        for index in &mut indexes {
            if index.unread_below.is_some() && index.unread_below >= frontier {
                index.step(conn, text, chunk, &mut candidates).await?;
            }
        }
        // Runs at or above every index's position are final.
        frontier = indexes.iter().filter_map(|index| index.unread_below).max();
        let settled: Vec<i64> = match frontier {
            Some(frontier) => candidates.split_off(&frontier).into_iter().rev().collect(),
            None => std::mem::take(&mut candidates).into_iter().rev().collect(),
        };
        matches.extend(passing(conn, account_pk, others, &settled).await?);
        if frontier.is_none() {
            break;
        }
        chunk = (chunk * 4).min(LAST_CHUNK);
    }
    matches.truncate(want);
    Ok(matches)
}

/// Whether more than `at_least` runs of the account match `text` in their own
/// text and pass `others`: enough to call a total "at least", without walking
/// the event index (whose matches come many to a run).
pub async fn own_text_exceeds(
    conn: &mut Conn,
    account_pk: AccountPk,
    text: &str,
    others: &Conditions,
    at_least: i64,
) -> Result<bool, AppError> {
    let passing: i64 = own_text_count_query(account_pk, text, others, at_least + 1)?
        .build_query_scalar()
        .fetch_one(&mut *conn)
        .await?;
    Ok(passing > at_least)
}

/// How many of the newest `read` runs whose own text matches pass the account and
/// `others`: one statement, one row. Public so that a test can explain its plan.
pub fn own_text_count_query(
    account_pk: AccountPk,
    text: &str,
    others: &Conditions,
    read: i64,
) -> Result<SqlBuilder, AppError> {
    let mut query = SqlBuilder::new("SELECT count(*) FROM (");
    query
        .push_dialect(
            "SELECT rowid AS pk FROM runs_fts WHERE runs_fts MATCH ",
            "SELECT pk FROM runs WHERE search @@ fts5_tsquery(",
        )
        .push_bind(text.to_string())
        .push_dialect(" ORDER BY rowid DESC LIMIT ", ") ORDER BY pk DESC LIMIT ")
        .push_bind(read)
        .push(") m")
        .push_dialect(" CROSS JOIN", " JOIN")
        .push(" runs r ON r.pk = m.pk");
    push_conditions(&mut query, account_pk, others, Reading::Aggregate);
    Ok(query)
}

/// Which of `run_pks` (newest first) belong to the account and pass `others`,
/// in the same order.
async fn passing(
    conn: &mut Conn,
    account_pk: AccountPk,
    others: &Conditions,
    run_pks: &[i64],
) -> Result<Vec<TextMatch>, AppError> {
    if run_pks.is_empty() {
        return Ok(Vec::new());
    }
    let keys = serde_json::to_string(run_pks).map_err(|_| AppError::Internal)?;
    let mut rows: Vec<(i64, String, i64)> = passing_query(account_pk, others, keys)?
        .build_query_as()
        .fetch_all(&mut *conn)
        .await?;
    rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.0));
    Ok(rows
        .into_iter()
        .map(|(pk, status, created_at)| TextMatch {
            pk,
            status,
            created_at,
        })
        .collect())
}

/// The SQL that checks run keys (`keys`, a JSON array) against the account and
/// the rest of the filter: one lookup by key per run (`CROSS JOIN` keeps SQLite
/// from starting at the account's runs instead). Public so that a test can
/// explain its plan.
pub fn passing_query(
    account_pk: AccountPk,
    others: &Conditions,
    keys: String,
) -> Result<SqlBuilder, AppError> {
    let mut query = SqlBuilder::new("SELECT r.pk, r.status, r.created_at FROM ");
    query
        .push_dialect("json_each(", "json_array_elements_text(CAST(")
        .push_bind(keys)
        .push_dialect(
            ") j CROSS JOIN runs r ON r.pk = j.value",
            " AS json)) j JOIN runs r ON r.pk = CAST(j.value AS BIGINT)",
        );
    push_conditions(&mut query, account_pk, others, Reading::Aggregate);
    Ok(query)
}
