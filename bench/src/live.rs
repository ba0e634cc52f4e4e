//! `runboard-bench live`: the live stream's figures. With N
//! subscribers on `GET /api/events/stream`, how long after a runner's callback was
//! committed (its 200 arrived) does each subscriber have the change, does every
//! subscriber get every change exactly once and in order, and how much server
//! memory does a subscriber hold. Each subscriber is one streaming request read
//! by the client crate's SSE reader. The command prints one table; its exit status
//! is 2 when a target is missed.

use crate::common::{
    cpu_seconds, create_run, own_cpu_seconds, owner_token, raise_open_file_limit, rss_kb,
    runboard_binary, Percentiles, Server, ServerSpec,
};
use anyhow::{ensure, Context, Result};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use runboard_client::sse::{EventStream, Message};
use runboard_client::Client;
use serde::Deserialize;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Target: commit-to-client latency, 99th percentile.
const TARGET_P99_MS: f64 = 250.0;
/// Target: server memory per open subscriber.
const TARGET_KB_PER_SUBSCRIBER: f64 = 50.0;
/// Subscribers connecting at the same time (the rest wait their turn).
const CONNECTING_AT_ONCE: usize = 64;
/// How long delivery may stall after the last callback before the rest counts as missing.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Concurrent subscribers of /api/events/stream.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    subscribers: u32,
    /// Runner callbacks to post (each one change every subscriber must receive).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    changes: u32,
    /// Callbacks per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// The runboard binary to start (default: the one next to this program).
    #[arg(long)]
    bin: Option<PathBuf>,
}

pub async fn live(args: LiveArgs) -> Result<ExitCode> {
    ensure!(
        args.rate.is_finite() && args.rate > 0.0,
        "--rate must be a positive number"
    );
    let subscribers = args.subscribers as usize;
    let changes = args.changes as usize;
    // The server holds one socket per subscriber and inherits this limit.
    raise_open_file_limit(subscribers as u64 + 1024)?;
    let bin = runboard_binary(args.bin)?;
    let spec = ServerSpec {
        database: None,
        capture_log: false,
        ..ServerSpec::default()
    };
    let mut server = Server::start(&bin, spec).await?;
    let result = measure(&server, subscribers, changes, args.rate).await;
    server.stop().await?;
    let report = result?;
    report.print();
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The whole measurement against a started server.
async fn measure(server: &Server, subscribers: usize, changes: usize, rate: f64) -> Result<Report> {
    let api = Client::new(reqwest::Client::new(), &server.base);
    let token = owner_token(&api).await?;
    let (run_id, runner_token) = create_run(&api, &token, "bench", "runboard-bench live").await?;

    let rss_before = rss_kb(server.pid)?;
    let opening = Instant::now();
    let connections = open_subscribers(&server.base, &token, subscribers).await?;
    let open_time = opening.elapsed();
    // Let the server finish what the connections started (pool returns, buffers).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_open = rss_kb(server.pid)?;

    let delivered = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = watch::channel(false);
    let followers: Vec<JoinHandle<Result<Record>>> = connections
        .into_iter()
        .map(|connection| {
            tokio::spawn(follow(
                connection,
                changes,
                delivered.clone(),
                stopped.clone(),
            ))
        })
        .collect();

    let cpu_before = (cpu_seconds(server.pid)?, own_cpu_seconds()?);
    let posting = Instant::now();
    let runner = api.runner(&run_id, &runner_token);
    let callbacks = post_changes(&runner, changes, rate).await?;
    let post_time = posting.elapsed();
    wait_for_delivery(&delivered, subscribers * changes).await;
    let cpu_after = (cpu_seconds(server.pid)?, own_cpu_seconds()?);
    let busy = posting.elapsed().as_secs_f64();
    let rss_end = rss_kb(server.pid)?;
    let _ = stop.send(true);

    let mut records = Vec::with_capacity(subscribers);
    for follower in followers {
        records.push(follower.await.context("a subscriber task failed")??);
    }
    Ok(Report::new(Inputs {
        subscribers,
        changes,
        rate,
        achieved_rate: changes as f64 / post_time.as_secs_f64(),
        open_time,
        rss: [rss_before, rss_open, rss_end],
        server_cpu: (cpu_after.0 - cpu_before.0) / busy,
        client_cpu: (cpu_after.1 - cpu_before.1) / busy,
        callbacks,
        records,
    }))
}

/// What the runner side saw of one callback.
struct Callback {
    /// When its 200 arrived: the change is committed by then.
    acknowledged: Instant,
    round_trip: Duration,
}

/// Posts `changes` progress callbacks, `(i + 1) / changes` for the i-th, at `rate` a second.
async fn post_changes(
    runner: &runboard_client::Runner,
    changes: usize,
    rate: f64,
) -> Result<Vec<Callback>> {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut callbacks = Vec::with_capacity(changes);
    for index in 0..changes {
        ticks.tick().await;
        let progress = (index + 1) as f64 / changes as f64;
        let sent = Instant::now();
        runner
            .status(&json!({ "progress": progress }))
            .await
            .with_context(|| format!("callback {index}"))?;
        let acknowledged = Instant::now();
        callbacks.push(Callback {
            acknowledged,
            round_trip: acknowledged - sent,
        });
    }
    Ok(callbacks)
}

// ------------------------------------------------------------ the subscribers

/// Opens one subscriber's stream and reads up to its `ready` message.
async fn subscribe(http: &reqwest::Client, base: &str, token: &str) -> Result<EventStream> {
    let request = http
        .get(format!("{base}/api/events/stream"))
        .bearer_auth(token)
        .header("accept", "text/event-stream");
    let mut stream = EventStream::open(request).await?;
    let ready = stream
        .next()
        .await?
        .context("the stream ended before ready")?;
    ensure!(
        ready.event == "ready",
        "first message: {} {}",
        ready.event,
        ready.data
    );
    Ok(stream)
}

async fn open_subscribers(base: &str, token: &str, count: usize) -> Result<Vec<EventStream>> {
    let http = &reqwest::Client::new();
    futures::stream::iter(0..count)
        .map(|index| async move {
            tokio::time::timeout(Duration::from_secs(60), subscribe(http, base, token))
                .await
                .context("timed out")
                .and_then(|opened| opened)
                .with_context(|| format!("subscriber {index} could not open the stream"))
        })
        .buffer_unordered(CONNECTING_AT_ONCE)
        .try_collect()
        .await
}

/// What one subscriber received: when each change arrived, and what was wrong.
struct Record {
    /// Arrival of change i (progress `(i + 1) / changes`).
    received: Vec<Option<Instant>>,
    last: Option<usize>,
    duplicates: usize,
    out_of_order: usize,
    /// Messages that were not one of the expected changes.
    unexpected: usize,
}

#[derive(Deserialize)]
struct ChangeMessage {
    data: RunData,
}

#[derive(Deserialize)]
struct RunData {
    progress: Option<f64>,
}

impl Record {
    fn new(changes: usize) -> Record {
        Record {
            received: vec![None; changes],
            last: None,
            duplicates: 0,
            out_of_order: 0,
            unexpected: 0,
        }
    }

    fn note(&mut self, message: &Message, at: Instant) {
        let Some(index) = self.change_index(message) else {
            self.unexpected += 1;
            return;
        };
        let slot = &mut self.received[index];
        if slot.is_some() {
            self.duplicates += 1;
            return;
        }
        *slot = Some(at);
        if self.last.is_some_and(|last| index < last) {
            self.out_of_order += 1;
        }
        self.last = Some(index);
    }

    /// Which change a `run.updated` message carries, by its progress value.
    fn change_index(&self, message: &Message) -> Option<usize> {
        if message.event != "run.updated" {
            return None;
        }
        let change: ChangeMessage = serde_json::from_str(&message.data).ok()?;
        let changes = self.received.len() as f64;
        let step = (change.data.progress? * changes).round();
        (1.0..=changes).contains(&step).then(|| step as usize - 1)
    }
}

/// Reads a subscriber's stream until told to stop, recording what arrives.
async fn follow(
    mut stream: EventStream,
    changes: usize,
    delivered: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
) -> Result<Record> {
    let mut record = Record::new(changes);
    loop {
        let message = tokio::select! {
            message = stream.next() => match message? {
                Some(message) => message,
                None => break,
            },
            _ = stop.changed() => break,
        };
        record.note(&message, Instant::now());
        delivered.fetch_add(1, Ordering::Relaxed);
    }
    Ok(record)
}

/// Waits until `expected` messages arrived, or nothing arrived for a while.
async fn wait_for_delivery(delivered: &AtomicUsize, expected: usize) {
    let mut seen = delivered.load(Ordering::Relaxed);
    let mut moved_at = Instant::now();
    while seen < expected && moved_at.elapsed() < DELIVERY_GRACE {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = delivered.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            moved_at = Instant::now();
        }
    }
}

// ----------------------------------------------------------------- the report

struct Inputs {
    subscribers: usize,
    changes: usize,
    rate: f64,
    achieved_rate: f64,
    open_time: Duration,
    /// Server RSS (KiB) before the subscribers, with them open, after the changes.
    rss: [u64; 3],
    /// Cores used during the change phase.
    server_cpu: f64,
    client_cpu: f64,
    callbacks: Vec<Callback>,
    records: Vec<Record>,
}

struct Report {
    inputs: Inputs,
    delivered: usize,
    missing: usize,
    duplicates: usize,
    out_of_order: usize,
    unexpected: usize,
    latency: Percentiles,
    round_trip: Percentiles,
    kb_per_subscriber: f64,
}

/// Signed milliseconds from `from` to `to` (negative when `to` came first).
fn millis_between(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(after) => after.as_secs_f64() * 1000.0,
        None => -(from - to).as_secs_f64() * 1000.0,
    }
}

impl Report {
    fn new(inputs: Inputs) -> Report {
        let mut latencies = Vec::with_capacity(inputs.subscribers * inputs.changes);
        let (mut missing, mut duplicates, mut out_of_order, mut unexpected) = (0, 0, 0, 0);
        for record in &inputs.records {
            for (callback, received) in inputs.callbacks.iter().zip(&record.received) {
                match received {
                    Some(at) => latencies.push(millis_between(callback.acknowledged, *at)),
                    None => missing += 1,
                }
            }
            duplicates += record.duplicates;
            out_of_order += record.out_of_order;
            unexpected += record.unexpected;
        }
        let [before, open, _] = inputs.rss;
        let kb_per_subscriber =
            open.saturating_sub(before) as f64 * 1.024 / inputs.subscribers as f64;
        let round_trip = inputs
            .callbacks
            .iter()
            .map(|callback| callback.round_trip.as_secs_f64() * 1000.0)
            .collect();
        Report {
            delivered: latencies.len(),
            latency: Percentiles::new(latencies),
            round_trip: Percentiles::new(round_trip),
            missing,
            duplicates,
            out_of_order,
            unexpected,
            kb_per_subscriber,
            inputs,
        }
    }

    fn latency_ok(&self) -> bool {
        self.latency.at(0.99) <= TARGET_P99_MS
    }

    fn memory_ok(&self) -> bool {
        self.kb_per_subscriber <= TARGET_KB_PER_SUBSCRIBER
    }

    fn delivery_ok(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0
    }

    fn passed(&self) -> bool {
        self.latency_ok() && self.memory_ok() && self.delivery_ok()
    }

    fn print(&self) {
        let verdict = |ok: bool| if ok { "pass" } else { "FAIL" };
        let inputs = &self.inputs;
        let [before, open, end] = inputs.rss;
        let ms = |value: f64| format!("{value:.1}");
        let rows = [
            ("subscribers", inputs.subscribers.to_string(), String::new()),
            (
                "opened in (s)",
                format!("{:.2}", inputs.open_time.as_secs_f64()),
                String::new(),
            ),
            (
                "changes (callbacks)",
                inputs.changes.to_string(),
                String::new(),
            ),
            (
                "rate asked / achieved (/s)",
                format!("{:.0} / {:.1}", inputs.rate, inputs.achieved_rate),
                String::new(),
            ),
            (
                "callback round trip p50 / p99 (ms)",
                format!(
                    "{} / {}",
                    ms(self.round_trip.at(0.5)),
                    ms(self.round_trip.at(0.99))
                ),
                String::new(),
            ),
            (
                "delivered messages",
                format!(
                    "{} of {}",
                    self.delivered,
                    inputs.subscribers * inputs.changes
                ),
                String::new(),
            ),
            (
                "missing / duplicates / out of order",
                format!(
                    "{} / {} / {}",
                    self.missing, self.duplicates, self.out_of_order
                ),
                format!("0 / 0 / 0: {}", verdict(self.delivery_ok())),
            ),
            ("other messages", self.unexpected.to_string(), String::new()),
            ("latency p50 (ms)", ms(self.latency.at(0.5)), String::new()),
            ("latency p90 (ms)", ms(self.latency.at(0.9)), String::new()),
            (
                "latency p99 (ms)",
                ms(self.latency.at(0.99)),
                format!("≤ {TARGET_P99_MS:.0}: {}", verdict(self.latency_ok())),
            ),
            ("latency max (ms)", ms(self.latency.at(1.0)), String::new()),
            (
                "server RSS before / open / after changes (MiB)",
                format!(
                    "{:.1} / {:.1} / {:.1}",
                    before as f64 / 1024.0,
                    open as f64 / 1024.0,
                    end as f64 / 1024.0
                ),
                String::new(),
            ),
            (
                "server memory per subscriber (KB)",
                format!("{:.1}", self.kb_per_subscriber),
                format!(
                    "≤ {TARGET_KB_PER_SUBSCRIBER:.0}: {}",
                    verdict(self.memory_ok())
                ),
            ),
            (
                "CPU while changing: server / bench (cores)",
                format!("{:.2} / {:.2}", inputs.server_cpu, inputs.client_cpu),
                String::new(),
            ),
        ];
        println!("| figure | value | target |");
        println!("| --- | --- | --- |");
        for (figure, value, target) in rows {
            println!("| {figure} | {value} | {target} |");
        }
        println!(
            "\nLatency: a subscriber's receipt of a change minus the arrival of the 200 of the \
             callback that made it, both in this process (negative: the change came first). \
             KB = 1000 bytes; RSS from /proc/<pid>/status VmRSS."
        );
        println!("Result: {}", verdict(self.passed()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_change_is_found_by_its_progress_once_and_in_order() {
        let mut record = Record::new(4);
        let message = |event: &str, progress: f64| Message {
            id: Some("1".to_string()),
            event: event.to_string(),
            data: json!({"seq": 1, "data": {"progress": progress}}).to_string(),
        };
        let now = Instant::now();
        record.note(&message("run.updated", 0.5), now);
        record.note(&message("run.updated", 0.25), now);
        record.note(&message("run.updated", 0.25), now);
        record.note(&message("run.created", 1.0), now);
        assert_eq!(record.received.iter().flatten().count(), 2);
        assert_eq!(
            (record.duplicates, record.out_of_order, record.unexpected),
            (1, 1, 1)
        );
    }
}
