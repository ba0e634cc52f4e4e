//! The `runboard` binary: parses the configuration and runs the chosen command.
#![recursion_limit = "512"]

use clap::Parser;
use runboard::config::{Cli, Command, LogFormat, TokenCommand, UserCommand};
use runboard::demo::{self, DemoOptions};
use runboard::startup::{open_database, shutdown_signal, Application};
use std::time::Duration;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

// mimalloc: server-rendering a page allocates and frees many small objects on
// every worker thread, and glibc's allocator took 45 % of the server's CPU time on
// the runs list page (perf; docs/performance.md, "Scale benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let demo = cli.config.demo;
            let app = Application::build(cli.config).await?;
            if demo {
                serve_with_demo(app).await?;
            } else {
                app.run_until(shutdown_signal()).await?;
            }
        }
        Command::User {
            action:
                UserCommand::Add {
                    email,
                    password,
                    account,
                    role,
                },
        } => {
            let db = open_database(&cli.config, cli.config.site_addr).await?;
            let account =
                runboard::cli::add_user(&db, &email, &password, account.as_deref(), &role).await?;
            println!("Added {email} to the account {account}.");
            db.close().await;
        }
        Command::Token {
            action: TokenCommand::Create { email, name },
        } => {
            let db = open_database(&cli.config, cli.config.site_addr).await?;
            let secret = runboard::cli::create_token(&db, &email, &name).await?;
            println!("{secret}");
            db.close().await;
        }
        Command::Backup { to } => {
            let report = runboard::backup::backup_to(&cli.config, &to).await?;
            println!("Backed up to {report}.");
        }
        Command::Restore { from } => {
            let report = runboard::backup::restore_from(&cli.config, &from).await?;
            println!("{report}");
        }
        Command::Prune { dry_run } => {
            let db = open_database(&cli.config, cli.config.site_addr).await?;
            let store = runboard::startup::artifact_store(&cli.config)?;
            let result = runboard::cli::prune(&db, &store, dry_run).await;
            db.close().await;
            print!("{}", result?);
        }
        Command::Seed { email, runs } => {
            let db = open_database(&cli.config, cli.config.site_addr).await?;
            let added = runboard::seed::seed_runs(&db, &email, runs).await?;
            println!("Added {added} sample runs to the account of {email}.");
            db.close().await;
        }
    }
    Ok(())
}

/// Logs to standard error: lines for people, or one JSON object per line
/// (`RUNBOARD_LOG_FORMAT=json`) for a log collector; `RUST_LOG` filters both.
fn init_logs(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

/// Serves with the demo fleet beside the server. On the shutdown signal the fleet
/// stops first (it ends its runs through the still-open APIs), then the server.
/// The fleet gets the server's own database handle: its outbound policy is the
/// one the fleet's job receiver must be allowed in.
async fn serve_with_demo(app: Application) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let fleet = tokio::spawn(demo::run(
        demo::local_base_url(app.addr()),
        app.db(),
        DemoOptions::default(),
        stopped,
    ));
    let signal = shutdown_signal();
    app.run_until(async move {
        signal.await;
        let _ = stop.send(true);
        if tokio::time::timeout(Duration::from_secs(10), fleet)
            .await
            .is_err()
        {
            tracing::warn!("demo mode: the simulated fleet did not stop within 10 s");
        }
    })
    .await
}
