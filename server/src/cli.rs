//! The command line's tools: `runboard user add`, `runboard token create` and
//! `runboard prune` (with `--dry-run`, what a prune would remove).

use model::{format_bytes, format_count, AppError, PruneCounts, RetentionDays, Role};
use std::fmt::Write;
use store::auth::{validate_email, validate_password};
use store::db::audit::Actor;
use store::db::{tokens, users, Db};
use store::prune::{CensusWhen, PruneOptions};
use store::storage::Store;

fn fail(error: AppError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// Adds a user; returns the name of the account it joined.
pub async fn add_user(
    db: &Db,
    email: &str,
    password: &str,
    account: Option<&str>,
    role: &str,
) -> anyhow::Result<String> {
    validate_email(email).map_err(fail)?;
    validate_password(password).map_err(fail)?;
    let role =
        Role::parse(role).ok_or_else(|| anyhow::anyhow!("role must be owner, member or viewer"))?;
    store::auth::add_user(db, email, password, account, role)
        .await
        .map_err(fail)
}

/// Creates an API token for the user with this email; returns the secret.
pub async fn create_token(db: &Db, email: &str, name: &str) -> anyhow::Result<String> {
    let user_pk = users::find_credentials(&db.read, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?
        .pk;
    let user = users::find_current_user(&db.read, user_pk)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
    // Made on the server's machine, in the user's name.
    let actor = Actor {
        account_pk: user.account_pk,
        user_pk: Some(user.user_pk),
        name: user.email,
        via: model::Via::Cli,
        ip: None,
    };
    let (_, secret) = tokens::create_token(db, &actor, name, None)
        .await
        .map_err(fail)?;
    Ok(secret)
}

/// `runboard prune`: one pass by every account's policy now (beside a running
/// server, in the same small transactions), or with `dry_run` what one would
/// remove, changing nothing. Returns the text to print.
pub async fn prune(db: &Db, store: &Store, dry_run: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    if dry_run {
        let dry = store::prune::dry_run(db, store::db::now_ms())
            .await
            .map_err(fail)?;
        writeln!(out, "Dry run: nothing was changed.")?;
        if dry.accounts.is_empty() {
            writeln!(
                out,
                "No account has a retention policy: everything is kept."
            )?;
        }
        for (_, name, agents) in &dry.accounts {
            writeln!(out, "Account {name}:")?;
            let mut total = PruneCounts::default();
            for agent in agents {
                total.add(&agent.counts);
                writeln!(
                    out,
                    "  {} ({}): {}",
                    agent.agent,
                    days(&agent.days),
                    would(&agent.counts)
                )?;
            }
            if agents.is_empty() {
                writeln!(out, "  the policy keeps everything of every agent")?;
            }
            writeln!(out, "  in all: {}", would(&total))?;
        }
        writeln!(
            out,
            "Change log: {} entries older than a day would be removed.",
            format_count(dry.changes)
        )?;
        writeln!(
            out,
            "Stored files waiting to be deleted: {}.",
            format_count(dry.files_pending)
        )?;
        return Ok(out);
    }
    let mut options = PruneOptions::new("cli");
    // Asked for by hand: the storage page then shows what is left, counted now.
    options.census = CensusWhen::Always;
    let pass = store::prune::run(db, store, options).await.map_err(fail)?;
    for (account_pk, counts) in &pass.accounts {
        let name = store::db::accounts::get_account(&db.read, *account_pk)
            .await
            .map_err(fail)?
            .name;
        writeln!(out, "Account {name}: {}", removed(counts))?;
    }
    if pass.accounts.is_empty() {
        writeln!(
            out,
            "No account has a retention policy: everything is kept."
        )?;
    }
    writeln!(
        out,
        "Change log: {} entries older than a day removed. Stored files deleted: {}{}.",
        format_count(pass.changes),
        format_count(pass.files),
        if pass.files_failed > 0 {
            format!(
                " ({} could not be, tried again next time)",
                pass.files_failed
            )
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "{} write transactions; the longest held the writer {} ms; {:.1} s in all.",
        format_count(pass.transactions),
        pass.longest_hold.as_millis(),
        (pass.finished_at - pass.started_at) as f64 / 1000.0
    )?;
    Ok(out)
}

/// `runs 30 d, failed runs 90 d, events 7 d, artifacts forever`.
fn days(days: &RetentionDays) -> String {
    let one = |days: Option<i64>| match days {
        Some(days) => format!("{days} d"),
        None => "forever".to_string(),
    };
    format!(
        "keeps runs {}, failed runs {}, events {}, artifacts {}",
        one(days.runs),
        one(days.failed_runs),
        one(days.events),
        one(days.artifacts)
    )
}

fn would(counts: &PruneCounts) -> String {
    format!(
        "would delete {} runs and empty the event logs of {} runs and the artifact lists of {}: {} events and {} artifacts ({}) in all",
        format_count(counts.runs),
        format_count(counts.event_logs),
        format_count(counts.artifact_sets),
        format_count(counts.events),
        format_count(counts.artifacts),
        format_bytes(counts.artifact_bytes),
    )
}

fn removed(counts: &PruneCounts) -> String {
    format!(
        "deleted {} runs; removed {} events, {} artifacts ({}); emptied {} event logs and {} artifact lists",
        format_count(counts.runs),
        format_count(counts.events),
        format_count(counts.artifacts),
        format_bytes(counts.artifact_bytes),
        format_count(counts.event_logs),
        format_count(counts.artifact_sets),
    )
}
