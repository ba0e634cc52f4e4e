//! `runboard-bench`: load figures for Runboard, measured against the real
//! `runboard` binary (started as a child process) so that they include HTTP, the
//! runtime and the allocator exactly as deployed. Each subcommand prints one table
//! of figures against its targets (docs/performance.md); the exit status is 2 when
//! a target is missed.
//!
//! - `export`: exporting every run of a `scale` database (time, server memory).
//! - `bulk`: a bulk job over the newest 100k runs of a `scale` database (the
//!   longest writer hold).
//! - `live`: the live stream's fan-out to N subscribers.
//! - `prune`: pruning a `scale` database by the retention policy while ingest
//!   goes on.
//! - `scale`: the API, the dashboard and ingest on a database of 1M runs
//!   and tens of millions of events, each beside the raw SQLite figure for the
//!   same work.

mod common;
mod fleet;
mod live;
mod logins;
mod prune;
mod scale;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "runboard-bench",
    about = "Load figures for Runboard, against the real binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Export: every run of a `scale` database downloaded twice; time and the
    /// server's memory growth.
    Export(fleet::ExportArgs),
    /// Bulk: a bulk job tagging the newest N runs of a `scale` database; the
    /// longest writer hold of its transactions.
    Bulk(fleet::BulkArgs),
    /// Live stream fan-out: N subscribers, commit-to-client latency, memory per subscriber.
    Live(live::LiveArgs),
    /// Password guessing: /healthz latency while N clients post wrong logins.
    Logins(logins::LoginsArgs),
    /// Pruning: a database of `scale` pruned by the retention policy while ingest
    /// goes on; ingest throughput and latency before and during, writer holds.
    Prune(prune::PruneArgs),
    /// Scale: a generated database of N runs and M events; API, dashboard and ingest
    /// figures against the raw SQLite figures for the same work.
    Scale(scale::ScaleArgs),
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Export(args) => fleet::export(args).await,
        Command::Bulk(args) => fleet::bulk(args).await,
        Command::Live(args) => live::live(args).await,
        Command::Logins(args) => logins::logins(args).await,
        Command::Prune(args) => prune::prune(args).await,
        Command::Scale(args) => scale::scale(args).await,
    }
}
