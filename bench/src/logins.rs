//! `runboard-bench logins`: does password guessing slow everyone else down?
//! `--clients` tasks post wrong passwords to `POST /api/auth/token` as fast as
//! the server answers, while one client asks `/healthz` one request after the
//! other; the health check's latency is compared with the same measurement on
//! the idle server. Each wrong login costs an argon2 verification, which the
//! server runs on its blocking pool behind a semaphore, off the async workers.
//! The login limit is raised for the run, so that every guess is really hashed.
//! Exit status 2 when the target (p99 ≤ 200 ms under load) is missed.

use crate::common::{millis, runboard_binary, Percentiles, Server, ServerSpec, ADMIN_EMAIL};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Target: `/healthz` p99 while the guessing goes on.
const TARGET_P99_MS: f64 = 200.0;

#[derive(Debug, Args)]
pub struct LoginsArgs {
    /// Concurrent clients posting wrong passwords.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds each measurement lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The runboard binary to start (default: the one next to this program).
    #[arg(long)]
    bin: Option<PathBuf>,
}

pub async fn logins(args: LoginsArgs) -> Result<ExitCode> {
    let bin = runboard_binary(args.bin)?;
    let spec = ServerSpec {
        env: vec![(
            "RUNBOARD_LOGIN_FAILURES_PER_MINUTE",
            "1000000000".to_string(),
        )],
        ..ServerSpec::default()
    };
    let mut server = Server::start(&bin, spec).await?;
    let window = Duration::from_secs(args.seconds);
    let idle = health_latencies(&server, window).await?;
    let guesses = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut guessers = Vec::new();
    for _ in 0..args.clients {
        guessers.push(tokio::spawn(guess(
            server.base.clone(),
            guesses.clone(),
            refused.clone(),
            stop.clone(),
        )));
    }
    // Let the guessers fill the queue before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = guesses.load(Ordering::Relaxed);
    let loaded = health_latencies(&server, window).await?;
    let during = guesses.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for guesser in guessers {
        guesser.await?;
    }
    server.stop().await?;

    let (idle, loaded) = (Percentiles::new(idle), Percentiles::new(loaded));
    let pass = loaded.at(0.99) <= TARGET_P99_MS && refused.load(Ordering::Relaxed) == 0;
    println!("| figure | value | target |");
    println!("| --- | --- | --- |");
    println!(
        "| /healthz idle: p50 / p99 (ms) | {:.2} / {:.2} |  |",
        idle.at(0.5),
        idle.at(0.99)
    );
    println!(
        "| /healthz with {} clients guessing: p50 / p99 / max (ms) | {:.2} / {:.2} / {:.2} | p99 ≤ {TARGET_P99_MS} ms: {} |",
        args.clients,
        loaded.at(0.5),
        loaded.at(0.99),
        loaded.at(1.0),
        if loaded.at(0.99) <= TARGET_P99_MS { "pass" } else { "FAIL" }
    );
    println!(
        "| wrong logins answered 401 (/s) | {:.1} |  |",
        during as f64 / window.as_secs_f64()
    );
    println!(
        "| answers other than 401 | {} | 0 |",
        refused.load(Ordering::Relaxed)
    );
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `/healthz` one request after the other for `window`: each latency in ms.
async fn health_latencies(server: &Server, window: Duration) -> Result<Vec<f64>> {
    let http = reqwest::Client::new();
    let url = format!("{}/healthz", server.base);
    let mut latencies = Vec::new();
    let end = Instant::now() + window;
    while Instant::now() < end {
        let started = Instant::now();
        let response = http.get(&url).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "/healthz answered {}",
            response.status()
        );
        response.bytes().await?;
        latencies.push(millis(started.elapsed()));
    }
    Ok(latencies)
}

/// Posts wrong passwords until told to stop; counts the 401s and anything else.
async fn guess(
    base: String,
    guesses: Arc<AtomicUsize>,
    other: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::new();
    let url = format!("{base}/api/auth/token");
    let body = serde_json::json!({"email": ADMIN_EMAIL, "password": "a wrong guess"});
    while !stop.load(Ordering::Relaxed) {
        match http.post(&url).json(&body).send().await {
            Ok(response) if response.status() == 401 => {
                guesses.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                other.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
