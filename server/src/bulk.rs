//! The bulk job worker: started with the server, it takes up queued jobs and
//! those a stop or crash left running ([`store::bulk`] does the work, in small
//! write transactions that store the job's position), looking for new ones
//! every second. It stops between two transactions when the server shuts down.
//! On a database several servers share, one worker at a time walks, the one
//! holding the walker's lease ([`store::bulk::walker_lease`]).

use std::time::Duration;
use store::bulk::WalkOptions;
use store::db::Db;
use store::storage::Store;
use tokio::sync::watch;

/// How often the worker looks for new jobs when it has none.
const POLL: Duration = Duration::from_secs(1);

/// Works on bulk jobs until `stop` turns true.
pub async fn run(db: Db, store: Store, stop: watch::Receiver<bool>) {
    let options = WalkOptions {
        pause_ratio: 1.0,
        stop: stop.clone(),
    };
    let mut stop = stop;
    let mut lease = store::bulk::walker_lease();
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(error) = store::bulk::run_open_jobs(&db, &store, &options, &mut lease).await {
            tracing::warn!(%error, "bulk jobs: the worker failed; trying again");
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => break,
        }
    }
    // Another server's worker goes on at once rather than when the lease runs out.
    if let Err(error) = lease.release(&db).await {
        tracing::warn!(%error, "bulk jobs: could not give the walker's lease up");
    }
}
