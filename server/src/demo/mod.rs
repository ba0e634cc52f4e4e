//! Demo mode (`--demo`, `RUNBOARD_DEMO=1`): a simulated fleet of runners that keeps
//! a fresh dashboard busy with realistic runs, so a newcomer sees Runboard working
//! in one command.
//!
//! # Only through the real APIs
//!
//! The fleet is an HTTP client of the server it runs in, on the server's own
//! listening address. Everything a run shows — its creation, status, progress,
//! steps (with retried attempts, cache hits and skipped steps), batched events and
//! artifacts — arrives through the owner JSON API and the runner callback API,
//! exactly as from an outside agent. Nothing is written to the database here.
//! Runs reach their runner three ways, as in a real deployment:
//!
//! - **direct**: the fleet creates the run (`POST /api/runs`) and executes it with
//!   the `runnerToken` of the answer;
//! - **claim** (pull model): runs of `data-sync` are left `requested`; a polling
//!   worker claims them (`POST /api/runner/claim`) and executes what it gets;
//! - **dispatch** (push model): the fleet serves a small job receiver on
//!   `127.0.0.1:0` and makes it `design-builder`'s dispatch URL (`PUT
//!   /api/agents/design-builder`); the server's outbox posts each new run's job
//!   request there and the receiver executes it with the job's runner token. The
//!   URL is cleared again when the fleet stops. The outbound policy refuses
//!   loopback addresses, so the fleet adds exactly its receiver's address and
//!   port to the server's allow list.
//!
//! Every run's `context.demo` says how it was run (`runner`: `direct`, `claim` or
//! `dispatch`), which script it follows (`scenario`: `complete`, `fail` or
//! `cancel`) and the `seed` its details are drawn from, so a claimed or
//! dispatched run unfolds the same way whoever picks it up. Runs that the fleet
//! did not create (a `data-sync` run started from the dashboard, say) are
//! executed too. Runs meant to be cancelled are cancelled by the owner
//! (`POST /api/runs/:id/cancel`) part-way; their runner learns it from the next
//! callback's `409 run_finished` and stops.
//!
//! # The owner credential
//!
//! The fleet acts as the first owner. For the owner API it mints a short-lived
//! owner JWT in-process for each call — the same kind of token the server's own
//! `POST /api/auth/token` issues (`store::keys::Keys::api_token`, signed with the
//! `api_jwt_secret` setting that start-up loads). The alternatives were worse: a
//! stored API token (`rb_…`) would add a long-lived credential nobody asked for
//! to the owner's token list at every start (or need cleaning up, which a killed
//! process never does), and logging in needs the owner's password, which Runboard
//! only keeps hashed. A JWT lives an hour, is never stored, and minting one per
//! call means a fleet that runs for days never holds an expired one.
//!
//! # Pace and failure
//!
//! At [`DemoOptions::default`] a new run starts every 2–5 s, at most six run at
//! once, each takes 10–60 s and reports every few hundred milliseconds; `speed`
//! scales all of it. A failed call is logged at `warn` and the fleet carries on;
//! a runner whose calls keep failing gives its run up. When the stop signal comes
//! the fleet stops starting runs, marks the runs still in flight `cancelled`
//! (error code `demo_stopped`), clears the dispatch URL and returns.
//!
//! # Where things are
//!
//! `catalogue`: the agents the fleet plays, their steps and sample inputs;
//! `fleet`: starting runs and handing them to runners (direct, claim, dispatch);
//! `plan`: a run's script from its seed; `runner`: one runner on the runner API
//! (through the client crate); `script`: what a runner reports while it works;
//! `artifacts`: the files and links its steps leave (the screenshots are PNG
//! files under `server/assets/demo/`).

mod artifacts;
mod catalogue;
mod fleet;
mod plan;
mod runner;
mod script;

pub use artifacts::{CAREERS_PAGES, LANDING_PAGES, SCREENSHOT_HEIGHT, SCREENSHOT_WIDTH};

use axum::routing::post;
use axum::Router;
use catalogue::DISPATCH_AGENT;
use fleet::{claim_worker, receive_job, Fleet, OwnerKey};
use runboard_client::Client;
use serde_json::json;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::db::Db;
use store::outbound::Allow;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The line logged when the fleet starts.
pub const START_MESSAGE: &str =
    "demo mode: a simulated fleet is driving runs (RUNBOARD_DEMO=0 to switch off)";

/// How the fleet behaves.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// 1.0 is real time (a run every 2–5 s, each 10–60 s); 10.0 is ten times faster.
    pub speed: f64,
    /// Most runs in flight at once.
    pub max_running: usize,
    /// Seed of the fleet's random choices; `None` draws one.
    pub seed: Option<u64>,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            speed: 1.0,
            max_running: 6,
            seed: None,
        }
    }
}

impl DemoOptions {
    fn speed(&self) -> f64 {
        if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        }
    }

    /// `seconds` of simulated time as a real wait.
    fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds / self.speed()).max(0.002))
    }
}

/// The base URL of a server listening on `addr`, as seen from this machine
/// (`0.0.0.0` and `::` become the loopback address).
pub fn local_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Runs the fleet against the server at `base_url` (the same server whose
/// database handle `db` is: it is read for the owner credential, and its
/// outbound policy is told to allow the fleet's job receiver) until `stop` turns
/// true or its sender is dropped.
pub async fn run(base_url: String, db: Db, options: DemoOptions, stop: watch::Receiver<bool>) {
    tracing::info!("{START_MESSAGE}");
    let owner = match OwnerKey::load(&db).await {
        Ok(owner) => owner,
        Err(error) => {
            tracing::warn!(%error, "demo mode: no owner to act for; the simulated fleet is off");
            return;
        }
    };
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Runboard-demo/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            tracing::warn!(
                %error,
                "demo mode: cannot build an HTTP client; the simulated fleet is off"
            );
            return;
        }
    };
    let seed = options.seed.unwrap_or_else(rand::random);
    let fleet = Arc::new(Fleet::new(
        Client::new(http, &base_url),
        owner,
        options,
        stop.clone(),
    ));

    // The job receiver for push dispatch.
    let receiver = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(
                %error,
                "demo mode: cannot open the job receiver; no runs are dispatched"
            );
            None
        }
    };
    let dispatch_url = receiver
        .as_ref()
        .and_then(|listener| listener.local_addr().ok())
        .map(|addr| {
            // A loopback address, which the outbound policy refuses: exactly this
            // address and port are allowed, for as long as the server runs.
            db.outbound().allow([Allow::Socket(addr)]);
            format!("http://{addr}/jobs")
        });
    let receiver_task = receiver.map(|listener| {
        let router = Router::new()
            .route("/jobs", post(receive_job))
            .with_state(fleet.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "demo mode: the job receiver stopped");
            }
        })
    });

    let mut stop_here = stop.clone();
    let Some(campaigns) = fleet.prepare(dispatch_url.as_deref(), &mut stop_here).await else {
        finish(&fleet, receiver_task, None, dispatch_url.is_some()).await;
        return;
    };
    let claimer = tokio::spawn(claim_worker(fleet.clone()));
    fleet.schedule(&campaigns, seed, &mut stop_here).await;
    finish(&fleet, receiver_task, Some(claimer), dispatch_url.is_some()).await;
}

/// Winds the fleet down after the stop signal.
async fn finish(
    fleet: &Arc<Fleet>,
    receiver: Option<tokio::task::JoinHandle<()>>,
    claimer: Option<tokio::task::JoinHandle<()>>,
    clear_dispatch: bool,
) {
    for task in [receiver, claimer].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if clear_dispatch {
        let cleared = match fleet.owner().await {
            Ok(owner) => owner
                .put_agent(DISPATCH_AGENT, &json!({"dispatchUrl": ""}))
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error),
        };
        if let Err(error) = cleared {
            tracing::warn!(
                %error,
                "demo mode: could not clear {DISPATCH_AGENT}'s dispatch URL"
            );
        }
    }
    fleet.forget_waiting();
    let deadline = Instant::now() + Duration::from_secs(5);
    while fleet.active() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!("demo mode: the simulated fleet stopped");
}

/// Waits `duration`; false when the stop signal came first (or had come).
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}
