//! The one place a run's status changes ([`apply_status`]), which also settles
//! its campaign, queues its webhook and schedules its automatic retry in the same
//! transaction, and the writes that go through it: an owner's patch or cancel, a
//! runner's report, a claim (with its lease), and the sweeper's ends.

use super::read::{get_run, get_run_by_pk, StoredRun};
use super::tags::set_tags;
use super::write::{count_run, validate_context, validate_slug};
use crate::db::audit::{self, Actor, Target};
use crate::db::sql::{self, Conn};
use crate::db::{alerts, campaigns, changes, now_ms, outbox, Db, WriteTx};
use crate::metrics::Count;
use model::{
    validate_tags, AccountPk, AppError, AuditAction, ChangeData, ConflictCode, RunError, RunPk,
    RunStatus,
};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// A status report: any of status, progress and error.
#[derive(Clone, Debug, Default)]
pub struct StatusUpdate {
    pub status: Option<RunStatus>,
    pub progress: Option<f64>,
    pub error: Option<RunError>,
    /// The claimant's lease ended: a queued run goes back to `requested` (the one
    /// backward move of the lifecycle, made only by the sweeper).
    pub lease_lapsed: bool,
}

/// The one place a run's status changes. Enforces the lifecycle (409
/// `illegal_transition`; 409 `run_finished` once terminal), clamps progress,
/// stamps startedAt/completedAt/durationMs, ends a claim's lease once the run
/// leaves `queued`, and for a terminal status settles the campaign, queues the
/// webhook and schedules the automatic retry — all in the caller's transaction,
/// which counts the finished run for the operator's metrics once it commits.
pub async fn apply_status(
    tx: &mut WriteTx,
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
    let requeued =
        update.lease_lapsed && current == RunStatus::Queued && next == RunStatus::Requested;
    if !requeued && !current.can_transition_to(next) {
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
    let retry_at = match next {
        RunStatus::Failed => retry_due(tx, run, now).await?,
        _ => None,
    };
    let conn = &mut **tx;
    if next != current {
        count_run(conn, run.pk, current.as_str(), -1).await?;
        count_run(conn, run.pk, next.as_str(), 1).await?;
    }
    sql::query(
        "UPDATE runs SET status = ?1, progress = COALESCE(?2, progress), started_at = ?3,
                completed_at = COALESCE(?4, completed_at), duration_ms = COALESCE(?5, duration_ms),
                error_code = COALESCE(?6, error_code), error_message = COALESCE(?7, error_message),
                error_details = COALESCE(?8, error_details), updated_at = ?9,
                last_seen_at = CASE WHEN ?1 = 'running' THEN COALESCE(last_seen_at, ?9) ELSE last_seen_at END,
                lease_expires_at = CASE WHEN ?1 = 'queued' THEN lease_expires_at END,
                retry_at = ?10
         WHERE pk = ?11",
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
    .bind(retry_at)
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
        if next == RunStatus::Failed {
            alerts::on_run_failed(conn, &updated).await?;
        }
    }
    changes::record(
        conn,
        run.account_pk,
        Some(updated.run.id),
        &ChangeData::RunUpdated(updated.run.clone()),
    )
    .await?;
    if next != current && next.is_terminal() {
        tx.count(Count::RunFinished {
            agent: updated.run.agent.clone(),
            status: next,
        });
    }
    Ok(updated)
}

/// When a run failing now is retried automatically: its agent's `maxAttempts`
/// allows another attempt, and none was made yet. The delay doubles per attempt.
async fn retry_due(tx: &mut WriteTx, run: &StoredRun, now: i64) -> Result<Option<i64>, AppError> {
    let max_attempts: Option<i64> = sql::query_scalar(
        "SELECT a.max_attempts FROM agents a JOIN runs r ON r.agent_pk = a.pk WHERE r.pk = ?",
    )
    .bind(run.pk)
    .fetch_one(&mut **tx)
    .await?;
    let attempt = run.run.attempt.max(1);
    if max_attempts.is_none_or(|max| attempt >= max) {
        return Ok(None);
    }
    Ok(Some(
        now.saturating_add(retry_delay_ms(tx.retry_base(), attempt)),
    ))
}

/// The longest wait before an automatic retry: a day.
const MAX_RETRY_DELAY_MS: i64 = 86_400_000;

/// `base × 2^(attempt − 1)`, in ms, at most [`MAX_RETRY_DELAY_MS`].
fn retry_delay_ms(base: Duration, attempt: i64) -> i64 {
    let base = crate::db::millis(base);
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
    base.saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_DELAY_MS)
}

/// What an owner may change on a run.
#[derive(Clone, Debug, Default)]
pub struct RunPatch {
    pub summary: Option<String>,
    pub context: Option<Value>,
    pub status: Option<RunStatus>,
    /// Replaces the run's tags.
    pub tags: Option<Vec<String>>,
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
    let tags = patch
        .tags
        .as_deref()
        .map(|tags| validate_tags("tags", tags))
        .transpose()?;
    let mut tx = db.begin_write().await?;
    let mut run = get_run(&mut tx, account_pk, id).await?;
    if let Some(tags) = &tags {
        set_tags(&mut tx, run.pk, tags).await?;
    }
    if patch.summary.is_some() || patch.context.is_some() || tags.is_some() {
        sql::query(
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
        "tags": tags,
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
    let cancelled = cancel_stored(&mut tx, &run).await?;
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

/// Cancels a run read in this transaction: what a person's cancel does, for one
/// run or a bulk job's (a finished run is a `run_finished` conflict).
pub async fn cancel_stored(tx: &mut WriteTx, run: &StoredRun) -> Result<StoredRun, AppError> {
    let update = StatusUpdate {
        status: Some(RunStatus::Cancelled),
        ..StatusUpdate::default()
    };
    apply_status(tx, run, &update).await
}

/// Changes a run's status on behalf of its runner (which counts as hearing from it).
pub async fn update_status(
    db: &Db,
    run: &StoredRun,
    update: &StatusUpdate,
) -> Result<StoredRun, AppError> {
    let mut tx = db.begin_write().await?;
    stamp_seen(&mut tx, run.pk, now_ms()).await?;
    // Re-read inside the write lock: the status may have moved since `run` was read.
    let current = get_run_by_pk(&mut tx, run.pk).await?;
    let updated = apply_status(&mut tx, &current, update).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Records that a run's runner was heard from at `now`: `lastSeenAt`, and a
/// claimed run's lease starts again.
pub async fn stamp_seen(conn: &mut Conn, run_pk: RunPk, now: i64) -> Result<(), AppError> {
    sql::query(
        "UPDATE runs SET last_seen_at = ?1,
            lease_expires_at = CASE WHEN status = 'queued' AND lease_expires_at IS NOT NULL
                THEN ?1 + 1000 * (SELECT lease_secs FROM agents WHERE agents.pk = runs.agent_pk)
                ELSE lease_expires_at
            END
         WHERE pk = ?2",
    )
    .bind(now)
    .bind(run_pk)
    .execute(conn)
    .await?;
    Ok(())
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
    let candidate: Option<RunPk> = sql::query_scalar(
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
    // The lease: the claimant must start the run or heartbeat before it ends.
    sql::query(
        "UPDATE runs SET lease_expires_at =
            ? + 1000 * (SELECT lease_secs FROM agents WHERE agents.pk = runs.agent_pk)
         WHERE pk = ?",
    )
    .bind(now_ms())
    .bind(run_pk)
    .execute(&mut *tx)
    .await?;
    let run = get_run_by_pk(&mut tx, run_pk).await?;
    let update = StatusUpdate {
        status: Some(RunStatus::Queued),
        ..StatusUpdate::default()
    };
    let claimed = apply_status(&mut tx, &run, &update).await?;
    tx.commit().await?;
    Ok(Some(claimed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_doubles_per_attempt_and_saturates() {
        let base = Duration::from_millis(2_000);
        assert_eq!(retry_delay_ms(base, 1), 2_000);
        assert_eq!(retry_delay_ms(base, 2), 4_000);
        assert_eq!(retry_delay_ms(base, 5), 32_000);
        assert_eq!(retry_delay_ms(base, 0), 2_000, "attempts count from 1");
        assert_eq!(retry_delay_ms(base, 1_000), 86_400_000, "at most a day");
    }
}
