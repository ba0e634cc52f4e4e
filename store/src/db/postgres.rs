//! The PostgreSQL backend's schema, the first part of PostgreSQL as a second
//! store (issue 17): its migrations live in `migrations/postgres/`, beside
//! SQLite's, and keep one schema with them — the same tables, columns, indexes
//! and rollup triggers (`server/tests/it/postgres_schema.rs` compares the two
//! and checks the triggers keep the same rollups), with full text as `tsvector`
//! columns under GIN indexes where SQLite has FTS5 tables. The queries do not
//! run on it yet: `DATABASE_URL` must still name a SQLite database.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Connects to the PostgreSQL database at `url` and brings its schema up to date.
pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
