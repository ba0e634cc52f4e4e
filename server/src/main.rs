//! The `runboard` binary: parses the configuration and runs the chosen command.
#![recursion_limit = "512"]

use clap::Parser;
use runboard::config::{Cli, Command, TokenCommand, UserCommand};
use runboard::startup::{open_database, shutdown_signal, Application};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await?;
            app.run_until(shutdown_signal()).await?;
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
        Command::Seed { email, runs } => {
            let db = open_database(&cli.config, cli.config.site_addr).await?;
            let added = runboard::seed::seed_runs(&db, &email, runs).await?;
            println!("Added {added} sample runs to the account of {email}.");
            db.close().await;
        }
    }
    Ok(())
}
