//! Walking every run that matches a filter, newest first, in keyset batches: what
//! an export streams and what a bulk job acts on. Each batch is one query of its
//! own (no transaction is held between batches), under the one runs filter
//! ([`crate::db::filter::push_filter`], aggregate reading: every match, not a
//! page), so the export and bulk actions understand exactly the queries the list
//! does.
//!
//! The list item's columns and row type are here as well ([`ITEM_COLUMNS`],
//! [`ItemRow`]): the list's pages (`list.rs`) read the same ones.

use super::read::parse_tags;
use crate::db::filter::{push_filter, Reading};
use crate::db::from_ms;
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{AccountPk, AppError, RunFilter, RunPk, RunRow, RunRowError, WebhookStatus};

/// What a list item reads, from `runs r` and [`ITEM_JOINS`].
pub(crate) const ITEM_COLUMNS: &str =
    "SELECT r.pk, r.id, a.slug, c.name, r.status, r.progress, r.initiator,
        r.summary, r.created_at, r.started_at, r.completed_at, r.duration_ms, r.input,
        r.webhook_status, r.tags, r.error_code, r.error_message, r.last_seen_at";
pub(crate) const ITEM_JOINS: &str =
    " JOIN agents a ON a.pk = r.agent_pk LEFT JOIN campaigns c ON c.pk = r.campaign_pk";

/// A row of [`ITEM_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(crate) struct ItemRow {
    pk: i64,
    id: String,
    slug: String,
    name: Option<String>,
    status: String,
    progress: f64,
    initiator: Option<String>,
    summary: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    completed_at: Option<i64>,
    duration_ms: Option<i64>,
    input: String,
    webhook_status: String,
    tags: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    last_seen_at: Option<i64>,
}

impl ItemRow {
    /// Where this row is in the newest-first order.
    pub(crate) fn position(&self) -> Position {
        Position {
            created_at: self.created_at,
            pk: self.pk,
        }
    }

    /// The run's duration, the key of a duration order.
    pub(crate) fn duration_ms(&self) -> Option<i64> {
        self.duration_ms
    }

    /// The row as a list item; `None` for a row whose stored id, status or input
    /// does not parse (never written by this server).
    pub(crate) fn into_run_row(self) -> Option<RunRow> {
        Some(RunRow {
            id: self.id.parse().ok()?,
            agent: self.slug,
            campaign: self.name,
            status: self.status.parse().ok()?,
            progress: self.progress,
            initiator: self.initiator,
            summary: self.summary,
            created_at: from_ms(self.created_at),
            started_at: self.started_at.map(from_ms),
            completed_at: self.completed_at.map(from_ms),
            duration_ms: self.duration_ms,
            input: serde_json::from_str(&self.input).ok()?,
            webhook_status: WebhookStatus::parse(&self.webhook_status),
            tags: parse_tags(self.tags.as_deref()),
            error: self.error_message.map(|message| RunRowError {
                code: self.error_code,
                message,
            }),
            last_seen_at: self.last_seen_at.map(from_ms),
        })
    }
}

/// A place in the newest-first order of runs, `(created_at, pk)`: a walk goes on
/// with the runs strictly below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub created_at: i64,
    pub pk: i64,
}

impl Position {
    /// Above every run: a walk from here starts with the newest.
    pub const TOP: Position = Position {
        created_at: i64::MAX,
        pk: i64::MAX,
    };

    /// Above every run created up to `at` (ms), below any created later.
    pub fn created_up_to(at: i64) -> Position {
        Position {
            created_at: at,
            pk: i64::MAX,
        }
    }
}

/// ` AND` the run comes after `below` in the newest-first order. The first
/// condition is implied by the second; it makes the batch one index range read
/// from the position on, as the list's keyset pages do.
fn push_below(query: &mut SqlBuilder, below: Position) {
    query
        .push(" AND r.created_at <= ")
        .push_bind(below.created_at)
        .push(" AND (r.created_at < ")
        .push_bind(below.created_at)
        .push(" OR (r.created_at = ")
        .push_bind(below.created_at)
        .push(" AND r.pk < ")
        .push_bind(below.pk)
        .push("))");
}

/// One batch of a walk: the list items read, and where the next batch starts
/// (`None` when this one was the last).
#[derive(Clone, Debug, Default)]
pub struct ItemBatch {
    pub items: Vec<RunRow>,
    pub next: Option<Position>,
}

/// The next at most `limit` list items matching `filter` below `below`, newest first.
pub async fn items_below(
    pool: &Pool,
    account_pk: AccountPk,
    filter: &RunFilter,
    below: Position,
    limit: i64,
) -> Result<ItemBatch, AppError> {
    let mut query = SqlBuilder::new(format!("{ITEM_COLUMNS} FROM runs r {ITEM_JOINS}"));
    push_filter(&mut query, account_pk, filter, Reading::Aggregate)?;
    push_below(&mut query, below);
    query
        .push(" ORDER BY r.created_at DESC, r.pk DESC LIMIT ")
        .push_bind(limit);
    let mut conn = pool.acquire().await?;
    let rows: Vec<ItemRow> = query.build_query_as().fetch_all(&mut conn).await?;
    // A walk reads each page once: what it leaves in the connection's page cache
    // (up to 32 MB on each of the pool's connections, 256 MB in all) only grows
    // the server's memory. Exporting 1M runs grew it by 170 MB, then 114 MB more.
    if conn.backend() == sql::Backend::Sqlite {
        sql::query("PRAGMA shrink_memory")
            .execute(&mut conn)
            .await?;
    }
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit;
    let next = rows.last().map(ItemRow::position).filter(|_| full);
    Ok(ItemBatch {
        items: rows.into_iter().filter_map(ItemRow::into_run_row).collect(),
        next,
    })
}

/// The keys and positions of the next at most `limit` runs matching `filter`
/// below `below`, newest first.
pub async fn keys_below(
    conn: &mut Conn,
    account_pk: AccountPk,
    filter: &RunFilter,
    below: Position,
    limit: i64,
) -> Result<Vec<(RunPk, Position)>, AppError> {
    let mut query = SqlBuilder::new("SELECT r.pk, r.created_at FROM runs r");
    push_filter(&mut query, account_pk, filter, Reading::Aggregate)?;
    push_below(&mut query, below);
    query
        .push(" ORDER BY r.created_at DESC, r.pk DESC LIMIT ")
        .push_bind(limit);
    let rows: Vec<(RunPk, i64)> = query.build_query_as().fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(pk, created_at)| {
            (
                pk,
                Position {
                    created_at,
                    pk: pk.0,
                },
            )
        })
        .collect())
}

/// A condition over `runs r`, written into a query.
pub type Condition = dyn Fn(&mut SqlBuilder) + Sync;

/// How many runs match `filter` below `below` (every one: no cap) and, of those,
/// how many also meet `also` (SQL over `runs r` appended with ` AND`, when given).
pub async fn count_below(
    pool: &Pool,
    account_pk: AccountPk,
    filter: &RunFilter,
    below: Position,
    also: Option<&Condition>,
) -> Result<(i64, i64), AppError> {
    let mut query = SqlBuilder::new("SELECT count(*), ");
    match also {
        Some(push) => {
            query.push("CAST(coalesce(sum(CASE WHEN ");
            push(&mut query);
            query.push(" THEN 1 ELSE 0 END), 0) AS BIGINT)");
        }
        None => {
            query.push("count(*)");
        }
    }
    query.push(" FROM runs r");
    push_filter(&mut query, account_pk, filter, Reading::Aggregate)?;
    push_below(&mut query, below);
    Ok(query.build_query_as().fetch_one(pool).await?)
}
