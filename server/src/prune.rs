//! The background prune: a pass by every account's retention policy at start
//! and then every `RUNBOARD_PRUNE_SECS` ([`store::prune`] does the work in
//! small write transactions). A pass in progress stops between two
//! transactions when the server shuts down.

use std::time::Duration;
use store::db::Db;
use store::prune::PruneOptions;
use store::storage::Store;
use tokio::sync::watch;

/// Runs passes until `stop` turns true; with no interval, does nothing.
pub async fn run(db: Db, store: Store, every: Option<Duration>, mut stop: watch::Receiver<bool>) {
    let Some(every) = every else {
        return;
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let mut options = PruneOptions::new("server");
        options.stop = Some(stop.clone());
        if let Err(error) = store::prune::run(&db, &store, options).await {
            tracing::warn!(%error, "retention: the prune pass failed; the next one goes on from there");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
