//! The server's side of each figure, over HTTP against the running binary:
//! latency of one request at a time, throughput with several at once, batched
//! event ingest from concurrent runners, and single status callbacks.

use super::cases::{Auth, Case};
use super::raw::EventContent;
use crate::common::{cpu_seconds, create_run, machine_busy_seconds, millis, own_cpu_seconds};
use crate::common::{owner_token, Percentiles};
use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD};
use anyhow::{ensure, Context, Result};
use futures::future::join_all;
use runboard_client::Client;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// The clients of one server: the owner API's and the dashboard's.
#[derive(Clone)]
pub struct Clients {
    pub base: String,
    /// The measured requests go out through this client as they are.
    pub api: reqwest::Client,
    /// The same connections, for the calls that set the measurements up.
    pub server: Client,
    pub token: String,
    /// Holds the session cookie of a form login; follows no redirects (a
    /// redirect to the login form counts as an error).
    pub browser: reqwest::Client,
    pub server_pid: u32,
}

impl Clients {
    pub async fn connect(base: &str, server_pid: u32) -> Result<Clients> {
        let api = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()?;
        let server = Client::new(api.clone(), base);
        let token = owner_token(&server).await?;
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        login(&browser, base).await?;
        Ok(Clients {
            base: base.to_string(),
            api,
            server,
            token,
            browser,
            server_pid,
        })
    }

    /// A fresh owner token (they last an hour; a long run outlives one).
    pub async fn refresh_token(&mut self) -> Result<()> {
        self.token = owner_token(&self.server).await?;
        Ok(())
    }

    fn request(&self, case: &Case) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.base, case.path);
        match case.auth {
            Auth::Bearer => self.api.get(url).bearer_auth(&self.token),
            Auth::Session => self.browser.get(url),
        }
    }
}

/// The login form, as a browser without JavaScript posts it (`POST /fn/login`).
async fn login(browser: &reqwest::Client, base: &str) -> Result<()> {
    let body = format!(
        "email={}&password={}&next=%2F",
        form_value(ADMIN_EMAIL),
        form_value(ADMIN_PASSWORD)
    );
    let response = browser
        .post(format!("{base}/fn/login"))
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    ensure!(
        response.status() == 302,
        "the login form answered {}",
        response.status()
    );
    Ok(())
}

fn form_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// One request: the size of its body when it answered 200, `None` otherwise.
async fn fetch(request: reqwest::RequestBuilder) -> Option<usize> {
    let response = request.send().await.ok()?;
    let ok = response.status() == 200;
    let body = response.bytes().await.ok()?;
    ok.then_some(body.len())
}

/// Latency of one request at a time.
pub struct Latency {
    pub millis: Percentiles,
    pub errors: usize,
    /// The largest answer's body, in bytes (what a page of this read weighs).
    pub bytes: usize,
}

pub async fn latency(clients: &Clients, case: &Case, budget: Duration, max: usize) -> Latency {
    for _ in 0..5 {
        fetch(clients.request(case)).await;
    }
    let mut times = Vec::new();
    let mut errors = 0;
    let mut bytes = 0;
    let started = Instant::now();
    while times.len() < max && (times.len() < 5 || started.elapsed() < budget) {
        let began = Instant::now();
        match fetch(clients.request(case)).await {
            Some(size) => bytes = bytes.max(size),
            None => errors += 1,
        }
        times.push(millis(began.elapsed()));
    }
    Latency {
        millis: Percentiles::new(times),
        errors,
        bytes,
    }
}

/// Requests per second with `concurrency` at once, and the cores each side used.
pub struct Throughput {
    pub per_second: f64,
    pub errors: usize,
    pub server_cores: f64,
    pub bench_cores: f64,
}

/// Cores the servers, the bench and the whole machine used over a stretch of
/// wall time.
struct CpuWatch {
    pids: Vec<u32>,
    server: f64,
    bench: f64,
    machine: f64,
    started: Instant,
}

impl CpuWatch {
    fn start(pids: &[u32]) -> CpuWatch {
        CpuWatch {
            pids: pids.to_vec(),
            server: servers_cpu_seconds(pids),
            bench: own_cpu_seconds().unwrap_or(f64::NAN),
            machine: machine_busy_seconds().unwrap_or(f64::NAN),
            started: Instant::now(),
        }
    }

    /// (server cores, bench cores, machine cores) since the start.
    fn cores(&self) -> (f64, f64, f64) {
        let wall = self.started.elapsed().as_secs_f64();
        let server = servers_cpu_seconds(&self.pids) - self.server;
        let bench = own_cpu_seconds().unwrap_or(f64::NAN) - self.bench;
        let machine = machine_busy_seconds().unwrap_or(f64::NAN) - self.machine;
        (server / wall, bench / wall, machine / wall)
    }
}

fn servers_cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .map(|&pid| cpu_seconds(pid).unwrap_or(f64::NAN))
        .sum()
}

pub async fn throughput(
    clients: &Clients,
    case: &Case,
    concurrency: usize,
    duration: Duration,
) -> Throughput {
    let done = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let watch = CpuWatch::start(&[clients.server_pid]);
    let deadline = Instant::now() + duration;
    let workers = (0..concurrency).map(|_| {
        let (done, errors) = (done.clone(), errors.clone());
        async move {
            while Instant::now() < deadline {
                if fetch(clients.request(case)).await.is_none() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    join_all(workers).await;
    let wall = watch.started.elapsed().as_secs_f64();
    let (server_cores, bench_cores, _) = watch.cores();
    Throughput {
        per_second: done.load(Ordering::Relaxed) as f64 / wall,
        errors: errors.load(Ordering::Relaxed),
        server_cores,
        bench_cores,
    }
}

/// A run the bench created for itself, with its runner token.
#[derive(Clone)]
pub struct BenchRun {
    pub id: String,
    pub runner_token: String,
}

/// Creates `count` runs of `agent` and, when asked, reports each running.
pub async fn bench_runs(
    clients: &Clients,
    agent: &str,
    count: usize,
    running: bool,
) -> Result<Vec<BenchRun>> {
    let mut runs = Vec::with_capacity(count);
    for index in 0..count {
        let summary = format!("runboard-bench scale: {agent} {index}");
        let (id, runner_token) =
            create_run(&clients.server, &clients.token, agent, &summary).await?;
        if running {
            clients
                .server
                .runner(&id, &runner_token)
                .status(&json!({"status": "running", "progress": 0.0}))
                .await
                .context("marking a bench run running")?;
        }
        runs.push(BenchRun { id, runner_token });
    }
    Ok(runs)
}

/// Deletes the bench's runs (with their events) through the API.
pub async fn delete_runs(clients: &Clients, runs: &[BenchRun]) -> Result<Duration> {
    let started = Instant::now();
    let owner = clients.server.owner(clients.token.as_str());
    for run in runs {
        owner
            .delete_run(&run.id)
            .await
            .with_context(|| format!("deleting bench run {}", run.id))?;
    }
    Ok(started.elapsed())
}

/// A batch as the runner API takes it: `{"events": [...]}`.
pub fn batch_body(batch: &[EventContent]) -> Vec<u8> {
    let events: Vec<serde_json::Value> = batch
        .iter()
        .map(|event| {
            let metadata = event
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
            json!({"eventType": event.event_type, "message": event.message, "metadata": metadata})
        })
        .collect();
    json!({ "events": events }).to_string().into_bytes()
}

/// What a group of concurrent callers achieved.
pub struct Load {
    /// Successful requests (for ingest, times the batch size gives events).
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub millis: Percentiles,
    /// Cores the servers used (all of them, when several took the posts).
    pub server_cores: f64,
    /// Cores the whole machine used: the servers, the bench and the database
    /// server, if one runs here.
    pub machine_cores: f64,
}

/// The servers runners post to: one, or several on one database (runner `i`
/// posts to server `i mod n`).
pub struct Posting<'a> {
    pub bases: Vec<&'a str>,
    pub pids: Vec<u32>,
}

impl<'a> Posting<'a> {
    /// Only the server of `clients`.
    pub fn one(clients: &'a Clients) -> Posting<'a> {
        Posting {
            bases: vec![clients.base.as_str()],
            pids: vec![clients.server_pid],
        }
    }
}

/// Each run's runner posts `rounds` requests, one after the other, all runners
/// at once; `body(runner, round)` says what.
async fn concurrent_posts(
    clients: &Clients,
    servers: &Posting<'_>,
    runs: &[BenchRun],
    rounds: usize,
    path: &str,
    body: impl Fn(usize, usize) -> Vec<u8> + Sync,
) -> Load {
    let barrier = Barrier::new(runs.len() + 1);
    let body = &body;
    let barrier = &barrier;
    let runners = runs.iter().enumerate().map(|(runner, run)| async move {
        let base = servers.bases[runner % servers.bases.len()];
        let url = format!("{base}/api/runner/runs/{}/{path}", run.id);
        let mut times = Vec::with_capacity(rounds);
        let mut errors = 0;
        barrier.wait().await;
        for round in 0..rounds {
            let payload = body(runner, round);
            let began = Instant::now();
            let request = clients
                .api
                .post(&url)
                .bearer_auth(&run.runner_token)
                .header("content-type", "application/json")
                .body(payload);
            if fetch(request).await.is_none() {
                errors += 1;
            }
            times.push(millis(began.elapsed()));
        }
        (times, errors)
    });
    let all = futures::future::join(join_all(runners), async {
        barrier.wait().await;
        (Instant::now(), CpuWatch::start(&servers.pids))
    });
    let (results, (started, watch)) = all.await;
    let elapsed = started.elapsed();
    let (server_cores, _, machine_cores) = watch.cores();
    let errors: usize = results.iter().map(|(_, errors)| errors).sum();
    let times: Vec<f64> = results.into_iter().flat_map(|(times, _)| times).collect();
    Load {
        ok: times.len() - errors,
        errors,
        elapsed,
        millis: Percentiles::new(times),
        server_cores,
        machine_cores,
    }
}

/// Batched ingest: every runner posts `rounds` batches (cycling through `bodies`).
pub async fn ingest(
    clients: &Clients,
    servers: &Posting<'_>,
    runs: &[BenchRun],
    rounds: usize,
    bodies: &[Vec<u8>],
) -> Load {
    concurrent_posts(clients, servers, runs, rounds, "events", |runner, round| {
        bodies[(runner + round) % bodies.len()].clone()
    })
    .await
}

/// Progress callbacks: every worker moves its run's progress `rounds` times.
pub async fn status_callbacks(clients: &Clients, runs: &[BenchRun], rounds: usize) -> Load {
    concurrent_posts(
        clients,
        &Posting::one(clients),
        runs,
        rounds,
        "status",
        |_, round| {
            let progress = (round + 1) as f64 / (rounds + 1) as f64;
            json!({ "progress": progress }).to_string().into_bytes()
        },
    )
    .await
}
