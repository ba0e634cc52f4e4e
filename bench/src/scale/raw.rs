//! The limits the server is held against, measured on the same database in the
//! same run: the SQL of each request straight against SQLite (the server's own
//! query builders with the server's binds, one connection opened as the server
//! opens its read pool, no HTTP, no rendering), and the same event rows as the
//! ingest benchmark inserted with SQLite's C API in transactions of one batch,
//! both one `INSERT` per event and one `INSERT` per batch, each with the batch's
//! messages into its run's piece of the text index in one `INSERT`, as the
//! server writes them.

use super::cases::{Case, Piece, Work};
use super::sql::{insert_rows, text};
use crate::common::{millis, sqlite_url, Percentiles};
use anyhow::{Context, Result};
use model::AppError;
use rusqlite::types::Value;
use rusqlite::Connection;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};
use store::db::sql::Pool;
use uuid::Uuid;

/// A read-only pool of one connection, with the server's read settings.
pub async fn read_pool(path: &Path) -> Result<Pool> {
    let options = SqliteConnectOptions::from_str(&sqlite_url(path))?
        .read_only(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-32000");
    Ok(Pool::Sqlite(
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?,
    ))
}

/// A pool of one connection to a PostgreSQL database.
pub async fn read_pool_postgres(url: &str) -> Result<Pool> {
    Ok(Pool::Postgres(
        PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("cannot connect to the PostgreSQL database")?,
    ))
}

/// How long the pieces of one request took straight against SQLite.
pub struct RawTimes {
    /// Per piece (in the case's order): milliseconds per execution.
    pub pieces: Vec<(&'static str, Percentiles)>,
    /// The pieces of one request one after the other, as the server runs them.
    pub whole: Percentiles,
}

/// Runs the case's SQL until `budget` is spent (at least a few times, at most
/// `max_runs`), after a short warm-up.
pub async fn time_case(
    pool: &Pool,
    case: &Case,
    budget: Duration,
    max_runs: usize,
) -> Result<RawTimes> {
    for _ in 0..3 {
        for piece in &case.pieces {
            run_piece(pool, piece).await?;
        }
    }
    let mut per_piece: Vec<Vec<f64>> = vec![Vec::new(); case.pieces.len()];
    let mut whole = Vec::new();
    let started = Instant::now();
    while whole.len() < max_runs && (whole.len() < 5 || started.elapsed() < budget) {
        let mut sum = 0.0;
        for (index, piece) in case.pieces.iter().enumerate() {
            let began = Instant::now();
            run_piece(pool, piece).await?;
            let took = millis(began.elapsed());
            per_piece[index].push(took);
            sum += took;
        }
        whole.push(sum);
    }
    Ok(RawTimes {
        pieces: case
            .pieces
            .iter()
            .zip(per_piece)
            .map(|(piece, times)| (piece.name, Percentiles::new(times)))
            .collect(),
        whole: Percentiles::new(whole),
    })
}

async fn run_piece(pool: &Pool, piece: &Piece) -> Result<()> {
    let failed = |error: AppError| anyhow::anyhow!("{}: {error}", piece.name);
    match &piece.work {
        Work::Sql(build) => {
            let query = build().map_err(failed)?;
            query
                .build()
                .fetch_count(pool)
                .await
                .with_context(|| format!("raw SQL of {}", piece.name))?;
        }
        Work::Call(call) => call(pool.clone()).await.map_err(failed)?,
    }
    Ok(())
}

/// One event as a runner sends it and as it is stored.
#[derive(Clone)]
pub struct EventContent {
    pub event_type: &'static str,
    pub message: String,
    pub metadata: Option<String>,
}

/// The raw insert's outcome.
pub struct RawInsert {
    /// How the rows were written ("one INSERT per batch", …).
    pub shape: &'static str,
    pub events: u64,
    pub elapsed: Duration,
    /// Milliseconds per transaction (one batch).
    pub transaction: Percentiles,
}

/// How the raw insert writes a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// One `INSERT` per event, as the server's `append_events` does.
    RowByRow,
    /// One multi-row `INSERT` per batch ([`super::sql`]).
    OneStatement,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::RowByRow => "one INSERT per event",
            Shape::OneStatement => "one INSERT per batch",
        }
    }
}

const INSERT_EVENTS: &str =
    "INSERT INTO events (run_pk, seq, id, client_id, event_type, message, metadata, created_at)";
const EVENT_COLUMNS: usize = 8;

/// Inserts `rounds` batches into each of `runs` (round robin, one transaction
/// per batch, `BEGIN IMMEDIATE` as the server's writer), with the server's
/// writer settings. The rows are the ingest's: a per-run sequence, a fresh UUID
/// v7, no client id. Each run's sequence continues from `first_seq`.
pub fn insert_events(
    path: &Path,
    runs: &[i64],
    first_seq: i64,
    rounds: usize,
    batches: &[Vec<EventContent>],
    shape: Shape,
) -> Result<RawInsert> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32000;",
    )?;
    // Each run's piece of the events' text index, written as the server writes it.
    let text_inserts = runs
        .iter()
        .map(|&run_pk| {
            let piece: i64 = conn.query_row(
                "SELECT piece FROM event_text_pieces WHERE first_run_pk <= ?
                 ORDER BY first_run_pk DESC LIMIT 1",
                [run_pk],
                |row| row.get(0),
            )?;
            Ok(format!(
                "INSERT INTO {} (rowid, message)",
                store::db::text_pieces::table_name(piece)
            ))
        })
        .collect::<Result<Vec<String>>>()?;
    let mut work = RoundRobin::new(runs, first_seq, rounds, batches);
    for (index, run_pk, batch) in work.schedule() {
        let began = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let first = work.seqs[index];
        let rows = event_values(run_pk, &mut work.seqs[index], batch);
        match shape {
            Shape::RowByRow => {
                for row in rows.chunks(EVENT_COLUMNS) {
                    insert_rows(&conn, INSERT_EVENTS, EVENT_COLUMNS, row)?;
                }
            }
            Shape::OneStatement => insert_rows(&conn, INSERT_EVENTS, EVENT_COLUMNS, &rows)?,
        }
        let text: Vec<Value> = batch
            .iter()
            .zip(first + 1..)
            .flat_map(|(event, seq)| {
                [
                    Value::Integer((run_pk << 24) + seq),
                    Value::Text(event.message.clone()),
                ]
            })
            .collect();
        insert_rows(&conn, &text_inserts[index], 2, &text)?;
        conn.execute_batch("COMMIT")?;
        work.done(began, batch.len());
    }
    Ok(work.finish(shape))
}

/// The raw insert's order of work, the ingest's: every round, each run's next
/// batch; and the time each transaction took.
struct RoundRobin<'a> {
    runs: &'a [i64],
    rounds: usize,
    batches: &'a [Vec<EventContent>],
    /// Each run's last event number.
    seqs: Vec<i64>,
    transactions: Vec<f64>,
    events: u64,
    started: Instant,
}

impl<'a> RoundRobin<'a> {
    fn new(
        runs: &'a [i64],
        first_seq: i64,
        rounds: usize,
        batches: &'a [Vec<EventContent>],
    ) -> RoundRobin<'a> {
        RoundRobin {
            runs,
            rounds,
            batches,
            seqs: vec![first_seq; runs.len()],
            transactions: Vec::with_capacity(rounds * runs.len()),
            events: 0,
            started: Instant::now(),
        }
    }

    /// `(index of the run, its key, its batch)`, in order.
    fn schedule(&self) -> Vec<(usize, i64, &'a [EventContent])> {
        let (runs, batches) = (self.runs, self.batches);
        (0..self.rounds)
            .flat_map(|round| {
                runs.iter().enumerate().map(move |(index, &run_pk)| {
                    let batch = &batches[(round + index) % batches.len()];
                    (index, run_pk, batch.as_slice())
                })
            })
            .collect()
    }

    /// A batch's transaction, begun at `began`, committed.
    fn done(&mut self, began: Instant, events: usize) {
        self.transactions.push(millis(began.elapsed()));
        self.events += events as u64;
    }

    fn finish(self, shape: Shape) -> RawInsert {
        RawInsert {
            shape: shape.describe(),
            events: self.events,
            elapsed: self.started.elapsed(),
            transaction: Percentiles::new(self.transactions),
        }
    }
}

/// A batch's column values, numbered on from `seq`.
fn event_values(run_pk: i64, seq: &mut i64, batch: &[EventContent]) -> Vec<Value> {
    let now = store::db::now_ms();
    let mut values = Vec::with_capacity(batch.len() * EVENT_COLUMNS);
    for event in batch {
        *seq += 1;
        values.extend([
            Value::Integer(run_pk),
            Value::Integer(*seq),
            Value::Blob(Uuid::now_v7().as_bytes().to_vec()),
            Value::Null,
            Value::Text(event.event_type.into()),
            Value::Text(event.message.clone()),
            text(event.metadata.clone()),
            Value::Integer(now),
        ]);
    }
    values
}

/// [`insert_events`] on PostgreSQL: the same rows, one multi-row `INSERT` per
/// batch, one transaction per batch, one connection (what the database itself
/// manages when nothing else runs; its text index is the `events.search`
/// column's, computed by the database).
pub async fn insert_events_postgres(
    url: &str,
    runs: &[i64],
    first_seq: i64,
    rounds: usize,
    batches: &[Vec<EventContent>],
) -> Result<RawInsert> {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let mut work = RoundRobin::new(runs, first_seq, rounds, batches);
    for (index, run_pk, batch) in work.schedule() {
        let began = Instant::now();
        let now = store::db::now_ms();
        let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("{INSERT_EVENTS} "));
        let seq = &mut work.seqs[index];
        insert.push_values(batch, |mut row, event| {
            *seq += 1;
            row.push_bind(run_pk)
                .push_bind(*seq)
                .push_bind(Uuid::now_v7().as_bytes().to_vec())
                .push_bind(None::<String>)
                .push_bind(event.event_type)
                .push_bind(&event.message)
                .push_bind(&event.metadata)
                .push_bind(now);
        });
        let mut tx = pool.begin().await?;
        insert.build().execute(&mut *tx).await?;
        tx.commit().await?;
        work.done(began, batch.len());
    }
    let inserted = work.finish(Shape::OneStatement);
    pool.close().await;
    Ok(inserted)
}
