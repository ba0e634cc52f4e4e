//! The sweeper task: every `RUNBOARD_SWEEP_SECS` it applies the agents' limits
//! ([`store::db::sweep`]) so that no run stays stuck when its runner dies, and
//! makes the automatic retries that are due. A failed sweep is logged and tried
//! again at the next tick; nothing it does is lost by a restart, since every
//! deadline it acts on is stored with the run.

use std::time::Duration;
use store::db::sweep::{self, SweepReason};
use store::db::{now_ms, Db};
use tokio::sync::watch;

pub async fn run(db: Db, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        match sweep::sweep(&db, now_ms(), count_settled).await {
            Ok(report) if !report.is_empty() => {
                let settled: Vec<String> = report
                    .settled
                    .iter()
                    .map(|(reason, count)| format!("{} {count}", reason.as_str()))
                    .collect();
                tracing::info!(settled = %settled.join(", "), "sweeper: settled runs");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(?error, "sweeper: the sweep failed; trying again"),
        }
    }
}

/// Counts a settled run for `/metrics` (`runboard_runs_swept_total{reason}`); the
/// sweep calls it after the run's transaction committed.
fn count_settled(reason: SweepReason) {
    store::metrics::run_swept(reason.as_str());
}
