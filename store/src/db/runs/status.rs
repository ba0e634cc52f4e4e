//! The one place a run's status changes ([`apply_status`]), which also settles
//! its campaign and queues its webhook in the same transaction, and the writes
//! that go through it: an owner's patch or cancel, a runner's report, a claim.

use super::read::{get_run, get_run_by_pk, StoredRun};
use super::write::{count_run, validate_context, validate_slug};
use crate::db::audit::{self, Actor, Target};
use crate::db::{campaigns, changes, now_ms, outbox, Db};
use model::{
    AccountPk, AppError, AuditAction, ChangeData, ConflictCode, RunError, RunPk, RunStatus,
};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use uuid::Uuid;

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
            ConflictCode::RunFinished,
            format!("run {} is already {current}", run.run.id),
        ));
    }
    let next = update.status.unwrap_or(current);
    if !current.can_transition_to(next) {
        return Err(AppError::conflict(
            ConflictCode::IllegalTransition,
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
            campaigns::on_run_finished(conn, run.account_pk, campaign_id, updated.pk, &updated.run)
                .await?;
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
        &ChangeData::RunUpdated(updated.run.clone()),
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
    actor: &Actor,
    id: Uuid,
    patch: RunPatch,
) -> Result<StoredRun, AppError> {
    let account_pk = actor.account_pk;
    if let Some(context) = &patch.context {
        validate_context(context)?;
    }
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
                &ChangeData::RunUpdated(run.run.clone()),
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
    let changed = json!({
        "summary": patch.summary.is_some(),
        "context": patch.context.is_some(),
        "status": patch.status,
    });
    audit::record(
        &mut tx,
        actor,
        AuditAction::RunUpdate,
        Target::new("run", id).with_detail(changed),
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}

/// Cancels a run on behalf of a person; a finished run is a `run_finished` conflict.
pub async fn cancel_run(db: &Db, actor: &Actor, id: Uuid) -> Result<StoredRun, AppError> {
    let mut tx = db.begin_write().await?;
    let run = get_run(&mut tx, actor.account_pk, id).await?;
    let update = StatusUpdate {
        status: Some(RunStatus::Cancelled),
        ..StatusUpdate::default()
    };
    let cancelled = apply_status(&mut tx, &run, &update).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::RunCancel,
        Target::new("run", id),
    )
    .await?;
    tx.commit().await?;
    Ok(cancelled)
}

/// Changes a run's status on behalf of its runner.
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

/// Claims the oldest requested run of an agent (pull model): it becomes queued.
/// The write lock makes the claim atomic: two claimants never get the same run.
pub async fn claim_next(
    db: &Db,
    account_pk: Option<AccountPk>,
    agent: &str,
) -> Result<Option<StoredRun>, AppError> {
    validate_slug("agent", agent)?;
    let mut tx = db.begin_write().await?;
    let candidate: Option<RunPk> = sqlx::query_scalar(
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
