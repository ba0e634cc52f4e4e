//! Command line and environment configuration: every flag has an environment twin.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use store::outbound::Allow;

/// The shortest `RUNBOARD_METRICS_TOKEN` accepted: a bearer credential, so not
/// one to guess.
pub const MIN_METRICS_TOKEN_BYTES: usize = 16;

/// The shortest `RUNNER_AUTH_SECRET` accepted: the size of the HMAC-SHA256 key
/// that signs runner tokens, and long enough that guessing it is hopeless.
pub const MIN_RUNNER_SECRET_BYTES: usize = 32;

#[derive(Debug, Parser)]
#[command(
    name = "runboard",
    version,
    about = "Runboard: a control plane and dashboard for agent and workflow runs"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, in the named account (created if new) or the first account.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Account to add the user to; a new one is created when no account has this name.
        #[arg(long)]
        account: Option<String>,
        /// owner, member or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a named API token for a user and print it (shown only this once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Serve the dashboard and the APIs (the default).
    Serve,
    /// Copy the database, consistently, while a server may be serving and writing;
    /// local artifact files are copied beside it (FILE.artifacts/).
    Backup {
        /// The file to write (it must not exist yet).
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup in place of the database (and its local artifact files).
    /// Refused while a server uses the database, and for a file that is not a
    /// Runboard database this version can serve.
    Restore {
        /// A file written by `runboard backup`.
        #[arg(long)]
        from: PathBuf,
    },
    /// Apply every account's retention policy now: delete old runs, events and
    /// artifacts in small batches (safe while the server runs).
    Prune {
        /// Only print what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fill an account with realistic sample runs, to look around the dashboard.
    Seed {
        /// Email of a user of the account to fill.
        #[arg(long)]
        email: String,
        /// How many runs to add.
        #[arg(long, default_value_t = 40)]
        runs: u32,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: a SQLite file (created with its directory on first start),
    /// or a PostgreSQL database that several servers may share (docs/deploy.md).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/runboard.db",
        global = true
    )]
    pub database_url: String,

    /// Address to listen on.
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub site_addr: SocketAddr,

    /// Directory holding the built site (the `pkg/` bundle and public files).
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: String,

    /// Email of the owner created on first start, when there are no users yet.
    #[arg(long, env = "RUNBOARD_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,

    /// Password of that owner. Without it a password is generated and printed once.
    #[arg(
        long,
        env = "RUNBOARD_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,

    /// Secret that signs runner tokens; also accepted as a legacy runner bearer
    /// token. At least 32 bytes (`openssl rand -hex 32` makes one).
    #[arg(
        long,
        env = "RUNNER_AUTH_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub runner_auth_secret: Option<String>,

    /// Where webhooks and dispatched jobs may go although it is not a public
    /// address: comma-separated host names, IP addresses, networks (CIDR) or
    /// `address:port` entries, e.g. `runner.lan,10.0.0.0/8`. Loopback, private,
    /// link-local and similar addresses are refused otherwise; cloud metadata
    /// addresses always are.
    #[arg(
        long,
        env = "RUNBOARD_OUTBOUND_ALLOW",
        value_delimiter = ',',
        global = true
    )]
    pub outbound_allow: Vec<Allow>,

    /// Directory for uploaded artifact files.
    #[arg(
        long,
        env = "RUNBOARD_ARTIFACT_DIR",
        default_value = "data/artifacts",
        global = true
    )]
    pub artifact_dir: String,

    /// Store uploaded artifacts in this S3-compatible bucket instead of the
    /// directory. Credentials and region come from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_REGION.
    #[arg(long, env = "RUNBOARD_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,

    /// Endpoint of a non-AWS S3-compatible service (MinIO, Cloudflare R2…).
    #[arg(long, env = "RUNBOARD_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,

    /// Largest artifact upload, in bytes (default 100 MiB).
    #[arg(long, env = "RUNBOARD_MAX_UPLOAD", default_value_t = 100 * 1024 * 1024, global = true)]
    pub max_upload: u64,

    /// Delay before the first retry of a failed webhook or dispatch, in
    /// milliseconds; each further retry waits twice as long.
    #[arg(
        long,
        env = "RUNBOARD_RETRY_BASE_MS",
        default_value_t = 2000,
        global = true
    )]
    pub retry_base_ms: u64,

    /// Seconds between heartbeats on an idle live stream (`/api/events/stream`),
    /// which keep proxies from closing it.
    #[arg(
        long,
        env = "RUNBOARD_HEARTBEAT_SECS",
        default_value_t = 15,
        global = true
    )]
    pub heartbeat_secs: u64,

    /// Seconds between sweeps for stalled, timed-out and unstarted runs, lapsed
    /// claim leases and due automatic retries (at least 1).
    #[arg(
        long,
        env = "RUNBOARD_SWEEP_SECS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub sweep_secs: u64,

    /// Seconds between evaluations of the threshold alert rules (failure rate,
    /// duration p95, no success).
    #[arg(
        long,
        env = "RUNBOARD_ALERT_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub alert_secs: u64,

    /// The SMTP relay alert emails go through: `smtp://host:25`,
    /// `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtps://host:465`.
    /// Without it, alert rules cannot have email channels.
    #[arg(long, env = "RUNBOARD_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of alert emails.
    #[arg(
        long,
        env = "RUNBOARD_SMTP_FROM",
        default_value = "Runboard <runboard@localhost>",
        global = true
    )]
    pub smtp_from: String,

    /// Proxies (addresses or networks, comma-separated, e.g. `10.0.0.0/8`) in
    /// front of this server: for a request from one of them, the client's
    /// address is read from `X-Forwarded-For` (login limits, the audit log).
    #[arg(
        long,
        env = "RUNBOARD_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<store::outbound::Cidr>,

    /// Failed logins allowed per minute per client address and per email; past it
    /// logins are refused with 429 until the minute has passed.
    #[arg(
        long,
        env = "RUNBOARD_LOGIN_FAILURES_PER_MINUTE",
        default_value_t = 10,
        global = true
    )]
    pub login_failures_per_minute: usize,

    /// Seconds between two prunes by the retention policy (one also runs at
    /// start); 0 turns background pruning off (`runboard prune` still works).
    #[arg(
        long,
        env = "RUNBOARD_PRUNE_SECS",
        default_value_t = 300,
        global = true
    )]
    pub prune_secs: u64,

    /// Whether the server works on bulk jobs (always, but for tests that drive a
    /// job's steps themselves).
    #[arg(skip = true)]
    pub bulk_worker: bool,

    /// The address people use to reach this server (e.g. https://runs.example.com).
    /// An https address makes the session cookie `Secure`.
    #[arg(long, env = "RUNBOARD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Bearer token that may read `GET /metrics` (besides owners' own
    /// credentials), for a Prometheus server. At least 16 bytes.
    #[arg(
        long,
        env = "RUNBOARD_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,

    /// Log format: `text` (for people) or `json` (one object per line, for a log
    /// collector).
    #[arg(
        long,
        env = "RUNBOARD_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,

    /// Directory for scheduled backups (with RUNBOARD_BACKUP_EVERY). Each is a
    /// `runboard-<UTC time>.db` file, with the local artifact files beside it.
    #[arg(long, env = "RUNBOARD_BACKUP_DIR", global = true)]
    pub backup_dir: Option<PathBuf>,

    /// How often the server backs up into RUNBOARD_BACKUP_DIR: a whole number and
    /// a unit, s, m, h or d (`30m`, `6h`, `1d`).
    #[arg(long, env = "RUNBOARD_BACKUP_EVERY", value_parser = parse_every, global = true)]
    pub backup_every: Option<Duration>,

    /// How many scheduled backups to keep (the oldest go first).
    #[arg(
        long,
        env = "RUNBOARD_BACKUP_KEEP",
        default_value_t = 7,
        value_parser = clap::value_parser!(u32).range(1..=10_000),
        global = true
    )]
    pub backup_keep: u32,

    /// Demo mode: a simulated fleet of runners drives realistic runs through the
    /// real APIs, in the first owner's account, while the server runs.
    /// `--demo`, `--demo=false`; the variable takes 1/0, true/false.
    #[arg(
        long,
        env = "RUNBOARD_DEMO",
        global = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub demo: bool,
}

impl Config {
    /// A configuration for tests and tools: defaults, with the given database.
    pub fn for_database(database_url: impl Into<String>) -> Config {
        let cli = Cli::parse_from(["runboard"]);
        Config {
            database_url: database_url.into(),
            ..cli.config
        }
    }

    /// Whether `DATABASE_URL` names a PostgreSQL database.
    pub fn on_postgres(&self) -> bool {
        store::db::sql::Backend::of_url(&self.database_url)
            == Some(store::db::sql::Backend::Postgres)
    }

    /// What the configuration asks for that the server refuses to start with.
    pub fn check(&self) -> Result<(), String> {
        if let Some(token) = &self.metrics_token {
            if token.len() < MIN_METRICS_TOKEN_BYTES {
                return Err(format!(
                    "RUNBOARD_METRICS_TOKEN is {} bytes long; it must be at least \
                     {MIN_METRICS_TOKEN_BYTES} (it lets its holder read /metrics). \
                     Generate one with: openssl rand -hex 32",
                    token.len()
                ));
            }
        }
        match (&self.backup_dir, self.backup_every) {
            (Some(_), None) => {
                return Err(
                    "RUNBOARD_BACKUP_DIR is set but RUNBOARD_BACKUP_EVERY is not: \
                     say how often to back up, e.g. RUNBOARD_BACKUP_EVERY=6h"
                        .into(),
                )
            }
            (None, Some(_)) => {
                return Err(
                    "RUNBOARD_BACKUP_EVERY is set but RUNBOARD_BACKUP_DIR is not: \
                     say where backups go, e.g. RUNBOARD_BACKUP_DIR=/var/backups/runboard"
                        .into(),
                )
            }
            (Some(_), Some(_)) if self.on_postgres() => return Err(POSTGRES_BACKUPS.into()),
            _ => {}
        }
        if let Some(secret) = &self.runner_auth_secret {
            if secret.len() < MIN_RUNNER_SECRET_BYTES {
                return Err(format!(
                    "RUNNER_AUTH_SECRET is {} bytes long; it must be at least {MIN_RUNNER_SECRET_BYTES} \
                     (it signs every runner token and is itself a runner credential). \
                     Generate one with: openssl rand -hex 32",
                    secret.len()
                ));
            }
        }
        Ok(())
    }

    pub fn serves_tls(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

/// How the server logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people (the default).
    Text,
    /// One JSON object per line.
    Json,
}

/// Why Runboard's backups refuse a PostgreSQL database: they copy SQLite's file.
pub const POSTGRES_BACKUPS: &str =
    "Runboard's backups copy a SQLite database file; back up a PostgreSQL database \
     with its own tools (pg_dump, or the server's continuous archiving) and leave \
     RUNBOARD_BACKUP_DIR and RUNBOARD_BACKUP_EVERY unset";

/// The longest backup interval accepted (a year).
const MAX_EVERY: Duration = Duration::from_secs(365 * 86_400);

/// A backup interval: a whole number and one unit (`90s`, `30m`, `6h`, `1d`),
/// more than zero and at most a year. Nothing else: `6` (no unit), `1.5h`,
/// `6 h` and `1h30m` are refused rather than guessed at.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let refuse = || {
        format!(
            "`{text}` is not a backup interval: write a whole number followed by s, m, h or d \
             (for example 30m, 6h or 1d)"
        )
    };
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(refuse)?;
    let (number, unit) = text.split_at(unit_at);
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(refuse()),
    };
    let number: u64 = number.parse().map_err(|_| refuse())?;
    let every = Duration::from_secs(number.saturating_mul(seconds_per_unit));
    if every.is_zero() {
        return Err(format!(
            "`{text}`: the backup interval must be more than zero"
        ));
    }
    if every > MAX_EVERY {
        return Err(format!(
            "`{text}`: the backup interval must be at most 365d"
        ));
    }
    Ok(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_secret_needs_32_bytes() {
        let mut config = Config::for_database("sqlite::memory:");
        assert_eq!(
            config.check(),
            Ok(()),
            "none configured: a generated one is used"
        );
        config.runner_auth_secret = Some("x".repeat(31));
        let refused = config.check().unwrap_err();
        assert!(refused.contains("at least 32"), "{refused}");
        assert!(!refused.contains(&"x".repeat(31)), "{refused}");
        config.runner_auth_secret = Some("x".repeat(32));
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn the_outbound_allow_list_is_comma_separated() {
        let cli = Cli::try_parse_from([
            "runboard",
            "--outbound-allow",
            "runner.lan, 10.0.0.0/8,127.0.0.1:9000",
        ])
        .unwrap();
        let entries: Vec<String> = cli
            .config
            .outbound_allow
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(entries, ["runner.lan", "10.0.0.0/8", "127.0.0.1:9000"]);
        assert!(Cli::try_parse_from(["runboard", "--outbound-allow", "169.254.169.254"]).is_err());
        assert!(Config::for_database("sqlite::memory:")
            .outbound_allow
            .is_empty());
    }

    #[test]
    fn backup_intervals_are_a_number_and_a_unit() {
        assert_eq!(parse_every("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_every("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_every("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_every("90s"), Ok(Duration::from_secs(90)));
        for bad in [
            "",
            "6",
            "h",
            "0h",
            "1.5h",
            "6 h",
            "1h30m",
            "-1h",
            "6H",
            "400d",
            "99999999999999999999d",
        ] {
            assert!(parse_every(bad).is_err(), "{bad} is refused");
        }
        let refused = Cli::try_parse_from(["runboard", "--backup-every", "6x"]).unwrap_err();
        assert!(
            refused.to_string().contains("not a backup interval"),
            "{refused}"
        );
    }

    #[test]
    fn backups_need_both_a_directory_and_an_interval() {
        let mut config = Config::for_database("sqlite::memory:");
        config.backup_dir = Some("/tmp/backups".into());
        assert!(config
            .check()
            .unwrap_err()
            .contains("RUNBOARD_BACKUP_EVERY"));
        config.backup_every = Some(Duration::from_secs(60));
        assert_eq!(config.check(), Ok(()));
        config.backup_dir = None;
        assert!(config.check().unwrap_err().contains("RUNBOARD_BACKUP_DIR"));
        assert_eq!(Config::for_database("sqlite::memory:").backup_keep, 7);
        let mut postgres = Config::for_database("postgres://runboard:hunter2@db/runboard");
        postgres.backup_dir = Some("/tmp/backups".into());
        postgres.backup_every = Some(Duration::from_secs(60));
        let refused = postgres.check().unwrap_err();
        assert!(refused.contains("pg_dump"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
        assert!(Cli::try_parse_from(["runboard", "--backup-keep", "0"]).is_err());
    }

    #[test]
    fn a_metrics_token_needs_16_bytes_and_the_log_format_is_text_or_json() {
        let mut config = Config::for_database("sqlite::memory:");
        config.metrics_token = Some("short".into());
        assert!(config.check().unwrap_err().contains("at least 16"));
        config.metrics_token = Some("x".repeat(16));
        assert_eq!(config.check(), Ok(()));
        assert_eq!(config.log_format, LogFormat::Text);
        let cli = Cli::try_parse_from(["runboard", "--log-format", "json"]).unwrap();
        assert_eq!(cli.config.log_format, LogFormat::Json);
        assert!(Cli::try_parse_from(["runboard", "--log-format", "xml"]).is_err());
    }
}
