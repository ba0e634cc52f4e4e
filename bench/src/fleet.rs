//! `runboard-bench export` and `runboard-bench bulk`: fleet control at scale, on a
//! database made by `scale` (1M runs).
//!
//! - `export` downloads every matching run twice through `GET /api/runs/export`,
//!   sampling the server's resident memory every 50 ms: time, rows, bytes, and
//!   how much the memory grew (the first export also fills SQLite's page cache
//!   of a read connection, at most 32 MB; the second shows the steady state,
//!   which the target is about: a few MB).
//! - `bulk` tags the newest N runs (100k by default) with a bulk job, chosen by
//!   `createdAfter`, and reads the writer hold of each of the job's
//!   transactions from the server's debug log (`store::bulk`): the target is
//!   that none holds the writer over 50 ms. It changes the file (tags are
//!   added): work on a copy.

use crate::common::{
    machine, millis, owner_token, rss_kb, runboard_binary, Percentiles, Server, ServerSpec,
    ADMIN_EMAIL,
};
use crate::prune::logged_holds;
use anyhow::{bail, ensure, Context, Result};
use clap::{Args, ValueEnum};
use futures::StreamExt;
use runboard_client::Client;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Ndjson,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The database (made by `scale`; only read, but migrated to this version).
    #[arg(long)]
    db: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// The columns (`fields=`); every field when absent.
    #[arg(long)]
    fields: Option<String>,
    /// More of the export's query string, e.g. `status=failed&agent=crawler`.
    #[arg(long, default_value = "")]
    filter: String,
    /// Most the server's memory may grow during the second export, in MB.
    #[arg(long, default_value_t = 8.0)]
    max_growth_mb: f64,
    /// The runboard binary to start (default: the one next to this program).
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// What one download did.
struct Download {
    /// Lines (records, and CSV's header).
    lines: u64,
    bytes: u64,
    elapsed: Duration,
    first_byte: Duration,
    rss_before_kb: u64,
    rss_peak_kb: u64,
}

async fn download(server: &Server, url: &str, token: &str) -> Result<Download> {
    let rss_before_kb = rss_kb(server.pid)?;
    let peak = Arc::new(AtomicU64::new(rss_before_kb));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, pid) = (peak.clone(), done.clone(), server.pid);
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_kb(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .context("GET /api/runs/export")?;
    ensure!(
        response.status().is_success(),
        "export answered {}: {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
    let mut first_byte = None;
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("the export was cut short")?;
        first_byte.get_or_insert_with(|| started.elapsed());
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    Ok(Download {
        lines,
        bytes,
        elapsed,
        first_byte: first_byte.unwrap_or(elapsed),
        rss_before_kb,
        rss_peak_kb: peak.load(Ordering::Relaxed),
    })
}

pub async fn export(args: ExportArgs) -> Result<ExitCode> {
    ensure!(args.db.exists(), "no database at {}", args.db.display());
    let bin = runboard_binary(args.bin.clone())?;
    let server = Server::start(
        &bin,
        ServerSpec {
            database: Some(args.db.clone()),
            ..ServerSpec::default()
        },
    )
    .await?;
    let api = Client::new(reqwest::Client::new(), &server.base);
    let token = owner_token(&api).await?;
    let mut query = vec![format!(
        "format={}",
        match args.format {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    )];
    if let Some(fields) = &args.fields {
        query.push(format!("fields={fields}"));
    }
    if !args.filter.is_empty() {
        query.push(args.filter.clone());
    }
    let url = format!("{}/api/runs/export?{}", server.base, query.join("&"));
    println!("runboard-bench export: {url}");
    println!("machine: {}", machine());
    println!("| export | lines (CSV: with the header) | MB | first byte (ms) | seconds | lines/s | RSS before (MB) | peak growth (MB) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut growth_mb = 0.0;
    for round in ["first", "second"] {
        let figures = download(&server, &url, &token).await?;
        growth_mb = figures.rss_peak_kb.saturating_sub(figures.rss_before_kb) as f64 / 1024.0;
        println!(
            "| {round} | {} | {:.1} | {:.0} | {:.1} | {:.0} | {:.1} | {growth_mb:.1} |",
            model::format_count(figures.lines as i64),
            figures.bytes as f64 / 1e6,
            millis(figures.first_byte),
            figures.elapsed.as_secs_f64(),
            figures.lines as f64 / figures.elapsed.as_secs_f64(),
            figures.rss_before_kb as f64 / 1024.0,
        );
    }
    let met = growth_mb <= args.max_growth_mb;
    println!(
        "target: the second export grows the server's memory by at most {:.0} MB: {}",
        args.max_growth_mb,
        if met { "met" } else { "MISSED" }
    );
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[derive(Debug, Args)]
pub struct BulkArgs {
    /// The database (made by `scale`; changed: tags are added, so use a copy).
    #[arg(long)]
    db: PathBuf,
    /// How many of the newest runs the job tags.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(1..))]
    runs: i64,
    /// The tag the job adds.
    #[arg(long, default_value = "bench-bulk")]
    tag: String,
    /// Stop waiting after this many minutes.
    #[arg(long, default_value_t = 60.0)]
    max_minutes: f64,
    /// The runboard binary to start (default: the one next to this program).
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// The target: no bulk job transaction holds the writer longer.
const MAX_HOLD_MS: f64 = 50.0;

/// The creation time (RFC 3339) of the bench owner's `n`-th newest run.
fn nth_newest(db: &std::path::Path, n: i64) -> Result<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let created_at: i64 = conn
        .query_row(
            "SELECT created_at FROM runs
             WHERE account_pk = (SELECT account_pk FROM users WHERE email = ?1)
             ORDER BY created_at DESC LIMIT 1 OFFSET ?2",
            rusqlite::params![ADMIN_EMAIL, n - 1],
            |row| row.get(0),
        )
        .context("the database has fewer runs than asked")?;
    let at = chrono::DateTime::from_timestamp_millis(created_at).context("a run's time")?;
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub async fn bulk(args: BulkArgs) -> Result<ExitCode> {
    ensure!(args.db.exists(), "no database at {}", args.db.display());
    let bin = runboard_binary(args.bin.clone())?;
    let since = nth_newest(&args.db, args.runs)?;
    let server = Server::start(
        &bin,
        ServerSpec {
            database: Some(args.db.clone()),
            capture_log: true,
            env: vec![
                ("RUST_LOG", "warn,store::bulk=debug".to_string()),
                ("NO_COLOR", "1".to_string()),
                ("RUNBOARD_PRUNE_SECS", "0".to_string()),
            ],
            ..ServerSpec::default()
        },
    )
    .await?;
    let api = Client::new(reqwest::Client::new(), &server.base);
    let token = owner_token(&api).await?;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(format!("{}/api/runs/bulk", server.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let body = json!({"action": "tag", "tag": args.tag, "filter": {"createdAfter": since}});
    let started = Instant::now();
    let preview: Value = post(json!({"action": "tag", "tag": args.tag, "filter": {"createdAfter": since}, "dryRun": true}))
        .await?
        .json()
        .await?;
    let preview_ms = millis(started.elapsed());
    let started = Instant::now();
    let answer: Value = post(body).await?.json().await?;
    let id = answer["data"]["id"]
        .as_str()
        .with_context(|| format!("no job in {answer}"))?
        .to_string();
    let deadline = Instant::now() + Duration::from_secs_f64(args.max_minutes * 60.0);
    let job = loop {
        let job: Value = http
            .get(format!("{}/api/bulk-jobs/{id}", server.base))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let job = job["data"].clone();
        match job["status"].as_str() {
            Some("done") => break job,
            Some("queued" | "running") => {}
            other => bail!("the job ended {other:?}: {job}"),
        }
        ensure!(
            Instant::now() < deadline,
            "the job did not finish in time: {job}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let elapsed = started.elapsed();
    let holds = logged_holds(&server.log()?, "bulk job: write transaction");
    ensure!(
        !holds.is_empty(),
        "the server logged no bulk job transaction"
    );
    let longest = holds.iter().map(|(ms, _)| *ms).fold(0.0, f64::max);
    let sample = Percentiles::new(holds.iter().map(|(ms, _)| *ms).collect());
    let largest_batch = holds.iter().map(|(_, rows)| *rows).max().unwrap_or(0);
    println!("runboard-bench bulk: tag the runs created since {since}");
    println!("machine: {}", machine());
    println!("| figure | value |");
    println!("| --- | --- |");
    println!("| dry run (ms) | {preview_ms:.0} ({}) |", preview["data"]);
    println!(
        "| job | matched {}, done {}, skipped {}, failed {} |",
        job["matched"], job["done"], job["skipped"], job["failed"]
    );
    println!(
        "| job time (s) | {:.1} ({:.0} runs/s) |",
        elapsed.as_secs_f64(),
        job["matched"].as_f64().unwrap_or(0.0) / elapsed.as_secs_f64()
    );
    println!(
        "| transactions | {} (largest {largest_batch} runs) |",
        holds.len()
    );
    println!(
        "| writer hold p50 / p99 / longest (ms) | {:.1} / {:.1} / {longest:.1} |",
        sample.at(0.5),
        sample.at(0.99)
    );
    let met = longest <= MAX_HOLD_MS;
    println!(
        "target: no transaction holds the writer over {MAX_HOLD_MS:.0} ms: {}",
        if met { "met" } else { "MISSED" }
    );
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
