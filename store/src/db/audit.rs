//! The audit log: who did what, when and from where. Every write function a
//! person reaches takes an [`Actor`] and calls [`record`] inside its own write
//! transaction, so an entry exists exactly when the change does.

use super::{from_ms, now_ms};
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{AccountPk, AppError, AuditAction, AuditEntry, AuditPage, UserPk, Via};
use serde_json::Value;

/// Who is acting, for the audit log and for scoping: `account_pk` is the
/// account every query of the action is limited to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub account_pk: AccountPk,
    /// `None` for the server itself and the command line.
    pub user_pk: Option<UserPk>,
    /// The person's email, or `system`.
    pub name: String,
    pub via: Via,
    /// The client's address, when the action came over HTTP.
    pub ip: Option<String>,
}

impl Actor {
    /// The server acting on its own behalf (the command line, demo mode).
    pub fn system(account_pk: AccountPk, via: Via) -> Actor {
        Actor {
            account_pk,
            user_pk: None,
            name: "system".to_string(),
            via,
            ip: None,
        }
    }
}

/// What an action was done to.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub kind: Option<&'static str>,
    pub id: Option<String>,
    pub detail: Option<Value>,
}

impl Target {
    pub fn new(kind: &'static str, id: impl ToString) -> Target {
        Target {
            kind: Some(kind),
            id: Some(id.to_string()),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: Value) -> Target {
        self.detail = Some(detail);
        self
    }
}

/// Writes one entry; call it inside the transaction of the change it records.
pub async fn record(
    conn: &mut Conn,
    actor: &Actor,
    action: AuditAction,
    target: Target,
) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO audit_log (account_pk, created_at, actor_user_pk, actor, via, action,
                                target_type, target_id, detail, ip)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(actor.account_pk)
    .bind(now_ms())
    .bind(actor.user_pk)
    .bind(&actor.name)
    .bind(actor.via.to_string())
    .bind(action.as_str())
    .bind(target.kind)
    .bind(target.id)
    .bind(target.detail.map(|detail| detail.to_string()))
    .bind(&actor.ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// The most entries one page holds.
pub const MAX_AUDIT_PAGE: i64 = 500;

/// Which entries [`list`] reads.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub limit: i64,
    /// Entries older than this id.
    pub cursor: Option<i64>,
    /// An actor's email (case-insensitive) or `system`.
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    pk: i64,
    created_at: i64,
    actor: String,
    via: String,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    detail: Option<String>,
    ip: Option<String>,
}

/// A page of an account's audit log, newest first.
pub async fn list(
    pool: &Pool,
    account_pk: AccountPk,
    query: &AuditQuery,
) -> Result<AuditPage, AppError> {
    if query.cursor.is_some_and(|cursor| cursor < 0) {
        return Err(AppError::invalid(
            "cursor",
            "cursor must be the nextCursor of a previous page",
        ));
    }
    if !(1..=MAX_AUDIT_PAGE).contains(&query.limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_AUDIT_PAGE}"),
        ));
    }
    let mut sql: SqlBuilder = SqlBuilder::new(
        "SELECT pk, created_at, actor, via, action, target_type, target_id, detail, ip
         FROM audit_log WHERE account_pk = ",
    );
    sql.push_bind(account_pk);
    if let Some(cursor) = query.cursor {
        sql.push(" AND pk < ").push_bind(cursor);
    }
    if let Some(actor) = &query.actor {
        sql.push(" AND actor = ")
            .push_bind(super::users::normalize_email(actor));
    }
    if let Some(action) = query.action {
        sql.push(" AND action = ").push_bind(action.as_str());
    }
    sql.push(" ORDER BY pk DESC LIMIT ").push_bind(query.limit);
    let rows: Vec<AuditRow> = sql.build_query_as().fetch_all(pool).await?;
    let full = rows.len() as i64 == query.limit;
    let entries: Vec<AuditEntry> = rows
        .into_iter()
        .filter_map(|row| {
            Some(AuditEntry {
                id: row.pk,
                at: from_ms(row.created_at),
                actor: row.actor,
                via: row.via.parse().ok()?,
                action: row.action.parse().ok()?,
                target_type: row.target_type,
                target_id: row.target_id,
                detail: row.detail.and_then(|text| serde_json::from_str(&text).ok()),
                ip: row.ip,
            })
        })
        .collect();
    let next_cursor = if full {
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}
