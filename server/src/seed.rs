//! `runboard seed`: realistic sample runs for an account, so the dashboard can be
//! tried (and tested) before any runner is connected.

use fixtures::{AGENTS, CODE_REVIEWER, DESIGN_BUILDER, JOBSEEK, RESEARCH_ASSISTANT};
use model::RunStatus;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use store::db::runs::{insert_run, NewRun};
use store::db::{now_ms, Db};

/// Seeded runs name only the most frequent sample companies.
const COMPANIES: &[&str] = fixtures::TOP_COMPANIES;
/// Seeded runs are started by these, in turn.
const INITIATORS: &[&str] = fixtures::INITIATORS.split_at(3).0;
/// Runs inserted per transaction.
const SEED_CHUNK: u32 = 10_000;

/// Adds `count` runs to the account of `email`, spread over the past three days.
pub async fn seed_runs(db: &Db, email: &str, count: u32) -> anyhow::Result<u32> {
    let user_pk = store::db::users::find_credentials(&db.read, email)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("no user with email {email}; start the server once to create the owner")
        })?
        .pk;
    let user = store::db::users::find_current_user(&db.read, user_pk)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {email} disappeared"))?;

    // A fixed seed: the same command gives the same kind of data every time.
    let mut rng = StdRng::seed_from_u64(7);
    let now = now_ms();
    // Committed in chunks: one transaction of a million runs keeps every page in
    // the WAL uncommitted, and SQLite slows to a crawl (over 30 minutes instead of
    // about two; docs/performance.md).
    let mut tx = db.begin_write().await?;
    for index in 0..count {
        let run = sample_run(&mut rng, now, index, count);
        insert_run(&mut tx, user.account_pk, &run).await?;
        if (index + 1) % SEED_CHUNK == 0 {
            tx.commit().await?;
            tx = db.begin_write().await?;
        }
    }
    tx.commit().await?;
    Ok(count)
}

fn sample_run(rng: &mut StdRng, now: i64, index: u32, count: u32) -> NewRun {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let agent = *AGENTS.choose(rng).unwrap_or(&JOBSEEK);
    let company = *COMPANIES.choose(rng).unwrap_or(&"Stripe");
    // The newest runs are the ones still in flight.
    let age =
        DAY_MS * 3 * i64::from(count - index) / i64::from(count.max(1)) + rng.gen_range(0..60_000);
    let created_at = now - age;
    let status = match (index * 7 + count) % 10 {
        _ if index + 2 >= count => RunStatus::Running,
        _ if index + 3 == count => RunStatus::Requested,
        0 | 4 => RunStatus::Failed,
        7 => RunStatus::Cancelled,
        9 => RunStatus::Queued,
        _ => RunStatus::Completed,
    };
    let started_at = (status != RunStatus::Requested && status != RunStatus::Queued)
        .then(|| created_at + rng.gen_range(200..5_000));
    let completed_at = (status.is_terminal())
        .then(|| started_at.unwrap_or(created_at) + rng.gen_range(4_000..900_000));
    let progress = match status {
        RunStatus::Running => rng.gen_range(0.1..0.9),
        status if status.is_terminal() => 1.0,
        _ => 0.0,
    };
    let mut run = NewRun::requested(
        agent,
        json!({
            "company_name": company,
            "url": format!("https://{}.com", company.to_lowercase()),
            "options": {"depth": (index % 3) + 1, "dryRun": index.is_multiple_of(4)}
        }),
    );
    run.status = status;
    run.progress = progress;
    run.created_at = created_at;
    run.started_at = started_at;
    run.completed_at = completed_at;
    run.initiator = Some(INITIATORS[(index % 3) as usize].to_string());
    run.summary = Some(match agent {
        JOBSEEK => format!("Add {company} to jobseek"),
        DESIGN_BUILDER => format!("Landing page for {company}"),
        CODE_REVIEWER => format!("Review pull request #{}", 100 + index),
        RESEARCH_ASSISTANT => format!("Market brief: {company}"),
        _ => format!("Sync {company} CRM records"),
    });
    run.error_message = (status == RunStatus::Failed)
        .then(|| format!("{company}: upstream returned 502 after 3 attempts"));
    run
}
