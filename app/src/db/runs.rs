//! Runs: creation (with the flattened input fields that make any input field
//! filterable) and the filtered, newest-first list.

use super::{from_ms, now_ms};
use crate::model::{RunFilter, RunPage, RunRow, RunStatus};
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

/// Everything needed to insert a run. Timestamps are epoch milliseconds.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub agent: String,
    pub status: RunStatus,
    pub progress: f64,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub input: Value,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub error_message: Option<String>,
}

/// The agent's key, creating the agent on first use.
pub async fn ensure_agent(
    conn: &mut SqliteConnection,
    account_pk: i64,
    slug: &str,
) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    sqlx::query_scalar(
        "INSERT INTO agents (account_pk, slug, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (account_pk, slug) DO UPDATE SET slug = excluded.slug
         RETURNING pk",
    )
    .bind(account_pk)
    .bind(slug)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Inserts a run into an account and returns its public id.
pub async fn insert_run(
    conn: &mut SqliteConnection,
    account_pk: i64,
    run: &NewRun,
) -> Result<Uuid, sqlx::Error> {
    let agent_pk = ensure_agent(conn, account_pk, &run.agent).await?;
    let id = Uuid::now_v7();
    let duration_ms = match (run.started_at, run.completed_at) {
        (Some(started), Some(completed)) => Some((completed - started).max(0)),
        _ => None,
    };
    let run_pk: i64 = sqlx::query_scalar(
        "INSERT INTO runs (id, account_pk, agent_pk, status, progress, initiator, summary, input,
                           created_at, started_at, completed_at, updated_at, duration_ms, error_message)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(agent_pk)
    .bind(run.status.as_str())
    .bind(run.progress.clamp(0.0, 1.0))
    .bind(&run.initiator)
    .bind(&run.summary)
    .bind(run.input.to_string())
    .bind(run.created_at)
    .bind(run.started_at)
    .bind(run.completed_at)
    .bind(run.completed_at.unwrap_or(run.created_at))
    .bind(duration_ms)
    .bind(&run.error_message)
    .fetch_one(&mut *conn)
    .await?;

    for (path, value) in flatten_input(&run.input) {
        sqlx::query(
            "INSERT OR IGNORE INTO run_input_fields (run_pk, account_pk, path, value, created_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(run_pk)
        .bind(account_pk)
        .bind(path)
        .bind(value)
        .bind(run.created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// Every scalar leaf of a JSON input as `(dotted.path, text)`. Array elements get
/// their index as a path segment (`tags.0`). Strings are stored bare, other
/// scalars as their JSON text, so `input.count=5` and `input.name=Stripe` both match.
pub fn flatten_input(input: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        let join = |key: &str| {
            if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            }
        };
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    walk(&join(key), child, out);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(&join(&index.to_string()), child, out);
                }
            }
            Value::String(text) if !prefix.is_empty() => {
                out.push((prefix.to_string(), text.clone()))
            }
            other if !prefix.is_empty() => out.push((prefix.to_string(), other.to_string())),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", input, &mut out);
    out
}

/// Appends the WHERE clause shared by the list and its count.
fn push_filter(query: &mut QueryBuilder<'_, Sqlite>, account_pk: i64, filter: &RunFilter) {
    query.push(" WHERE r.account_pk = ").push_bind(account_pk);
    if !filter.statuses.is_empty() {
        query.push(" AND r.status IN (");
        let mut separated = query.separated(", ");
        for status in &filter.statuses {
            separated.push_bind(status.as_str());
        }
        query.push(")");
    }
    if let Some(agent) = &filter.agent {
        query
            .push(" AND r.agent_pk = (SELECT pk FROM agents WHERE account_pk = ")
            .push_bind(account_pk)
            .push(" AND slug = ")
            .push_bind(agent.clone())
            .push(")");
    }
}

/// One page of an account's runs, newest first, with the total that match.
/// The filter must already be validated ([`RunFilter::page`]).
pub async fn list_runs(
    pool: &SqlitePool,
    account_pk: i64,
    filter: &RunFilter,
    limit: i64,
    offset: i64,
) -> Result<RunPage, sqlx::Error> {
    let mut query = QueryBuilder::new(
        "SELECT r.id, a.slug, r.status, r.progress, r.initiator, r.summary,
                r.created_at, r.started_at, r.completed_at, r.duration_ms
         FROM runs r JOIN agents a ON a.pk = r.agent_pk",
    );
    push_filter(&mut query, account_pk, filter);
    query
        .push(" ORDER BY r.created_at DESC, r.pk DESC LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    type Row = (
        String,
        String,
        String,
        f64,
        Option<String>,
        Option<String>,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = query.build_query_as().fetch_all(pool).await?;
    let runs = rows
        .into_iter()
        .filter_map(
            |(
                id,
                agent,
                status,
                progress,
                initiator,
                summary,
                created,
                started,
                completed,
                duration,
            )| {
                Some(RunRow {
                    id: id.parse().ok()?,
                    agent,
                    status: status.parse().ok()?,
                    progress,
                    initiator,
                    summary,
                    created_at: from_ms(created),
                    started_at: started.map(from_ms),
                    completed_at: completed.map(from_ms),
                    duration_ms: duration,
                })
            },
        )
        .collect();

    let mut count = QueryBuilder::new("SELECT count(*) FROM runs r");
    push_filter(&mut count, account_pk, filter);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok(RunPage {
        runs,
        total,
        limit,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_is_flattened_to_every_scalar_leaf() {
        let fields = flatten_input(&json!({
            "company_name": "Stripe",
            "size": 5000,
            "address": {"city": "Dublin", "remote": true},
            "tags": ["fintech", null]
        }));
        let expected: Vec<(String, String)> = [
            ("address.city", "Dublin"),
            ("address.remote", "true"),
            ("company_name", "Stripe"),
            ("size", "5000"),
            ("tags.0", "fintech"),
            ("tags.1", "null"),
        ]
        .iter()
        .map(|(path, value)| (path.to_string(), value.to_string()))
        .collect();
        let mut fields = fields;
        fields.sort();
        assert_eq!(fields, expected);
    }

    #[test]
    fn a_scalar_input_has_no_fields() {
        assert!(flatten_input(&json!("just text")).is_empty());
    }
}
