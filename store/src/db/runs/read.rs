//! Reading one run: the stored record with the keys the server needs, by public
//! id (within an account, or any account for runner callbacks) or by key.

use crate::db::from_ms;
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{AccountPk, AppError, Run, RunError, RunPk, WebhookStatus};
use uuid::Uuid;

/// The columns of a [`Run`], selected from `runs r` and its joins.
const RUN_SELECT: &str =
    "SELECT r.pk, r.account_pk, r.id, a.slug AS agent, c.id AS campaign_id, r.status,
        r.progress, r.initiator, r.summary, r.input, r.context, r.error_code, r.error_message,
        r.error_details, r.created_at, r.started_at, r.completed_at, r.updated_at, r.duration_ms,
        r.webhook_url, r.webhook_status, rr.id AS retry_of, r.attempt, r.last_seen_at,
        r.lease_expires_at, r.retry_at, r.pinned <> 0 AS pinned, r.tags
    FROM runs r
    JOIN agents a ON a.pk = r.agent_pk
    LEFT JOIN campaigns c ON c.pk = r.campaign_pk
    LEFT JOIN runs rr ON rr.pk = r.retry_of_pk";

#[derive(sqlx::FromRow)]
struct RunRecord {
    pk: RunPk,
    account_pk: AccountPk,
    id: String,
    agent: String,
    campaign_id: Option<String>,
    status: String,
    progress: f64,
    initiator: Option<String>,
    summary: Option<String>,
    input: String,
    context: String,
    error_code: Option<String>,
    error_message: Option<String>,
    error_details: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    completed_at: Option<i64>,
    updated_at: i64,
    duration_ms: Option<i64>,
    webhook_url: Option<String>,
    webhook_status: String,
    retry_of: Option<String>,
    attempt: i64,
    last_seen_at: Option<i64>,
    lease_expires_at: Option<i64>,
    retry_at: Option<i64>,
    pinned: bool,
    tags: Option<String>,
}

/// A stored run with the keys the server needs beside the public record.
#[derive(Clone, Debug)]
pub struct StoredRun {
    pub pk: RunPk,
    pub account_pk: AccountPk,
    pub run: Run,
}

impl RunRecord {
    fn into_stored(self) -> Result<StoredRun, AppError> {
        let corrupt = |what: &str| {
            tracing::error!(run = %self.id, "stored run has an invalid {what}");
            AppError::Internal
        };
        let error = self.error_message.clone().map(|message| RunError {
            code: self.error_code.clone(),
            message,
            details: self
                .error_details
                .as_deref()
                .and_then(|details| serde_json::from_str(details).ok()),
        });
        let run = Run {
            id: self.id.parse().map_err(|_| corrupt("id"))?,
            agent: self.agent.clone(),
            campaign_id: self.campaign_id.as_deref().and_then(|id| id.parse().ok()),
            status: self.status.parse().map_err(|_| corrupt("status"))?,
            progress: self.progress,
            initiator: self.initiator.clone(),
            summary: self.summary.clone(),
            input: serde_json::from_str(&self.input).map_err(|_| corrupt("input"))?,
            context: serde_json::from_str(&self.context).map_err(|_| corrupt("context"))?,
            error,
            created_at: from_ms(self.created_at),
            started_at: self.started_at.map(from_ms),
            completed_at: self.completed_at.map(from_ms),
            updated_at: from_ms(self.updated_at),
            duration_ms: self.duration_ms,
            webhook_url: self.webhook_url.clone(),
            webhook_status: WebhookStatus::parse(&self.webhook_status),
            retry_of: self.retry_of.as_deref().and_then(|id| id.parse().ok()),
            attempt: self.attempt,
            last_seen_at: self.last_seen_at.map(from_ms),
            lease_expires_at: self.lease_expires_at.map(from_ms),
            retry_at: self.retry_at.map(from_ms),
            pinned: self.pinned,
            tags: parse_tags(self.tags.as_deref()),
        };
        Ok(StoredRun {
            pk: self.pk,
            account_pk: self.account_pk,
            run,
        })
    }
}

/// A run of an account by its public id; another account's run is `NotFound`.
pub async fn get_run(
    conn: &mut Conn,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<StoredRun, AppError> {
    let record: Option<RunRecord> =
        sql::query_as(format!("{RUN_SELECT} WHERE r.id = ? AND r.account_pk = ?"))
            .bind(id.to_string())
            .bind(account_pk)
            .fetch_optional(conn)
            .await?;
    record.ok_or(AppError::NotFound)?.into_stored()
}

/// A run by id whatever its account: for runner callbacks, whose token names the run.
pub async fn get_run_any_account(conn: &mut Conn, id: Uuid) -> Result<StoredRun, AppError> {
    let record: Option<RunRecord> = sql::query_as(format!("{RUN_SELECT} WHERE r.id = ?"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    record.ok_or(AppError::NotFound)?.into_stored()
}

pub async fn get_run_by_pk(conn: &mut Conn, pk: RunPk) -> Result<StoredRun, AppError> {
    let record: Option<RunRecord> = sql::query_as(format!("{RUN_SELECT} WHERE r.pk = ?"))
        .bind(pk)
        .fetch_optional(conn)
        .await?;
    record.ok_or(AppError::NotFound)?.into_stored()
}

/// [`get_run`] on a connection of `pool`: a request's read of one run.
pub async fn find_run(pool: &Pool, account_pk: AccountPk, id: Uuid) -> Result<StoredRun, AppError> {
    let mut conn = pool.acquire().await?;
    get_run(&mut conn, account_pk, id).await
}

/// [`get_run_any_account`] on a connection of `pool`.
pub async fn find_run_any_account(pool: &Pool, id: Uuid) -> Result<StoredRun, AppError> {
    let mut conn = pool.acquire().await?;
    get_run_any_account(&mut conn, id).await
}

/// [`get_run_by_pk`] on a connection of `pool`.
pub async fn find_run_by_pk(pool: &Pool, pk: RunPk) -> Result<StoredRun, AppError> {
    let mut conn = pool.acquire().await?;
    get_run_by_pk(&mut conn, pk).await
}

/// A run's stored tags (a JSON array, or NULL for none).
pub(crate) fn parse_tags(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// The newest completed run of the same agent created before `run`: what a run
/// is compared with by default.
pub async fn previous_completed(pool: &Pool, stored: &StoredRun) -> Result<Option<Uuid>, AppError> {
    let id: Option<String> = previous_completed_query(stored)
        .build_query_scalar()
        .fetch_optional(pool)
        .await?;
    Ok(id.and_then(|id| id.parse().ok()))
}

/// The SQL of [`previous_completed`]: newest first along the agent's completed
/// runs in the index, from just before the run.
pub fn previous_completed_query(stored: &StoredRun) -> SqlBuilder {
    let created_at = stored.run.created_at.timestamp_millis();
    let mut query = SqlBuilder::new("SELECT r.id FROM runs r");
    query
        .push_indexed_by("runs_account_agent_st")
        .push(" WHERE r.account_pk = ")
        .push_bind(stored.account_pk)
        .push(" AND r.agent_pk = (SELECT agent_pk FROM runs WHERE pk = ")
        .push_bind(stored.pk)
        .push(") AND r.status = 'completed' AND (r.created_at, r.pk) < (")
        .push_bind(created_at)
        .push(", ")
        .push_bind(stored.pk)
        .push(") ORDER BY r.created_at DESC, r.pk DESC LIMIT 1");
    query
}

/// The agent's latest runs besides `stored`, newest first: the runs the
/// comparison page offers to compare with.
pub async fn latest_of_agent(
    pool: &Pool,
    stored: &StoredRun,
    limit: i64,
) -> Result<Vec<model::RunChoice>, AppError> {
    let rows: Vec<(String, String, i64, Option<String>)> = latest_of_agent_query(stored, limit)
        .build_query_as()
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, created_at, summary)| {
            Some(model::RunChoice {
                id: id.parse().ok()?,
                status: status.parse().ok()?,
                created_at: from_ms(created_at),
                summary,
            })
        })
        .collect())
}

/// The SQL of [`latest_of_agent`].
pub fn latest_of_agent_query(stored: &StoredRun, limit: i64) -> SqlBuilder {
    let mut query = SqlBuilder::new("SELECT r.id, r.status, r.created_at, r.summary FROM runs r");
    query
        .push_indexed_by("runs_account_agent")
        .push(" WHERE r.account_pk = ")
        .push_bind(stored.account_pk)
        .push(" AND r.agent_pk = (SELECT agent_pk FROM runs WHERE pk = ")
        .push_bind(stored.pk)
        .push(") AND r.pk <> ")
        .push_bind(stored.pk)
        .push(" ORDER BY r.created_at DESC LIMIT ")
        .push_bind(limit);
    query
}
