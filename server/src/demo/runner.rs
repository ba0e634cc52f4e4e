//! One simulated runner: it executes one run through the runner API (with the
//! client crate), retries what failed, stops when its run was cancelled or
//! deleted, and ends its run when the fleet stops.

use super::catalogue::Mode;
use super::fleet::{Fleet, Job};
use super::pause;
use super::plan::Plan;
use rand::rngs::StdRng;
use rand::SeedableRng;
use runboard_client::{self as client, Upload};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{watch, OwnedSemaphorePermit};

/// Why a runner stopped before finishing its script.
#[derive(Debug)]
pub(super) enum Halt {
    /// The server answered 409 `run_finished`: cancelled (or ended) elsewhere.
    Finished,
    /// The server answered 404: the run was deleted.
    Gone,
    /// The fleet is stopping.
    Shutdown,
    /// Too many calls in a row failed.
    Broken,
}

/// Executes one run through the runner API, then reports how it ended.
pub(super) async fn execute(fleet: Arc<Fleet>, job: Job, permit: Option<OwnedSemaphorePermit>) {
    let _active = fleet.enter();
    let _permit = permit;
    let mode = job
        .context
        .pointer("/demo/runner")
        .and_then(Value::as_str)
        .and_then(Mode::parse)
        .unwrap_or(job.mode);
    let api = match &job.callback {
        // The callback URL is built from RUNBOARD_PUBLIC_URL, which may be a proxy
        // this process cannot reach; the fleet always talks to the local address.
        Some(url) if url.starts_with(fleet.api.base()) => fleet.api.runner_at(url, &job.token),
        _ => fleet.api.runner(job.run_id, &job.token),
    };
    let plan = Plan::for_job(&job);
    let mut runner = Runner {
        host: fleet.host_name(mode),
        stop: fleet.stop.clone(),
        fleet: fleet.clone(),
        api,
        rng: StdRng::seed_from_u64(plan.seed ^ 0x5eed),
        mode,
        job,
        failures: 0,
        next_event: 0,
        pending: Vec::new(),
        progress: 0.0,
    };
    let run_id = runner.job.run_id;
    match runner.drive(&plan).await {
        Ok(()) => tracing::debug!(%run_id, "demo mode: run finished"),
        Err(Halt::Finished) => {
            tracing::info!(%run_id, "demo mode: the run was cancelled; its runner stops")
        }
        Err(Halt::Gone) => {
            tracing::info!(%run_id, "demo mode: the run was deleted; its runner stops")
        }
        Err(Halt::Shutdown) => {
            runner
                .abandon(
                    "cancelled",
                    "demo_stopped",
                    "the demo fleet stopped with the server",
                )
                .await
        }
        Err(Halt::Broken) => {
            tracing::warn!(
                %run_id,
                "demo mode: too many failed calls; the runner gives the run up"
            );
            runner
                .abandon(
                    "failed",
                    "runner_lost",
                    "the simulated runner lost contact with the server",
                )
                .await;
        }
    }
}

/// One simulated runner executing one run.
pub(super) struct Runner {
    pub(super) fleet: Arc<Fleet>,
    pub(super) job: Job,
    pub(super) host: String,
    pub(super) mode: Mode,
    /// The run's callbacks, with its runner token.
    api: runboard_client::Runner,
    stop: watch::Receiver<bool>,
    pub(super) rng: StdRng,
    failures: u32,
    next_event: u64,
    /// Events not yet accepted by the server (sent again with their ids on failure).
    pending: Vec<Value>,
    pub(super) progress: f64,
}

/// Most events kept while the server does not take them.
const MAX_PENDING_EVENTS: usize = 500;

impl Runner {
    /// Sends one runner call. `Ok(None)` is a failure worth only a warning.
    async fn call(
        &mut self,
        what: &str,
        request: impl Future<Output = Result<Value, client::Error>>,
    ) -> Result<Option<Value>, Halt> {
        if *self.stop.borrow() {
            return Err(Halt::Shutdown);
        }
        let run_id = self.job.run_id;
        match request.await {
            Ok(body) => {
                self.failures = 0;
                return Ok(Some(body));
            }
            Err(error) if error.status() == Some(409) && error.code() == Some("run_finished") => {
                return Err(Halt::Finished);
            }
            Err(error) if error.status() == Some(404) => return Err(Halt::Gone),
            Err(client::Error::Status { status, body }) => {
                tracing::warn!(
                    %run_id, what, %status, error = %body["error"],
                    "demo mode: a runner call failed"
                );
            }
            Err(error) => {
                tracing::warn!(%run_id, what, %error, "demo mode: a runner call failed")
            }
        }
        self.failures += 1;
        if self.failures >= 5 {
            Err(Halt::Broken)
        } else {
            Ok(None)
        }
    }

    pub(super) async fn status(&mut self, body: Value) -> Result<(), Halt> {
        let api = self.api.clone();
        self.call("status", async move { api.status(&body).await })
            .await
            .map(|_| ())
    }

    pub(super) async fn step(&mut self, body: Value) -> Result<(), Halt> {
        let api = self.api.clone();
        self.call("step", async move { api.step(&body).await })
            .await
            .map(|_| ())
    }

    /// Queues an event; [`Runner::flush`] sends the queue as one batch.
    pub(super) fn event(&mut self, event_type: &str, message: String, metadata: Value) {
        self.next_event += 1;
        if self.pending.len() >= MAX_PENDING_EVENTS {
            self.pending.remove(0);
        }
        self.pending.push(json!({
            // The runner's own id: a batch sent again stores nothing twice.
            "id": format!("demo-{:05}", self.next_event),
            "eventType": event_type,
            "message": message,
            "metadata": metadata,
        }));
    }

    pub(super) async fn flush(&mut self) -> Result<(), Halt> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let body = json!({"events": self.pending});
        let api = self.api.clone();
        let sent = self
            .call("events", async move { api.events(&body).await })
            .await?;
        if sent.is_some() {
            self.pending.clear();
        }
        Ok(())
    }

    pub(super) async fn sleep(&mut self, secs: f64) -> Result<(), Halt> {
        let wait = self.fleet.options.scaled(secs);
        if pause(&mut self.stop, wait).await {
            Ok(())
        } else {
            Err(Halt::Shutdown)
        }
    }

    /// Uploads a file as multipart `file`; returns the artifact id.
    pub(super) async fn upload(&mut self, upload: Upload<'_>) -> Result<Option<String>, Halt> {
        let api = self.api.clone();
        Ok(self
            .call("artifact upload", api.upload_artifact(upload))
            .await?
            .and_then(|ack| ack["artifactId"].as_str().map(str::to_string)))
    }

    /// Registers an artifact stored elsewhere (JSON); returns its id.
    pub(super) async fn register(&mut self, body: Value) -> Result<Option<String>, Halt> {
        let api = self.api.clone();
        Ok(self
            .call("artifact registration", async move {
                api.register_artifact(&body).await
            })
            .await?
            .and_then(|ack| ack["artifactId"].as_str().map(str::to_string)))
    }

    /// What the run is about: its company, topic, repository or CRM object.
    pub(super) fn subject(&self) -> String {
        let input = &self.job.input;
        ["company_name", "topic", "repo", "object"]
            .iter()
            .find_map(|key| input[*key].as_str())
            .unwrap_or("the task")
            .to_string()
    }

    /// Ends a run the script could not finish. Best effort, past the stop signal.
    async fn abandon(&mut self, status: &str, code: &str, message: &str) {
        let body = json!({"status": status, "progress": self.progress,
            "error": {"code": code, "message": message, "details": {"host": self.host}}});
        match self.api.status(&body).await {
            Ok(_) => {}
            // Already over: nothing to do.
            Err(error) if error.status() == Some(409) => {}
            Err(client::Error::Status { status, .. }) => {
                tracing::warn!(
                    run_id = %self.job.run_id, %status,
                    "demo mode: could not end an abandoned run"
                )
            }
            Err(error) => {
                tracing::warn!(
                    run_id = %self.job.run_id, %error,
                    "demo mode: could not end an abandoned run"
                )
            }
        }
    }
}
