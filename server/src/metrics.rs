//! `GET /metrics` for the operator's Prometheus, and the layer that counts every
//! HTTP request by its route template.
//!
//! The `metrics` recorder is global to the process, so it is installed once
//! ([`handle`]) however many servers a process builds (the tests build several),
//! and rendered on request: no listener of its own. What is cheap and exact to
//! read from the database (its size, the outbox backlog, the runs not finished
//! yet) and the live-stream subscribers are read at scrape time; everything else
//! is counted where it happens ([`store::metrics`] names them all).
//!
//! The endpoint takes the credential of an owner of the server's first account
//! (session, API JWT or `rb_` token, through the same [`Caller`] as the API: the
//! figures cover every account, so other accounts' owners may not) or the
//! configured `RUNBOARD_METRICS_TOKEN` as a bearer, compared in constant time.

use crate::api::auth::{bearer, Caller};
use crate::http::ApiError;
use app::state::AppState;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use model::{AppError, Role};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use store::metrics as names;
use subtle::ConstantTimeEq;

/// Latency buckets (seconds) of the HTTP and writer histograms: 0.5 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder folds recorded histogram samples into its buckets when
/// nobody scrapes (so they never pile up).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only what this one records");
        }
        store::metrics::describe();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "metrics: no upkeep thread; histograms are folded at scrapes only");
        }
        handle
    })
}

/// Who may read `/metrics` besides owners.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    token: Option<Arc<str>>,
}

impl MetricsAccess {
    pub fn new(token: Option<&str>) -> MetricsAccess {
        MetricsAccess {
            token: token.map(Arc::from),
        }
    }

    fn is_metrics_token(&self, presented: &str) -> bool {
        self.token
            .as_deref()
            .is_some_and(|token| bool::from(token.as_bytes().ct_eq(presented.as_bytes())))
    }
}

/// Scrape-time gauges whose label sets come and go (an agent's active runs):
/// the label sets set last time, so that one that disappeared reads 0 rather
/// than its last value.
#[derive(Default)]
pub struct Scraped {
    active: Mutex<HashSet<(String, String)>>,
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics_endpoint(
    State(state): State<AppState>,
    access: MetricsAccess,
    scraped: Arc<Scraped>,
    mut parts: Parts,
) -> Response {
    let allowed = match bearer(&parts.headers) {
        Some(token) if access.is_metrics_token(token) => Ok(()),
        _ => match Caller::from_request_parts(&mut parts, &state).await {
            Ok(caller) => operator(&state, &caller).await.map_err(ApiError),
            Err(error) => Err(error),
        },
    };
    if let Err(refused) = allowed {
        return refused.into_response();
    }
    if let Err(error) = read_gauges(&state, &scraped).await {
        tracing::error!(?error, "metrics: could not read the database's figures");
        return ApiError(AppError::Internal).into_response();
    }
    let handle = handle();
    handle.run_upkeep();
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether `caller` may read the whole server's figures: an owner of the first
/// account, the one the server made on its first start for whoever runs it. The
/// figures cover every account (agent slugs included), so the owners of the
/// other accounts, tenants of the same server, may not.
async fn operator(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    caller.require(Role::Owner)?;
    let mut conn = state.db.read.acquire().await?;
    let first = store::db::accounts::first_account(&mut conn).await?;
    if first.is_some_and(|(account_pk, _)| account_pk == caller.account_pk) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the server's metrics cover every account: they are for the owners of the \
             server's first account, or RUNBOARD_METRICS_TOKEN"
                .into(),
        ))
    }
}

async fn read_gauges(state: &AppState, scraped: &Scraped) -> Result<(), AppError> {
    use store::db::stats;
    metrics::gauge!(names::DATABASE_SIZE).set(stats::database_size(&state.db).await? as f64);
    metrics::gauge!(names::OUTBOX_PENDING).set(stats::outbox_pending(&state.db).await? as f64);
    metrics::gauge!(names::LIVE_SUBSCRIBERS).set(state.live.subscribers() as f64);
    let active = stats::active_runs(&state.db).await?;
    let mut seen = HashSet::with_capacity(active.len());
    for (agent, status, count) in active {
        metrics::gauge!(names::RUNS_ACTIVE, "agent" => agent.clone(), "status" => status.clone())
            .set(count as f64);
        seen.insert((agent, status));
    }
    let mut last = scraped
        .active
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (agent, status) in last.difference(&seen) {
        metrics::gauge!(names::RUNS_ACTIVE, "agent" => agent.clone(), "status" => status.clone())
            .set(0.0);
    }
    *last = seen;
    Ok(())
}

/// Counts a request and its latency (until the response head) by method, route
/// template (`/api/runs/{id}`, never the raw path: the label set stays bounded)
/// and status. Requests no route matched count as `unmatched`.
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!(names::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(names::HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}
