//! `runboard-bench scale` answers one question: is Runboard fast at 1M runs and tens of
//! millions of events, measured against what SQLite itself manages on the same
//! database in the same run?
//!
//! 1. Generates the database ([`generate`], from a [`plan`]) — or reuses the one
//!    given with `--db`, so that repeated measurements skip the generation.
//! 2. Times the SQL of every read request straight against SQLite ([`raw`]).
//! 3. Starts the release `runboard` on that file and measures over HTTP ([`http`])
//!    the runs list under each filter, deep pages, a campaign's runs, the first
//!    page of the longest event log and the server-rendered runs list; then the
//!    same event rows inserted raw (500 per transaction) and through the runner
//!    API (500-event batches from 50 runners at once), and progress callbacks.
//!    The bench's own runs are deleted afterwards, so the database stays
//!    comparable between runs.
//! 4. Prints one table against the scale targets ([`report`]); exit status 2
//!    when one is missed.

mod cases;
mod content;
mod generate;
mod http;
mod plan;
mod postgres;
mod raw;
mod report;
mod sql;

use crate::common::{machine, runboard_binary, sqlite_url, Server, ServerSpec};
use anyhow::{ensure, Context, Result};
use clap::{Args, ValueEnum};
use content::middle_event;
use http::{BenchRun, Clients, Posting};
use plan::{Shape, COMPANIES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use raw::EventContent;
use report::{thousands, Figures, Read, Writes};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Runs to generate.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..))]
    runs: u64,
    /// Events to generate, over all runs.
    #[arg(long, default_value_t = 20_000_000)]
    events: u64,
    /// Events of the one run with a long log.
    #[arg(long, default_value_t = 100_000)]
    long_run_events: u64,
    /// Days of history the runs are spread over.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..3650))]
    days: i64,
    /// The database file: reused when it exists (made by an earlier `scale`),
    /// generated there and kept otherwise. Without it, a temporary file is
    /// generated and removed at the end.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Measure on this PostgreSQL database (`postgres://…`) instead of the
    /// SQLite file. Unless it already holds runs, it is filled with a copy of
    /// the SQLite file (`--db`, generated first when missing). The ingest is
    /// measured with two servers on it as well.
    #[arg(long)]
    database_url: Option<String>,
    /// Generate the database (and copy it into `--database-url`) and stop.
    #[arg(long)]
    generate_only: bool,
    /// Measure only the reads or only the writes (when investigating one).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Measure only the read requests whose name contains this text.
    #[arg(long)]
    case: Option<String>,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 6)]
    seed: u64,
    /// Concurrent requests of the read throughput figures.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..1000))]
    concurrency: u64,
    /// Seconds spent on each latency (and each throughput) figure.
    #[arg(long, default_value_t = 6.0)]
    seconds: f64,
    /// Concurrent runners posting event batches, each on its own run.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..1000))]
    runners: u64,
    /// Batches each runner posts.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..))]
    batches: u64,
    /// Events per batch.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch_size: u64,
    /// Concurrent workers posting status callbacks, each on its own run.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..1000))]
    callback_workers: u64,
    /// Callbacks each worker posts.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    callbacks: u64,
    /// The runboard binary to start (default: the one next to this program).
    #[arg(long)]
    bin: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Only {
    Reads,
    Writes,
}

/// Most executions of one latency figure.
const MAX_SAMPLES: usize = 2_000;

pub async fn scale(args: ScaleArgs) -> Result<ExitCode> {
    ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds must be a positive number"
    );
    let bin = runboard_binary(args.bin.clone())?;
    let (path, _temporary) = database_path(args.db.as_deref())?;
    if path.exists() {
        eprintln!("reusing the database {}", path.display());
        // Made by an earlier version, perhaps: bring its schema up to date first,
        // as the server would when it starts.
        let started = std::time::Instant::now();
        store::db::Db::connect(&sqlite_url(&path))
            .await?
            .close()
            .await;
        eprintln!(
            "schema up to date ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    } else {
        generate_database(&path, &args).await?;
    }
    if let Some(url) = &args.database_url {
        ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--database-url must be a postgres:// URL (the SQLite database is --db)"
        );
        postgres::load(&path, url).await?;
    }
    if args.generate_only {
        return Ok(ExitCode::SUCCESS);
    }
    let database = Database::new(&path, args.database_url.as_deref());
    let machine_before = machine();
    let pool = database.read_pool().await?;
    let fixture = cases::Fixture::discover(&pool).await?;
    let cases = chosen_cases(&fixture, &args)?;
    eprintln!(
        "database: {} runs, {} events, {:.2} GB; timing the raw SQL…",
        thousands(fixture.runs as f64),
        thousands(fixture.events as f64),
        database.bytes(&pool).await as f64 / 1e9
    );
    let budget = Duration::from_secs_f64(args.seconds);
    let mut raw_times = Vec::new();
    for case in &cases {
        raw_times.push(raw::time_case(&pool, case, budget, MAX_SAMPLES).await?);
    }

    let mut server = Server::start(&bin, database.server_spec()).await?;
    let measured = measure_server(&server, &args, &bin, &database, &cases, raw_times).await;
    let log = server.log()?;
    server.stop().await?;
    let mut figures = measured?;
    (figures.busy, figures.log_errors) = scan_log(&log);
    show_log_errors(&log, figures.log_errors);
    println!(
        "\nrunboard-bench scale: {} runs, {} events ({}), {:.2} GB\nmachine: {machine_before} \
         (start), {} (end)\n",
        thousands(fixture.runs as f64),
        thousands(fixture.events as f64),
        database.describe(),
        database.bytes(&pool).await as f64 / 1e9,
        machine()
    );
    pool.close().await;
    figures.print();
    Ok(if figures.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The database measured: the SQLite file, or the PostgreSQL database its
/// rows were copied into.
struct Database<'a> {
    path: &'a Path,
    postgres: Option<&'a str>,
}

impl<'a> Database<'a> {
    fn new(path: &'a Path, postgres: Option<&'a str>) -> Database<'a> {
        Database { path, postgres }
    }

    /// "SQLite" or "PostgreSQL", for the table's headings.
    fn name(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// Where it is, without a password a URL may hold.
    fn describe(&self) -> String {
        match self.postgres {
            Some(url) => format!(
                "PostgreSQL database {}",
                url.rsplit('/').next().unwrap_or_default()
            ),
            None => self.path.display().to_string(),
        }
    }

    /// One connection for the raw SQL (read-only on SQLite).
    async fn read_pool(&self) -> Result<store::db::sql::Pool> {
        match self.postgres {
            Some(url) => raw::read_pool_postgres(url).await,
            None => raw::read_pool(self.path).await,
        }
    }

    async fn bytes(&self, pool: &store::db::sql::Pool) -> u64 {
        match self.postgres {
            Some(_) => {
                store::db::sql::query_scalar::<i64>("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await
                    .map_or(0, |bytes| bytes.max(0) as u64)
            }
            None => database_bytes(self.path),
        }
    }

    fn server_spec(&self) -> ServerSpec {
        ServerSpec {
            database: Some(self.path.to_path_buf()),
            database_url: self.postgres.map(str::to_string),
            capture_log: true,
            ..ServerSpec::default()
        }
    }
}

/// The read requests to measure under `--only` and `--case`.
fn chosen_cases(fixture: &cases::Fixture, args: &ScaleArgs) -> Result<Vec<cases::Case>> {
    let mut cases = match args.only {
        Some(Only::Writes) => Vec::new(),
        _ => cases::cases(fixture)?,
    };
    if let Some(wanted) = &args.case {
        cases.retain(|case| case.name.contains(wanted.as_str()));
    }
    Ok(cases)
}

fn show_log_errors(log: &str, count: usize) {
    if count == 0 {
        return;
    }
    eprintln!("server log (errors):");
    for line in log.lines().filter(|line| line.contains("ERROR")).take(20) {
        eprintln!("  {line}");
    }
}

/// The database file, and the temporary directory holding it when none was given.
fn database_path(given: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match given {
        Some(path) => Ok((path.to_path_buf(), None)),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("runboard-scale")
                .tempdir()?;
            Ok((dir.path().join("scale.db"), Some(dir)))
        }
    }
}

/// The size of the database file.
fn database_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

/// Generates into `<path>.partial` and renames it when complete, so that an
/// interrupted generation is never reused.
async fn generate_database(path: &Path, args: &ScaleArgs) -> Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let shape = Shape {
        runs: usize::try_from(args.runs)?,
        events: args.events,
        long_run_events: args.long_run_events,
        days: args.days,
        now: store::db::now_ms(),
        seed: args.seed,
    };
    eprintln!(
        "generating {} runs and {} events into {}",
        thousands(shape.runs as f64),
        thousands(shape.events as f64),
        path.display()
    );
    let started = Instant::now();
    let now = shape.now;
    let planned = tokio::task::spawn_blocking(move || plan::plan(&shape)).await?;
    generate::generate(&partial, planned, now).await?;
    std::fs::rename(&partial, path).context("cannot move the generated database in place")?;
    // Left by the last connection: empty after the final checkpoint.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    eprintln!(
        "generated in {} ({:.0} s): {:.2} GB",
        generate::clock(started.elapsed().as_secs_f64()),
        started.elapsed().as_secs_f64(),
        database_bytes(path) as f64 / 1e9
    );
    Ok(())
}

/// Everything measured against the running server.
async fn measure_server<'a>(
    server: &Server,
    args: &ScaleArgs,
    bin: &Path,
    database: &Database<'_>,
    cases: &'a [cases::Case],
    raw_times: Vec<raw::RawTimes>,
) -> Result<Figures<'a>> {
    let mut clients = Clients::connect(&server.base, server.pid).await?;
    let concurrency = args.concurrency as usize;
    let budget = Duration::from_secs_f64(args.seconds);
    let mut reads = Vec::new();
    for (case, raw) in cases.iter().zip(raw_times) {
        eprintln!("reading: {}", case.name);
        let latency = http::latency(&clients, case, budget, MAX_SAMPLES).await;
        let throughput = http::throughput(&clients, case, concurrency, budget).await;
        reads.push(Read {
            case,
            latency,
            throughput,
            raw,
        });
    }
    let writes = match args.only {
        Some(Only::Reads) => None,
        _ => Some(measure_writes_and_clean_up(&mut clients, args, bin, database).await?),
    };
    Ok(Figures {
        database: database.name(),
        reads,
        concurrency,
        writes,
        busy: 0,
        log_errors: 0,
    })
}

/// [`measure_writes`], then the deletion of the bench's runs, whatever happened.
async fn measure_writes_and_clean_up(
    clients: &mut Clients,
    args: &ScaleArgs,
    bin: &Path,
    database: &Database<'_>,
) -> Result<Writes> {
    let mut created = Vec::new();
    let writes = measure_writes(clients, args, bin, database, &mut created).await;
    eprintln!("deleting the bench's {} runs…", created.len());
    clients.refresh_token().await?;
    let took = http::delete_runs(clients, &created).await?;
    eprintln!("deleted in {:.1} s", took.as_secs_f64());
    writes
}

/// The raw insert, the HTTP ingest (on PostgreSQL also with a second server
/// taking half the runners) and the status callbacks, each on runs of its own
/// (recorded in `created`, for deletion).
async fn measure_writes(
    clients: &Clients,
    args: &ScaleArgs,
    bin: &Path,
    database: &Database<'_>,
    created: &mut Vec<BenchRun>,
) -> Result<Writes> {
    let runners = args.runners as usize;
    let rounds = args.batches as usize;
    let batches = ingest_batches(args.seed, 8, args.batch_size as usize);

    let scratch = http::bench_runs(clients, "bench-raw", runners, false).await?;
    created.extend(scratch.iter().cloned());
    let run_pks = run_pks(database, &scratch).await?;
    let mut raw = Vec::new();
    match database.postgres {
        Some(url) => {
            eprintln!("raw insert: {runners} runs × {rounds} transactions…");
            raw.push(raw::insert_events_postgres(url, &run_pks, 0, rounds, &batches).await?);
        }
        None => {
            for (step, shape) in [raw::Shape::RowByRow, raw::Shape::OneStatement]
                .into_iter()
                .enumerate()
            {
                eprintln!("raw insert ({shape:?}): {runners} runs × {rounds} transactions…");
                let first_seq = (step * rounds * args.batch_size as usize) as i64;
                let (path, run_pks, batches) = (
                    database.path.to_path_buf(),
                    run_pks.clone(),
                    batches.clone(),
                );
                raw.push(
                    tokio::task::spawn_blocking(move || {
                        raw::insert_events(&path, &run_pks, first_seq, rounds, &batches, shape)
                    })
                    .await??,
                );
            }
        }
    }

    eprintln!("ingest: {runners} runners × {rounds} batches…");
    let ingesting = http::bench_runs(clients, "bench-ingest", runners, true).await?;
    created.extend(ingesting.iter().cloned());
    let bodies: Vec<Vec<u8>> = batches
        .iter()
        .map(|batch| http::batch_body(batch))
        .collect();
    let ingest = http::ingest(clients, &Posting::one(clients), &ingesting, rounds, &bodies).await;

    let ingest_two_servers = match database.postgres {
        Some(_) => {
            eprintln!("ingest with two servers: {runners} runners × {rounds} batches…");
            let ingesting = http::bench_runs(clients, "bench-ingest-two", runners, true).await?;
            created.extend(ingesting.iter().cloned());
            let mut second = Server::start(bin, database.server_spec()).await?;
            let servers = Posting {
                bases: vec![clients.base.as_str(), second.base.as_str()],
                pids: vec![clients.server_pid, second.pid],
            };
            let load = http::ingest(clients, &servers, &ingesting, rounds, &bodies).await;
            let log = second.log()?;
            second.stop().await?;
            show_log_errors(&log, scan_log(&log).1);
            Some(load)
        }
        None => None,
    };

    let workers = args.callback_workers as usize;
    eprintln!("status callbacks: {workers} workers × {}…", args.callbacks);
    let reporting = http::bench_runs(clients, "bench-status", workers, true).await?;
    created.extend(reporting.iter().cloned());
    let status = http::status_callbacks(clients, &reporting, args.callbacks as usize).await;
    Ok(Writes {
        raw,
        ingest,
        ingest_two_servers,
        batch_size: args.batch_size as usize,
        runners,
        status,
        callback_workers: workers,
    })
}

/// The keys of the bench's runs, for the raw insert.
async fn run_pks(database: &Database<'_>, runs: &[BenchRun]) -> Result<Vec<i64>> {
    let pool = database.read_pool().await?;
    let mut pks = Vec::with_capacity(runs.len());
    for run in runs {
        pks.push(
            store::db::sql::query_scalar::<i64>("SELECT pk FROM runs WHERE id = ?")
                .bind(&run.id)
                .fetch_one(&pool)
                .await?,
        );
    }
    pool.close().await;
    Ok(pks)
}

/// `count` different batches of what agents log mid-run.
fn ingest_batches(seed: u64, count: usize, size: usize) -> Vec<Vec<EventContent>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x494e_4753);
    (0..count)
        .map(|_| {
            (0..size)
                .map(|_| {
                    let company = COMPANIES[rng.gen_range(0..COMPANIES.len())];
                    let (event_type, message, metadata) = middle_event(&mut rng, company);
                    EventContent {
                        event_type,
                        message,
                        metadata: metadata.map(|metadata| metadata.to_string()),
                    }
                })
                .collect()
        })
        .collect()
}

/// (lines reporting SQLITE_BUSY, lines at ERROR) in the server's log.
fn scan_log(log: &str) -> (usize, usize) {
    let busy = log
        .lines()
        .filter(|line| {
            [
                "database is locked",
                "SQLITE_BUSY",
                "(code: 5)",
                "(code: 517)",
            ]
            .iter()
            .any(|needle| line.contains(needle))
        })
        .count();
    let errors = log.lines().filter(|line| line.contains("ERROR")).count();
    (busy, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_lines_are_found_in_the_server_log() {
        let log = "2026-11-26T10:00:00Z ERROR model::error: database error error=error returned from database: (code: 5) database is locked\n\
                   2026-11-26T10:00:01Z  WARN something else\n\
                   2026-11-26T10:00:02Z ERROR model::error: database error error=no rows\n";
        assert_eq!(scan_log(log), (1, 2));
    }

    #[test]
    fn ingest_batches_are_as_asked_and_differ() {
        let batches = ingest_batches(1, 3, 500);
        assert_eq!(batches.len(), 3);
        assert!(batches.iter().all(|batch| batch.len() == 500));
        assert_ne!(batches[0][0].message, batches[1][0].message);
    }
}
