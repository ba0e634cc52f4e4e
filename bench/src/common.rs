//! What every measurement of `runboard-bench` shares: the `runboard` child
//! process, the owner's credentials, a few calls of the JSON API, process
//! figures from `/proc`, and percentiles.

use anyhow::{bail, ensure, Context, Result};
use runboard_client::Client;
use serde_json::json;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::process::{Child, Command as Process};

/// The owner of every database the bench starts a server on (created by the
/// server on a fresh database, or by `scale`'s generator).
pub const ADMIN_EMAIL: &str = "bench@example.com";
pub const ADMIN_PASSWORD: &str = "bench-password-not-secret";

/// Where the server keeps its data and what it does with its log.
#[derive(Default)]
pub struct ServerSpec {
    /// The SQLite file; a fresh one in the temporary directory when `None`.
    pub database: Option<PathBuf>,
    /// A `DATABASE_URL` to serve from instead of a SQLite file (PostgreSQL).
    pub database_url: Option<String>,
    /// Write the server's log (`RUST_LOG=warn`; the server logs to stdout, and
    /// a panic goes to stderr: both) to a file, so that it can be searched
    /// afterwards; otherwise stderr goes to this program's stderr.
    pub capture_log: bool,
    /// More environment for the server (its settings).
    pub env: Vec<(&'static str, String)>,
}

/// `runboard` as a child process; killed when dropped.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub base: String,
    log: Option<PathBuf>,
    _dir: TempDir,
}

impl Server {
    pub async fn start(bin: &Path, spec: ServerSpec) -> Result<Server> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let site = dir.path().join("site");
        std::fs::create_dir_all(&site)?;
        let database = spec.database_url.unwrap_or_else(|| {
            sqlite_url(&spec.database.unwrap_or_else(|| dir.path().join("bench.db")))
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut command = Process::new(bin);
        command
            .arg("serve")
            .env("DATABASE_URL", database)
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("LEPTOS_SITE_ROOT", &site)
            .env("RUNBOARD_ARTIFACT_DIR", dir.path().join("artifacts"))
            .env("RUNBOARD_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("RUNBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .envs(spec.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let log = spec.capture_log.then(|| dir.path().join("server.log"));
        if let Some(log) = &log {
            let file = File::create(log)?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Server {
            child,
            pid,
            base: format!("http://{addr}"),
            log,
            _dir: dir,
        };
        server.wait_until_healthy().await?;
        Ok(server)
    }

    async fn wait_until_healthy(&mut self) -> Result<()> {
        let api = Client::new(reqwest::Client::new(), &self.base);
        // Start-up migrates and runs `PRAGMA optimize`: on a database of many
        // gigabytes that may take a while the first time.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("runboard exited before it served: {status}");
            }
            if api.health().await.is_ok() {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "runboard did not answer /healthz within ten minutes"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's log so far (empty when it was not captured).
    pub fn log(&self) -> Result<String> {
        match &self.log {
            Some(path) => Ok(std::fs::read_to_string(path)?),
            None => Ok(String::new()),
        }
    }

    /// Stops the server as an operator would (SIGTERM: open requests finish, the
    /// database is closed cleanly), killing it if it takes longer than 30 s.
    pub async fn stop(&mut self) -> Result<()> {
        use rustix::process::{kill_process, Pid, Signal};
        let pid = i32::try_from(self.pid)
            .ok()
            .and_then(Pid::from_raw)
            .context("the server's pid")?;
        if kill_process(pid, Signal::TERM).is_ok() {
            let stopped = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
            if stopped.is_ok() {
                return Ok(());
            }
        }
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}

/// The `DATABASE_URL` of a SQLite file.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

pub fn runboard_binary(given: Option<PathBuf>) -> Result<PathBuf> {
    let bin = match given {
        Some(bin) => bin,
        None => std::env::current_exe()?
            .parent()
            .context("this program has no directory")?
            .join("runboard"),
    };
    ensure!(
        bin.is_file(),
        "no runboard binary at {} (build it, or pass --bin)",
        bin.display()
    );
    Ok(bin)
}

/// A port nobody listens on right now (the server binds it a moment later).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub fn raise_open_file_limit(needed: u64) -> Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_none_or(|current| current >= needed) {
        return Ok(());
    }
    if let Some(maximum) = limit.maximum.filter(|maximum| *maximum < needed) {
        bail!("{needed} open files are needed and the hard limit is {maximum} (raise ulimit -Hn)");
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(needed),
            maximum: limit.maximum,
        },
    )
    .context("cannot raise the open file limit")
}

/// Resident memory of a process, in KiB.
pub fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

/// CPU time (user + system) a process has used, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    stat_cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

pub fn own_cpu_seconds() -> Result<f64> {
    stat_cpu_seconds(&std::fs::read_to_string("/proc/self/stat")?)
}

/// CPU time the whole machine has spent busy (every process, the kernel
/// included; idle and I/O wait excluded), in seconds: what a database server
/// beside the measured one uses shows here.
pub fn machine_busy_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .context("unexpected /proc/stat")?
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: u64 = ticks
        .iter()
        .enumerate()
        .filter(|(index, _)| !matches!(index, 3 | 4) && *index < 8)
        .map(|(_, ticks)| ticks)
        .sum();
    Ok(busy as f64 / rustix::param::clock_ticks_per_second() as f64)
}

fn stat_cpu_seconds(stat: &str) -> Result<f64> {
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> Result<u64> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .context("unexpected /proc/<pid>/stat")
    };
    // utime and stime are fields 14 and 15.
    let total = ticks(11)? + ticks(12)?;
    Ok(total as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// The machine: cores, memory (GiB) and the 1-minute load average (others'
/// work on a shared machine shows here).
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores, {memory_gib:.0} GiB, load average {load}")
}

// ------------------------------------------------------------------- the API

/// An owner JWT (valid for an hour) from `POST /api/auth/token`.
pub async fn owner_token(api: &Client) -> Result<String> {
    api.api_token(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .context("POST /api/auth/token")
}

/// A new run of `agent` to report on: its id and runner token.
pub async fn create_run(
    api: &Client,
    token: &str,
    agent: &str,
    summary: &str,
) -> Result<(String, String)> {
    let created = api
        .owner(token)
        .create_run(&json!({"agent": agent, "summary": summary}))
        .await
        .context("POST /api/runs")?;
    Ok((created.run.id.to_string(), created.runner_token))
}

// ---------------------------------------------------------------- statistics

/// Nearest-rank percentiles of a sample (the bench keeps milliseconds in them).
pub struct Percentiles {
    sorted: Vec<f64>,
}

impl Percentiles {
    pub fn new(mut sample: Vec<f64>) -> Percentiles {
        sample.sort_by(f64::total_cmp);
        Percentiles { sorted: sample }
    }

    pub fn at(&self, fraction: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (fraction * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }
}

/// A duration in (fractional) milliseconds.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sample = Percentiles::new((1..=100).rev().map(f64::from).collect());
        assert_eq!(sample.at(0.5), 50.0);
        assert_eq!(sample.at(0.99), 99.0);
        assert_eq!(sample.at(1.0), 100.0);
        assert!(Percentiles::new(Vec::new()).at(0.5).is_nan());
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 100 50 0 0";
        let seconds = stat_cpu_seconds(stat).unwrap();
        let expected = 150.0 / rustix::param::clock_ticks_per_second() as f64;
        assert!((seconds - expected).abs() < 1e-9);
    }

    #[test]
    fn a_database_path_becomes_a_sqlite_url() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/scale.db")),
            "sqlite:///tmp/scale.db"
        );
    }
}
