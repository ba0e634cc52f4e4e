//! The read requests `scale` measures, each with the SQL the server runs for it
//! (built by the server's own query builders, from the filter the server parses
//! out of the same query string), and the values in the database they refer to.

use super::plan::{AGENTS, COMPANIES};
use crate::common::ADMIN_EMAIL;
use anyhow::{Context, Result};
use chrono::{DateTime, Days, Utc};
use futures::future::BoxFuture;
use model::{AccountPk, AppError, RunFilter, RunPk};
use store::db::events::EventQuery;
use store::db::sql::{self, Pool, SqlBuilder};
use uuid::Uuid;

/// The latency target for list filters and the events page (p99).
pub const TARGET_P99_MS: f64 = 20.0;
/// The target for the server-rendered runs list.
pub const TARGET_PAGES_PER_SECOND: f64 = 2000.0;

type Builder = Box<dyn Fn() -> Result<SqlBuilder, AppError> + Send + Sync>;
type Call = Box<dyn Fn(Pool) -> BoxFuture<'static, Result<(), AppError>> + Send + Sync>;

/// One SQL statement of a request, or one of the server's query functions where
/// it runs several (a text search walks its indexes: `store::db::text_search`).
pub struct Piece {
    pub name: &'static str,
    pub work: Work,
}

pub enum Work {
    Sql(Builder),
    Call(Call),
}

fn sql(name: &'static str, build: Builder) -> Piece {
    Piece {
        name,
        work: Work::Sql(build),
    }
}

/// The server's query function `run` for one account and filter.
type QueryFn = fn(Pool, AccountPk, RunFilter) -> BoxFuture<'static, Result<(), AppError>>;

fn call(name: &'static str, account_pk: AccountPk, filter: &RunFilter, run: QueryFn) -> Piece {
    let filter = filter.clone();
    Piece {
        name,
        work: Work::Call(Box::new(move |pool| run(pool, account_pk, filter.clone()))),
    }
}

/// How a request is authenticated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Auth {
    /// An owner bearer token (the JSON API).
    Bearer,
    /// The dashboard's session cookie.
    Session,
}

pub struct Case {
    pub name: String,
    /// Path and query of the request.
    pub path: String,
    pub auth: Auth,
    /// The SQL the server runs for it, in order.
    pub pieces: Vec<Piece>,
    /// Target for the 99th percentile of the request's latency.
    pub p99_target: Option<f64>,
    /// Target for requests per second at the bench's concurrency.
    pub rate_target: Option<f64>,
}

/// What the database holds, as the cases need it.
pub struct Fixture {
    pub account_pk: AccountPk,
    pub runs: i64,
    pub events: i64,
    pub long_run_id: String,
    pub long_run_pk: RunPk,
    pub long_run_events: i64,
    pub campaign_id: Uuid,
    pub campaign_runs: i64,
    /// A day in the middle of the period.
    pub day: DateTime<Utc>,
    pub depth: i64,
    /// The keyset cursor of the page at `depth`.
    pub cursor: String,
}

impl Fixture {
    pub async fn discover(pool: &Pool) -> Result<Fixture> {
        let account_pk: AccountPk =
            sql::query_scalar("SELECT account_pk FROM users WHERE email = ?")
                .bind(ADMIN_EMAIL)
                .fetch_one(pool)
                .await
                .context(
                    "the database has no bench owner: was it made by `runboard-bench scale`?",
                )?;
        let runs: i64 = sql::query_scalar(
            "SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM run_counts WHERE account_pk = ?",
        )
        .bind(account_pk)
        .fetch_one(pool)
        .await?;
        let events: i64 = sql::query_scalar("SELECT coalesce(max(pk), 0) FROM events")
            .fetch_one(pool)
            .await?;
        let (long_run_id, long_run_pk, long_run_events): (String, RunPk, i64) = sql::query_as(
            "SELECT id, pk, event_seq FROM runs WHERE account_pk = ? ORDER BY event_seq DESC LIMIT 1",
        )
        .bind(account_pk)
        .fetch_one(pool)
        .await
        .context("the database has no runs")?;
        let (campaign_id, campaign_runs): (String, i64) = sql::query_as(
            "SELECT c.id, count(*) FROM runs r JOIN campaigns c ON c.pk = r.campaign_pk
             WHERE r.account_pk = ? GROUP BY c.pk ORDER BY 2 DESC LIMIT 1",
        )
        .bind(account_pk)
        .fetch_one(pool)
        .await
        .context("no run belongs to a campaign")?;
        let (first, last): (i64, i64) =
            sql::query_as("SELECT min(created_at), max(created_at) FROM runs WHERE account_pk = ?")
                .bind(account_pk)
                .fetch_one(pool)
                .await?;
        let day = store::db::from_ms((first + last) / 2)
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .context("midnight")?
            .and_utc();
        let depth = runs / 2;
        let (created, pk): (i64, i64) = sql::query_as(
            "SELECT created_at, pk FROM runs WHERE account_pk = ?
             ORDER BY created_at DESC, pk DESC LIMIT 1 OFFSET ?",
        )
        .bind(account_pk)
        .bind(depth - 1)
        .fetch_one(pool)
        .await?;
        Ok(Fixture {
            account_pk,
            runs,
            events,
            long_run_id,
            long_run_pk,
            long_run_events,
            campaign_id: campaign_id.parse()?,
            campaign_runs,
            day,
            depth,
            cursor: format!("{created}.{pk}"),
        })
    }
}

/// The runs list's SQL for a filter: the page and the total (`GET /api/runs`).
fn list_pieces(account_pk: AccountPk, filter: &RunFilter) -> Vec<Piece> {
    if filter.q.is_some() {
        return vec![call(
            "page + total (text walk)",
            account_pk,
            filter,
            |pool, account, filter| {
                Box::pin(async move {
                    store::db::runs::list_runs(&pool, account, &filter)
                        .await
                        .map(drop)
                })
            },
        )];
    }
    let page = filter.clone();
    let total = filter.clone();
    vec![
        sql(
            "page",
            Box::new(move || store::db::runs::list_query(account_pk, &page)),
        ),
        sql(
            "total",
            Box::new(move || store::db::runs::count_query(account_pk, &total)),
        ),
    ]
}

/// What the dashboard's runs list adds to the API's: status chips and the chart.
fn page_pieces(account_pk: AccountPk, filter: &RunFilter) -> Vec<Piece> {
    let chips = filter.clone();
    let chart = filter.clone();
    let mut pieces = list_pieces(account_pk, filter);
    if filter.q.is_some() {
        pieces.push(call(
            "chips (text walk)",
            account_pk,
            filter,
            |pool, account, filter| {
                Box::pin(async move {
                    store::db::runs::status_counts(&pool, account, &filter)
                        .await
                        .map(drop)
                })
            },
        ));
        pieces.push(call(
            "chart (text walk)",
            account_pk,
            filter,
            |pool, account, filter| {
                Box::pin(async move {
                    store::db::runs::chart(&pool, account, &filter)
                        .await
                        .map(drop)
                })
            },
        ));
        return pieces;
    }
    pieces.push(sql(
        "chips",
        Box::new(move || store::db::runs::status_counts_query(account_pk, &chips)),
    ));
    pieces.push(sql(
        "chart",
        Box::new(move || store::db::runs::chart_query(account_pk, &chart)),
    ));
    pieces
}

fn api_list(fixture: &Fixture, name: String, query: &str, target: bool) -> Result<Case> {
    // As the API reads its query string: decoded pairs through `RunFilter::from_query`.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let filter = RunFilter::from_query(
        pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    )
    .map_err(|error| anyhow::anyhow!("{query}: {error}"))?;
    Ok(Case {
        name,
        path: format!("/api/runs?{query}"),
        auth: Auth::Bearer,
        pieces: list_pieces(fixture.account_pk, &filter),
        p99_target: target.then_some(TARGET_P99_MS),
        rate_target: None,
    })
}

/// Every request `scale` reads with, in the table's order.
pub fn cases(fixture: &Fixture) -> Result<Vec<Case>> {
    let account_pk = fixture.account_pk;
    let next_day = fixture.day.checked_add_days(Days::new(1)).context("date")?;
    let mut cases = vec![
        api_list(
            fixture,
            "runs by status + agent".into(),
            &format!("status=failed&agent={}", AGENTS[1].slug),
            true,
        )?,
        api_list(
            fixture,
            "runs by input field".into(),
            &format!("input.company_name={}", COMPANIES[0]),
            true,
        )?,
        api_list(
            fixture,
            "runs by full text".into(),
            &format!("q={}", COMPANIES[0]),
            true,
        )?,
        api_list(
            fixture,
            "runs by date range (one day)".into(),
            &format!(
                "createdAfter={}&createdBefore={}",
                fixture.day.format("%Y-%m-%d"),
                next_day.format("%Y-%m-%d")
            ),
            true,
        )?,
        api_list(
            fixture,
            format!("deep page by cursor (after {} runs)", fixture.depth),
            &format!("cursor={}", fixture.cursor),
            true,
        )?,
        api_list(
            fixture,
            format!("deep page by offset ({})", fixture.depth),
            &format!("offset={}", fixture.depth),
            false,
        )?,
        api_list(
            fixture,
            "runs longest first".into(),
            "sort=-durationMs",
            true,
        )?,
        api_list(
            fixture,
            "runs of an agent, shortest first".into(),
            &format!("agent={}&sort=durationMs", AGENTS[1].slug),
            true,
        )?,
        api_list(
            fixture,
            "failed runs, oldest first".into(),
            "status=failed&sort=createdAt",
            true,
        )?,
    ];
    let campaign_filter = RunFilter {
        campaign: Some(fixture.campaign_id),
        ..RunFilter::default()
    };
    cases.push(Case {
        name: format!("a campaign's runs ({} runs)", fixture.campaign_runs),
        path: format!("/api/campaigns/{}/runs", fixture.campaign_id),
        auth: Auth::Bearer,
        pieces: list_pieces(account_pk, &campaign_filter),
        p99_target: Some(TARGET_P99_MS),
        rate_target: None,
    });
    let long_run_pk = fixture.long_run_pk;
    cases.push(Case {
        name: format!(
            "events, first page of the {}-event run",
            fixture.long_run_events
        ),
        path: format!("/api/runs/{}/events", fixture.long_run_id),
        auth: Auth::Bearer,
        pieces: vec![sql(
            "events page",
            Box::new(move || {
                let query = EventQuery {
                    limit: 100,
                    ..EventQuery::default()
                };
                store::db::events::list_query(long_run_pk, &query)
            }),
        )],
        p99_target: Some(TARGET_P99_MS),
        rate_target: None,
    });
    // An agent's health over each window, for the busiest agent (the rollups).
    let busiest = AGENTS[0].slug;
    for window in model::StatsWindow::ALL {
        cases.push(Case {
            name: format!("agent stats, {} of {busiest}", window.as_str()),
            path: format!("/api/agents/{busiest}/stats?window={}", window.as_str()),
            auth: Auth::Bearer,
            pieces: vec![Piece {
                name: "agent stats",
                work: Work::Call(Box::new(move |pool| {
                    Box::pin(async move {
                        let (agent, _) =
                            store::db::agents::find_agent(&pool, account_pk, busiest).await?;
                        store::db::health::agent_stats(&pool, agent, busiest, window, None)
                            .await
                            .map(|_| ())
                    })
                })),
            }],
            p99_target: Some(TARGET_P99_MS),
            rate_target: None,
        });
    }
    let last_day = RunFilter::from_query_string("createdAfter=-24h")
        .map_err(|error| anyhow::anyhow!("createdAfter=-24h: {error}"))?;
    cases.push(Case {
        name: "runs list page, last 24 h by the hour (server-rendered)".into(),
        path: "/?createdAfter=-24h".into(),
        auth: Auth::Session,
        pieces: page_pieces(account_pk, &last_day),
        p99_target: Some(TARGET_P99_MS),
        rate_target: None,
    });
    // The same page with one run: what a page costs besides its rows.
    let one_run = RunFilter::from_query_string("limit=1")
        .map_err(|error| anyhow::anyhow!("limit=1: {error}"))?;
    cases.push(Case {
        name: "runs list page with one run (server-rendered)".into(),
        path: "/?limit=1".into(),
        auth: Auth::Session,
        pieces: page_pieces(account_pk, &one_run),
        p99_target: None,
        rate_target: None,
    });
    cases.push(Case {
        name: "runs list page GET / (server-rendered)".into(),
        path: "/".into(),
        auth: Auth::Session,
        pieces: page_pieces(account_pk, &RunFilter::default()),
        p99_target: None,
        rate_target: Some(TARGET_PAGES_PER_SECOND),
    });
    Ok(cases)
}
