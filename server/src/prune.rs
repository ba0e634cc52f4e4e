//! The background prune: a pass by every account's retention policy at start
//! and then every `RUNBOARD_PRUNE_SECS` ([`store::prune`] does the work in
//! small write transactions). A pass in progress stops between two
//! transactions when the server shuts down. On a database several servers
//! share, the server holding the retention lease makes the passes (two at once
//! would both report what they removed); when it stops, another takes over.

use std::time::Duration;
use store::db::leases::Lease;
use store::db::Db;
use store::prune::PruneOptions;
use store::storage::Store;
use tokio::sync::watch;

/// Runs passes until `stop` turns true; with no interval, does nothing.
pub async fn run(db: Db, store: Store, every: Option<Duration>, mut stop: watch::Receiver<bool>) {
    let Some(every) = every else {
        return;
    };
    // Renewed at every pass; outlasts two intervals and a long pass.
    let mut lease = Lease::new("retention", every.saturating_mul(2) + LONG_PASS);
    loop {
        if *stop.borrow() {
            break;
        }
        match lease.hold(&db).await {
            Ok(true) => {
                let mut options = PruneOptions::new("server");
                options.stop = Some(stop.clone());
                if let Err(error) = store::prune::run(&db, &store, options).await {
                    tracing::warn!(%error, "retention: the prune pass failed; the next one goes on from there");
                }
            }
            Ok(false) => tracing::debug!("retention: another server makes the passes"),
            Err(error) => tracing::warn!(%error, "retention: cannot take the lease; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
    }
    if let Err(error) = lease.release(&db).await {
        tracing::warn!(%error, "retention: could not give the lease up");
    }
}

/// What the retention lease allows for a pass beyond its interval.
const LONG_PASS: Duration = Duration::from_secs(600);
