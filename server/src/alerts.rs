//! The alert task: every `RUNBOARD_ALERT_SECS` it evaluates the enabled threshold
//! rules ([`store::db::alerts::evaluate`]: failure rate, duration p95, no
//! success), which fire when crossed and resolve when back; run and campaign rules
//! need no task, they fire in the transaction of the change. Once an hour it
//! drops firings older than [`FIRINGS_KEPT`], so the history does not grow
//! without bound. A failed evaluation is logged and tried at the next tick.

use std::time::Duration;
use store::db::alerts;
use store::db::{millis, now_ms, Db};
use tokio::sync::watch;

/// How long a rule's history is kept.
pub const FIRINGS_KEPT: Duration = Duration::from_secs(90 * 24 * 3600);

/// Firings deleted per transaction when pruning.
const PRUNE_BATCH: i64 = 500;

pub async fn run(db: Db, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        evaluate_due(&db).await;
        if pruned_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
            pruned_at = Some(tokio::time::Instant::now());
            prune(&db).await;
        }
    }
}

async fn evaluate_due(db: &Db) {
    let now = now_ms();
    let due = match alerts::due_threshold_rules(&db.read, now).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(?error, "alerts: could not read the rules; trying again");
            return;
        }
    };
    for rule in due {
        match alerts::evaluate(db, rule, now).await {
            Ok(Some(kind)) => tracing::info!(
                rule = rule.pk,
                kind = kind.as_str(),
                "alerts: a rule changed state"
            ),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                ?error,
                rule = rule.pk,
                "alerts: evaluation failed; trying again"
            ),
        }
    }
}

async fn prune(db: &Db) {
    let before = now_ms().saturating_sub(millis(FIRINGS_KEPT));
    loop {
        match alerts::prune_firings(db, before, PRUNE_BATCH).await {
            Ok(deleted) if deleted as i64 == PRUNE_BATCH => continue,
            Ok(0) => return,
            Ok(deleted) => {
                tracing::info!(deleted, "alerts: pruned old firings");
                return;
            }
            Err(error) => {
                tracing::warn!(?error, "alerts: pruning firings failed");
                return;
            }
        }
    }
}
