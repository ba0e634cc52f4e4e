//! Builds Runboard's site — the server binary, the hydrate bundle (wasm32 build,
//! wasm-bindgen, wasm-opt), the stylesheet and the public files — with nothing but
//! cargo and the npm packages the project installs, so a fresh machine does not
//! have to compile cargo-leptos and wasm-bindgen-cli first.
//!
//! The site it lays out is the one cargo-leptos lays out (`cargo leptos watch` keeps
//! working on the same workspace), plus content-hashed bundle names listed in
//! `hash.txt` and brotli/gzip copies for the server to send as they are.

mod site;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Builds Runboard's site without cargo-leptos"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Builds the browser half only: the hydrate bundle, CSS and public files.
    Site(BuildArgs),
    /// Builds the `runboard` server binary, then the site.
    Build(BuildArgs),
    /// Builds everything, then serves the dashboard from the built site.
    Serve(BuildArgs),
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Optimised build (the server's `release` profile, the bundle's `wasm-release`
    /// profile and wasm-opt); without it, debug builds as `cargo build` makes them.
    #[arg(long)]
    release: bool,
    /// Where the site goes (the server's `LEPTOS_SITE_ROOT`).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    site_root: PathBuf,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let workspace = workspace_root();
    match cli.command {
        Task::Site(args) => {
            site::build(&workspace, &site_root(&workspace, &args), args.release)?;
        }
        Task::Build(args) => {
            build_server(&workspace, args.release)?;
            site::build(&workspace, &site_root(&workspace, &args), args.release)?;
        }
        Task::Serve(args) => {
            let server = build_server(&workspace, args.release)?;
            let site = site_root(&workspace, &args);
            site::build(&workspace, &site, args.release)?;
            serve(&workspace, &server, &site)?;
        }
    }
    Ok(())
}

/// Runs the server in this process's place, so that Ctrl-C and SIGTERM reach it
/// directly and it stops as it does in production (open requests first).
fn serve(workspace: &Path, server: &Path, site: &Path) -> Result<()> {
    let mut command = Command::new(server);
    command.current_dir(workspace).env("LEPTOS_SITE_ROOT", site);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(error).with_context(|| format!("could not start {}", server.display()))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("could not start {}", server.display()))?;
        if !status.success() {
            anyhow::bail!("the server stopped with {status}");
        }
        Ok(())
    }
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

fn site_root(workspace: &Path, args: &BuildArgs) -> PathBuf {
    if args.site_root.is_absolute() {
        args.site_root.clone()
    } else {
        workspace.join(&args.site_root)
    }
}

/// Builds the server binary and returns its path.
fn build_server(workspace: &Path, release: bool) -> Result<PathBuf> {
    let mut cargo = site::cargo(workspace);
    cargo.args(["build", "--package", "runboard", "--bin", "runboard"]);
    if release {
        cargo.arg("--release");
    }
    site::artifacts(cargo, "runboard", "bin")?
        .into_iter()
        .find(|path| path.extension().is_none())
        .context("cargo built no `runboard` binary")
}
