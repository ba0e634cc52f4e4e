//! Figures the operator's `/metrics` reads at scrape time, when they are exact
//! and cheap from the database itself rather than counted in memory: the
//! database's size, the outbox's backlog, and the runs not finished yet.

use super::Db;
use model::AppError;
use sqlx::SqlitePool;
use std::path::PathBuf;

/// The file behind the main database (`None` for an in-memory one).
pub async fn database_file(pool: &SqlitePool) -> Result<Option<PathBuf>, AppError> {
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(pool)
            .await?;
    Ok(file.filter(|file| !file.is_empty()).map(PathBuf::from))
}

/// Bytes on disk: the pages of the database (as a reader sees it now) times the
/// page size, plus the write-ahead log, which holds recent commits until a
/// checkpoint copies them into the file.
pub async fn database_size(db: &Db) -> Result<u64, AppError> {
    let (pages, page_size): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size)",
    )
    .fetch_one(&db.read)
    .await?;
    let wal = match database_file(&db.read).await? {
        Some(file) => {
            let mut wal = file.into_os_string();
            wal.push("-wal");
            std::fs::metadata(wal).map(|meta| meta.len()).unwrap_or(0)
        }
        None => 0,
    };
    Ok(u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0) + wal)
}

/// Outbox deliveries not yet delivered or given up (the partial index `outbox_due`).
pub async fn outbox_pending(db: &Db) -> Result<i64, AppError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&db.read)
            .await?,
    )
}

/// Runs requested, queued or running now, per agent slug and status, summed over
/// accounts and days from `run_counts` (the counters the runs list's chips read):
/// a few rows per agent and day, never the runs themselves.
pub async fn active_runs(db: &Db) -> Result<Vec<(String, String, i64)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT a.slug, c.status, SUM(c.count) FROM run_counts c JOIN agents a ON a.pk = c.agent_pk
         WHERE c.status IN ('requested', 'queued', 'running')
         GROUP BY a.slug, c.status ORDER BY a.slug, c.status",
    )
    .fetch_all(&db.read)
    .await?)
}
