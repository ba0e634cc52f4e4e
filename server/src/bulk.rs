//! The bulk job worker: started with the server, it takes up queued jobs and
//! those a stop or crash left running ([`store::bulk`] does the work, in small
//! write transactions that store the job's position), looking for new ones
//! every second. It stops between two transactions when the server shuts down.

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
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(error) = store::bulk::run_open_jobs(&db, &store, &options).await {
            tracing::warn!(%error, "bulk jobs: the worker failed; trying again");
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}
