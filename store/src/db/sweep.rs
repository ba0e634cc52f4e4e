//! The sweeper's work: runs whose runner went silent (`stalled`), ran too long
//! (`timed_out`) or never started (`not_started`) fail; claimed runs whose lease
//! ran out go back to the queue; failed runs whose retry is due get their next
//! attempt. Every end goes through [`runs::apply_status`], so campaigns,
//! webhooks, retries, the change log and the live dashboard follow as for any
//! other end.
//!
//! Candidates are read by index outside any transaction (each kind has a
//! partial index holding only the open runs it may act on; the query-plans test
//! checks them), then each run is settled in its own short write transaction
//! that re-reads it and checks the condition again: a runner's callback that
//! got the writer first wins, and the sweeper leaves the run alone; a callback
//! that comes after the sweeper's gets 409 `run_finished`.

use super::events::{self, NewEvent};
use super::runs::{self, StatusUpdate, StoredRun};
use super::Db;
use crate::db::sql::{self, Pool, SqlBuilder};
use model::{AppError, Run, RunError, RunPk, RunStatus};
use serde_json::json;

/// Runs settled per candidate query; a sweep repeats a query while it fills.
pub const SWEEP_BATCH: i64 = 200;

/// Why the sweeper ended or moved a run: its error code (or event type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum SweepReason {
    /// No runner callback within the agent's heartbeat timeout.
    Stalled,
    /// Running longer than the agent's maximum run time.
    TimedOut,
    /// Not started within the agent's queue timeout.
    NotStarted,
    /// A claimed run's lease ran out: back to the queue.
    LeaseExpired,
    /// A failed run's automatic retry was made.
    Retried,
}

impl SweepReason {
    pub const ALL: &'static [SweepReason] = <SweepReason as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What one sweep did, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub settled: Vec<(SweepReason, i64)>,
}

impl SweepReport {
    fn add(&mut self, reason: SweepReason) {
        match self.settled.iter_mut().find(|(each, _)| *each == reason) {
            Some((_, count)) => *count += 1,
            None => self.settled.push((reason, 1)),
        }
    }

    pub fn count(&self, reason: SweepReason) -> i64 {
        self.settled
            .iter()
            .find(|(each, _)| *each == reason)
            .map_or(0, |(_, count)| *count)
    }

    pub fn is_empty(&self) -> bool {
        self.settled.is_empty()
    }
}

/// An agent with a limit on its runs' time.
#[derive(sqlx::FromRow)]
struct TimedAgent {
    pk: i64,
    heartbeat_timeout_secs: Option<i64>,
    max_runtime_secs: Option<i64>,
    queue_timeout_secs: Option<i64>,
}

/// One kind of check; for the time limits, of one agent.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    pub reason: SweepReason,
    pub agent: Option<AgentClock>,
}

/// An agent's time limit, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct AgentClock {
    pub agent_pk: i64,
    pub secs: i64,
}

/// Applies every limit once, as of `now` (epoch ms). `on_settled` hears of each
/// run settled (the server counts them for its metrics).
pub async fn sweep(
    db: &Db,
    now: i64,
    mut on_settled: impl FnMut(SweepReason),
) -> Result<SweepReport, AppError> {
    let agents: Vec<TimedAgent> = sql::query_as(
        "SELECT pk, heartbeat_timeout_secs, max_runtime_secs, queue_timeout_secs
         FROM agents WHERE heartbeat_timeout_secs IS NOT NULL OR max_runtime_secs IS NOT NULL
            OR queue_timeout_secs IS NOT NULL",
    )
    .fetch_all(&db.read)
    .await?;
    let mut checks = vec![Check {
        reason: SweepReason::LeaseExpired,
        agent: None,
    }];
    for agent in &agents {
        let limits = [
            (SweepReason::Stalled, agent.heartbeat_timeout_secs),
            (SweepReason::TimedOut, agent.max_runtime_secs),
            (SweepReason::NotStarted, agent.queue_timeout_secs),
        ];
        for (reason, secs) in limits {
            if let Some(secs) = secs {
                checks.push(Check {
                    reason,
                    agent: Some(AgentClock {
                        agent_pk: agent.pk,
                        secs,
                    }),
                });
            }
        }
    }
    // Retries last: a run failed by this sweep is retried by a later one, after its delay.
    checks.push(Check {
        reason: SweepReason::Retried,
        agent: None,
    });

    let mut report = SweepReport::default();
    for check in checks {
        loop {
            let batch = candidates(&db.read, check, now).await?;
            let full = batch.len() as i64 >= SWEEP_BATCH;
            let mut changed = 0;
            for run_pk in batch {
                if settle(db, check, run_pk, now).await? {
                    report.add(check.reason);
                    on_settled(check.reason);
                    changed += 1;
                }
            }
            // A full batch of which nothing changed would only be read again.
            if !full || changed == 0 {
                break;
            }
        }
    }
    Ok(report)
}

/// The cutoff of a time limit: runs whose clock started at or before it are over.
fn cutoff(now: i64, secs: i64) -> i64 {
    now.saturating_sub(secs.saturating_mul(1000))
}

/// The runs a check may act on, oldest first, each kind through its own
/// partial index (the query-plans test explains these very queries).
pub fn candidate_query(check: Check, now: i64) -> SqlBuilder {
    let mut query = SqlBuilder::new("SELECT pk FROM runs WHERE ");
    match (check.reason, check.agent) {
        (SweepReason::LeaseExpired, _) => {
            query.push(
                "status = 'queued' AND lease_expires_at IS NOT NULL AND lease_expires_at <= ",
            );
            query.push_bind(now).push(" ORDER BY lease_expires_at");
        }
        (SweepReason::Retried, _) | (_, None) => {
            query.push("retry_at IS NOT NULL AND retry_at <= ");
            query.push_bind(now).push(" ORDER BY retry_at");
        }
        (SweepReason::Stalled, Some(clock)) => {
            query.push("agent_pk = ").push_bind(clock.agent_pk);
            query.push(" AND status = 'running' AND last_seen_at <= ");
            query
                .push_bind(cutoff(now, clock.secs))
                .push(" ORDER BY last_seen_at");
        }
        (SweepReason::TimedOut, Some(clock)) => {
            query.push("agent_pk = ").push_bind(clock.agent_pk);
            query.push(" AND status = 'running' AND started_at <= ");
            query
                .push_bind(cutoff(now, clock.secs))
                .push(" ORDER BY started_at");
        }
        (SweepReason::NotStarted, Some(clock)) => {
            query.push("agent_pk = ").push_bind(clock.agent_pk);
            query.push(" AND status IN ('requested', 'queued') AND created_at <= ");
            query
                .push_bind(cutoff(now, clock.secs))
                .push(" ORDER BY created_at");
        }
    }
    query.push(" LIMIT ").push_bind(SWEEP_BATCH);
    query
}

async fn candidates(pool: &Pool, check: Check, now: i64) -> Result<Vec<RunPk>, AppError> {
    Ok(candidate_query(check, now)
        .build_query_scalar()
        .fetch_all(pool)
        .await?)
}

/// Whether the check still applies to the run as it is now (read under the
/// write lock, after whatever callback came first).
fn still_applies(check: Check, run: &Run, now: i64) -> bool {
    let over = |at: Option<chrono::DateTime<chrono::Utc>>, secs: i64| {
        at.is_some_and(|at| at.timestamp_millis() <= cutoff(now, secs))
    };
    match (check.reason, check.agent) {
        (SweepReason::LeaseExpired, _) => {
            run.status == RunStatus::Queued
                && run
                    .lease_expires_at
                    .is_some_and(|at| at.timestamp_millis() <= now)
        }
        (SweepReason::Retried, _) => {
            run.status == RunStatus::Failed
                && run.retry_at.is_some_and(|at| at.timestamp_millis() <= now)
        }
        (SweepReason::Stalled, Some(clock)) => {
            run.status == RunStatus::Running
                && over(run.last_seen_at.or(run.started_at), clock.secs)
        }
        (SweepReason::TimedOut, Some(clock)) => {
            run.status == RunStatus::Running && over(run.started_at, clock.secs)
        }
        (SweepReason::NotStarted, Some(clock)) => {
            matches!(run.status, RunStatus::Requested | RunStatus::Queued)
                && over(Some(run.created_at), clock.secs)
        }
        (_, None) => false,
    }
}

/// What the run's log and error say about the sweeper's act.
fn explanation(check: Check) -> String {
    let secs = check.agent.map_or(0, |clock| clock.secs);
    match check.reason {
        SweepReason::Stalled => {
            format!("No word from the runner for {secs} s (the agent's heartbeat timeout).")
        }
        SweepReason::TimedOut => {
            format!("Ran longer than {secs} s (the agent's maximum run time).")
        }
        SweepReason::NotStarted => {
            format!("Not started within {secs} s of its creation (the agent's queue timeout).")
        }
        SweepReason::LeaseExpired => "The claimant neither started this run nor sent a \
            heartbeat before its lease ended; it is back in the queue for the next claim."
            .to_string(),
        SweepReason::Retried => "Retried automatically (the agent's maximum attempts).".into(),
    }
}

/// Settles one run in its own write transaction; false when the check no
/// longer applies and nothing was written.
async fn settle(db: &Db, check: Check, run_pk: RunPk, now: i64) -> Result<bool, AppError> {
    let mut tx = db.begin_write().await?;
    let run: StoredRun = runs::get_run_by_pk(&mut tx, run_pk).await?;
    if !still_applies(check, &run.run, now) {
        return Ok(false);
    }
    let message = explanation(check);
    let update = match check.reason {
        SweepReason::Retried => {
            let retry = runs::insert_retry(&mut tx, &run).await?;
            let note = NewEvent {
                client_id: None,
                event_type: check.reason.as_str().to_string(),
                message: Some(message),
                metadata: Some(json!({ "by": "sweeper", "retry": retry.run.id })),
            };
            events::append_events(&mut tx, run.pk, &[note]).await?;
            tx.commit().await?;
            return Ok(true);
        }
        SweepReason::LeaseExpired => StatusUpdate {
            status: Some(RunStatus::Requested),
            lease_lapsed: true,
            ..StatusUpdate::default()
        },
        SweepReason::Stalled | SweepReason::TimedOut | SweepReason::NotStarted => StatusUpdate {
            status: Some(RunStatus::Failed),
            error: Some(RunError {
                code: Some(check.reason.as_str().to_string()),
                message: message.clone(),
                details: None,
            }),
            ..StatusUpdate::default()
        },
    };
    let note = NewEvent {
        client_id: None,
        event_type: check.reason.as_str().to_string(),
        message: Some(message),
        metadata: Some(json!({ "by": "sweeper" })),
    };
    events::append_events(&mut tx, run.pk, &[note]).await?;
    runs::apply_status(&mut tx, &run, &update).await?;
    tx.commit().await?;
    Ok(true)
}
