//! The PostgreSQL backend: its migrations live in `migrations/postgres/`, beside
//! SQLite's, and keep one schema with them — the same tables, columns, indexes
//! and rollup triggers (`server/tests/it/postgres_schema.rs` compares the two
//! and checks the triggers keep the same rollups), with full text as `tsvector`
//! columns under GIN indexes where SQLite has FTS5 tables.
//!
//! Several servers may share one PostgreSQL database. Each write transaction
//! notifies [`COMMITS`] with its server's id, and each server listens there:
//! another server's commit drops its kept views and wakes its live stream, as
//! its own commits do. Notifications only hasten what the live stream's tail
//! (once a second) and the views' age bound would do anyway, so one lost while
//! the listening connection reconnects costs latency, never a change.

use super::Db;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::time::Duration;

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// The notification channel of committed write transactions; the payload is
/// the committing server's [`Db::instance`].
pub const COMMITS: &str = "runboard_commits";

/// Connections per server: reads and writes share them, and one more listens
/// for other servers' commits.
const MAX_CONNECTIONS: u32 = 9;

/// Connects to the PostgreSQL database at `url` and brings its schema up to date.
pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect(url)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// A connection of `pool` listening on [`COMMITS`].
pub async fn listen_for_commits(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(COMMITS).await?;
    Ok(listener)
}

/// Passes other servers' commits heard on `listener` to `db`, until its pool closes.
pub(super) async fn hear_commits(mut listener: PgListener, db: Db) {
    loop {
        match listener.recv().await {
            Ok(notification) => {
                if notification.payload() != db.instance() {
                    db.heard_commit_elsewhere();
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                // `recv` reconnects by itself; this is a failed reconnection.
                tracing::warn!(%error, "cannot listen for other servers' commits; trying again");
                db.heard_commit_elsewhere();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
