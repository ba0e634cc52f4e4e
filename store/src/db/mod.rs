//! The database layer: verb-named queries shared by server functions, the JSON API
//! and the CLI, each scoped to an account where the data belongs to one.
//!
//! SQLite runs in WAL mode with one writer connection: every write goes through
//! [`Db::begin_write`], which takes the write lock up front (`BEGIN IMMEDIATE`), so
//! concurrent requests queue for the writer instead of failing with `SQLITE_BUSY`.
//! Reads use a separate pool and never wait for writes. A third connection
//! checkpoints the write-ahead log beside them, so that the commit that
//! checkpoints (every 1,000 pages) finds little left to do.
//!
//! The modules depend one way, never in a circle: [`filter`] (the runs filter as
//! SQL) is used by [`runs`], [`text_search`] and [`events`]; `runs` reads through
//! `text_search` and writes through [`campaigns`], [`alerts`], [`outbox`] and
//! [`changes`], none of which calls back into it ([`alerts`] reads the runs filter
//! and takes `runs`' `StoredRun` type, but calls no `runs` function). [`runner`] (what a run's runner writes) and
//! [`deliveries`] (the outbox worker's bookkeeping) and [`bulk`] (bulk jobs) sit
//! on top: they use `runs` and nothing uses them.

pub mod accounts;
pub mod agents;
pub mod alerts;
pub mod artifacts;
pub mod audit;
pub mod bulk;
pub mod campaigns;
pub mod changes;
pub mod deliveries;
pub mod events;
pub mod filter;
pub mod health;
pub mod leases;
pub mod members;
pub mod outbox;
pub mod postgres;
pub mod prune;
pub mod retention;
pub mod runner;
pub mod runs;
pub mod settings;
pub mod sql;
pub mod stats;
pub mod steps;
pub mod sweep;
pub mod text_pieces;
pub mod text_search;
pub mod tokens;
pub mod users;
pub mod view_cache;
pub mod views;

use crate::metrics::{self, Count};
use crate::outbound::Outbound;
use chrono::{DateTime, TimeZone, Utc};
use model::RunPk;
use sql::{Backend, Conn, Pool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use view_cache::ViewCache;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The PostgreSQL advisory lock every write transaction holds until it ends,
/// on every server. [`Db::begin_write`] takes it exclusively: such writes take
/// turns as on SQLite's one writer connection, so each keeps the reads it made
/// (a counter's row, another run's state) until it commits.
/// [`Db::begin_run_write`] takes it shared, with its run's row locked: writes
/// of different runs then run side by side, while no exclusive writer runs.
/// The change log's order does not depend on it (`changes`).
const WRITER_LOCK: i64 = 0x5275_6e62_6f61_7264; // "Runboard"

/// The automatic retry delay until start-up sets the configured one.
const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(2);

/// How long [`Db::close`] waits for each pool.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How long a connection waits for a lock held by another process (the CLI, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a `DATABASE_URL` of neither kind is told. The URL itself is not
/// repeated: it may hold a password.
fn not_a_database_url() -> &'static str {
    "DATABASE_URL must be a sqlite:// URL (e.g. sqlite://data/runboard.db) or a \
     postgres:// URL (docs/deploy.md)"
}

#[derive(Clone, Debug)]
pub struct Db {
    /// Pool for reads; on SQLite, WAL lets them run beside the writer.
    pub read: Pool,
    /// Where write transactions start. On SQLite exactly one connection: writes
    /// are serialised here rather than in SQLite's lock. On PostgreSQL the same
    /// pool as `read`: its transactions run side by side.
    write: Pool,
    /// SQLite's connection that checkpoints the write-ahead log, beside the writer.
    checkpoints: Option<SqlitePool>,
    /// Signalled after every committed write transaction (the live stream waits on it).
    committed: Arc<Notify>,
    /// Dashboard reads kept until the next commit.
    views: Arc<ViewCache>,
    /// Where the URLs stored for the server to call may point ([`crate::outbound`]).
    outbound: Arc<Outbound>,
    /// Delay before a failed run's first automatic retry, in ms ([`Db::set_retry_base`]).
    retry_base_ms: Arc<AtomicU64>,
    /// This server among those sharing the database: a new id each start.
    instance: Arc<str>,
}

/// A write transaction of [`Db::begin_write`]. It is used like the connection it
/// holds; committing it also wakes whoever waits for commits (the live stream),
/// so a change is announced as soon as, and only once, it is durable.
pub struct WriteTx {
    tx: Conn,
    committed: Arc<Notify>,
    views: Arc<ViewCache>,
    retry_base: Duration,
    /// When the writer was taken ([`metrics::WRITER_HOLD`]).
    held_since: Instant,
    /// What to count once committed ([`WriteTx::count`]).
    counts: Vec<Count>,
}

impl WriteTx {
    /// Delay before a failed run's first automatic retry; each further attempt
    /// waits twice as long.
    pub fn retry_base(&self) -> Duration {
        self.retry_base
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if self.tx.backend() == Backend::Postgres {
            // The last statement: the changes' positions in commit order.
            sql::query("SELECT runboard_order_changes()")
                .execute(&mut self.tx)
                .await?;
        }
        self.tx.commit().await?;
        metrics::writer_held(self.held_since.elapsed());
        self.views.invalidate();
        self.committed.notify_one();
        for count in &self.counts {
            count.record();
        }
        Ok(())
    }

    /// Counts `count` for the operator's metrics when, and only if, this
    /// transaction commits.
    pub fn count(&mut self, count: Count) {
        self.counts.push(count);
    }
}

impl Deref for WriteTx {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

impl Db {
    /// Opens (creating if needed) the database at `url`, applies the migrations and
    /// keeps the planner's statistics current ([`optimize`]).
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        match Backend::of_url(url) {
            Some(Backend::Sqlite) => {}
            Some(Backend::Postgres) => return Db::connect_postgres(url).await,
            None => return Err(sqlx::Error::Configuration(not_a_database_url().into())),
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            // A checkpoint that resets the write-ahead log truncates it to 64 MiB.
            // Without a limit the file keeps the largest size it ever reached: a
            // backup holds checkpoints back for its whole copy, and under steady
            // ingest the log grew to 3 GB during one (docs/performance.md,
            // "Backups while serving").
            .pragma("journal_size_limit", "67108864")
            .pragma("cache_size", "-32000");
        if let Some(parent) = sqlite_file_parent(url) {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
        // Checkpoints copy the write-ahead log into the database file (with an
        // fsync of each). A connection of its own does that every half second,
        // beside the writer and the readers (PASSIVE: waiting for neither), so
        // that the checkpoint SQLite runs in the commit that passes 1,000 pages
        // finds little left to copy: pruning 20k runs, the writer's holds went
        // from p99 33–42 ms, longest 54–234 ms, to p99 21 ms, longest 36 ms
        // (docs/performance.md, "Pruning 1M runs while ingest goes on"). That
        // commit's checkpoint stays: it is the one that finishes (no write comes
        // between), which lets the next transaction start the log afresh; with
        // only the checkpoints beside the writer, under continuous writes, the
        // log never restarted and grew by 16 GB in seven minutes of pruning.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&write).await?;
        let checkpoints = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        tokio::spawn(checkpoint_periodically(checkpoints.clone()));
        // Planner statistics, as SQLite recommends for long-lived connections:
        // `PRAGMA optimize` now and then every hour. Without statistics the planner
        // takes any indexed equality, `account_pk = ?` included, to select about ten
        // rows, so under a full-text or input-field filter the runs list's counts
        // and chart read every run of the account rather than the matching ones
        // (docs/performance.md, "Query plans"). Read connections load the new
        // statistics when the pool replaces them, within 30 minutes.
        optimize(&write).await;
        tokio::spawn(optimize_periodically(write.clone()));
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Db::new(
            Pool::Sqlite(read),
            Pool::Sqlite(write),
            Some(checkpoints),
        ))
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to
    /// date ([`postgres`]).
    async fn connect_postgres(url: &str) -> Result<Db, sqlx::Error> {
        let pool = postgres::connect(url).await?;
        let db = Db::new(
            Pool::Postgres(pool.clone()),
            Pool::Postgres(pool.clone()),
            None,
        );
        let listener = postgres::listen_for_commits(&pool).await?;
        tokio::spawn(postgres::hear_commits(listener, db.clone()));
        Ok(db)
    }

    fn new(read: Pool, write: Pool, checkpoints: Option<SqlitePool>) -> Db {
        Db {
            read,
            write,
            checkpoints,
            committed: Arc::new(Notify::new()),
            views: Arc::default(),
            outbound: Arc::default(),
            retry_base_ms: Arc::new(AtomicU64::new(DEFAULT_RETRY_BASE.as_millis() as u64)),
            instance: uuid::Uuid::now_v7().to_string().into(),
        }
    }

    /// This server's id among those sharing the database (new each start): who
    /// holds a lease, whose commit a notification announces.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether other servers may write to this database too (PostgreSQL). A
    /// SQLite file has one server: its lock file refuses a second.
    pub fn is_shared(&self) -> bool {
        self.write.backend() == Backend::Postgres
    }

    /// What a commit of another server on the same database means here: kept
    /// views may be stale, and the live stream has changes to read.
    fn heard_commit_elsewhere(&self) {
        self.views.invalidate();
        self.committed.notify_one();
    }

    /// Starts a write transaction holding SQLite's write lock from the first
    /// statement (on PostgreSQL, [`WRITER_LOCK`] exclusively). How long the
    /// caller queued for the writer is a metric ([`metrics::WRITER_WAIT`]).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        self.begin(None).await
    }

    /// Starts a write transaction that writes only what belongs to one run (its
    /// row, events, idempotency keys and changes). On SQLite it is
    /// [`Db::begin_write`]; on PostgreSQL it holds [`WRITER_LOCK`] shared and
    /// the run's row locked, so that writes of other runs go on beside it.
    pub async fn begin_run_write(&self, run_pk: RunPk) -> Result<WriteTx, sqlx::Error> {
        self.begin(Some(run_pk)).await
    }

    async fn begin(&self, run: Option<RunPk>) -> Result<WriteTx, sqlx::Error> {
        let asked = Instant::now();
        let tx = match &self.write {
            Pool::Sqlite(write) => Conn::SqliteTx(write.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => {
                let mut tx = Conn::PostgresTx(pool.begin().await?);
                let lock = match run {
                    None => "SELECT pg_advisory_xact_lock(?), pg_notify(?, ?)",
                    Some(_) => "SELECT pg_advisory_xact_lock_shared(?), pg_notify(?, ?)",
                };
                // The notification is sent if, and when, the transaction commits.
                sql::query(lock)
                    .bind(WRITER_LOCK)
                    .bind(postgres::COMMITS)
                    .bind(&*self.instance)
                    .execute(&mut tx)
                    .await?;
                if let Some(run_pk) = run {
                    sql::query("SELECT pk FROM runs WHERE pk = ? FOR UPDATE")
                        .bind(run_pk)
                        .execute(&mut tx)
                        .await?;
                }
                tx
            }
        };
        let held_since = Instant::now();
        metrics::writer_waited(held_since - asked);
        Ok(WriteTx {
            tx,
            committed: self.committed.clone(),
            views: self.views.clone(),
            retry_base: Duration::from_millis(self.retry_base_ms.load(Ordering::Relaxed)),
            held_since,
            counts: Vec::new(),
        })
    }

    /// Sets the delay before a failed run's first automatic retry (the server's
    /// `RUNBOARD_RETRY_BASE_MS`, shared with the outbox's delivery retries).
    pub fn set_retry_base(&self, base: Duration) {
        let ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
        self.retry_base_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes after the next commit of a write transaction (or at once when
    /// one was committed since the last wait): the live stream's wake-up call.
    pub async fn next_commit(&self) {
        self.committed.notified().await
    }

    /// Dashboard reads kept until the next commit ([`view_cache`]).
    pub fn views(&self) -> &ViewCache {
        &self.views
    }

    /// The outbound policy that URLs stored for the server to call (webhooks,
    /// dispatch) are checked against, and that the outbox connects by. It starts
    /// with an empty allow list; start-up adds the configured one.
    pub fn outbound(&self) -> &Arc<Outbound> {
        &self.outbound
    }

    /// Whether the database answers a trivial read (`SELECT 1`): the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sql::query_scalar::<i64>("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.read)
            .await
            .map(|_| ())
    }

    /// The writer pool, for single-statement writes that need no transaction.
    pub fn writer(&self) -> &Pool {
        &self.write
    }

    /// Closes both pools, waiting for connections in use to come back. Bounded:
    /// sqlx's `Pool::close` can wait forever when a connection's return races
    /// with it (seen under CPU starvation in tests); what is left open then closes
    /// when the last handle to the pool is dropped.
    pub async fn close(&self) {
        let checkpoints = self.checkpoints.clone().map(Pool::Sqlite);
        for pool in [Some(&self.read), Some(&self.write), checkpoints.as_ref()]
            .into_iter()
            .flatten()
        {
            if tokio::time::timeout(CLOSE_WAIT, pool.close())
                .await
                .is_err()
            {
                tracing::warn!("a database pool did not close within {CLOSE_WAIT:?}; going on");
            }
        }
    }
}

/// How often the writer refreshes planner statistics.
const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);

/// `PRAGMA optimize`: `ANALYZE` (0x2) on every table (0x10000) whose statistics are
/// missing or whose size changed tenfold since, with SQLite's analysis limit (0x10),
/// sized by SQLite to stay under 100 ms on a 100 MB database on a Raspberry Pi 4.
/// Usually a no-op; a failure only costs plan quality, so it is logged, not returned.
async fn optimize(write: &SqlitePool) {
    if let Err(error) = sqlx::query("PRAGMA optimize = 0x10012")
        .execute(write)
        .await
    {
        tracing::warn!(%error, "PRAGMA optimize failed");
    }
}

async fn optimize_periodically(write: SqlitePool) {
    let mut every = tokio::time::interval(OPTIMIZE_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        if write.is_closed() {
            return;
        }
        optimize(&write).await;
    }
}

/// How often the write-ahead log is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies what was committed to the write-ahead log into the database file,
/// every [`CHECKPOINT_EVERY`], without waiting for readers or the writer
/// (`PASSIVE`); when nothing was written since the last one, it does nothing.
/// The writer's own checkpoint (in the commit that passes 1,000 pages) then
/// finishes the job and lets the log restart.
async fn checkpoint_periodically(pool: SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(%error, "checkpoint of the write-ahead log failed; trying again");
        }
    }
}

/// The file a `sqlite:` URL names (`None` for an in-memory database): where
/// backups read from and restores write to, and what the server's lock sits beside.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// The directory a `sqlite:` URL's file lives in, so it can be created on first start.
fn sqlite_file_parent(url: &str) -> Option<std::path::PathBuf> {
    let file = sqlite_file(url)?;
    let parent = file.parent()?;
    (!parent.as_os_str().is_empty()).then(|| parent.to_path_buf())
}

/// Now, in the unit the schema stores: milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A duration in whole milliseconds, as timestamps are stored (saturating).
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A stored millisecond timestamp as a UTC time.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_directory_is_taken_from_the_url() {
        assert_eq!(
            sqlite_file_parent("sqlite://data/runboard.db"),
            Some("data".into())
        );
        assert_eq!(
            sqlite_file_parent("sqlite:/tmp/x/r.db?mode=rwc"),
            Some("/tmp/x".into())
        );
        assert_eq!(sqlite_file_parent("sqlite::memory:"), None);
        assert_eq!(sqlite_file_parent("sqlite://runboard.db"), None);
        assert_eq!(
            sqlite_file("sqlite://data/runboard.db?mode=rwc"),
            Some("data/runboard.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
