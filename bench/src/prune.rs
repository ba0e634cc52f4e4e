//! `runboard-bench prune`: does pruning a big database by the retention policy
//! leave ingest alone? On a database made by `scale` (1M runs, 20M events):
//!
//! 1. Brings the schema up to date (timing the migrations) and sets the owner
//!    account's policy (default: keep runs one day), so that nearly every run is due.
//! 2. Baseline: starts `runboard` with background pruning off and measures event
//!    ingest through the runner API: a paced load (runners posting small batches
//!    at a steady rate: latency and delivered events/s) and a saturating burst
//!    (many runners, big batches, as fast as they go: events/s).
//! 3. Starts `runboard` again with pruning on (its first pass runs at start) and
//!    keeps the paced load running until the pass is done, with a saturating
//!    burst every few minutes; the server logs every pruning transaction's writer
//!    hold (`store::prune` at debug level), which the bench reads back.
//! 4. Prints the figures against the target (no pruning transaction holds the
//!    writer over 50 ms); exit status 2 when it is missed.
//!
//! The file is changed (runs are deleted): work on a copy.

use crate::common::{
    create_run, machine, millis, owner_token, runboard_binary, sqlite_url, Percentiles, Server,
    ServerSpec,
};
use anyhow::{ensure, Context, Result};
use clap::Args;
use futures::future::join_all;
use runboard_client::Client;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The database to prune (made by `scale`; changed: use a copy).
    #[arg(long)]
    db: PathBuf,
    /// The account's `keepRunsDays` (and `keepFailedRunsDays`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..36500))]
    keep_runs_days: i64,
    /// Runners of the paced load, each on its own run.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..1000))]
    runners: u64,
    /// Events per batch of the paced load.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch_size: u64,
    /// Milliseconds between two batches of one runner of the paced load.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Runners of a saturating burst (500-event batches, back to back).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..1000))]
    burst_runners: u64,
    /// Seconds of one saturating burst.
    #[arg(long, default_value_t = 5.0)]
    burst_seconds: f64,
    /// Seconds between two bursts while pruning.
    #[arg(long, default_value_t = 180.0)]
    burst_every: f64,
    /// Seconds of the baseline's paced load.
    #[arg(long, default_value_t = 30.0)]
    baseline_seconds: f64,
    /// Stop after this many minutes of pruning, finished or not.
    #[arg(long, default_value_t = 120.0)]
    max_minutes: f64,
    /// The runboard binary to start (default: the one next to this program).
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// The target: no pruning transaction holds the writer longer.
const MAX_HOLD_MS: f64 = 50.0;

/// What one load achieved.
struct Load {
    events: u64,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    millis: Percentiles,
}

impl Load {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// A run of the bench's own and its runner token.
struct Runner {
    url: String,
    token: String,
}

async fn runners(
    server: &Server,
    api: &Client,
    count: u64,
    label: &str,
) -> Result<Arc<Vec<Runner>>> {
    let token = owner_token(api).await?;
    let mut runners = Vec::new();
    for index in 0..count {
        let (id, runner_token) = create_run(
            api,
            &token,
            "prune-bench",
            &format!("runboard-bench prune: {label} {index}"),
        )
        .await?;
        api.runner(&id, &runner_token)
            .status(&json!({"status": "running"}))
            .await
            .context("marking a bench run running")?;
        runners.push(Runner {
            url: format!("{}/api/runner/runs/{id}/events", server.base),
            token: runner_token,
        });
    }
    Ok(Arc::new(runners))
}

fn batch(size: u64, round: u64) -> Vec<u8> {
    let events: Vec<serde_json::Value> = (0..size)
        .map(|index| {
            json!({
                "eventType": "agent.progress",
                "message": format!("prune bench: processed record {round}-{index}"),
            })
        })
        .collect();
    json!({ "events": events }).to_string().into_bytes()
}

/// Every runner posts a batch of `size` events every `interval` (or back to
/// back without one) until `stop` turns true.
async fn load(
    http: reqwest::Client,
    runners: Arc<Vec<Runner>>,
    size: u64,
    interval: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> Load {
    let started = Instant::now();
    let http = &http;
    let each = runners.iter().map(|runner| {
        let stop = stop.clone();
        async move {
            let mut times = Vec::new();
            let mut errors = 0u64;
            let mut round = 0u64;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += interval;
                }
                let began = Instant::now();
                let sent = http
                    .post(&runner.url)
                    .bearer_auth(&runner.token)
                    .header("content-type", "application/json")
                    .body(batch(size, round))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {}
                    _ => errors += 1,
                }
                times.push(millis(began.elapsed()));
                round += 1;
            }
            (times, errors)
        }
    });
    let results = join_all(each).await;
    let elapsed = started.elapsed();
    let errors: u64 = results.iter().map(|(_, errors)| errors).sum();
    let times: Vec<f64> = results.into_iter().flat_map(|(times, _)| times).collect();
    let requests = times.len() as u64;
    Load {
        events: (requests - errors) * size,
        requests,
        errors,
        elapsed,
        millis: Percentiles::new(times),
    }
}

async fn for_seconds(
    http: &reqwest::Client,
    runners: &Arc<Vec<Runner>>,
    size: u64,
    interval: Option<Duration>,
    seconds: f64,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        async move {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            stop.store(true, Ordering::Relaxed);
        }
    };
    let (load, ()) = futures::future::join(
        load(http.clone(), runners.clone(), size, interval, stop),
        timer,
    )
    .await;
    load
}

/// The writer holds the server logged for its pruning transactions, in ms,
/// with the rows each was sized for.
fn holds(log: &str) -> Vec<(f64, u64)> {
    logged_holds(log, "retention: write transaction")
}

/// The writer holds (ms) and rows of the server's debug lines `message` with
/// `rows=… held_us=…` (pruning's and bulk jobs' transactions).
pub(crate) fn logged_holds(log: &str, message: &str) -> Vec<(f64, u64)> {
    let log = strip_ansi(log);
    log.lines()
        .filter(|line| line.contains(message))
        .filter_map(|line| {
            let field = |name: &str| -> Option<u64> {
                let start = line.find(&format!("{name}="))? + name.len() + 1;
                let digits: String = line[start..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            };
            Some((field("held_us")? as f64 / 1000.0, field("rows")?))
        })
        .collect()
}

/// The pruning transactions over [`MAX_HOLD_MS`] by kind (the `what` of their
/// debug line), each as (held, of which the commit) in ms: what to look at
/// when the target is missed.
fn long_holds(log: &str) -> std::collections::BTreeMap<String, Vec<(f64, f64)>> {
    let mut long: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for line in strip_ansi(log)
        .lines()
        .filter(|line| line.contains("retention: write transaction"))
    {
        let field = |name: &str| -> Option<&str> {
            let start = line.find(&format!(" {name}="))? + name.len() + 2;
            let value = line[start..].split(' ').next()?;
            Some(value.trim_matches('"'))
        };
        let micros = |name: &str| {
            field(name)
                .and_then(|v| v.parse::<f64>().ok())
                .map(|us| us / 1000.0)
        };
        let (Some(what), Some(held)) = (field("what"), micros("held_us")) else {
            continue;
        };
        if held > MAX_HOLD_MS {
            // The pieces of the events' text index (`event_text_3`) are one kind.
            let kind = match what.rsplit_once('_') {
                Some((kind, number)) if number.parse::<u64>().is_ok() => kind,
                _ => what,
            };
            long.entry(kind.to_string())
                .or_default()
                .push((held, micros("commit_us").unwrap_or(f64::NAN)));
        }
    }
    long
}

/// The log without terminal colour codes (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn count(line: &str) -> String {
    model::format_count(line.parse().unwrap_or_default())
}

pub async fn prune(args: PruneArgs) -> Result<ExitCode> {
    ensure!(args.db.exists(), "no database at {}", args.db.display());
    let bin = runboard_binary(args.bin.clone())?;
    let url = sqlite_url(&args.db);
    let machine_start = machine();

    // 1. Schema and policy.
    let started = Instant::now();
    let db = store::db::Db::connect(&url).await?;
    let migrated = started.elapsed();
    let mut conn = db.read.acquire().await?;
    let (account_pk, account) = store::db::accounts::first_account(&mut conn)
        .await?
        .context("the database has no account")?;
    drop(conn);
    let actor = store::db::audit::Actor::system(account_pk, model::Via::Cli);
    let policy = model::RetentionPolicy {
        keep_runs_days: Some(args.keep_runs_days),
        keep_failed_runs_days: Some(args.keep_runs_days),
        ..model::RetentionPolicy::default()
    };
    store::db::retention::set_policy(&db, &actor, policy).await?;
    let cutoff = store::db::now_ms() - args.keep_runs_days * model::DAY_MS;
    let (runs, due, events): (i64, i64, i64) = store::db::sql::query_as(
        "SELECT (SELECT count(*) FROM runs),
                (SELECT count(*) FROM runs WHERE completed_at < ? AND pinned = 0),
                (SELECT count(*) FROM events)",
    )
    .bind(cutoff)
    .fetch_one(&db.read)
    .await?;
    db.close().await;
    eprintln!(
        "{}: {runs} runs ({due} due under keepRunsDays {}), {events} events; schema up to date in {:.1} s",
        args.db.display(),
        args.keep_runs_days,
        migrated.as_secs_f64()
    );

    // 2. Baseline, pruning off.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let spec = |prune_secs: &str| ServerSpec {
        database: Some(args.db.clone()),
        capture_log: true,
        env: vec![
            ("RUNBOARD_PRUNE_SECS", prune_secs.to_string()),
            ("RUST_LOG", "warn,store::prune=debug".to_string()),
            ("NO_COLOR", "1".to_string()),
        ],
        ..ServerSpec::default()
    };
    let interval = Some(Duration::from_millis(args.interval_ms));
    let mut server = Server::start(&bin, spec("0")).await?;
    let api = Client::new(http.clone(), &server.base);
    let paced = runners(&server, &api, args.runners, "paced").await?;
    let burst = runners(&server, &api, args.burst_runners, "burst").await?;
    eprintln!(
        "baseline: paced load {:.0} s, then a burst",
        args.baseline_seconds
    );
    let base_paced = for_seconds(
        &http,
        &paced,
        args.batch_size,
        interval,
        args.baseline_seconds,
    )
    .await;
    let base_burst = for_seconds(&http, &burst, 500, None, args.burst_seconds).await;
    server.stop().await?;

    // 3. Pruning on: its first pass starts with the server.
    let mut server = Server::start(&bin, spec("86400")).await?;
    let pruning_started = Instant::now();
    let api = Client::new(http.clone(), &server.base);
    let paced = runners(&server, &api, args.runners, "paced while pruning").await?;
    let burst = runners(&server, &api, args.burst_runners, "burst while pruning").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let paced_load = tokio::spawn(load(
        http.clone(),
        paced,
        args.batch_size,
        interval,
        stop.clone(),
    ));
    let mut bursts = Vec::new();
    let mut next_burst = Instant::now() + Duration::from_secs_f64(args.burst_every / 2.0);
    let deadline = pruning_started + Duration::from_secs_f64(args.max_minutes * 60.0);
    let mut finished = false;
    let mut last_note = Instant::now();
    while Instant::now() < deadline {
        let log = server.log()?;
        if log.contains("retention: pass done") {
            finished = true;
            break;
        }
        if last_note.elapsed() >= Duration::from_secs(60) {
            let done = holds(&log);
            eprintln!(
                "pruning for {:.0} s: {} transactions so far",
                pruning_started.elapsed().as_secs_f64(),
                done.len()
            );
            last_note = Instant::now();
        }
        if Instant::now() >= next_burst {
            bursts.push(for_seconds(&http, &burst, 500, None, args.burst_seconds).await);
            next_burst = Instant::now() + Duration::from_secs_f64(args.burst_every);
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let pruning = pruning_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during_paced = paced_load.await?;
    let log = server.log()?;
    server.stop().await?;

    // 4. Figures.
    let held = holds(&log);
    let hold_ms = Percentiles::new(held.iter().map(|(ms, _)| *ms).collect());
    let rows: u64 = held.iter().map(|(_, rows)| rows).sum();
    let over = held.iter().filter(|(ms, _)| *ms > MAX_HOLD_MS).count();
    let pass_line = log
        .lines()
        .find(|line| line.contains("retention: pruned"))
        .unwrap_or("(no account line: the pass did not finish an account)");
    let burst_rate = if bursts.is_empty() {
        f64::NAN
    } else {
        bursts.iter().map(Load::rate).sum::<f64>() / bursts.len() as f64
    };
    let burst_p99 = Percentiles::new(
        bursts
            .iter()
            .flat_map(|burst| [burst.millis.at(0.99)])
            .collect(),
    )
    .at(1.0);
    let errors = during_paced.errors + bursts.iter().map(|burst| burst.errors).sum::<u64>();
    let busy = log.matches("database is locked").count();
    let passed = finished && over == 0 && errors == 0 && busy == 0;

    println!(
        "\nrunboard-bench prune: {} ({account}), keepRunsDays {}\nmachine: {machine_start} (start), {} (end)\n",
        args.db.display(),
        args.keep_runs_days,
        machine()
    );
    println!(
        "database before: {} runs ({} due), {} events; migrations {:.1} s",
        count(&runs.to_string()),
        count(&due.to_string()),
        count(&events.to_string()),
        migrated.as_secs_f64()
    );
    println!("pass: {pass_line}");
    println!(
        "pass {}: {:.1} min, {} write transactions ({} rows)\n",
        if finished {
            "finished"
        } else {
            "stopped at --max-minutes"
        },
        pruning.as_secs_f64() / 60.0,
        model::format_count(held.len() as i64),
        model::format_count(rows as i64),
    );
    println!("| figure | before pruning | while pruning | target |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| paced ingest ({} runners × {} events every {} ms): events/s delivered | {:.0} ({} requests in {:.0} s) | {:.0} ({} requests in {:.0} s) |  |",
        args.runners,
        args.batch_size,
        args.interval_ms,
        base_paced.rate(),
        base_paced.requests,
        base_paced.elapsed.as_secs_f64(),
        during_paced.rate(),
        during_paced.requests,
        during_paced.elapsed.as_secs_f64(),
    );
    println!(
        "| paced ingest: batch round trip p50 / p99 / max (ms) | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} |  |",
        base_paced.millis.at(0.5),
        base_paced.millis.at(0.99),
        base_paced.millis.at(1.0),
        during_paced.millis.at(0.5),
        during_paced.millis.at(0.99),
        during_paced.millis.at(1.0),
    );
    println!(
        "| saturating ingest ({} runners × 500-event batches, {:.0} s): events/s | {:.0} | {:.0} (mean of {} bursts) |  |",
        args.burst_runners,
        args.burst_seconds,
        base_burst.rate(),
        burst_rate,
        bursts.len(),
    );
    println!(
        "| saturating ingest: batch round trip p99 (ms) | {:.0} | {:.0} (worst burst) |  |",
        base_burst.millis.at(0.99),
        burst_p99,
    );
    println!(
        "| pruning transactions: writer hold p50 / p99 / max (ms) |  | {:.1} / {:.1} / {:.1} | max ≤ {MAX_HOLD_MS:.0} ms: {} |",
        hold_ms.at(0.5),
        hold_ms.at(0.99),
        hold_ms.at(1.0),
        if over == 0 { "pass" } else { "FAIL" },
    );
    println!(
        "| pruning transactions over {MAX_HOLD_MS:.0} ms |  | {over} of {} |  |",
        held.len()
    );
    println!(
        "| ingest error responses / SQLITE_BUSY | {} / – | {errors} / {busy} | 0: {} |",
        base_paced.errors + base_burst.errors,
        if errors == 0 && busy == 0 {
            "pass"
        } else {
            "FAIL"
        },
    );
    let long = long_holds(&log);
    if !long.is_empty() {
        println!("\nTransactions over {MAX_HOLD_MS:.0} ms, by kind:\n");
        println!("| kind | count | longest (ms) | of which the commit (ms) |");
        println!("| --- | --- | --- | --- |");
        for (what, holds) in &long {
            let longest = holds
                .iter()
                .fold((0.0, 0.0), |a, b| if b.0 > a.0 { *b } else { a });
            println!(
                "| {what} | {} | {:.1} | {:.1} |",
                holds.len(),
                longest.0,
                longest.1
            );
        }
    }
    println!(
        "\nResult: {}",
        if passed {
            "pass"
        } else if !finished {
            "the pass did not finish within --max-minutes"
        } else {
            "FAIL"
        }
    );
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn holds_are_read_from_the_servers_log() {
        let log = "2026-12-02T10:00:00.000Z DEBUG store::prune: retention: write transaction rows=63 held_us=12345\n\
                   2026-12-02T10:00:00.100Z  INFO store::prune: retention: pruned 3 runs\n\
                   2026-12-02T10:00:00.200Z DEBUG store::prune: retention: write transaction rows=126 held_us=800";
        assert_eq!(holds(log), vec![(12.345, 63), (0.8, 126)]);
        let coloured = "\u{1b}[2m2026\u{1b}[0m DEBUG retention: write transaction \u{1b}[3mrows\u{1b}[0m\u{1b}[2m=\u{1b}[0m7 \u{1b}[3mheld_us\u{1b}[0m\u{1b}[2m=\u{1b}[0m2000";
        assert_eq!(holds(coloured), vec![(2.0, 7)]);
    }

    #[test]
    fn long_holds_are_grouped_by_kind() {
        let log = "x DEBUG store::prune: retention: write transaction what=\"delete\" rows=63 held_us=72000 commit_us=70000\n\
                   x DEBUG store::prune: retention: write transaction what=\"delete\" rows=63 held_us=9000 commit_us=100\n\
                   x DEBUG store::prune: retention: write transaction what=event_text_3 rows=9 held_us=51000 commit_us=2000
                   x DEBUG store::prune: retention: write transaction what=event_text_12 rows=9 held_us=60000 commit_us=1000";
        let long = long_holds(log);
        assert_eq!(long["delete"], vec![(72.0, 70.0)]);
        assert_eq!(long["event_text"], vec![(51.0, 2.0), (60.0, 1.0)]);
        assert_eq!(long.len(), 2);
    }
}
