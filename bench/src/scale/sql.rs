//! Multi-row `INSERT`s. Inserting a batch with one statement rather than one
//! statement per row matters far more than statement overhead here: inside a
//! transaction every writing statement opens a savepoint, and FTS5 writes its
//! pending terms to disk as a new segment at every savepoint. With one `INSERT`
//! per event, each event becomes its own FTS segment, and the automatic merging of
//! those segments dominates the insert (measured: 4–7× slower; docs/performance.md,
//! "Scale benchmark").

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// SQLite's default limit on bound parameters (since 3.32).
const MAX_PARAMETERS: usize = 32_766;

/// `INSERT INTO …(columns) VALUES (?, …), (?, …)…` for `rows` rows.
pub fn insert_sql(head: &str, columns: usize, rows: usize) -> String {
    let tuple = format!("({})", vec!["?"; columns].join(", "));
    format!("{head} VALUES {}", vec![tuple; rows].join(", "))
}

/// Inserts `values` (row after row, `columns` values each) with as few
/// statements as the parameter limit allows.
pub fn insert_rows(
    conn: &Connection,
    head: &str,
    columns: usize,
    values: &[Value],
) -> rusqlite::Result<()> {
    let rows_per_statement = (MAX_PARAMETERS / columns).max(1);
    for chunk in values.chunks(rows_per_statement * columns) {
        let mut statement =
            conn.prepare_cached(&insert_sql(head, columns, chunk.len() / columns))?;
        statement.execute(params_from_iter(chunk))?;
    }
    Ok(())
}

/// An optional integer as a column value.
pub fn int(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::Integer)
}

/// An optional text as a column value.
pub fn text(value: Option<impl Into<String>>) -> Value {
    value.map_or(Value::Null, |value| Value::Text(value.into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_statement_holds_many_rows() {
        assert_eq!(
            insert_sql("INSERT INTO t (a, b)", 2, 3),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)"
        );
    }

    #[test]
    fn rows_beyond_the_parameter_limit_take_another_statement() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT)")
            .unwrap();
        let values: Vec<Value> = (0..20_000)
            .flat_map(|index| [Value::Integer(index), text(Some(format!("row {index}")))])
            .collect();
        insert_rows(&conn, "INSERT INTO t (a, b)", 2, &values).unwrap();
        let count: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 20_000);
    }
}
