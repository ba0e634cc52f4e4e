//! The outbox worker's bookkeeping: which deliveries are due, and what the outcome
//! of one means for its row and its run, recorded in one write transaction.

use super::outbox::Kind;
use super::runs::{self, StatusUpdate};
use super::{millis, now_ms, Db, WriteTx};
use crate::db::sql;
use model::{AccountPk, AppError, RunError, RunPk, RunStatus};
use serde_json::json;
use std::time::Duration;

/// A pending delivery whose time has come.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Due {
    pub pk: i64,
    pub kind: String,
    pub account_pk: AccountPk,
    pub run_pk: Option<RunPk>,
    pub url: String,
    pub payload: String,
    pub attempts: i64,
    /// Alerts: the channel's type (webhook, slack, email).
    pub channel: Option<String>,
}

/// Deliveries one worker takes at a time ([`claim_due`]).
pub const CLAIMED_AT_ONCE: i64 = 16;

/// Takes the next deliveries due, oldest due first, at most [`CLAIMED_AT_ONCE`], for `claim`:
/// until then they are not due again, so another server's worker (or this
/// one's next round) does not send them too. An attempt's record settles each;
/// one whose server died before that is due again when the claim runs out.
pub async fn claim_due(db: &Db, claim: Duration) -> Result<Vec<Due>, AppError> {
    let now = now_ms();
    // Most rounds find nothing due: they ask a reader, not the writer.
    let any_due: Option<i64> = sql::query_scalar(
        "SELECT pk FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&db.read)
    .await?;
    if any_due.is_none() {
        return Ok(Vec::new());
    }
    let claimed_until = now.saturating_add(millis(claim));
    let mut tx = db.begin_write().await?;
    let mut due: Vec<Due> = sql::query_as(
        "UPDATE outbox SET next_attempt_at = ? WHERE pk IN
            (SELECT pk FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?
             ORDER BY next_attempt_at LIMIT ?)
         RETURNING pk, kind, account_pk, run_pk, url, payload, attempts, channel",
    )
    .postgres(
        "UPDATE outbox SET next_attempt_at = ? WHERE pk IN
            (SELECT pk FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?
             ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)
         RETURNING pk, kind, account_pk, run_pk, url, payload, attempts, channel",
    )
    .bind(claimed_until)
    .bind(now)
    .bind(CLAIMED_AT_ONCE)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        // Taken by another server meanwhile: nothing was written.
        return Ok(due);
    }
    tx.commit().await?;
    // RETURNING gives the rows in no promised order; deliveries go in the order taken.
    due.sort_by_key(|item| item.pk);
    Ok(due)
}

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Failed with the attempts used up: the delivery is given up.
    GaveUp {
        problem: String,
    },
    /// Failed; tried again at `next_attempt_at` (ms since the epoch).
    Retry {
        next_attempt_at: i64,
        problem: String,
    },
}

/// Records attempt number `attempts` of `item` and, when it settles the delivery,
/// what that means for the run: a dispatched run is queued (or, undeliverable,
/// failed with `dispatch_failed`); a webhook's status is recorded.
pub async fn record_attempt(
    db: &Db,
    item: &Due,
    kind: Kind,
    attempts: i64,
    outcome: Outcome,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    match outcome {
        Outcome::Delivered => {
            sql::query("UPDATE outbox SET state = 'delivered', attempts = ?, finished_at = ?, last_error = NULL WHERE pk = ?")
                .bind(attempts)
                .bind(now_ms())
                .bind(item.pk)
                .execute(&mut *tx)
                .await?;
            settle_run(&mut tx, kind, item.run_pk, true, None).await?;
        }
        Outcome::GaveUp { problem } => {
            sql::query("UPDATE outbox SET state = 'failed', attempts = ?, finished_at = ?, last_error = ? WHERE pk = ?")
                .bind(attempts)
                .bind(now_ms())
                .bind(&problem)
                .bind(item.pk)
                .execute(&mut *tx)
                .await?;
            settle_run(&mut tx, kind, item.run_pk, false, Some(problem)).await?;
        }
        Outcome::Retry {
            next_attempt_at,
            problem,
        } => {
            sql::query(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE pk = ?",
            )
            .bind(attempts)
            .bind(next_attempt_at)
            .bind(&problem)
            .bind(item.pk)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// What a finished delivery means for its run.
async fn settle_run(
    conn: &mut WriteTx,
    kind: Kind,
    run_pk: Option<RunPk>,
    delivered: bool,
    problem: Option<String>,
) -> Result<(), AppError> {
    let Some(run_pk) = run_pk else { return Ok(()) };
    match kind {
        // An alert's delivery is its own record (the firing's channel status).
        Kind::Alert => {}
        Kind::Webhook => {
            sql::query("UPDATE runs SET webhook_status = ? WHERE pk = ?")
                .bind(if delivered { "delivered" } else { "failed" })
                .bind(run_pk)
                .execute(&mut **conn)
                .await?;
        }
        Kind::Dispatch => {
            let run = runs::get_run_by_pk(conn, run_pk).await?;
            // Only a run still waiting moves: a runner may already have reported.
            if run.run.status != RunStatus::Requested {
                return Ok(());
            }
            let update = if delivered {
                StatusUpdate {
                    status: Some(RunStatus::Queued),
                    ..StatusUpdate::default()
                }
            } else {
                StatusUpdate {
                    status: Some(RunStatus::Failed),
                    error: Some(RunError {
                        code: Some("dispatch_failed".into()),
                        message: "the job could not be delivered to the agent's dispatch URL"
                            .into(),
                        details: problem.map(|problem| json!({"lastError": problem})),
                    }),
                    ..StatusUpdate::default()
                }
            };
            runs::apply_status(conn, &run, &update).await?;
        }
    }
    Ok(())
}
