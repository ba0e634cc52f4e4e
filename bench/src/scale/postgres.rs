//! The scale database on PostgreSQL: a copy of the generated SQLite file.
//!
//! The two schemas have the same tables with the same columns in the same
//! order (`migrations/postgres/`), so the rows [`super::generate`] leaves in
//! SQLite are exactly the rows PostgreSQL would hold after the same history;
//! only the full-text index differs, and PostgreSQL computes its `search`
//! columns itself. Generating once and copying keeps one generator and one
//! data set for both tables of figures.
//!
//! The copy is a bulk load, as an operator would restore one: every table with
//! `COPY … FROM STDIN`, triggers off (the rollups arrive as rows of their own),
//! the secondary indexes dropped first and built after, the identity sequences
//! moved past the copied keys (explicit keys do not advance them), and
//! `VACUUM ANALYZE` at the end (statistics, and the visibility map that
//! index-only scans need).

use anyhow::{Context, Result};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sqlx::{Connection as _, Executor, PgConnection};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;
use tokio::sync::mpsc;

/// Bytes handed to `COPY` at a time.
const CHUNK: usize = 4 << 20;

/// Copies the SQLite database at `sqlite` into the PostgreSQL database at
/// `url`, unless that already holds runs (then it is reused as it is).
pub async fn load(sqlite: &Path, url: &str) -> Result<()> {
    // The schema, by the server's own migrations.
    store::db::Db::connect(url)
        .await
        .context("cannot open the PostgreSQL database")?
        .close()
        .await;
    let mut conn = PgConnection::connect(url).await?;
    let runs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM (SELECT 1 FROM runs LIMIT 1) AS probe")
            .fetch_one(&mut conn)
            .await?;
    if runs > 0 {
        eprintln!("reusing the PostgreSQL database (it holds runs)");
        return Ok(());
    }
    let started = Instant::now();
    eprintln!("copying {} into PostgreSQL…", sqlite.display());
    conn.execute(
        "SET session_replication_role = replica; SET maintenance_work_mem = '1GB';
         SET max_parallel_maintenance_workers = 2",
    )
    .await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()
         AND tablename <> '_sqlx_migrations' ORDER BY tablename",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.execute(format!("TRUNCATE {} RESTART IDENTITY CASCADE", tables.join(", ")).as_str())
        .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes i WHERE schemaname = current_schema()
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(&mut conn)
    .await?;
    for (name, _) in &indexes {
        conn.execute(format!("DROP INDEX {name}").as_str()).await?;
    }
    for table in &tables {
        copy_table(sqlite, &mut conn, table).await?;
    }
    for (name, definition) in &indexes {
        let began = Instant::now();
        conn.execute(definition.as_str()).await?;
        eprintln!("  index {name}: {:.0} s", began.elapsed().as_secs_f64());
    }
    move_identities_past_keys(&mut conn).await?;
    let began = Instant::now();
    conn.execute("VACUUM ANALYZE").await?;
    eprintln!("  VACUUM ANALYZE: {:.0} s", began.elapsed().as_secs_f64());
    conn.close().await?;
    eprintln!(
        "copied into PostgreSQL in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Copies one table's rows, the columns PostgreSQL does not compute itself.
async fn copy_table(sqlite: &Path, conn: &mut PgConnection, table: &str) -> Result<()> {
    let described: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let bytea: Vec<bool> = described.iter().map(|(_, kind)| kind == "bytea").collect();
    let columns: Vec<String> = described.into_iter().map(|(name, _)| name).collect();
    let began = Instant::now();
    let (sender, mut chunks) = mpsc::channel::<Vec<u8>>(4);
    let reader = {
        let (sqlite, table, columns) = (sqlite.to_path_buf(), table.to_string(), columns.clone());
        tokio::task::spawn_blocking(move || read_rows(&sqlite, &table, &columns, &bytea, sender))
    };
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", columns.join(", ")))
        .await?;
    while let Some(chunk) = chunks.recv().await {
        copy.send(chunk).await?;
    }
    let rows = match reader.await.context("the SQLite reader failed")? {
        Ok(rows) => rows,
        Err(error) => {
            copy.abort("the SQLite reader failed").await.ok();
            return Err(error);
        }
    };
    copy.finish().await?;
    if rows > 0 {
        eprintln!(
            "  {table}: {rows} rows in {:.0} s",
            began.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Reads `table`'s rows from SQLite as `COPY` text, in chunks; the number of rows.
fn read_rows(
    sqlite: &Path,
    table: &str,
    columns: &[String],
    bytea: &[bool],
    chunks: mpsc::Sender<Vec<u8>>,
) -> Result<u64> {
    let db = Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let exists: bool = db.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?",
        [table],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    let mut statement = db.prepare(&format!("SELECT {} FROM {table}", columns.join(", ")))?;
    let mut rows = statement.query([])?;
    let mut chunk = String::with_capacity(CHUNK + 64 * 1024);
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        for (index, &is_bytea) in bytea.iter().enumerate() {
            if index > 0 {
                chunk.push('\t');
            }
            copy_value(&mut chunk, row.get_ref(index)?, is_bytea);
        }
        chunk.push('\n');
        count += 1;
        if chunk.len() >= CHUNK {
            let full = std::mem::replace(&mut chunk, String::with_capacity(CHUNK + 64 * 1024));
            if chunks.blocking_send(full.into_bytes()).is_err() {
                anyhow::bail!("the copy into PostgreSQL stopped");
            }
        }
    }
    if !chunk.is_empty() && chunks.blocking_send(chunk.into_bytes()).is_err() {
        anyhow::bail!("the copy into PostgreSQL stopped");
    }
    Ok(count)
}

/// One value in `COPY`'s text format.
fn copy_value(out: &mut String, value: ValueRef<'_>, is_bytea: bool) {
    match value {
        ValueRef::Null => out.push_str("\\N"),
        ValueRef::Integer(number) => {
            let _ = write!(out, "{number}");
        }
        ValueRef::Real(number) if number.is_nan() => out.push_str("NaN"),
        ValueRef::Real(number) if number.is_infinite() => out.push_str(if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }),
        ValueRef::Real(number) => {
            let _ = write!(out, "{number:?}");
        }
        ValueRef::Blob(bytes) if is_bytea => {
            out.push_str("\\\\x");
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
        ValueRef::Blob(bytes) => escape_text(out, &String::from_utf8_lossy(bytes)),
        ValueRef::Text(bytes) => escape_text(out, &String::from_utf8_lossy(bytes)),
    }
}

fn escape_text(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // PostgreSQL's text holds no NUL; none is generated.
            '\0' => {}
            other => out.push(other),
        }
    }
}

/// Moves every identity sequence past the largest key copied.
async fn move_identities_past_keys(conn: &mut PgConnection) -> Result<()> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (table, column) in identities {
        conn.execute(
            format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                 coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
            )
            .as_str(),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_in_copys_text_format() {
        let mut out = String::new();
        copy_value(&mut out, ValueRef::Text(b"a\tb\\c\nd"), false);
        out.push('|');
        copy_value(&mut out, ValueRef::Null, false);
        out.push('|');
        copy_value(&mut out, ValueRef::Blob(&[0x01, 0xab]), true);
        out.push('|');
        copy_value(&mut out, ValueRef::Real(0.1), false);
        out.push('|');
        copy_value(&mut out, ValueRef::Integer(-42), false);
        assert_eq!(out, "a\\tb\\\\c\\nd|\\N|\\\\x01ab|0.1|-42");
    }
}
