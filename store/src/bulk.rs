//! The walk of bulk jobs: the worker takes the oldest job not finished, reads
//! the next matching runs from the read pool (newest first, below the job's
//! stored position) and applies the action to them in one write transaction
//! ([`crate::db::bulk::apply_batch`]), again and again until none is left.
//! Transactions are sized like pruning's, by a [`Batcher`] aiming at
//! [`TARGET_HOLD`] (well under the 50 ms a writer may be held), and after each
//! the walk pauses about as long as it held the writer, so that runners and
//! people always get their turn. A stop between two transactions loses
//! nothing: the position is stored with each batch.

use crate::db::bulk::{self, OpenJob};
use crate::db::leases::Lease;
use crate::db::runs;
use crate::db::Db;
use crate::prune::{discard_files, Batcher, TARGET_HOLD};
use crate::storage::Store;
use model::AppError;
use std::time::Duration;
use tokio::sync::watch;

/// How long the walker's lease lasts unrenewed: when its server stops, another
/// server's worker goes on with the jobs after at most this long.
const WALKER_LEASE: Duration = Duration::from_secs(30);

/// The lease under which one server at a time walks the bulk jobs
/// ([`crate::db::leases`]): two walkers would both apply a job's next batch.
pub fn walker_lease() -> Lease {
    Lease::new("bulk_jobs", WALKER_LEASE)
}

/// Runs the first batch of a job touches; the [`Batcher`] sizes the next ones.
const FIRST_BATCH: i64 = 16;

/// The most runs one transaction touches.
pub const MAX_BATCH: i64 = 1_000;

/// What one step of a job did.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// Runs reached.
    pub rows: i64,
    /// How long its transaction held the writer.
    pub held: Duration,
    /// The job is finished (done, cancelled or failed).
    pub finished: bool,
}

/// One transaction of job `pk`: at most `rows` of the next matching runs.
pub async fn step(db: &Db, store: &Store, pk: i64, rows: i64) -> Result<Step, AppError> {
    let finished = Step {
        finished: true,
        ..Step::default()
    };
    let Some(job) = bulk::open_job(&db.read, pk).await? else {
        return Ok(finished);
    };
    let OpenJob {
        account_pk,
        next,
        ref filter,
        ..
    } = job;
    let filter = match filter {
        Ok(filter) => filter,
        Err(error) => {
            // Checked when the job was created; only a later change of the
            // query's rules can make it unreadable.
            bulk::fail_job(db, pk, &format!("its query no longer reads: {error}")).await?;
            return Ok(finished);
        }
    };
    let keys = {
        let mut conn = db.read.acquire().await?;
        runs::keys_below(&mut conn, account_pk, filter, next, rows).await?
    };
    let last = (keys.len() as i64) < rows;
    let applied = bulk::apply_batch(db, &job, &keys, last).await?;
    if !applied.trashed.is_empty() {
        discard_files(db, store, &applied.trashed).await;
    }
    Ok(Step {
        rows: keys.len() as i64,
        held: applied.held,
        finished: applied.finished,
    })
}

/// How the worker walks.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Pause after each transaction, as a multiple of how long it held the writer.
    pub pause_ratio: f64,
    /// The walk stops between two transactions when this turns true.
    pub stop: watch::Receiver<bool>,
}

/// Runs every job not finished to its end, oldest first, until none is left,
/// the walk is stopped, or `lease` is another server's. A job whose batch fails (a database error) ends
/// `failed`, with what it did kept; the error is logged.
pub async fn run_open_jobs(
    db: &Db,
    store: &Store,
    options: &WalkOptions,
    lease: &mut Lease,
) -> Result<(), AppError> {
    if !lease.hold(db).await? {
        return Ok(());
    }
    while let Some(pk) = bulk::next_open(&db.read).await? {
        let mut batcher = Batcher::new(FIRST_BATCH, TARGET_HOLD).at_most(MAX_BATCH);
        loop {
            if *options.stop.borrow() || !lease.hold(db).await? {
                return Ok(());
            }
            match step(db, store, pk, batcher.rows()).await {
                Ok(step) => {
                    tracing::debug!(
                        job = pk,
                        rows = step.rows,
                        held_us = step.held.as_micros() as u64,
                        "bulk job: write transaction"
                    );
                    batcher.learn(step.rows, step.held);
                    if step.finished {
                        break;
                    }
                    let pause = step.held.mul_f64(options.pause_ratio.max(0.0));
                    if pause.is_zero() {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(pause).await;
                    }
                }
                Err(error) => {
                    if *options.stop.borrow() {
                        return Ok(());
                    }
                    tracing::warn!(job = pk, %error, "bulk job: a batch failed; the job ends failed");
                    bulk::fail_job(db, pk, "stopped by a server error (see the server log)")
                        .await?;
                    break;
                }
            }
        }
    }
    Ok(())
}
