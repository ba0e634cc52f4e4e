//! The PostgreSQL schema (`migrations/postgres/`) against SQLite's: the same
//! tables with the same columns (types by one rule, the same nullability), the
//! same indexes and triggers, and the triggers keeping the same rollups. Full
//! text is the one difference: SQLite's FTS5 tables and the triggers that feed
//! them, PostgreSQL's `tsvector` columns and their GIN indexes.
//!
//! Runs against the cluster `scripts/dev test` starts and names in
//! `RUNBOARD_TEST_POSTGRES_URL`, in a database of its own; without it the tests
//! say they were skipped, unless `RUNBOARD_REQUIRE_POSTGRES` is set (as the
//! test command sets it).

use crate::helpers::sqlite_only;
use sqlx::postgres::PgPool;
use sqlx::{Executor, SqlitePool};
use std::collections::{BTreeMap, BTreeSet};
use store::db::Db;
use uuid::Uuid;

/// A database of its own on the test cluster, dropped at the end.
struct PgDatabase {
    server: PgPool,
    name: String,
    /// Its URL, and a pool on it.
    url: String,
    pool: PgPool,
}

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        let Ok(url) = std::env::var("RUNBOARD_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("RUNBOARD_REQUIRE_POSTGRES").is_none(),
                "RUNBOARD_TEST_POSTGRES_URL is not set; scripts/dev test starts PostgreSQL"
            );
            eprintln!(
                "skipped: no PostgreSQL (RUNBOARD_TEST_POSTGRES_URL); scripts/dev test runs this"
            );
            return None;
        };
        let server = PgPool::connect(&url).await.expect("the test cluster");
        let name = format!("runboard_{}", Uuid::new_v4().simple());
        server
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let (base, _) = url.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        let pool = PgPool::connect(&url).await.unwrap();
        Some(PgDatabase {
            server,
            name,
            url,
            pool,
        })
    }

    async fn drop(self) {
        self.pool.close().await;
        let _ = self
            .server
            .execute(format!("DROP DATABASE {} WITH (FORCE)", self.name).as_str())
            .await;
    }
}

async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/schema.db", dir.path().display()))
        .await
        .unwrap();
    (dir, db)
}

/// SQLite's full-text tables (FTS5 and its shadow tables, the pieces' bookkeeping).
fn sqlite_only_table(name: &str) -> bool {
    name.starts_with("runs_fts") || name.starts_with("event_text") || name.starts_with("sqlite_")
}

/// The triggers that feed SQLite's full-text tables.
const SQLITE_ONLY_TRIGGERS: &[&str] = &[
    "runs_fts_insert",
    "runs_fts_delete",
    "runs_fts_update",
    "event_text_queue_gone",
];

/// PostgreSQL's full text: a `tsvector` column on runs and on events.
const POSTGRES_ONLY_COLUMNS: &[(&str, &str)] = &[("runs", "search"), ("events", "search")];
const POSTGRES_ONLY_INDEXES: &[&str] = &["runs_search", "events_search"];

/// A column as both schemas describe it: name, type by the shared rule, not null.
type Column = (String, &'static str, bool);

fn sqlite_type(declared: &str) -> &'static str {
    match declared.to_ascii_uppercase().as_str() {
        "INTEGER" => "integer",
        "TEXT" => "text",
        "BLOB" => "bytes",
        "REAL" => "float",
        _ => "other",
    }
}

fn postgres_type(data_type: &str) -> &'static str {
    match data_type {
        "bigint" => "integer",
        "text" => "text",
        "bytea" => "bytes",
        "double precision" => "float",
        _ => "other",
    }
}

async fn sqlite_tables(pool: &SqlitePool) -> BTreeMap<String, Vec<Column>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name != '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut tables = BTreeMap::new();
    for name in names.into_iter().filter(|name| !sqlite_only_table(name)) {
        let columns: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .unwrap();
        let columns = columns
            .into_iter()
            .map(|(column, declared, not_null, pk)| {
                (column, sqlite_type(&declared), not_null == 1 || pk > 0)
            })
            .collect();
        tables.insert(name, columns);
    }
    tables
}

async fn postgres_tables(pool: &PgPool) -> BTreeMap<String, Vec<Column>> {
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name != '_sqlx_migrations'
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut tables: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for (table, column, data_type, nullable) in columns {
        if POSTGRES_ONLY_COLUMNS.contains(&(table.as_str(), column.as_str())) {
            assert_eq!(data_type, "tsvector", "{table}.{column}");
            continue;
        }
        tables.entry(table).or_default().push((
            column,
            postgres_type(&data_type),
            nullable == "NO",
        ));
    }
    tables
}

#[tokio::test]
async fn the_postgres_schema_has_sqlites_tables_columns_indexes_and_triggers() {
    if sqlite_only() {
        return;
    }
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    store::db::postgres::MIGRATOR.run(&pg.pool).await.unwrap();
    let (_dir, db) = sqlite().await;

    let sqlite = sqlite_tables(db.read.sqlite().unwrap()).await;
    let postgres = postgres_tables(&pg.pool).await;
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite {
        assert_eq!(
            columns, &postgres[table],
            "{table}: the same columns in the same order, types and nullability"
        );
    }

    let sqlite_indexes: BTreeSet<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(db.read.sqlite().unwrap())
    .await
    .unwrap()
    .into_iter()
    .filter(|name: &String| !sqlite_only_table(name))
    .collect();
    // Key and unique constraints have indexes of their own names in PostgreSQL,
    // automatic ones in SQLite: only the indexes made by CREATE INDEX compare.
    let postgres_indexes: BTreeSet<String> = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i
         WHERE i.schemaname = 'public' AND i.tablename != '_sqlx_migrations'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(&pg.pool)
    .await
    .unwrap()
    .into_iter()
    .filter(|name: &String| !POSTGRES_ONLY_INDEXES.contains(&name.as_str()))
    .collect();
    assert_eq!(sqlite_indexes, postgres_indexes, "the same indexes");

    let sqlite_triggers: BTreeSet<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(db.read.sqlite().unwrap())
            .await
            .unwrap()
            .into_iter()
            .filter(|name: &String| !SQLITE_ONLY_TRIGGERS.contains(&name.as_str()))
            .collect();
    let postgres_triggers: BTreeSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT trigger_name::text FROM information_schema.triggers
         WHERE trigger_schema = 'public'",
    )
    .fetch_all(&pg.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(sqlite_triggers, postgres_triggers, "the same triggers");
    pg.drop().await;
}

#[tokio::test]
async fn the_postgres_migrations_apply_once_and_are_recorded() {
    if sqlite_only() {
        return;
    }
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let pool = store::db::postgres::connect(&pg.url).await.unwrap();
    // A second start finds nothing to do.
    store::db::postgres::MIGRATOR.run(&pool).await.unwrap();
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<i64> = store::db::postgres::MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .collect();
    assert_eq!(applied, expected);
    assert!(!applied.is_empty());
    pool.close().await;
    pg.drop().await;
}

/// The tables the triggers keep (and `run_counts`, which the scenario keeps as
/// the store does), with the columns that identify and count a row.
const ROLLUPS: &[(&str, &str)] = &[
    ("agent_hours", "agent_pk, hour, status, runs, retries"),
    ("agent_hour_times", "agent_pk, kind, hour, upper_ms, runs"),
    (
        "agent_hour_steps",
        "agent_pk, hour, name, status, code, steps, cache_hits",
    ),
    ("agent_hour_usage", "agent_pk, hour, tokens, cost_usd"),
    ("agent_day_times", "agent_pk, kind, day, upper_ms, runs"),
    (
        "agent_day_steps",
        "agent_pk, day, name, status, code, steps, cache_hits",
    ),
    ("campaign_counts", "campaign_pk, status, count"),
    ("run_counts", "account_pk, day, agent_pk, status, count"),
    ("histogram_bounds", "upper_ms"),
];

/// The scenario's statements, with `{blob:HEX}` spelt by `blob`.
fn scenario(blob: impl Fn(&str) -> String) -> Vec<String> {
    include_str!("postgres_rollups.sql")
        .lines()
        .filter(|line| !line.starts_with("--") && !line.trim().is_empty())
        .map(|line| {
            let mut line = line.to_string();
            while let Some(start) = line.find("{blob:") {
                let end = start + line[start..].find('}').unwrap();
                let spelt = blob(&line[start + 6..end]);
                line.replace_range(start..=end, &spelt);
            }
            line
        })
        .collect()
}

/// A value as both databases give it back.
#[derive(Debug, PartialEq)]
enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// A table's rows as values, `width` columns each, in one order on both sides
/// (the databases order NULLs and text apart).
fn values<R>(rows: &[R], width: usize) -> Vec<Vec<Value>>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let value = |row: &R, index: usize| {
        if let Ok(number) = row.try_get::<Option<i64>, _>(index) {
            return number.map_or(Value::Null, Value::Integer);
        }
        if let Ok(number) = row.try_get::<Option<f64>, _>(index) {
            return number.map_or(Value::Null, Value::Real);
        }
        row.try_get::<Option<String>, _>(index)
            .unwrap()
            .map_or(Value::Null, Value::Text)
    };
    let mut rows: Vec<Vec<Value>> = rows
        .iter()
        .map(|row| (0..width).map(|index| value(row, index)).collect())
        .collect();
    rows.sort_by_cached_key(|row| format!("{row:?}"));
    rows
}

/// One of the two databases compared.
#[derive(Clone, Copy)]
enum Side<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

/// Every rollup table's rows.
async fn rollups(side: Side<'_>) -> BTreeMap<&'static str, Vec<Vec<Value>>> {
    let mut rollups = BTreeMap::new();
    for (table, columns) in ROLLUPS {
        let sql = format!("SELECT {columns} FROM {table}");
        let width = columns.split(',').count();
        let rows = match side {
            Side::Sqlite(pool) => values(&sqlx::query(&sql).fetch_all(pool).await.unwrap(), width),
            Side::Postgres(pool) => {
                values(&sqlx::query(&sql).fetch_all(pool).await.unwrap(), width)
            }
        };
        rollups.insert(*table, rows);
    }
    rollups
}

#[tokio::test]
async fn the_postgres_triggers_keep_the_same_rollups_as_sqlites() {
    if sqlite_only() {
        return;
    }
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    store::db::postgres::MIGRATOR.run(&pg.pool).await.unwrap();
    let (_dir, db) = sqlite().await;

    let mut tx = db.begin_write().await.unwrap();
    for statement in scenario(|hex| format!("X'{hex}'")) {
        store::db::sql::query(statement.clone())
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|error| panic!("SQLite: {statement}: {error}"));
    }
    tx.commit().await.unwrap();
    let mut pg_tx = pg.pool.begin().await.unwrap();
    for statement in scenario(|hex| format!("'\\x{hex}'::bytea")) {
        sqlx::query(&statement)
            .execute(&mut *pg_tx)
            .await
            .unwrap_or_else(|error| panic!("PostgreSQL: {statement}: {error}"));
    }
    pg_tx.commit().await.unwrap();

    let sqlite = rollups(Side::Sqlite(db.read.sqlite().unwrap())).await;
    let postgres = rollups(Side::Postgres(&pg.pool)).await;
    for (table, _) in ROLLUPS {
        assert!(
            !sqlite[table].is_empty(),
            "{table}: the scenario leaves rows to compare"
        );
        assert_eq!(sqlite[table], postgres[table], "{table}");
    }

    // The account goes, and every rollup of it with it, on both.
    let mut tx = db.begin_write().await.unwrap();
    store::db::sql::query("DELETE FROM accounts")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("DELETE FROM accounts")
        .execute(&pg.pool)
        .await
        .unwrap();
    assert_eq!(
        rollups(Side::Sqlite(db.read.sqlite().unwrap())).await,
        rollups(Side::Postgres(&pg.pool)).await
    );
    pg.drop().await;
}
