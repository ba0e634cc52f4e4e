//! What the storage layer counts for the operator's `GET /metrics`, through the
//! `metrics` facade: recorded nowhere until the server installs its Prometheus
//! recorder, so the CLI, the benchmark and the storage tests count into nothing.
//!
//! Every name is here, with its meaning ([`describe`]), so the list the operator
//! reads (docs/operations.md) has one source. Counts of what a write transaction
//! did are handed to [`crate::db::WriteTx::count`] and recorded only after its
//! commit ([`Count`]): a rolled-back status change or event batch is never counted.
//!
//! Labels stay bounded: agent slugs (per account, chosen by owners), run
//! statuses, sweep reasons, outbox kinds; never run ids or raw paths.

use model::RunStatus;
use std::time::Duration;

/// Runs created, by agent (owner API, dashboard, campaigns, retries).
pub const RUNS_CREATED: &str = "runboard_runs_created_total";
/// Runs that reached a final status, by agent and status.
pub const RUNS_FINISHED: &str = "runboard_runs_finished_total";
/// Runs settled by the sweeper, by reason (`stalled`, `timed_out`, `not_started`,
/// `lease_expired`, `retried`).
pub const RUNS_SWEPT: &str = "runboard_runs_swept_total";
/// Runs not finished yet, by agent and status, read from `run_counts` at scrape time.
pub const RUNS_ACTIVE: &str = "runboard_runs_active";
/// Events stored from runners (repeats of an idempotent retry not counted), by agent.
pub const EVENTS_INGESTED: &str = "runboard_events_ingested_total";
/// Time from asking for the writer ([`crate::db::Db::begin_write`]) to holding it.
pub const WRITER_WAIT: &str = "runboard_db_writer_wait_seconds";
/// Time a committed write transaction held the writer.
pub const WRITER_HOLD: &str = "runboard_db_writer_hold_seconds";
/// Database size on disk: pages in use plus the write-ahead log.
pub const DATABASE_SIZE: &str = "runboard_database_size_bytes";
/// Open live streams (`GET /api/events/stream`).
pub const LIVE_SUBSCRIBERS: &str = "runboard_live_subscribers";
/// Outbox rows still to deliver (webhooks, dispatch), read at scrape time.
pub const OUTBOX_PENDING: &str = "runboard_outbox_pending";
/// Delivery attempts by kind and outcome (`delivered`, `retry`, `gave_up`).
pub const OUTBOX_ATTEMPTS: &str = "runboard_outbox_attempts_total";
/// Backups written by the scheduled backup task, by result (`ok`, `failed`).
pub const BACKUPS: &str = "runboard_backups_total";
/// Time the last scheduled backup took.
pub const BACKUP_DURATION: &str = "runboard_backup_duration_seconds";
/// When the last scheduled backup succeeded (Unix time), for "no backup for too long".
pub const BACKUP_LAST_SUCCESS: &str = "runboard_backup_last_success_timestamp_seconds";
/// HTTP requests by method, route template and status.
pub const HTTP_REQUESTS: &str = "runboard_http_requests_total";
/// HTTP request latency (until the response head) by method, route template and status.
pub const HTTP_DURATION: &str = "runboard_http_request_duration_seconds";

/// Every metric's help text, for the exporter's `# HELP` lines.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(RUNS_CREATED, "Runs created, by agent");
    describe_counter!(
        RUNS_FINISHED,
        "Runs that reached a final status, by agent and status"
    );
    describe_counter!(
        RUNS_SWEPT,
        "Runs settled by the sweeper, by reason (stalled, timed_out, not_started, lease_expired, retried)"
    );
    describe_gauge!(
        RUNS_ACTIVE,
        "Runs requested, queued or running now, by agent and status"
    );
    describe_counter!(EVENTS_INGESTED, "Run events stored from runners, by agent");
    describe_histogram!(
        WRITER_WAIT,
        Unit::Seconds,
        "Time a write waited for the database writer"
    );
    describe_histogram!(
        WRITER_HOLD,
        Unit::Seconds,
        "Time a committed write transaction held the database writer"
    );
    describe_gauge!(
        DATABASE_SIZE,
        Unit::Bytes,
        "Database size: pages times page size, plus the write-ahead log"
    );
    describe_gauge!(LIVE_SUBSCRIBERS, "Open live streams");
    describe_gauge!(OUTBOX_PENDING, "Webhook and dispatch deliveries pending");
    describe_counter!(
        OUTBOX_ATTEMPTS,
        "Webhook and dispatch delivery attempts, by kind and outcome (delivered, retry, gave_up)"
    );
    describe_counter!(BACKUPS, "Scheduled backups, by result (ok, failed)");
    describe_gauge!(
        BACKUP_DURATION,
        Unit::Seconds,
        "Time the last scheduled backup took"
    );
    describe_gauge!(
        BACKUP_LAST_SUCCESS,
        Unit::Seconds,
        "When the last scheduled backup succeeded, in seconds since the Unix epoch"
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency until the response head, by method, route template and status"
    );
}

/// Something a write transaction did, counted once it is committed.
#[derive(Clone, Debug, PartialEq)]
pub enum Count {
    RunCreated { agent: String },
    RunFinished { agent: String, status: RunStatus },
    EventsIngested { agent: String, events: u64 },
}

impl Count {
    /// Adds this to its counter (after the commit: see [`crate::db::WriteTx::count`]).
    pub fn record(&self) {
        match self {
            Count::RunCreated { agent } => {
                metrics::counter!(RUNS_CREATED, "agent" => agent.clone()).increment(1)
            }
            Count::RunFinished { agent, status } => metrics::counter!(
                RUNS_FINISHED,
                "agent" => agent.clone(),
                "status" => status.as_str()
            )
            .increment(1),
            Count::EventsIngested { agent, events } => {
                metrics::counter!(EVENTS_INGESTED, "agent" => agent.clone()).increment(*events)
            }
        }
    }
}

/// Counts a run the sweeper settled, by `reason`: the error code it ended with
/// (`stalled`, `timed_out`, `not_started`), `lease_expired` for a claimed run put
/// back in the queue, `retried` for a failed run's automatic retry. Call it after
/// the sweep's transaction committed.
pub fn run_swept(reason: &str) {
    let reason = match reason {
        "stalled" => "stalled",
        "timed_out" => "timed_out",
        "not_started" => "not_started",
        "lease_expired" => "lease_expired",
        "retried" => "retried",
        // The label set stays bounded whatever a caller passes.
        _ => "other",
    };
    metrics::counter!(RUNS_SWEPT, "reason" => reason).increment(1);
}

/// Records how long a write waited for the writer.
pub fn writer_waited(wait: Duration) {
    metrics::histogram!(WRITER_WAIT).record(wait.as_secs_f64());
}

/// Records how long a committed write transaction held the writer.
pub fn writer_held(hold: Duration) {
    metrics::histogram!(WRITER_HOLD).record(hold.as_secs_f64());
}
