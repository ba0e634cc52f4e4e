//! Runs: creation (with the flattened input fields that make any input field
//! filterable), the filtered newest-first list, and the one place where a run's
//! status changes ([`apply_status`]), which also settles its campaign and queues
//! its webhook in the same transaction.

use super::text_search::{self, TextMatch};
use super::{campaigns, changes, from_ms, now_ms, outbox, Db};
use model::{
    AppError, ChangeKind, Run, RunError, RunFilter, RunPage, RunRow, RunStatus, WebhookStatus,
};
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
    pub context: Value,
    pub campaign_pk: Option<i64>,
    pub webhook_url: Option<String>,
    pub retry_of_pk: Option<i64>,
    pub attempt: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub error_message: Option<String>,
}

impl NewRun {
    /// A fresh, requested run of `agent` created now.
    pub fn requested(agent: impl Into<String>, input: Value) -> NewRun {
        NewRun {
            agent: agent.into(),
            status: RunStatus::Requested,
            progress: 0.0,
            initiator: None,
            summary: None,
            input,
            context: Value::Object(Default::default()),
            campaign_pk: None,
            webhook_url: None,
            retry_of_pk: None,
            attempt: 1,
            created_at: now_ms(),
            started_at: None,
            completed_at: None,
            error_message: None,
        }
    }
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

/// Inserts a run into an account; returns its key and public id.
pub async fn insert_run(
    conn: &mut SqliteConnection,
    account_pk: i64,
    run: &NewRun,
) -> Result<(i64, Uuid), sqlx::Error> {
    let agent_pk = ensure_agent(conn, account_pk, &run.agent).await?;
    let id = Uuid::now_v7();
    let duration_ms = match (run.started_at, run.completed_at) {
        (Some(started), Some(completed)) => Some((completed - started).max(0)),
        _ => None,
    };
    let webhook_status = if run.webhook_url.is_some() {
        WebhookStatus::Pending
    } else {
        WebhookStatus::None
    };
    let run_pk: i64 = sqlx::query_scalar(
        "INSERT INTO runs (id, account_pk, agent_pk, campaign_pk, status, progress, initiator, summary,
                           input, context, created_at, started_at, completed_at, updated_at, duration_ms,
                           error_message, webhook_url, webhook_status, retry_of_pk, attempt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(agent_pk)
    .bind(run.campaign_pk)
    .bind(run.status.as_str())
    .bind(run.progress.clamp(0.0, 1.0))
    .bind(&run.initiator)
    .bind(&run.summary)
    .bind(run.input.to_string())
    .bind(run.context.to_string())
    .bind(run.created_at)
    .bind(run.started_at)
    .bind(run.completed_at)
    .bind(run.completed_at.unwrap_or(run.created_at))
    .bind(duration_ms)
    .bind(&run.error_message)
    .bind(&run.webhook_url)
    .bind(webhook_status.as_str())
    .bind(run.retry_of_pk)
    .bind(run.attempt)
    .fetch_one(&mut *conn)
    .await?;

    count_run(conn, run_pk, run.status.as_str(), 1).await?;
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
    Ok((run_pk, id))
}

/// Moves one run's weight in `run_counts` (the chips' and chart's counters).
async fn count_run(
    conn: &mut SqliteConnection,
    run_pk: i64,
    status: &str,
    delta: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO run_counts (account_pk, day, agent_pk, status, count)
         SELECT account_pk, created_at / 86400000, agent_pk, ?, ? FROM runs WHERE pk = ?
         ON CONFLICT (account_pk, day, agent_pk, status) DO UPDATE SET count = count + excluded.count",
    )
    .bind(status)
    .bind(delta)
    .bind(run_pk)
    .execute(conn)
    .await?;
    Ok(())
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

/// The columns of a [`Run`], selected from `runs r` and its joins.
const RUN_SELECT: &str =
    "SELECT r.pk, r.account_pk, r.id, a.slug AS agent, c.id AS campaign_id, r.status,
        r.progress, r.initiator, r.summary, r.input, r.context, r.error_code, r.error_message,
        r.error_details, r.created_at, r.started_at, r.completed_at, r.updated_at, r.duration_ms,
        r.webhook_url, r.webhook_status, rr.id AS retry_of, r.attempt
    FROM runs r
    JOIN agents a ON a.pk = r.agent_pk
    LEFT JOIN campaigns c ON c.pk = r.campaign_pk
    LEFT JOIN runs rr ON rr.pk = r.retry_of_pk";

#[derive(sqlx::FromRow)]
struct RunRecord {
    pk: i64,
    account_pk: i64,
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
}

/// A stored run with the keys the server needs beside the public record.
#[derive(Clone, Debug)]
pub struct StoredRun {
    pub pk: i64,
    pub account_pk: i64,
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
    conn: &mut SqliteConnection,
    account_pk: i64,
    id: Uuid,
) -> Result<StoredRun, AppError> {
    let record: Option<RunRecord> =
        sqlx::query_as(&format!("{RUN_SELECT} WHERE r.id = ? AND r.account_pk = ?"))
            .bind(id.to_string())
            .bind(account_pk)
            .fetch_optional(conn)
            .await?;
    record.ok_or(AppError::NotFound)?.into_stored()
}

/// A run by id whatever its account: for runner callbacks, whose token names the run.
pub async fn get_run_any_account(
    conn: &mut SqliteConnection,
    id: Uuid,
) -> Result<StoredRun, AppError> {
    let record: Option<RunRecord> = sqlx::query_as(&format!("{RUN_SELECT} WHERE r.id = ?"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    record.ok_or(AppError::NotFound)?.into_stored()
}

pub async fn get_run_by_pk(conn: &mut SqliteConnection, pk: i64) -> Result<StoredRun, AppError> {
    let record: Option<RunRecord> = sqlx::query_as(&format!("{RUN_SELECT} WHERE r.pk = ?"))
        .bind(pk)
        .fetch_optional(conn)
        .await?;
    record.ok_or(AppError::NotFound)?.into_stored()
}

/// What an owner asks for when creating a run.
#[derive(Clone, Debug, Default)]
pub struct CreateRun {
    pub agent: String,
    pub input: Option<Value>,
    pub campaign_id: Option<Uuid>,
    pub webhook_url: Option<String>,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub context: Option<Value>,
}

pub const MAX_SLUG_LEN: usize = 100;

/// Agent slugs: letters, digits, `-`, `_`, `.`; they appear in URLs and logs.
pub fn validate_slug(field: &str, slug: &str) -> Result<(), AppError> {
    let valid = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be 1–{MAX_SLUG_LEN} letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// An http(s) URL without spaces: where Runboard may post.
pub fn validate_http_url(field: &str, url: &str) -> Result<(), AppError> {
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be an http:// or https:// URL"),
        ))
    }
}

/// Creates a run (status `requested`) and, when its agent has a dispatch URL, queues
/// the job request for push dispatch. Returns the stored run.
pub async fn create_run(
    db: &Db,
    account_pk: i64,
    request: CreateRun,
) -> Result<StoredRun, AppError> {
    validate_slug("agent", &request.agent)?;
    if let Some(url) = &request.webhook_url {
        validate_http_url("webhookUrl", url)?;
    }
    let context = request
        .context
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut tx = db.begin_write().await?;
    let campaign_pk = match request.campaign_id {
        Some(id) => Some(
            campaigns::find_campaign_pk(&mut tx, account_pk, id)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("campaignId", format!("no campaign with id {id}"))
                })?,
        ),
        None => None,
    };
    let mut new_run = NewRun::requested(
        request.agent,
        request
            .input
            .unwrap_or_else(|| Value::Object(Default::default())),
    );
    new_run.initiator = request.initiator;
    new_run.summary = request.summary;
    new_run.context = context;
    new_run.campaign_pk = campaign_pk;
    new_run.webhook_url = request.webhook_url;
    let (run_pk, _) = insert_run(&mut tx, account_pk, &new_run).await?;
    let stored = after_insert(&mut tx, account_pk, run_pk).await?;
    tx.commit().await?;
    Ok(stored)
}

/// What follows a new run in the same transaction: its campaign is running, its
/// agent's dispatch URL (if any) gets the job, and the live stream announces it.
/// Returns the stored run.
async fn after_insert(
    conn: &mut SqliteConnection,
    account_pk: i64,
    run_pk: i64,
) -> Result<StoredRun, AppError> {
    let (campaign_pk, dispatch_url): (Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT r.campaign_pk, a.dispatch_url FROM runs r JOIN agents a ON a.pk = r.agent_pk WHERE r.pk = ?",
    )
    .bind(run_pk)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(campaign_pk) = campaign_pk {
        campaigns::on_run_started(conn, campaign_pk, run_pk).await?;
    }
    if let Some(url) = dispatch_url {
        outbox::enqueue(conn, outbox::Kind::Dispatch, account_pk, run_pk, &url, "").await?;
    }
    let stored = get_run_by_pk(conn, run_pk).await?;
    changes::record(
        conn,
        account_pk,
        Some(stored.run.id),
        ChangeKind::RunCreated,
        &stored.run,
    )
    .await?;
    Ok(stored)
}

/// A status report: any of status, progress and error.
#[derive(Clone, Debug, Default)]
pub struct StatusUpdate {
    pub status: Option<RunStatus>,
    pub progress: Option<f64>,
    pub error: Option<RunError>,
}

/// The one place a run's status changes. Enforces the lifecycle (409
/// `illegal_transition`; 409 `run_finished` once terminal), clamps progress,
/// stamps startedAt/completedAt/durationMs, and for a terminal status settles the
/// campaign and queues the webhook — all in the caller's transaction.
pub async fn apply_status(
    conn: &mut SqliteConnection,
    run: &StoredRun,
    update: &StatusUpdate,
) -> Result<StoredRun, AppError> {
    let current = run.run.status;
    if current.is_terminal() {
        return Err(AppError::conflict(
            "run_finished",
            format!("run {} is already {current}", run.run.id),
        ));
    }
    let next = update.status.unwrap_or(current);
    if !current.can_transition_to(next) {
        return Err(AppError::conflict(
            "illegal_transition",
            format!("run {} cannot go from {current} to {next}", run.run.id),
        ));
    }
    let progress = match update.progress {
        Some(progress) if progress.is_nan() => {
            return Err(AppError::invalid(
                "progress",
                "progress must be a number between 0 and 1",
            ))
        }
        Some(progress) => Some(progress.clamp(0.0, 1.0)),
        None if next.is_terminal() => Some(1.0),
        None => None,
    };
    let now = now_ms();
    let started_at = run
        .run
        .started_at
        .map(|at| at.timestamp_millis())
        .or((next == RunStatus::Running).then_some(now));
    let completed_at = next.is_terminal().then_some(now);
    let duration_ms = completed_at.map(|completed| {
        completed - started_at.unwrap_or_else(|| run.run.created_at.timestamp_millis())
    });
    let error = update.error.as_ref();
    if next != current {
        count_run(conn, run.pk, current.as_str(), -1).await?;
        count_run(conn, run.pk, next.as_str(), 1).await?;
    }
    sqlx::query(
        "UPDATE runs SET status = ?, progress = COALESCE(?, progress), started_at = ?,
                completed_at = COALESCE(?, completed_at), duration_ms = COALESCE(?, duration_ms),
                error_code = COALESCE(?, error_code), error_message = COALESCE(?, error_message),
                error_details = COALESCE(?, error_details), updated_at = ?
         WHERE pk = ?",
    )
    .bind(next.as_str())
    .bind(progress)
    .bind(started_at)
    .bind(completed_at)
    .bind(duration_ms)
    .bind(error.and_then(|error| error.code.clone()))
    .bind(error.map(|error| error.message.clone()))
    .bind(error.and_then(|error| error.details.as_ref().map(Value::to_string)))
    .bind(now)
    .bind(run.pk)
    .execute(&mut *conn)
    .await?;

    let updated = get_run_by_pk(conn, run.pk).await?;
    if next.is_terminal() {
        if let Some(campaign_id) = updated.run.campaign_id {
            campaigns::on_run_finished(conn, run.account_pk, campaign_id, &updated).await?;
        }
        if let Some(url) = &updated.run.webhook_url {
            let payload = serde_json::to_string(&updated.run).map_err(|_| AppError::Internal)?;
            outbox::enqueue(
                conn,
                outbox::Kind::Webhook,
                run.account_pk,
                run.pk,
                url,
                &payload,
            )
            .await?;
        }
    }
    changes::record(
        conn,
        run.account_pk,
        Some(updated.run.id),
        ChangeKind::RunUpdated,
        &updated.run,
    )
    .await?;
    Ok(updated)
}

/// What an owner may change on a run.
#[derive(Clone, Debug, Default)]
pub struct RunPatch {
    pub summary: Option<String>,
    pub context: Option<Value>,
    pub status: Option<RunStatus>,
}

pub async fn patch_run(
    db: &Db,
    account_pk: i64,
    id: Uuid,
    patch: RunPatch,
) -> Result<StoredRun, AppError> {
    let mut tx = db.begin_write().await?;
    let mut run = get_run(&mut tx, account_pk, id).await?;
    if patch.summary.is_some() || patch.context.is_some() {
        sqlx::query(
            "UPDATE runs SET summary = COALESCE(?, summary), context = COALESCE(?, context), updated_at = ?
             WHERE pk = ?",
        )
        .bind(&patch.summary)
        .bind(patch.context.as_ref().map(Value::to_string))
        .bind(now_ms())
        .bind(run.pk)
        .execute(&mut *tx)
        .await?;
        run = get_run_by_pk(&mut tx, run.pk).await?;
        if patch.status.is_none() {
            changes::record(
                &mut tx,
                account_pk,
                Some(run.run.id),
                ChangeKind::RunUpdated,
                &run.run,
            )
            .await?;
        }
    }
    if let Some(status) = patch.status {
        let update = StatusUpdate {
            status: Some(status),
            ..StatusUpdate::default()
        };
        run = apply_status(&mut tx, &run, &update).await?;
    }
    tx.commit().await?;
    Ok(run)
}

/// Changes a run's status on behalf of its owner (cancel) or its runner.
pub async fn update_status(
    db: &Db,
    run: &StoredRun,
    update: &StatusUpdate,
) -> Result<StoredRun, AppError> {
    let mut tx = db.begin_write().await?;
    // Re-read inside the write lock: the status may have moved since `run` was read.
    let current = get_run_by_pk(&mut tx, run.pk).await?;
    let updated = apply_status(&mut tx, &current, update).await?;
    tx.commit().await?;
    Ok(updated)
}

/// A new run repeating a failed or cancelled one, linked to it with `attempt + 1`.
pub async fn retry_run(db: &Db, account_pk: i64, id: Uuid) -> Result<StoredRun, AppError> {
    let mut tx = db.begin_write().await?;
    let original = get_run(&mut tx, account_pk, id).await?;
    if !matches!(
        original.run.status,
        RunStatus::Failed | RunStatus::Cancelled
    ) {
        return Err(AppError::conflict(
            "not_retryable",
            format!(
                "only failed or cancelled runs can be retried; run {id} is {}",
                original.run.status
            ),
        ));
    }
    let campaign_pk: Option<i64> = sqlx::query_scalar("SELECT campaign_pk FROM runs WHERE pk = ?")
        .bind(original.pk)
        .fetch_one(&mut *tx)
        .await?;
    let source = &original.run;
    let mut new_run = NewRun::requested(source.agent.clone(), source.input.clone());
    new_run.initiator = source.initiator.clone();
    new_run.summary = source.summary.clone();
    new_run.context = source.context.clone();
    new_run.campaign_pk = campaign_pk;
    new_run.webhook_url = source.webhook_url.clone();
    new_run.retry_of_pk = Some(original.pk);
    new_run.attempt = source.attempt + 1;
    let (run_pk, _) = insert_run(&mut tx, account_pk, &new_run).await?;
    let stored = after_insert(&mut tx, account_pk, run_pk).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Deletes a run with its steps, events and artifacts; returns the storage keys of
/// the files Runboard held for it, for the caller to remove from the store.
pub async fn delete_run(db: &Db, account_pk: i64, id: Uuid) -> Result<Vec<String>, AppError> {
    let mut tx = db.begin_write().await?;
    let run = get_run(&mut tx, account_pk, id).await?;
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT storage_key FROM artifacts WHERE run_pk = ? AND stored = 1 AND storage_key IS NOT NULL",
    )
    .bind(run.pk)
    .fetch_all(&mut *tx)
    .await?;
    count_run(&mut tx, run.pk, run.run.status.as_str(), -1).await?;
    changes::record(
        &mut tx,
        account_pk,
        Some(id),
        ChangeKind::RunDeleted,
        &serde_json::json!({ "id": id }),
    )
    .await?;
    sqlx::query("DELETE FROM runs WHERE pk = ?")
        .bind(run.pk)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(keys)
}

/// Claims the oldest requested run of an agent (pull model): it becomes queued.
/// The write lock makes the claim atomic: two claimants never get the same run.
pub async fn claim_next(
    db: &Db,
    account_pk: Option<i64>,
    agent: &str,
) -> Result<Option<StoredRun>, AppError> {
    validate_slug("agent", agent)?;
    let mut tx = db.begin_write().await?;
    let candidate: Option<i64> = sqlx::query_scalar(
        "SELECT r.pk FROM runs r JOIN agents a ON a.pk = r.agent_pk
         WHERE r.status = 'requested' AND a.slug = ? AND (? IS NULL OR a.account_pk = ?)
         ORDER BY r.created_at, r.pk LIMIT 1",
    )
    .bind(agent)
    .bind(account_pk)
    .bind(account_pk)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(run_pk) = candidate else {
        return Ok(None);
    };
    let run = get_run_by_pk(&mut tx, run_pk).await?;
    let update = StatusUpdate {
        status: Some(RunStatus::Queued),
        ..StatusUpdate::default()
    };
    let claimed = apply_status(&mut tx, &run, &update).await?;
    tx.commit().await?;
    Ok(Some(claimed))
}

/// FTS5 query text for a user's words: each word quoted, so punctuation is never
/// read as query syntax; all words must match.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A keyset position: the `(created_at, pk)` of the last run of a page.
fn parse_cursor(cursor: &str) -> Result<(i64, i64), AppError> {
    cursor
        .split_once('.')
        .and_then(|(created, pk)| Some((created.parse().ok()?, pk.parse().ok()?)))
        .ok_or_else(|| {
            AppError::invalid(
                "cursor",
                "cursor must come from a previous page's nextCursor",
            )
        })
}

/// What a query does with the matching runs: reads a page of the newest, or
/// aggregates them (total, status counts, chart).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    NewestPage,
    Aggregate,
}

/// Appends the WHERE clause shared by the list and its count.
pub(crate) fn push_filter(
    query: &mut QueryBuilder<'_, Sqlite>,
    account_pk: i64,
    filter: &RunFilter,
    reading: Reading,
) -> Result<(), AppError> {
    // For a page, a duration range must not choose the index: the planner would
    // read every run in the range (most runs, for "longer than a minute") and sort
    // them all (1.4 s at 1M runs), where walking the newest-first index and
    // skipping the others finds twenty in well under a millisecond. The unary `+`
    // keeps the condition and leaves the index alone. Aggregates keep the index.
    let duration = match reading {
        Reading::NewestPage => " AND +r.duration_ms ",
        Reading::Aggregate => " AND r.duration_ms ",
    };
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
    if let Some(campaign) = filter.campaign {
        query
            .push(" AND r.campaign_pk = (SELECT pk FROM campaigns WHERE account_pk = ")
            .push_bind(account_pk)
            .push(" AND id = ")
            .push_bind(campaign.to_string())
            .push(")");
    }
    if let Some(initiator) = &filter.initiator {
        query
            .push(" AND r.initiator = ")
            .push_bind(initiator.clone());
    }
    if let Some(after) = filter.created_after {
        query
            .push(" AND r.created_at >= ")
            .push_bind(after.timestamp_millis());
    }
    if let Some(before) = filter.created_before {
        query
            .push(" AND r.created_at < ")
            .push_bind(before.timestamp_millis());
    }
    if let Some(min) = filter.min_duration_ms {
        query.push(duration).push(">= ").push_bind(min);
    }
    if let Some(max) = filter.max_duration_ms {
        query.push(duration).push("<= ").push_bind(max);
    }
    for (path, value) in &filter.input {
        query.push(" AND r.pk IN (SELECT i.run_pk FROM run_input_fields i WHERE");
        push_input_field(query, "i", account_pk, path, value, filter.input_ci);
        query.push(")");
    }
    if filter.q.as_deref().and_then(fts_query).is_some() {
        // A text search is walked by `text_search`, which hands this function the
        // rest of the filter; SQL alone would sort every match.
        tracing::error!("a full-text filter reached the SQL filter builder");
        return Err(AppError::Internal);
    }
    Ok(())
}

/// A filter's full-text query, if it has one, and the rest of the filter.
fn split_text(filter: &RunFilter) -> Option<(String, RunFilter)> {
    let text = filter.q.as_deref().and_then(fts_query)?;
    Some((
        text,
        RunFilter {
            q: None,
            ..filter.clone()
        },
    ))
}

/// Runs matching a full-text filter, newest first: at most `want`, from the top.
async fn text_matches(
    pool: &SqlitePool,
    account_pk: i64,
    text: &str,
    others: &RunFilter,
    below: Option<i64>,
    want: i64,
) -> Result<Vec<TextMatch>, AppError> {
    let mut conn = pool.acquire().await?;
    let want = usize::try_from(want).unwrap_or(0);
    text_search::text_matches(&mut conn, account_pk, text, others, below, want).await
}

/// Every status with its count among `(status, count)` rows; absent statuses count 0.
pub fn per_status<'a>(rows: impl Iterator<Item = (&'a str, i64)> + Clone) -> Vec<(RunStatus, i64)> {
    RunStatus::ALL
        .into_iter()
        .map(|status| {
            let count = rows
                .clone()
                .filter(|(name, _)| *name == status.as_str())
                .map(|(_, count)| count)
                .sum();
            (status, count)
        })
        .collect()
}

/// Whether `run_counts` can answer for this filter: it knows accounts, days, agents
/// and statuses, nothing else.
fn from_counters(filter: &RunFilter) -> bool {
    let counted = RunFilter {
        statuses: filter.statuses.clone(),
        agent: filter.agent.clone(),
        limit: filter.limit,
        offset: filter.offset,
        cursor: filter.cursor.clone(),
        ..RunFilter::default()
    };
    *filter == counted
}

/// The agent (and, when asked, status) conditions on `run_counts`.
fn push_counter_filter(
    query: &mut QueryBuilder<'_, Sqlite>,
    account_pk: i64,
    filter: &RunFilter,
    with_statuses: bool,
) {
    if let Some(agent) = &filter.agent {
        query
            .push(" AND agent_pk = (SELECT pk FROM agents WHERE account_pk = ")
            .push_bind(account_pk)
            .push(" AND slug = ")
            .push_bind(agent.clone())
            .push(")");
    }
    if with_statuses && !filter.statuses.is_empty() {
        query.push(" AND status IN (");
        let mut separated = query.separated(", ");
        for status in &filter.statuses {
            separated.push_bind(status.as_str());
        }
        query.push(")");
    }
}

/// Runs per UTC day and status over the last `days` days (ending today), under the filter.
pub async fn daily_counts(
    pool: &SqlitePool,
    account_pk: i64,
    filter: &RunFilter,
    days: i64,
) -> Result<Vec<model::DayCounts>, AppError> {
    let today = now_ms().div_euclid(DAY_MS);
    let first = today - days + 1;
    let rows: Vec<(i64, String, i64)> = match split_text(filter) {
        Some((text, mut others)) => {
            let since = from_ms(first * DAY_MS);
            others.created_after =
                Some(others.created_after.map_or(since, |after| after.max(since)));
            let matches =
                text_matches(pool, account_pk, &text, &others, None, TEXT_COUNT_CAP).await?;
            let mut rows: Vec<(i64, String, i64)> = Vec::new();
            for found in matches {
                let day = found.created_at.div_euclid(DAY_MS);
                match rows
                    .iter_mut()
                    .find(|(d, s, _)| *d == day && *s == found.status)
                {
                    Some(row) => row.2 += 1,
                    None => rows.push((day, found.status, 1)),
                }
            }
            rows
        }
        None => {
            daily_counts_query(account_pk, filter, first)?
                .build_query_as()
                .fetch_all(pool)
                .await?
        }
    };
    Ok((first..=today)
        .map(|day| model::DayCounts {
            day: from_ms(day * DAY_MS).date_naive(),
            counts: per_status(
                rows.iter()
                    .filter(|(row_day, _, _)| *row_day == day)
                    .map(|(_, name, count)| (name.as_str(), *count)),
            ),
        })
        .collect())
}

const DAY_MS: i64 = 86_400_000;

/// The SQL of [`daily_counts`] from UTC day number `first` (days since the epoch)
/// on: `(day, status, count)` rows. Public so that a test can explain its plan.
pub fn daily_counts_query(
    account_pk: i64,
    filter: &RunFilter,
    first: i64,
) -> Result<QueryBuilder<'static, Sqlite>, AppError> {
    if from_counters(filter) {
        let mut query =
            QueryBuilder::new("SELECT day, status, sum(count) FROM run_counts WHERE account_pk = ");
        query.push_bind(account_pk);
        push_counter_filter(&mut query, account_pk, filter, true);
        query
            .push(" AND day >= ")
            .push_bind(first)
            .push(" GROUP BY day, status");
        Ok(query)
    } else {
        let mut query = QueryBuilder::new(
            "SELECT created_at / 86400000 AS day, status, count(*)
             FROM (SELECT r.created_at, r.status FROM runs r",
        );
        push_filter(&mut query, account_pk, filter, Reading::Aggregate)?;
        query
            .push(" AND r.created_at >= ")
            .push_bind(first * DAY_MS)
            .push(" LIMIT ")
            .push_bind(COUNT_CAP)
            .push(") GROUP BY day, status");
        Ok(query)
    }
}

/// How many runs have each status, under every filter but the status one.
pub async fn status_counts(
    pool: &SqlitePool,
    account_pk: i64,
    filter: &RunFilter,
) -> Result<Vec<(RunStatus, i64)>, AppError> {
    let rows: Vec<(String, i64)> = match split_text(filter) {
        Some((text, others)) => {
            let all_statuses = RunFilter {
                statuses: Vec::new(),
                ..others
            };
            let matches =
                text_matches(pool, account_pk, &text, &all_statuses, None, TEXT_COUNT_CAP).await?;
            matches.into_iter().map(|found| (found.status, 1)).collect()
        }
        None => {
            status_counts_query(account_pk, filter)?
                .build_query_as()
                .fetch_all(pool)
                .await?
        }
    };
    Ok(per_status(
        rows.iter().map(|(name, count)| (name.as_str(), *count)),
    ))
}

/// The SQL of [`status_counts`]: `(status, count)` rows. Public so that a test can
/// explain its plan.
pub fn status_counts_query(
    account_pk: i64,
    filter: &RunFilter,
) -> Result<QueryBuilder<'static, Sqlite>, AppError> {
    let all_statuses = RunFilter {
        statuses: Vec::new(),
        ..filter.clone()
    };
    if from_counters(&all_statuses) {
        let mut query =
            QueryBuilder::new("SELECT status, sum(count) FROM run_counts WHERE account_pk = ");
        query.push_bind(account_pk);
        push_counter_filter(&mut query, account_pk, &all_statuses, false);
        query.push(" GROUP BY status");
        Ok(query)
    } else {
        let mut query =
            QueryBuilder::new("SELECT status, count(*) FROM (SELECT r.status FROM runs r");
        push_filter(&mut query, account_pk, &all_statuses, Reading::Aggregate)?;
        query
            .push(" LIMIT ")
            .push_bind(COUNT_CAP)
            .push(") GROUP BY status");
        Ok(query)
    }
}

/// Beyond this many matching runs, a filter that `run_counts` cannot answer is
/// counted and charted over this many of its matches only: reading every match
/// of a broad full-text or input-field filter at 1M runs took most of a second
/// (docs/performance.md), and "10,000+" tells a person as much.
pub const COUNT_CAP: i64 = 10_000;

/// A text search counts (and charts) at most this many of its matches: each is
/// found by walking the text indexes and checked by key, 60–120 ms for 10,000
/// at 1M runs and 20M events (docs/performance.md), and a search's "1,000+"
/// tells a person as much.
pub const TEXT_COUNT_CAP: i64 = 1_000;

/// How many runs match, and whether that is exact (see [`COUNT_CAP`]).
async fn count_runs(
    pool: &SqlitePool,
    account_pk: i64,
    filter: &RunFilter,
) -> Result<(i64, bool), AppError> {
    let (counted, cap) = match split_text(filter) {
        Some((text, others)) => {
            let want = TEXT_COUNT_CAP + 1;
            let own_text_enough = text_search::own_text_exceeds(
                &mut *pool.acquire().await?,
                account_pk,
                &text,
                &others,
                TEXT_COUNT_CAP,
            )
            .await?;
            let counted = if own_text_enough {
                want
            } else {
                text_matches(pool, account_pk, &text, &others, None, want)
                    .await?
                    .len() as i64
            };
            (counted, TEXT_COUNT_CAP)
        }
        None => {
            let counted: i64 = count_query(account_pk, filter)?
                .build_query_scalar()
                .fetch_one(pool)
                .await?;
            if from_counters(filter) {
                return Ok((counted, true));
            }
            (counted, COUNT_CAP)
        }
    };
    Ok((counted.min(cap), counted <= cap))
}

/// The SQL of the runs list's total: one count, exact when `run_counts` answers,
/// else of at most `COUNT_CAP + 1` matches. Public so that a test can explain its plan.
pub fn count_query(
    account_pk: i64,
    filter: &RunFilter,
) -> Result<QueryBuilder<'static, Sqlite>, AppError> {
    if from_counters(filter) {
        let mut query =
            QueryBuilder::new("SELECT COALESCE(sum(count), 0) FROM run_counts WHERE account_pk = ");
        query.push_bind(account_pk);
        push_counter_filter(&mut query, account_pk, filter, true);
        return Ok(query);
    }
    let mut query = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM ");
    match input_field_alone(filter) {
        // The field's own rows are its runs, one each: counting them reads one
        // index range (0.3 ms for 10,001 at 1M runs) where counting the runs
        // they name read 10,001 runs by key (11–20 ms; docs/performance.md).
        Some((path, value)) => {
            query.push("run_input_fields f WHERE");
            push_input_field(&mut query, "f", account_pk, path, value, filter.input_ci);
        }
        None => {
            query.push("runs r");
            push_filter(&mut query, account_pk, filter, Reading::Aggregate)?;
        }
    }
    query.push(" LIMIT ").push_bind(COUNT_CAP + 1).push(")");
    Ok(query)
}

/// The one input-field condition of a filter that has nothing else.
fn input_field_alone(filter: &RunFilter) -> Option<(&str, &str)> {
    let [(path, value)] = filter.input.as_slice() else {
        return None;
    };
    let only_input = RunFilter {
        input: filter.input.clone(),
        input_ci: filter.input_ci,
        limit: filter.limit,
        offset: filter.offset,
        cursor: filter.cursor.clone(),
        ..RunFilter::default()
    };
    (*filter == only_input).then_some((path.as_str(), value.as_str()))
}

/// ` t.account_pk = … AND t.path = … AND t.value = …` on `run_input_fields`
/// under the alias `t` (`lower()` on both sides when case-insensitive).
fn push_input_field(
    query: &mut QueryBuilder<'_, Sqlite>,
    alias: &str,
    account_pk: i64,
    path: &str,
    value: &str,
    case_insensitive: bool,
) {
    query
        .push(format!(" {alias}.account_pk = "))
        .push_bind(account_pk)
        .push(format!(" AND {alias}.path = "))
        .push_bind(path.to_string());
    if case_insensitive {
        query
            .push(format!(" AND lower({alias}.value) = lower("))
            .push_bind(value.to_string())
            .push(")");
    } else {
        query
            .push(format!(" AND {alias}.value = "))
            .push_bind(value.to_string());
    }
}

/// What a runs list row reads, from `runs r` and [`LIST_JOINS`].
const LIST_COLUMNS: &str = "SELECT r.pk, r.id, a.slug, c.name, r.status, r.progress, r.initiator,
        r.summary, r.created_at, r.started_at, r.completed_at, r.duration_ms";
const LIST_JOINS: &str =
    " JOIN agents a ON a.pk = r.agent_pk LEFT JOIN campaigns c ON c.pk = r.campaign_pk";

/// A row of [`LIST_COLUMNS`].
type ListRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    f64,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// One page of an account's runs, newest first, with the total that match.
pub async fn list_runs(
    pool: &SqlitePool,
    account_pk: i64,
    filter: &RunFilter,
) -> Result<RunPage, AppError> {
    let (limit, offset) = filter.page()?;
    let rows: Vec<ListRow> = match split_text(filter) {
        Some((text, others)) => {
            // Newest first by run key; a cursor's key is where the page starts.
            let below = filter
                .cursor
                .as_deref()
                .map(parse_cursor)
                .transpose()?
                .map(|(_, pk)| pk);
            let skip = if below.is_some() { 0 } else { offset };
            let page: Vec<i64> =
                text_matches(pool, account_pk, &text, &others, below, skip + limit)
                    .await?
                    .into_iter()
                    .skip(usize::try_from(skip).unwrap_or(0))
                    .map(|found| found.pk)
                    .collect();
            let keys = serde_json::to_string(&page).map_err(|_| AppError::Internal)?;
            let mut rows: Vec<ListRow> = sqlx::query_as(&format!(
                "{LIST_COLUMNS} FROM runs r {LIST_JOINS} WHERE r.pk IN (SELECT value FROM json_each(?))"
            ))
            .bind(keys)
            .fetch_all(pool)
            .await?;
            rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.0));
            rows
        }
        None => {
            list_query(account_pk, filter)?
                .build_query_as()
                .fetch_all(pool)
                .await?
        }
    };
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|row| format!("{}.{}", row.8, row.0)))
        .flatten();
    let runs = rows
        .into_iter()
        .filter_map(
            |(
                _,
                id,
                agent,
                campaign,
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
                    campaign,
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

    let (total, total_exact) = count_runs(pool, account_pk, filter).await?;
    Ok(RunPage {
        runs,
        total,
        total_exact,
        limit,
        offset,
        next_cursor,
    })
}

/// The SQL of one page of [`list_runs`], newest first. Public so that a test can
/// explain its plan.
///
/// With an input-field filter the page is read from `run_input_fields`, whose key
/// (account, path, value, created_at, run) already lists the matching runs newest
/// first: twenty rows are read, however many match. Filtering `runs` by
/// `pk IN (…)` instead made SQLite sort every match (0.8 s for a value 125,000 of
/// 1M runs share; the join takes 0.2 ms, docs/performance.md).
pub fn list_query(
    account_pk: i64,
    filter: &RunFilter,
) -> Result<QueryBuilder<'static, Sqlite>, AppError> {
    let (limit, offset) = filter.page()?;
    let mut others = filter.clone();
    let driving = (!others.input.is_empty()).then(|| others.input.remove(0));
    let mut query = QueryBuilder::new(format!("{LIST_COLUMNS} FROM "));
    if driving.is_some() {
        // CROSS JOIN is SQLite's way to fix the join order: with statistics the
        // planner otherwise started from `runs` and probed the fields of each run
        // (1.9 s at 1M runs).
        query.push("run_input_fields f CROSS JOIN runs r ON r.pk = f.run_pk ");
    } else {
        query.push("runs r ");
    }
    query.push(LIST_JOINS);
    push_filter(&mut query, account_pk, &others, Reading::NewestPage)?;
    // The page's order, from the table that drives it (the same values either way).
    let (created_col, pk_col) = match driving {
        Some((path, value)) => {
            query.push(" AND");
            push_input_field(&mut query, "f", account_pk, &path, &value, filter.input_ci);
            ("f.created_at", "f.run_pk")
        }
        None => ("r.created_at", "r.pk"),
    };
    if let Some(cursor) = &filter.cursor {
        let (created, pk) = parse_cursor(cursor)?;
        // The first condition is implied by the second; it is there so that the
        // page is one index range read from the cursor on, newest first, rather
        // than two ranges (`MULTI-INDEX OR`) sorted whole.
        query
            .push(format!(" AND {created_col} <= "))
            .push_bind(created)
            .push(format!(" AND ({created_col} < "))
            .push_bind(created)
            .push(format!(" OR ({created_col} = "))
            .push_bind(created)
            .push(format!(" AND {pk_col} < "))
            .push_bind(pk)
            .push("))");
    }
    query
        .push(format!(
            " ORDER BY {created_col} DESC, {pk_col} DESC LIMIT "
        ))
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(if filter.cursor.is_some() { 0 } else { offset });
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_is_flattened_to_every_scalar_leaf() {
        let mut fields = flatten_input(&json!({
            "company_name": "Stripe",
            "size": 5000,
            "address": {"city": "Dublin", "remote": true},
            "tags": ["fintech", null]
        }));
        fields.sort();
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
        assert_eq!(fields, expected);
    }

    #[test]
    fn a_scalar_input_has_no_fields() {
        assert!(flatten_input(&json!("just text")).is_empty());
    }

    #[test]
    fn search_words_are_quoted_for_fts() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(
            fts_query(r#"stripe AND "x" NEAR"#),
            Some(r#""stripe" "AND" """x""" "NEAR""#.to_string())
        );
    }

    #[test]
    fn slugs_and_urls_are_validated() {
        assert!(validate_slug("agent", "jobseek-add-company").is_ok());
        assert!(validate_slug("agent", "").is_err());
        assert!(validate_slug("agent", "../etc").is_err());
        assert!(validate_http_url("webhookUrl", "https://example.com/hook").is_ok());
        assert!(validate_http_url("webhookUrl", "file:///etc/passwd").is_err());
    }
}
