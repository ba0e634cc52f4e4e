//! The outbox worker's bookkeeping: which deliveries are due, and what the outcome
//! of one means for its row and its run, recorded in one write transaction.

use super::outbox::Kind;
use super::runs::{self, StatusUpdate};
use super::{now_ms, Db, WriteTx};
use crate::db::sql::{self, Pool};
use model::{AccountPk, AppError, RunError, RunPk, RunStatus};
use serde_json::json;

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

/// The next deliveries due, oldest due first, at most 16.
pub async fn due(pool: &Pool) -> Result<Vec<Due>, AppError> {
    Ok(sql::query_as(
        "SELECT pk, kind, account_pk, run_pk, url, payload, attempts, channel FROM outbox
         WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 16",
    )
    .bind(now_ms())
    .fetch_all(pool)
    .await?)
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
