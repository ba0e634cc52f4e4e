//! The 1M-run list targets: every query behind the runs list (the page, its total, the status
//! chips, the per-day chart) under every supported filter, alone and in the
//! combinations the dashboard makes, and every query of a run's event log, is
//! explained with `EXPLAIN QUERY PLAN` on a database filled with realistic data,
//! first without planner statistics, then with the statistics the server gathers
//! itself when it starts. A plan that reads far more than the query returns — a
//! full scan of `runs` or `events` above all (see [`problems`]) — fails the test
//! with the filter, the SQL and the whole plan.
//!
//! The SQL explained is the SQL the server runs: the database layer builds each
//! query with the same `*_query` function the test calls, binds included (SQLite is
//! built with STAT4, so bound values can change a plan).

use crate::helpers::*;
use model::{AccountPk, CampaignPk, RunFilter, RunPk, RunStatus};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use store::db::events::{self, EventQuery, NewEvent};
use store::db::filter::{self, Conditions};
use store::db::now_ms;
use store::db::runs::{self, NewRun};
use store::db::sql::{Backend, Pool, SqlBuilder};
use store::db::sweep::{self, SweepReason};
use store::db::text_search;
use uuid::Uuid;

use fixtures::{AGENTS, INITIATORS, TOP_COMPANIES as COMPANIES};
const CITIES: [&str; 5] = ["Dublin", "Berlin", "Austin", "Lisbon", "Toronto"];
const DAY_MS: i64 = 86_400_000;

/// Runs in the owner's account, and a few in a second account: a self-hosted
/// installation is mostly one account, so `account_pk = ?` selects nearly every run.
const OWNER_RUNS: u32 = 5_000;
const OTHER_RUNS: u32 = 100;
/// Events of the one long run (a run page with a long log).
const LONG_LOG: usize = 3_000;

/// What the cases refer to: the owner's account and values that exist in it.
struct Fixture {
    account_pk: AccountPk,
    campaign: Uuid,
    /// The run with [`LONG_LOG`] events and one with a short log.
    long_run_pk: RunPk,
    short_run_pk: RunPk,
}

/// The mix of statuses of a fleet: mostly completed, some failed or cancelled,
/// a handful in flight.
fn pick_status(rng: &mut StdRng) -> RunStatus {
    match rng.gen_range(0..1000) {
        0..=779 => RunStatus::Completed,
        780..=919 => RunStatus::Failed,
        920..=984 => RunStatus::Cancelled,
        985..=989 => RunStatus::Running,
        990..=994 => RunStatus::Queued,
        _ => RunStatus::Requested,
    }
}

fn sample_run(rng: &mut StdRng, now: i64, campaigns: &[CampaignPk]) -> NewRun {
    let agent = *AGENTS.choose(rng).unwrap();
    let company = *COMPANIES.choose(rng).unwrap();
    let city = *CITIES.choose(rng).unwrap();
    let status = pick_status(rng);
    // Thirty days of history, so the 14-day chart covers about half of it.
    let created_at = now - rng.gen_range(0..30 * DAY_MS);
    let started_at = (!matches!(status, RunStatus::Requested | RunStatus::Queued))
        .then(|| created_at + rng.gen_range(200..5_000));
    let completed_at = status
        .is_terminal()
        .then(|| started_at.unwrap_or(created_at) + rng.gen_range(2_000..900_000));
    let mut run = NewRun::requested(
        agent,
        json!({
            "company_name": company,
            "url": format!("https://{}.com", company.to_lowercase()),
            "address": {"city": city, "remote": rng.gen_bool(0.3)},
            "options": {"depth": rng.gen_range(1..4), "dryRun": rng.gen_bool(0.25)},
            "tags": ["fintech", "b2b"],
        }),
    );
    run.status = status;
    run.progress = if status.is_terminal() { 1.0 } else { 0.4 };
    run.created_at = created_at;
    run.started_at = started_at;
    run.completed_at = completed_at;
    run.initiator = Some(INITIATORS.choose(rng).unwrap().to_string());
    run.campaign_pk = campaigns
        .choose(rng)
        .copied()
        .filter(|_| rng.gen_bool(0.25));
    run.summary = Some(match agent {
        "jobseek-add-company" => format!("Add {company} to jobseek"),
        "design-builder" => format!("Landing page for {company}"),
        "code-reviewer" => format!("Review pull request #{}", rng.gen_range(100..999)),
        "research-assistant" => format!("Market brief: {company}"),
        _ => format!("Sync {company} CRM records"),
    });
    run.error_message = (status == RunStatus::Failed)
        .then(|| format!("{company}: upstream returned 502 after 3 attempts"));
    run
}

fn sample_events(rng: &mut StdRng, count: usize) -> Vec<NewEvent> {
    (0..count)
        .map(|index| {
            let (event_type, message) = match rng.gen_range(0..20) {
                0 => (
                    "warning",
                    format!(
                        "slow response from upstream ({} ms)",
                        rng.gen_range(900..5_000)
                    ),
                ),
                1 => ("error", "tool call failed: timeout".to_string()),
                2..=6 => (
                    "agent.tool_use",
                    format!("fetch page {}", rng.gen_range(1..50)),
                ),
                _ => (
                    "agent.progress",
                    format!("processed {} records", rng.gen_range(1..500)),
                ),
            };
            NewEvent {
                client_id: Some(format!("e{index}")),
                event_type: event_type.to_string(),
                message: Some(message),
                metadata: Some(json!({"index": index})),
            }
        })
        .collect()
}

/// Fills the database the way a busy installation looks: runs of five agents
/// over thirty days, in three campaigns and two accounts, with nested inputs,
/// durations, summaries and errors; event logs on a few hundred of them.
async fn fill(app: &TestApp) -> Fixture {
    let account_pk = app.owner_account().await;
    let mut campaign_ids = Vec::new();
    for name in ["Spring launch", "Competitor watch", "Fintech hiring push"] {
        let campaign = store::db::campaigns::create_campaign(
            &app.db,
            &store::db::audit::Actor::system(account_pk, model::Via::System),
            name,
        )
        .await
        .unwrap();
        campaign_ids.push(campaign.id);
    }
    let mut rng = StdRng::seed_from_u64(6);
    let now = now_ms();
    let mut tx = app.db.begin_write().await.unwrap();
    let mut campaign_pks = Vec::new();
    for id in &campaign_ids {
        campaign_pks.push(
            store::db::campaigns::find_campaign_pk(&mut tx, account_pk, *id)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let other_pk = store::db::accounts::create_account(&mut tx, "Other")
        .await
        .unwrap();
    let mut owner_runs = Vec::new();
    for index in 0..OWNER_RUNS + OTHER_RUNS {
        let (account, campaigns) = if index < OWNER_RUNS {
            (account_pk, campaign_pks.as_slice())
        } else {
            (other_pk, &[][..])
        };
        let run = sample_run(&mut rng, now, campaigns);
        let (run_pk, _) = runs::insert_run(&mut tx, account, &run).await.unwrap();
        if account == account_pk {
            owner_runs.push(run_pk);
        }
    }
    // Tags on a tenth of the owner's runs, error codes on the failed ones, and
    // retries of some of them (the query language's `tag:`, `error:`, `retryOf:`).
    for statement in [
        "INSERT INTO run_tags (run_pk, account_pk, tag, created_at)
         SELECT pk, account_pk, 'nightly', created_at FROM runs WHERE pk % 10 = 3",
        "UPDATE runs SET error_code = CASE WHEN pk % 3 = 0 THEN 'timeout' ELSE 'upstream_502' END
         WHERE status = 'failed'",
        "UPDATE runs SET retry_of_pk = pk - 1, attempt = 2 WHERE pk % 40 = 7",
    ] {
        store::db::sql::query(statement)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    // Short logs on every tenth run, one long log.
    for run_pk in owner_runs.iter().step_by(10) {
        let count = rng.gen_range(5..40);
        events::append_events(&mut tx, *run_pk, &sample_events(&mut rng, count))
            .await
            .unwrap();
    }
    let long_run_pk = owner_runs[OWNER_RUNS as usize / 2 + 1];
    for batch in sample_events(&mut rng, LONG_LOG).chunks(500) {
        events::append_events(&mut tx, long_run_pk, batch)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    Fixture {
        account_pk,
        campaign: campaign_ids[1],
        long_run_pk,
        short_run_pk: owner_runs[10],
    }
}

/// The plan of a query, with its binds: `(id, parent, detail)` rows. On
/// PostgreSQL the rows are the lines of `EXPLAIN`'s text, each its own parent.
async fn explain(pool: &Pool, builder: SqlBuilder) -> (String, Vec<(i64, i64, String)>) {
    let sql = builder.sql().to_string();
    let failed = |error: sqlx::Error| -> ! { panic!("EXPLAIN of {sql} failed: {error}") };
    let plan = if pool.backend() == Backend::Postgres {
        let lines: Vec<String> = builder
            .build()
            .prefixed("EXPLAIN ")
            .into_query_as::<(String,)>()
            .fetch_all(pool)
            .await
            .unwrap_or_else(|error| failed(error))
            .into_iter()
            .map(|(line,)| line)
            .collect();
        lines.into_iter().map(|line| (0, 0, line)).collect()
    } else {
        let rows: Vec<(i64, i64, i64, String)> = builder
            .build()
            .prefixed("EXPLAIN QUERY PLAN ")
            .into_query_as()
            .fetch_all(pool)
            .await
            .unwrap_or_else(|error| failed(error));
        rows.into_iter()
            .map(|(id, parent, _, detail)| (id, parent, detail))
            .collect()
    };
    (sql, plan)
}

/// Whether a plan row reads every row of `runs` or `events` (aliases `r`, `rr`,
/// `e`): a `SCAN` of one of them that is not an index or rowid lookup. FTS5
/// searches (`SCAN runs_fts VIRTUAL TABLE INDEX 0:M1`) are index lookups.
fn full_scan(detail: &str) -> bool {
    let Some(rest) = detail.strip_prefix("SCAN ") else {
        return false;
    };
    let table = rest.split_whitespace().next().unwrap_or_default();
    matches!(table, "r" | "rr" | "runs" | "e" | "events")
        && ![
            "USING INDEX",
            "USING COVERING INDEX",
            "USING INTEGER PRIMARY KEY",
        ]
        .iter()
        .any(|lookup| rest.contains(lookup))
}

/// Whether a plan row reads every run of the account: an index range of `runs`
/// bounded by `account_pk` alone, or by `account_pk` and the chart's window
/// (`window`). On a one-account installation that is the whole table, or every
/// run of the last 14 days, read through an index.
fn whole_account(detail: &str, window: bool) -> bool {
    let range = detail.starts_with("SEARCH r USING INDEX ")
        || detail.starts_with("SEARCH r USING COVERING INDEX ");
    range
        && (detail.ends_with(" (account_pk=?)")
            || window && detail.ends_with(" (account_pk=? AND created_at>?)"))
}

/// What a query does with the rows it reads, which decides what a plan may do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A page of runs: `LIMIT` stops a walk in `created_at` order early, so
    /// walking the account's range is how an unfiltered page is read.
    Page { cursor: bool, input: bool },
    /// The total or the status counts: every row of the range is read.
    Count,
    /// The total or status counts (`chart: None`) or the chart (`Some(dated)`)
    /// of a query-language filter (`q`), whose matching runs are this many per
    /// mille of the runs the aggregate ranges over (the account's, or the
    /// chart's 14 days). See [`MIN_DENSE_PERMILLE`].
    Query { chart: Option<bool>, permille: u32 },
    /// The chart: every row of the last 14 days in the range is read. `dated`:
    /// the filter bounds the creation time itself.
    Chart { dated: bool },
    /// A page of a run's events.
    Events,
    /// The sweeper's candidates: the oldest few of a partial index, never sorted.
    Sweep,
    /// A query that must read by the index named here, without sorting
    /// (pruning's candidates, the comparison's and the alerts' reads).
    Indexed(&'static str),
}

/// An `OR`, a negation or `has:` may be read by walking the account's runs (or
/// the chart's days) rather than by indexes: SQLite chooses that walk when its
/// statistics say the query matches a large share of them (for a sparse `OR` it
/// unites the branches' own indexes, `MULTI-INDEX OR`), and every aggregate
/// stops at the count cap (`LIMIT` 10,001). A walk is therefore bounded by
/// 10,001 / share rows: allowed when at least this many per mille of the runs
/// match (at most 20 × 10,001 rows read at any size), a failure below.
const MIN_DENSE_PERMILLE: u32 = 50;

/// What is wrong with a plan, if anything:
/// * a full scan of `runs` or `events`;
/// * with planner statistics, a count, status count or chart that reads every
///   run of the account (of the chart's 14 days, unless the filter bounds the
///   dates itself) although the filter names something narrower;
/// * a keyset page that sorts every run older than its cursor instead of
///   walking an index from the cursor;
/// * with statistics, an input-field page that sorts its matches instead of
///   reading them newest first from `run_input_fields`.
///
/// Without statistics (a database whose tables grew since the server last ran
/// `PRAGMA optimize`) SQLite takes every index equality to select ten rows, so
/// it reads aggregates by the account's range whatever the filter; there only
/// full scans and sorted keyset pages fail.
fn problems(plan: &[(i64, i64, String)], shape: Shape, with_stats: bool) -> Vec<&'static str> {
    let mut found = Vec::new();
    let any = |test: &dyn Fn(&str) -> bool| plan.iter().any(|(_, _, detail)| test(detail));
    if any(&full_scan) {
        found.push("full scan of runs or events");
    }
    let aggregate = match shape {
        Shape::Count => Some(false),
        Shape::Chart { dated } => Some(!dated),
        Shape::Query { permille, .. } if permille >= MIN_DENSE_PERMILLE => None,
        Shape::Query { chart: None, .. } => Some(false),
        Shape::Query {
            chart: Some(dated), ..
        } => Some(!dated),
        _ => None,
    };
    if let Some(window) = aggregate.filter(|_| with_stats) {
        if any(&|detail| whole_account(detail, window)) {
            found.push(if window {
                "the chart reads every run of its 14 days"
            } else {
                "an aggregate reads every run of the account"
            });
        }
    }
    if let Shape::Indexed(index) = shape {
        if !any(&|detail| detail.contains(index)) {
            found.push("the query does not read by its index");
        }
        if any(&|detail| detail == "USE TEMP B-TREE FOR ORDER BY") {
            found.push("the query sorts what its index could give in order");
        }
    }
    let sorted = any(&|detail| detail == "USE TEMP B-TREE FOR ORDER BY");
    if shape == Shape::Sweep && sorted {
        found.push("the sweep sorts its candidates instead of reading them in index order");
    }
    // The partial indexes of the open runs the sweeper may act on (migration 0006).
    let sweep_indexes = [
        "runs_running_seen",
        "runs_running_started",
        "runs_waiting",
        "runs_lease_expiry",
        "runs_retry_due",
    ];
    if shape == Shape::Sweep
        && !any(&|detail| {
            sweep_indexes
                .iter()
                .any(|index| detail.contains(&format!("INDEX {index} ")))
        })
    {
        found.push("the sweep reads beyond the open runs (no partial index of migration 0006)");
    }
    let by_rowid = any(&|detail| detail.starts_with("SEARCH r USING INTEGER PRIMARY KEY"));
    if let Shape::Page { cursor, input } = shape {
        if cursor && sorted && !by_rowid {
            found.push("a keyset page sorts every run older than the cursor");
        }
        // `run_input_fields` lists a field's matches newest first: a page that
        // sorts them has started from the wrong table (1.9 s at 1M runs).
        if input && sorted && with_stats {
            found.push("an input-field page sorts every match");
        }
    }
    found
}

/// What is wrong with a PostgreSQL plan, explained with sequential scans
/// priced out (`enable_seqscan = off`): on a test-sized database PostgreSQL
/// rightly reads small tables whole, so the question asked here is whether an
/// index *can* serve the query. A `Seq Scan` of `runs` or `events` that is left
/// means none can. A query that must read by a named index (pruning's, the
/// sweeper's partial indexes, the comparison's and the alerts') must name it.
fn postgres_problems(plan: &[(i64, i64, String)], shape: Shape) -> Vec<&'static str> {
    let mut found = Vec::new();
    let any = |test: &dyn Fn(&str) -> bool| plan.iter().any(|(_, _, line)| test(line));
    let seq_scan_of = |line: &str, table: &str| {
        line.contains(&format!("Seq Scan on {table} "))
            || line.ends_with(&format!("Seq Scan on {table}"))
    };
    if any(&|line| seq_scan_of(line, "runs") || seq_scan_of(line, "events")) {
        found.push("full scan of runs or events");
    }
    let names = |index: &str| {
        let index = index.to_string();
        move |line: &str| {
            line.contains(&format!(" using {index} on "))
                || line.contains(&format!("Index Scan on {index}"))
                || line.contains(&format!(" on {index} "))
                || line.ends_with(&format!(" on {index}"))
        }
    };
    if let Shape::Indexed(index) = shape {
        if !any(&names(index)) {
            found.push("the query does not read by its index");
        }
    }
    let sweep_indexes = [
        "runs_running_seen",
        "runs_running_started",
        "runs_waiting",
        "runs_lease_expiry",
        "runs_retry_due",
    ];
    if shape == Shape::Sweep && !sweep_indexes.iter().any(|index| any(&names(index))) {
        found.push("the sweep reads beyond the open runs (no partial index of migration 0006)");
    }
    found
}

/// A plan as SQLite's shell prints it: a tree by parent id.
fn render(plan: &[(i64, i64, String)]) -> String {
    if plan.iter().all(|(id, parent, _)| *id == 0 && *parent == 0) {
        // PostgreSQL's text, already indented as a tree.
        return plan
            .iter()
            .map(|(_, _, line)| format!("  {line}\n"))
            .collect();
    }
    fn walk(plan: &[(i64, i64, String)], parent: i64, depth: usize, out: &mut String) {
        for (id, _, detail) in plan
            .iter()
            .filter(|(_, row_parent, _)| *row_parent == parent)
        {
            out.push_str(&format!("{}{detail}\n", "  ".repeat(depth + 1)));
            walk(plan, *id, depth + 1, out);
        }
    }
    let mut out = String::new();
    walk(plan, 0, 0, &mut out);
    out
}

/// Explains queries on one database and collects what is wrong with their plans.
struct Checker<'a> {
    pool: &'a Pool,
    with_stats: bool,
    failures: Vec<String>,
}

impl Checker<'_> {
    async fn check(&mut self, label: &str, shape: Shape, builder: SqlBuilder) {
        let (sql, plan) = explain(self.pool, builder).await;
        let shown = render(&plan);
        let phase = if self.with_stats {
            "with statistics"
        } else {
            "without statistics"
        };
        println!("{phase}: {label}\n{shown}");
        let found = match self.pool.backend() {
            Backend::Postgres => postgres_problems(&plan, shape),
            Backend::Sqlite => problems(&plan, shape, self.with_stats),
        };
        if !found.is_empty() {
            self.failures.push(format!(
                "{phase}: {label}: {}\n  SQL: {sql}\n  plan:\n{shown}",
                found.join("; ")
            ));
        }
    }
}

/// How many per mille of the runs an aggregate ranges over match `conditions`:
/// of the account's runs, or with `since` of those created since then.
async fn permille(
    pool: &Pool,
    account: AccountPk,
    conditions: &Conditions,
    since: Option<i64>,
) -> u32 {
    let mut matching = SqlBuilder::new("SELECT count(*) FROM runs r");
    filter::push_conditions(
        &mut matching,
        account,
        conditions,
        filter::Reading::Aggregate,
    );
    let mut all = SqlBuilder::new("SELECT count(*) FROM runs r WHERE r.account_pk = ");
    all.push_bind(account);
    if let Some(since) = since {
        matching.push(" AND r.created_at >= ").push_bind(since);
        all.push(" AND r.created_at >= ").push_bind(since);
    }
    let matching: i64 = matching.build_query_scalar().fetch_one(pool).await.unwrap();
    let all: i64 = all.build_query_scalar().fetch_one(pool).await.unwrap();
    u32::try_from(matching * 1000 / all.max(1)).unwrap()
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A filter as the dashboard and the API read it from a URL's query.
fn filter(query: &str) -> RunFilter {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    RunFilter::from_query(
        pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    )
    .unwrap_or_else(|error| panic!("{query}: {error:?}"))
}

fn date(ms: i64) -> String {
    store::db::from_ms(ms)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Every supported filter of the runs list alone, then in the combinations the
/// dashboard produces (chips + agent, search + chips, pages…).
async fn run_filter_cases(checker: &mut Checker<'_>, fx: &Fixture) {
    let pool = checker.pool;
    let now = now_ms();
    let campaign = fx.campaign;
    let week_ago = date(now - 7 * DAY_MS);
    let month_ago = date(now - 28 * DAY_MS);
    let yesterday = date(now - DAY_MS);
    let mut cases: Vec<String> = [
        "",
        "status=failed",
        "status=running",
        "status=failed,cancelled",
        "status=requested,queued,running",
        "agent=data-sync",
        "pipeline_id=data-sync",
        "agent=data-sync&status=completed",
        "agent=code-reviewer&status=failed,cancelled",
        "initiator=schedule",
        "initiator=ci&status=failed",
        "minDurationMs=600000",
        "maxDurationMs=5000",
        "minDurationMs=10000&maxDurationMs=60000",
        "minDurationMs=600000&status=completed",
        "input.company_name=Stripe",
        "initial_input.company_name=Stripe",
        "input.company_name=stripe&ci=true",
        "input.address.city=Dublin",
        "input.options.depth=2",
        "input.tags.0=fintech",
        "input.company_name=Stripe&input.address.city=Dublin",
        "input.company_name=Stripe&status=failed",
        "input.company_name=Stripe&agent=jobseek-add-company",
        "input.company_name=NoSuchCompany",
        "q=Stripe",
        "q=upstream 502",
        "q=processed",
        "q=timeout",
        "q=nothing-matches-this",
        "q=Stripe&status=failed",
        "q=Stripe&agent=data-sync",
        "q=input.company_name%3DStripe",
        "q=input.company_name%3DStripe Dublin",
        "q=Stripe&minDurationMs=1000",
        "q=Stripe&initiator=ci",
        "input.company_name=Stripe&initiator=ci",
        "input.company_name=Stripe&minDurationMs=1000",
        "minDurationMs=1",
        "limit=100",
        "offset=40",
        "status=failed&offset=200",
        // Orders (`sort`): creation either way from the index every filter
        // shares, duration from the duration index.
        "sort=createdAt",
        "status=failed&sort=createdAt",
        "agent=data-sync&sort=createdAt&offset=40",
        "input.company_name=Stripe&sort=createdAt",
        "sort=-durationMs",
        "sort=durationMs",
        "status=failed&sort=-durationMs",
        "agent=data-sync&sort=-durationMs",
        "minDurationMs=600000&sort=-durationMs",
        "initiator=ci&sort=durationMs",
    ]
    .iter()
    .map(|case| case.to_string())
    .collect();
    cases.extend([
        format!("campaign={campaign}"),
        format!("campaignId={campaign}"),
        format!("campaign={campaign}&status=failed"),
        format!("campaign={campaign}&agent=design-builder"),
        format!("createdAfter={week_ago}"),
        format!("createdAfter={yesterday}"),
        format!("createdBefore={week_ago}"),
        format!("createdAfter={month_ago}&createdBefore={week_ago}"),
        format!("createdAfter={week_ago}&status=failed"),
        format!("createdAfter={week_ago}&agent=data-sync"),
        format!("createdAfter={week_ago}&q=Stripe"),
        // Short ranges are charted by the hour or by minutes.
        "createdAfter=-24h".to_string(),
        "createdAfter=-1h&status=failed".to_string(),
        "createdAfter=-6h&agent=data-sync".to_string(),
        "createdAfter=-24h&minDurationMs=1000".to_string(),
        format!("createdAfter={month_ago}&createdBefore={}", date(now - 27 * DAY_MS)),
        format!("campaign={campaign}&sort=-durationMs"),
        format!("createdAfter={yesterday}&sort=-durationMs"),
        format!("createdAfter={week_ago}&input.company_name=Stripe"),
        format!("status=failed&agent=data-sync&initiator=api&campaign={campaign}&createdAfter={month_ago}&minDurationMs=1000&input.address.city=Berlin&q=upstream"),
    ]);
    // The query language (`q`, docs/query.md): each qualifier, negations, ORs of
    // indexed terms, text under OR and NOT, and with the separate parameters.
    let day = date(now - 3 * DAY_MS)[..10].to_string();
    cases.extend(
        [
            "status:failed",
            "status:failed,cancelled",
            "-status:completed",
            "agent:data-sync",
            "agent:data-sync status:failed",
            "campaign:\"Competitor watch\"",
            "initiator:schedule",
            "tag:nightly",
            "tag:nightly status:failed",
            "input.company_name:Stripe",
            "input.company_name=Stripe status:failed",
            "created:>-7d",
            "created:<-7d",
            "created:>-1h",
            "duration:>60s",
            "duration:<=5s status:completed",
            "progress:<0.5",
            "error:timeout",
            "has:error",
            "has:campaign",
            "retryOf:*",
            "status:failed OR agent:data-sync",
            "status:running OR status:queued OR tag:nightly",
            "tag:nightly OR input.company_name:Stripe",
            "error:timeout OR initiator:ci",
            "agent:data-sync (status:failed OR tag:nightly)",
            "(agent:data-sync OR agent:code-reviewer) status:running",
            "Stripe OR status:running",
            "Stripe OR upstream",
            "\"upstream returned\" OR tag:nightly",
            "status:failed (Stripe OR Dublin)",
            "Stripe -upstream",
            "Stripe -tag:nightly",
            "\"Add Stripe\"",
            "Stripe status:failed -retryOf:*",
        ]
        .iter()
        .map(|q| format!("q={}", encode(q))),
    );
    cases.extend([
        format!("q={}", encode(&format!("campaign:{campaign}"))),
        format!("q={}", encode(&format!("created:{day}"))),
        format!("q={}&status=failed", encode("tag:nightly OR error:timeout")),
        format!("q={}&agent=data-sync", encode("-status:completed")),
        format!(
            "q={}&createdAfter={week_ago}",
            encode("Stripe OR status:running")
        ),
    ]);
    // Negations select most runs: their aggregates walk the account's runs
    // until the count cap ([`MIN_DENSE_PERMILLE`]).
    for q in [
        "-tag:nightly",
        "-agent:data-sync",
        "-has:error",
        "-Stripe",
        "NOT (tag:nightly OR has:error)",
    ] {
        cases.push(format!("q={}", encode(q)));
    }
    // Cursor pages: the "Older →" link of a first page, and a position deep in
    // the history, for the plain list and for filtered lists.
    let (deep_created, deep_pk): (i64, i64) = store::db::sql::query_as(
        "SELECT created_at, pk FROM runs WHERE account_pk = ? ORDER BY created_at DESC, pk DESC LIMIT 1 OFFSET 3000",
    )
    .bind(fx.account_pk)
    .fetch_one(pool)
    .await
    .unwrap();
    for base in [
        "",
        "status=failed",
        "agent=data-sync",
        "q=Stripe",
        "input.company_name=Stripe",
    ] {
        let page = runs::list_runs(pool, fx.account_pk, &filter(base))
            .await
            .unwrap();
        let cursor = page
            .next_cursor
            .expect("a full first page has a next cursor");
        let joiner = if base.is_empty() { "" } else { "&" };
        cases.push(format!("{base}{joiner}cursor={cursor}"));
    }
    cases.push(format!("cursor={deep_created}.{deep_pk}"));
    // A selection of rows (`id:`), alone and beside other filters.
    let picked: Vec<String> = store::db::sql::query_scalar(
        "SELECT id FROM runs WHERE account_pk = ? ORDER BY pk DESC LIMIT 3 OFFSET 500",
    )
    .bind(fx.account_pk)
    .fetch_all(pool)
    .await
    .unwrap();
    let picked = format!("id:{}", picked.join(","));
    cases.push(format!("q={}", encode(&picked)));
    cases.push(format!("q={}&status=failed", encode(&picked)));
    cases.push(format!("q={}", encode(&format!("{picked} OR tag:nightly"))));
    cases.push(format!("status=completed&cursor={deep_created}.{deep_pk}"));

    for case in &cases {
        let filter = filter(case);
        let account = fx.account_pk;
        let label = |query: &str| format!("runs ?{case} [{query}]");
        let conditions = Conditions::new(&filter, now).unwrap();
        let chart_from = model::ChartSpan::of(&conditions.filter, now).first_ms;
        let page = Shape::Page {
            cursor: filter.cursor.is_some(),
            input: !conditions.filter.input.is_empty(),
        };
        let dated =
            conditions.filter.created_after.is_some() || conditions.filter.created_before.is_some();
        // Aggregates of a query are judged by how much of their range matches.
        let (count, status_count, chart) = if conditions.expr.is_some() {
            let all_statuses = Conditions {
                filter: RunFilter {
                    statuses: Vec::new(),
                    ..conditions.filter.clone()
                },
                ..conditions.clone()
            };
            (
                Shape::Query {
                    chart: None,
                    permille: permille(pool, account, &conditions, None).await,
                },
                Shape::Query {
                    chart: None,
                    permille: permille(pool, account, &all_statuses, None).await,
                },
                Shape::Query {
                    chart: Some(dated),
                    permille: permille(pool, account, &conditions, Some(chart_from)).await,
                },
            )
        } else {
            (Shape::Count, Shape::Count, Shape::Chart { dated })
        };
        if let Some((_, others)) = conditions.split_text() {
            // A text search walks the text indexes newest first and checks the
            // runs found against the rest of the filter by key.
            // On PostgreSQL the events' text is read through the `search`
            // column's GIN index, which the plan must name. The runs' walk may
            // read either that way or by key, newest first, filtering each run
            // (the better plan for a word most runs hold): the planner chooses
            // by the word's frequency, so only a sequential scan is wrong.
            let (runs_text, events_text) = match checker.pool.backend() {
                Backend::Sqlite => (
                    (Shape::Count, SqlBuilder::new(text_search::RUNS_TEXT_SQL)),
                    (
                        Shape::Count,
                        SqlBuilder::new(text_search::events_text_sql("event_text_1")),
                    ),
                ),
                Backend::Postgres => (
                    (Shape::Count, text_walk(text_search::RUNS_TEXT_SQL_POSTGRES)),
                    (
                        Shape::Indexed("events_search"),
                        text_walk(text_search::EVENTS_TEXT_SQL_POSTGRES),
                    ),
                ),
            };
            let queries = [
                ("text: runs", runs_text),
                ("text: events (a piece)", events_text),
                (
                    "text: rest of the filter",
                    (
                        Shape::Count,
                        text_search::passing_query(account, &others, "[1, 2, 3]".into()).unwrap(),
                    ),
                ),
                (
                    "text: own text counted",
                    (
                        Shape::Count,
                        text_search::own_text_count_query(account, "\"x\"", &others, 1001).unwrap(),
                    ),
                ),
            ];
            for (name, (shape, query)) in queries {
                checker.check(&label(name), shape, query).await;
            }
            continue;
        }
        let queries = [
            ("list", page, runs::list_query(account, &filter)),
            ("count", count, runs::count_query(account, &filter)),
            (
                "status counts",
                status_count,
                runs::status_counts_query(account, &filter),
            ),
            ("chart", chart, runs::chart_query(account, &filter)),
        ];
        for (name, shape, query) in queries {
            checker.check(&label(name), shape, query.unwrap()).await;
        }
    }
}

/// One step of PostgreSQL's newest-first text walk (`text`, below key, limit),
/// with its values bound: PostgreSQL plans only a statement whose parameters
/// all have values.
fn text_walk(sql: &str) -> SqlBuilder {
    let pieces: Vec<&str> = sql.split('?').collect();
    assert_eq!(pieces.len(), 4, "text, key and limit: {sql}");
    let mut builder = SqlBuilder::new(pieces[0]);
    builder.push_bind("\"error\"".to_string());
    builder.push(pieces[1]);
    builder.push_bind(i64::MAX >> 1);
    builder.push(pieces[2]);
    builder.push_bind(64_i64);
    builder.push(pieces[3]);
    builder
}

/// Every way of reading a run's event log: by sequence, backwards, by type,
/// by text, and those combined; on a long log and a short one.
async fn event_cases(checker: &mut Checker<'_>, fx: &Fixture) {
    let page = |after: Option<i64>,
                before: Option<i64>,
                event_type: Option<&str>,
                q: Option<&str>| EventQuery {
        after,
        before,
        limit: 100,
        event_type: event_type.map(str::to_string),
        q: q.map(str::to_string),
        received: None,
    };
    let cases = [
        ("first page", page(Some(0), None, None, None)),
        ("no after", page(None, None, None, None)),
        ("after", page(Some(1_500), None, None, None)),
        ("before", page(None, Some(2_000), None, None)),
        ("after and before", page(Some(100), Some(2_000), None, None)),
        ("type", page(Some(0), None, Some("warning"), None)),
        ("rare type", page(Some(0), None, Some("error"), None)),
        (
            "type after",
            page(Some(1_000), None, Some("agent.progress"), None),
        ),
        (
            "type before",
            page(None, Some(2_000), Some("warning"), None),
        ),
        ("q", page(Some(0), None, None, Some("processed"))),
        ("q rare", page(Some(0), None, None, Some("timeout"))),
        ("q before", page(None, Some(2_000), None, Some("upstream"))),
        (
            "q and type",
            page(Some(0), None, Some("agent.tool_use"), Some("fetch page")),
        ),
        (
            "type with the types under it",
            page(Some(0), None, Some("agent"), None),
        ),
        (
            "received while a step ran",
            EventQuery {
                received: Some((1_700_000_000_000, 1_800_000_000_000)),
                ..page(Some(0), None, None, None)
            },
        ),
    ];
    for (run, run_pk) in [("long log", fx.long_run_pk), ("short log", fx.short_run_pk)] {
        for (name, query) in &cases {
            let label = format!("events of the {run}: {name} {query:?}");
            let query = events::list_query(run_pk, query).unwrap();
            checker.check(&label, Shape::Events, query).await;
        }
    }
}

/// Every query the sweeper reads its candidates with, for an agent with runs.
async fn sweep_cases(checker: &mut Checker<'_>, fx: &Fixture) {
    let agent_pk: i64 =
        store::db::sql::query_scalar("SELECT pk FROM agents WHERE account_pk = ? AND slug = ?")
            .bind(fx.account_pk)
            .bind(AGENTS[0])
            .fetch_one(checker.pool)
            .await
            .unwrap();
    let clock = sweep::AgentClock {
        agent_pk,
        secs: 600,
    };
    for reason in SweepReason::ALL {
        let check = sweep::Check {
            reason: *reason,
            agent: Some(clock),
        };
        let label = format!("sweep: {}", reason.as_str());
        checker
            .check(
                &label,
                Shape::Sweep,
                sweep::candidate_query(check, now_ms()),
            )
            .await;
    }
}

/// The rewritten conditions select what they did: keyset pages continue one
/// another exactly as one long page runs on, and full text matches the runs
/// whose own text or whose events match (the `OR` of two `IN`s it was).
async fn results_are_unchanged(pool: &Pool, fx: &Fixture) {
    for base in [
        "",
        "status=failed",
        "q=upstream",
        "input.company_name=Stripe",
    ] {
        let joiner = if base.is_empty() { "" } else { "&" };
        let long = runs::list_runs(
            pool,
            fx.account_pk,
            &filter(&format!("{base}{joiner}limit=100")),
        )
        .await
        .unwrap();
        let mut paged = Vec::new();
        let mut cursor = String::new();
        for _ in 0..5 {
            let query = format!("{base}{joiner}limit=20{cursor}");
            let page = runs::list_runs(pool, fx.account_pk, &filter(&query))
                .await
                .unwrap();
            paged.extend(page.runs.iter().map(|run| run.id));
            cursor = format!("&cursor={}", page.next_cursor.unwrap());
        }
        let long: Vec<Uuid> = long.runs.iter().map(|run| run.id).collect();
        assert_eq!(
            paged, long,
            "?{base}: five keyset pages of 20 are the first 100"
        );
    }
    let text = filter::fts_query("upstream").unwrap();
    let expected: i64 = store::db::sql::query_scalar(
        "SELECT count(*) FROM runs r WHERE r.account_pk = ?
         AND (r.pk IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?)
              OR r.pk IN (SELECT e.run_pk FROM events e
                          WHERE e.message LIKE '%' || ? || '%'))",
    )
    .postgres(
        "SELECT count(*) FROM runs r WHERE r.account_pk = ?
         AND (r.search @@ fts5_tsquery(?)
              OR r.pk IN (SELECT e.run_pk FROM events e
                          WHERE e.message LIKE '%' || ? || '%'))",
    )
    .bind(fx.account_pk)
    .bind(&text)
    .bind("upstream")
    .fetch_one(pool)
    .await
    .unwrap();
    let page = runs::list_runs(pool, fx.account_pk, &filter("q=upstream"))
        .await
        .unwrap();
    assert!(page.total_exact);
    assert_eq!(
        page.total, expected,
        "runs matching `upstream` in their own text or their events"
    );
}

/// Every query of pruning by the retention policy, for every agent of the
/// account: the candidates of each kind from the start and from a position in
/// the middle (a pass walks them oldest first in pages), the preview's counts,
/// and the change log's batches. Candidates must come from the index made for
/// them; a pass at 1M runs reads only what is due.
async fn prune_cases(checker: &mut Checker<'_>, fx: &Fixture) {
    use store::db::prune::{self, Kind, Position};
    let pool = checker.pool;
    let now = now_ms();
    let agents: Vec<i64> =
        store::db::sql::query_scalar("SELECT pk FROM agents WHERE account_pk = ?")
            .bind(fx.account_pk)
            .fetch_all(pool)
            .await
            .unwrap();
    let (middle_created, middle_pk): (i64, i64) = store::db::sql::query_as(
        "SELECT created_at, pk FROM runs WHERE account_pk = ? ORDER BY created_at LIMIT 1 OFFSET 2000",
    )
    .bind(fx.account_pk)
    .fetch_one(pool)
    .await
    .unwrap();
    let middle = Position {
        created_at: middle_created,
        pk: middle_pk,
    };
    let days = model::RetentionDays {
        runs: Some(14),
        failed_runs: Some(21),
        events: Some(3),
        artifacts: Some(7),
    };
    for agent_pk in agents {
        let cut = store::prune::cutoffs(fx.account_pk, agent_pk, &days, now);
        let kinds = [
            (Kind::Delete("completed"), "runs_account_agent_st"),
            (Kind::Delete("failed"), "runs_account_agent_st"),
            (Kind::Delete("cancelled"), "runs_account_agent_st"),
            (Kind::Events, "runs_events_kept"),
            (Kind::Artifacts, "runs_artifacts_kept"),
        ];
        for (kind, index) in kinds {
            for (from, at) in [(Position::START, "start"), (middle, "middle")] {
                checker
                    .check(
                        &format!("prune candidates {kind:?} of agent {agent_pk} from the {at}"),
                        Shape::Indexed(index),
                        prune::candidates_query(&cut, kind, from, 1000),
                    )
                    .await;
            }
            checker
                .check(
                    &format!("prune preview {kind:?} of agent {agent_pk}"),
                    Shape::Indexed(index),
                    prune::preview_query(&cut, kind, Some(10_000)),
                )
                .await;
        }
    }
    checker
        .check(
            "change log batch",
            Shape::Indexed(match checker.pool.backend() {
                Backend::Sqlite => "INTEGER PRIMARY KEY",
                Backend::Postgres => "changes_pkey",
            }),
            prune::changes_batch_query(1_000, 500),
        )
        .await;
}

/// The reads of run comparison (the default baseline, the picker's runs, the
/// walk of a log's event types) and of alert rules (the rules a run's end asks
/// about, the threshold rules due, a threshold's window of finished runs).
async fn compare_and_alert_cases(checker: &mut Checker<'_>, fx: &Fixture) {
    use model::{AlertConditionType, RunFilter};
    use store::db::alerts;
    let run = runs::find_run_by_pk(checker.pool, fx.long_run_pk)
        .await
        .unwrap();
    let cases = [
        (
            "compare: previous completed run",
            "runs_account_agent_st",
            runs::previous_completed_query(&run),
        ),
        (
            "compare: the agent's latest runs",
            "runs_account_agent",
            runs::latest_of_agent_query(&run, 20),
        ),
        (
            "compare: event types of a long log",
            "events_run_seq",
            events::event_types_query(fx.long_run_pk, 1_000, 2_000),
        ),
        (
            "alerts: rules a run's end asks about",
            "alert_rules_account",
            alerts::enabled_rules_query(fx.account_pk, &AlertConditionType::ALL),
        ),
        (
            "alerts: threshold rules due",
            "alert_rules_threshold",
            alerts::due_threshold_rules_query(now_ms()),
        ),
    ];
    for (label, index, query) in cases {
        checker.check(label, Shape::Indexed(index), query).await;
    }
    let since = now_ms() - DAY_MS;
    for (name, filter) in [
        ("the whole account", RunFilter::default()),
        (
            "one agent",
            RunFilter {
                agent: Some(AGENTS[0].to_string()),
                ..Default::default()
            },
        ),
    ] {
        let query = alerts::window_query(fx.account_pk, &filter, since, "count(*)").unwrap();
        checker
            .check(
                &format!("alerts: threshold window of {name}"),
                Shape::Indexed("runs_account_completed"),
                query,
            )
            .await;
    }
}

/// Every case on `pool`; what is wrong, as failure reports.
async fn all_cases(pool: &Pool, with_stats: bool, fx: &Fixture) -> Vec<String> {
    let mut checker = Checker {
        pool,
        with_stats,
        failures: Vec::new(),
    };
    run_filter_cases(&mut checker, fx).await;
    event_cases(&mut checker, fx).await;
    sweep_cases(&mut checker, fx).await;
    prune_cases(&mut checker, fx).await;
    compare_and_alert_cases(&mut checker, fx).await;
    checker.failures
}

#[tokio::test]
async fn every_runs_list_and_event_log_query_reads_through_an_index() {
    if sqlite_only() {
        return;
    }
    let app = spawn_app().await;
    let fx = fill(&app).await;

    // Without statistics: the tables grew after the server started (and last
    // gathered statistics), as on an installation between two `PRAGMA optimize`.
    let stats_of = |pool: Pool| async move {
        let tables: Vec<String> = store::db::sql::query_scalar(
            "SELECT DISTINCT tbl FROM sqlite_stat1 WHERE tbl IN ('runs', 'events', 'run_input_fields')",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        tables
    };
    assert_eq!(stats_of(app.db.read.clone()).await, Vec::<String>::new());
    let mut failures = all_cases(&app.db.read, false, &fx).await;

    // The server gathers statistics itself when it starts (PRAGMA optimize).
    let app = app.restart(|_| {}).await;
    let mut analyzed = stats_of(app.db.read.clone()).await;
    analyzed.sort();
    assert_eq!(
        analyzed,
        ["events", "run_input_fields", "runs"],
        "the server analyzes the database when it starts"
    );
    failures.extend(all_cases(&app.db.read, true, &fx).await);
    results_are_unchanged(&app.db.read, &fx).await;

    assert!(
        failures.is_empty(),
        "{} query plans read far more than they return:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn on_postgresql_every_runs_list_and_event_log_query_can_read_through_an_index() {
    if postgres_only() {
        return;
    }
    let app = spawn_app().await;
    let fx = fill(&app).await;
    store::db::sql::query("ANALYZE")
        .execute(&app.db.read)
        .await
        .unwrap();
    // Sequential scans priced out, on connections of their own.
    let options: sqlx::postgres::PgConnectOptions = app.database_url().parse().unwrap();
    let priced_out = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.options([("enable_seqscan", "off")]))
        .await
        .unwrap();
    let pool = Pool::Postgres(priced_out);
    let failures = all_cases(&pool, true, &fx).await;
    results_are_unchanged(&app.db.read, &fx).await;
    assert!(
        failures.is_empty(),
        "{} queries cannot read through an index on PostgreSQL:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A query's top-level terms that a separate parameter can say are read exactly
/// as the parameter is: the same SQL (run counters for statuses and agents, the
/// input index driving the page), never a slower condition of the same meaning.
#[test]
fn query_terms_read_like_the_parameters_they_equal() {
    let account = AccountPk(1);
    let sql =
        |builder: Result<SqlBuilder, model::AppError>| builder.unwrap().build().sql().to_string();
    for (q, parameters) in [
        ("status:failed,cancelled", "status=failed,cancelled"),
        (
            "agent:data-sync status:failed",
            "agent=data-sync&status=failed",
        ),
        ("input.company_name:Stripe", "input.company_name=Stripe"),
        (
            "initiator:ci duration:>=60s",
            "initiator=ci&minDurationMs=60000",
        ),
        (
            "campaign:01900000-0000-7000-8000-000000000000",
            "campaign=01900000-0000-7000-8000-000000000000",
        ),
    ] {
        let query = filter(&format!("q={}", encode(q)));
        let plain = filter(parameters);
        assert_eq!(
            sql(runs::count_query(account, &query)),
            sql(runs::count_query(account, &plain)),
            "count of {q}"
        );
        assert_eq!(
            sql(runs::list_query(account, &query)),
            sql(runs::list_query(account, &plain)),
            "page of {q}"
        );
        assert_eq!(
            sql(runs::status_counts_query(account, &query)),
            sql(runs::status_counts_query(account, &plain)),
            "status counts of {q}"
        );
    }
    let counted = sql(runs::count_query(account, &filter("q=status%3Afailed")));
    assert!(counted.contains("FROM run_counts"), "{counted}");
}
