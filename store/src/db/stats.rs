//! Storage figures, for the storage page and the operator's `/metrics`: what is
//! cheap and exact from the database itself is read on request (the file's
//! size, the outbox's backlog, the runs not finished yet); the census of rows
//! per table and stored artifact bytes per account and agent reads whole tables
//! (seconds at 20M events) and is therefore taken now and then by the prune task
//! and kept in `storage_census`.

use super::{now_ms, Db};
use crate::db::sql::{self, Pool};
use model::{AccountPk, AgentArtifacts, AppError, TableRows};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The database file's pages and its write-ahead log, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileSizes {
    pub database_bytes: i64,
    pub free_bytes: i64,
    pub wal_bytes: i64,
}

/// `page_count × page_size`, `freelist_count × page_size` and the size of the
/// `-wal` file beside the database (0 in memory or when there is none).
pub async fn file_sizes(pool: &Pool) -> Result<FileSizes, AppError> {
    if pool.backend() == sql::Backend::Postgres {
        // The database's files on the server; PostgreSQL reuses its free space
        // itself, and its write-ahead log belongs to the whole cluster.
        let database_bytes: i64 = sql::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(pool)
            .await?;
        return Ok(FileSizes {
            database_bytes,
            ..FileSizes::default()
        });
    }
    let mut conn = pool.acquire().await?;
    let pragma = |name: &'static str| format!("PRAGMA {name}");
    let page_size: i64 = sql::query_scalar(pragma("page_size"))
        .fetch_one(&mut conn)
        .await?;
    let page_count: i64 = sql::query_scalar(pragma("page_count"))
        .fetch_one(&mut conn)
        .await?;
    let free_pages: i64 = sql::query_scalar(pragma("freelist_count"))
        .fetch_one(&mut conn)
        .await?;
    let files: Vec<(i64, String, String)> = sql::query_as("PRAGMA database_list")
        .fetch_all(&mut conn)
        .await?;
    let wal_bytes = files
        .iter()
        .find(|(_, name, file)| name == "main" && !file.is_empty())
        .and_then(|(_, _, file)| std::fs::metadata(format!("{file}-wal")).ok())
        .map_or(0, |metadata| metadata.len() as i64);
    Ok(FileSizes {
        database_bytes: page_count * page_size,
        free_bytes: free_pages * page_size,
        wal_bytes,
    })
}

/// Bytes on disk for `/metrics`: the database's pages as a reader sees them now
/// plus the write-ahead log, which holds recent commits until a checkpoint.
pub async fn database_size(db: &Db) -> Result<u64, AppError> {
    let sizes = file_sizes(&db.read).await?;
    Ok(u64::try_from(sizes.database_bytes + sizes.wal_bytes).unwrap_or(0))
}

/// Outbox deliveries not yet delivered or given up (the partial index `outbox_due`).
pub async fn outbox_pending(db: &Db) -> Result<i64, AppError> {
    Ok(
        sql::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&db.read)
            .await?,
    )
}

/// Runs requested, queued or running now, per agent slug and status, summed over
/// accounts and days from `run_counts` (the counters the runs list's chips read):
/// a few rows per agent and day, never the runs themselves.
pub async fn active_runs(db: &Db) -> Result<Vec<(String, String, i64)>, AppError> {
    Ok(sql::query_as(
        "SELECT a.slug, c.status, CAST(SUM(c.count) AS BIGINT) FROM run_counts c JOIN agents a ON a.pk = c.agent_pk
         WHERE c.status IN ('requested', 'queued', 'running')
         GROUP BY a.slug, c.status ORDER BY a.slug, c.status",
    )
    .fetch_all(&db.read)
    .await?)
}

/// Stored artifact files of one agent of one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountArtifacts {
    pub account_pk: AccountPk,
    pub agent: String,
    pub files: i64,
    pub bytes: i64,
}

/// What a census counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    pub tables: Vec<TableRows>,
    pub artifacts: Vec<AccountArtifacts>,
}

impl Census {
    /// One account's part of the artifact figures.
    pub fn artifacts_of(&self, account_pk: AccountPk) -> Vec<AgentArtifacts> {
        self.artifacts
            .iter()
            .filter(|each| each.account_pk == account_pk)
            .map(|each| AgentArtifacts {
                agent: each.agent.clone(),
                files: each.files,
                bytes: each.bytes,
            })
            .collect()
    }
}

/// A census as stored: when it was taken and how long it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCensus {
    pub counted_at: i64,
    pub duration_ms: i64,
    pub census: Census,
}

/// Counts the rows of every ordinary table (full-text indexes and their shadow
/// tables aside) and the stored artifact files and bytes per account and agent.
/// Reads only; whole tables, so it takes a while on a big database.
pub async fn count(pool: &Pool) -> Result<Census, AppError> {
    let names: Vec<(String, String, String)> =
        sql::query_as("SELECT schema, name, type FROM pragma_table_list")
            .postgres(
                "SELECT 'main', table_name::text, 'table' FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(pool)
            .await?;
    let mut tables = Vec::new();
    for (schema, name, kind) in names {
        if schema != "main"
            || kind != "table"
            || name.starts_with("sqlite_")
            || name.starts_with("_sqlx")
        {
            continue;
        }
        // The name comes from the schema itself; quoted as an identifier.
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let rows: i64 = sql::query_scalar(sql).fetch_one(pool).await?;
        tables.push(TableRows { table: name, rows });
    }
    tables.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.table.cmp(&b.table)));
    let artifacts: Vec<(AccountPk, String, i64, i64)> = sql::query_as(
        "SELECT r.account_pk, g.slug, count(*), CAST(coalesce(sum(a.size_bytes), 0) AS BIGINT)
         FROM artifacts a JOIN runs r ON r.pk = a.run_pk JOIN agents g ON g.pk = r.agent_pk
         WHERE a.stored = 1
         GROUP BY r.account_pk, r.agent_pk, g.slug ORDER BY r.account_pk, 4 DESC",
    )
    .fetch_all(pool)
    .await?;
    Ok(Census {
        tables,
        artifacts: artifacts
            .into_iter()
            .map(|(account_pk, agent, files, bytes)| AccountArtifacts {
                account_pk,
                agent,
                files,
                bytes,
            })
            .collect(),
    })
}

/// Takes a census and keeps it (replacing the last one).
pub async fn take_census(db: &Db) -> Result<StoredCensus, AppError> {
    let started = Instant::now();
    let census = count(&db.read).await?;
    let stored = StoredCensus {
        counted_at: now_ms(),
        duration_ms: started.elapsed().as_millis() as i64,
        census,
    };
    let text = serde_json::to_string(&stored.census).map_err(|_| AppError::Internal)?;
    let mut tx = db.begin_write().await?;
    sql::query(
        "INSERT INTO storage_census (pk, counted_at, duration_ms, census) VALUES (1, ?, ?, ?)
         ON CONFLICT (pk) DO UPDATE SET counted_at = excluded.counted_at,
             duration_ms = excluded.duration_ms, census = excluded.census",
    )
    .bind(stored.counted_at)
    .bind(stored.duration_ms)
    .bind(text)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// The last census, if one was taken.
pub async fn last_census(pool: &Pool) -> Result<Option<StoredCensus>, AppError> {
    let row: Option<(i64, i64, String)> =
        sql::query_as("SELECT counted_at, duration_ms, census FROM storage_census WHERE pk = 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(counted_at, duration_ms, text)| StoredCensus {
        counted_at,
        duration_ms,
        // A census that no longer parses is as good as none; the next one replaces it.
        census: serde_json::from_str(&text).unwrap_or_default(),
    }))
}
