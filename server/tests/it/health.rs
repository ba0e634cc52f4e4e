//! Agent health: the hourly rollups equal the exact aggregates of what is stored
//! after random creations, status changes, steps, events and deletions (single,
//! bulk and by pruning); the stats API answers from them with percentiles that
//! are the bound of the bucket holding the exact value; windows, buckets, roles
//! and accounts.

use crate::helpers::*;
use model::{exact_percentile, histogram_bound, AccountPk, RunStatus};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use store::db::runs::{self, NewRun};

/// A small deterministic generator (the test must be repeatable).
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// The rollups as they are, without rows that count nothing.
/// The daily rollups (migration 0013) are the sums of their hours.
async fn days_sum_their_hours(app: &TestApp, when: &str) {
    // Every column as text, so that both databases read alike.
    for (days, hours) in [
        (
            "SELECT CAST(agent_pk AS TEXT), kind, CAST(day AS TEXT), CAST(upper_ms AS TEXT), CAST(runs AS TEXT)
             FROM agent_day_times WHERE runs != 0 ORDER BY 1, 2, 3, 4",
            "SELECT CAST(agent_pk AS TEXT), kind, CAST(hour / 24 AS TEXT), CAST(upper_ms AS TEXT), CAST(sum(runs) AS TEXT)
             FROM agent_hour_times
             GROUP BY agent_pk, kind, hour / 24, upper_ms HAVING sum(runs) != 0 ORDER BY 1, 2, 3, 4",
        ),
        (
            "SELECT CAST(agent_pk AS TEXT), CAST(day AS TEXT), name || status || code, CAST(steps AS TEXT),
                    CAST(cache_hits AS TEXT)
             FROM agent_day_steps WHERE steps != 0 ORDER BY 1, 2, 3",
            "SELECT CAST(agent_pk AS TEXT), CAST(hour / 24 AS TEXT), name || status || code, CAST(sum(steps) AS TEXT),
                    CAST(sum(cache_hits) AS TEXT)
             FROM agent_hour_steps
             GROUP BY agent_pk, hour / 24, name, status, code HAVING sum(steps) != 0 ORDER BY 1, 2, 3",
        ),
    ] {
        let read = |sql: &'static str| async move {
            store::db::sql::query_as::<(String, String, String, String, String)>(sql)
                .fetch_all(&app.db.read)
                .await
                .unwrap()
                .into_iter()
                .map(|row| format!("{}|{}|{}|{}|{}", row.0, row.1, row.2, row.3, row.4))
                .collect::<Vec<String>>()
        };
        let by_day = read(days).await;
        assert!(!by_day.is_empty(), "{when}: {days}");
        assert_eq!(by_day, read(hours).await, "{when}");
    }
}

async fn rollups(app: &TestApp) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let hours: Vec<(i64, i64, String, i64, i64)> = store::db::sql::query_as(
        "SELECT agent_pk, hour, status, runs, retries FROM agent_hours
         WHERE runs != 0 OR retries != 0 ORDER BY 1, 2, 3",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    rows.extend(hours.into_iter().map(|row| format!("hours {row:?}")));
    let times: Vec<(i64, String, i64, i64, i64)> = store::db::sql::query_as(
        "SELECT agent_pk, kind, hour, upper_ms, runs FROM agent_hour_times WHERE runs != 0 ORDER BY 1, 2, 3, 4",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    rows.extend(times.into_iter().map(|row| format!("times {row:?}")));
    let steps: Vec<(i64, i64, String, String, String, i64, i64)> = store::db::sql::query_as(
        "SELECT agent_pk, hour, name, status, code, steps, cache_hits FROM agent_hour_steps
         WHERE steps != 0 OR cache_hits != 0 ORDER BY 1, 2, 3, 4, 5",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    rows.extend(steps.into_iter().map(|row| format!("steps {row:?}")));
    let usage: Vec<(i64, i64, i64, String)> = store::db::sql::query_as(
        "SELECT agent_pk, hour, tokens, printf('%.4f', cost_usd) FROM agent_hour_usage
         WHERE tokens != 0 OR round(cost_usd, 6) != 0 ORDER BY 1, 2",
    )
    .postgres(
        "SELECT agent_pk, hour, tokens, to_char(cost_usd, 'FM999999990.0000') FROM agent_hour_usage
         WHERE tokens != 0 OR round(cost_usd::numeric, 6) != 0 ORDER BY 1, 2",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    rows.extend(usage.into_iter().map(|row| format!("usage {row:?}")));
    rows
}

/// The same numbers computed from the runs, steps and events themselves.
async fn exact(app: &TestApp) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let hours: Vec<(i64, i64, String, i64, i64)> = store::db::sql::query_as(
        "SELECT agent_pk, created_at / 3600000, status, count(*),
                CAST(sum(CASE WHEN attempt > 1 THEN 1 ELSE 0 END) AS BIGINT) FROM runs
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    rows.extend(hours.into_iter().map(|row| format!("hours {row:?}")));
    // Histogram buckets from the Rust twin of the bounds table.
    let times: Vec<(i64, i64, Option<i64>, Option<i64>)> = store::db::sql::query_as(
        "SELECT agent_pk, created_at / 3600000, duration_ms, started_at - created_at FROM runs",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    let mut counted: BTreeMap<(i64, &str, i64, i64), i64> = BTreeMap::new();
    for (agent, hour, duration, wait) in times {
        if let Some(ms) = duration {
            *counted
                .entry((agent, "duration", hour, histogram_bound(ms)))
                .or_default() += 1;
        }
        if let Some(ms) = wait {
            *counted
                .entry((agent, "wait", hour, histogram_bound(ms)))
                .or_default() += 1;
        }
    }
    rows.extend(
        counted
            .into_iter()
            .map(|((agent, kind, hour, upper), runs)| {
                format!("times {:?}", (agent, kind.to_string(), hour, upper, runs))
            }),
    );
    let steps_sql = |code: &str| {
        format!(
            "SELECT r.agent_pk, r.created_at / 3600000, coalesce(s.name, s.step_id), s.status,
                    CASE WHEN s.status = 'failed' THEN coalesce({code}, '') ELSE '' END,
                    count(*), CAST(sum(s.cache_hit) AS BIGINT)
             FROM steps s JOIN runs r ON r.pk = s.run_pk GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        )
    };
    let steps: Vec<(i64, i64, String, String, String, i64, i64)> =
        store::db::sql::query_as(steps_sql("json_extract(s.error, '$.code')"))
            .postgres(steps_sql("sqlite_json_text(s.error, 'code')"))
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    rows.extend(steps.into_iter().map(|row| format!("steps {row:?}")));
    let usage: Vec<(i64, i64, i64, String)> = store::db::sql::query_as(
        "SELECT r.agent_pk, r.created_at / 3600000,
                sum(coalesce(json_extract(e.metadata, '$.tokens'), 0)),
                printf('%.4f', sum(coalesce(json_extract(e.metadata, '$.costUsd'), 0)))
         FROM events e JOIN runs r ON r.pk = e.run_pk WHERE e.metadata IS NOT NULL
         GROUP BY 1, 2 HAVING sum(coalesce(json_extract(e.metadata, '$.tokens'), 0)) != 0
             OR round(sum(coalesce(json_extract(e.metadata, '$.costUsd'), 0)), 6) != 0
         ORDER BY 1, 2",
    )
    .postgres(
        "SELECT r.agent_pk, r.created_at / 3600000,
                CAST(sum(coalesce(sqlite_json_int(e.metadata, 'tokens'), 0)) AS BIGINT),
                to_char(sum(coalesce(sqlite_json_real(e.metadata, 'costUsd'), 0)), 'FM999999990.0000')
         FROM events e JOIN runs r ON r.pk = e.run_pk WHERE e.metadata IS NOT NULL
         GROUP BY 1, 2 HAVING sum(coalesce(sqlite_json_int(e.metadata, 'tokens'), 0)) != 0
             OR round(sum(coalesce(sqlite_json_real(e.metadata, 'costUsd'), 0))::numeric, 6) != 0
         ORDER BY 1, 2",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    rows.extend(usage.into_iter().map(|row| format!("usage {row:?}")));
    rows
}

/// Runs inserted as the generator or an import would: any status, times and
/// attempt, spread over the last 30 days.
async fn insert_history(app: &TestApp, account: AccountPk, dice: &mut Dice, count: usize) {
    let now = store::db::now_ms();
    let mut tx = app.db.begin_write().await.unwrap();
    for _ in 0..count {
        let agent = ["crawler", "mailer", "indexer"][dice.next(3) as usize];
        let mut run = NewRun::requested(agent, json!({}));
        run.created_at = now - dice.next(30 * 24 * 3_600_000) as i64;
        run.status = RunStatus::ALL[dice.next(RunStatus::ALL.len() as u64) as usize];
        run.attempt = 1 + dice.next(3) as i64 / 2;
        if !matches!(run.status, RunStatus::Requested | RunStatus::Queued) {
            run.started_at = Some(run.created_at + dice.next(120_000) as i64);
        }
        if run.status.is_terminal() {
            run.completed_at =
                Some(run.started_at.unwrap_or(run.created_at) + dice.next(3_600_000) as i64);
        }
        runs::insert_run(&mut tx, account, &run).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn runner_post(app: &TestApp, runner: &str, id: &str, part: &str, body: Value) {
    let path = if part.is_empty() {
        format!("/api/runner/runs/{id}")
    } else {
        format!("/api/runner/runs/{id}/{part}")
    };
    let (status, answer) = app.call(Method::POST, &path, runner, Some(body)).await;
    assert_eq!(status, 200, "{path}: {answer}");
}

/// Runs that live through the runner API: started, steps (failing with codes,
/// served from cache, retried), events with usage, and an end.
async fn live_runs(app: &TestApp, token: &str, dice: &mut Dice, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for index in 0..count {
        let agent = ["crawler", "mailer"][index % 2];
        let (id, runner) = app.create_run(token, json!({"agent": agent})).await;
        runner_post(app, &runner, &id, "status", json!({"status": "running"})).await;
        for (step, name) in ["fetch", "parse", "store"].iter().enumerate() {
            let failed = dice.next(3) == 0;
            let code = ["timeout", "http_502", "bad_input"][dice.next(3) as usize];
            runner_post(
                app,
                &runner,
                &id,
                "steps",
                json!({"stepId": name, "idx": step, "status": "running"}),
            )
            .await;
            let mut end = json!({"stepId": name, "status": if failed { "failed" } else { "completed" },
                                 "cacheHit": dice.next(4) == 0});
            if failed {
                end["error"] = json!({"code": code, "message": "it broke"});
            }
            runner_post(app, &runner, &id, "steps", end).await;
        }
        let events: Vec<Value> = (0..3)
            .map(|n| match dice.next(3) {
                0 => json!({"eventType": "llm", "message": format!("call {n}"),
                            "metadata": {"tokens": 100 + dice.next(900), "costUsd": 0.25}}),
                1 => json!({"eventType": "log", "message": "no usage", "metadata": {"other": 1}}),
                _ => json!({"eventType": "log", "message": "plain"}),
            })
            .collect();
        runner_post(app, &runner, &id, "events", json!({ "events": events })).await;
        let end = ["completed", "failed", "running"][dice.next(3) as usize];
        if end != "running" {
            runner_post(app, &runner, &id, "status", json!({"status": end})).await;
        }
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn rollups_equal_the_exact_aggregates_through_changes_and_deletions() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let mut dice = Dice(7);
    insert_history(&app, account, &mut dice, 120).await;
    let live = live_runs(&app, &token, &mut dice, 12).await;
    assert_eq!(rollups(&app).await, exact(&app).await, "after creation");
    days_sum_their_hours(&app, "after creation").await;
    assert!(rollups(&app)
        .await
        .iter()
        .any(|row| row.starts_with("usage")));
    assert!(rollups(&app)
        .await
        .iter()
        .any(|row| row.contains("\"timeout\"")
            || row.contains("\"http_502\"")
            || row.contains("\"bad_input\"")));

    // Owners' changes: cancel one, retry a failed one, delete two, tag and bulk-delete.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{}/cancel", live[0]),
            &token,
            None,
        )
        .await;
    assert!(status == 200 || status == 409, "{body}");
    for id in &live[1..3] {
        let (status, body) = app
            .call(Method::DELETE, &format!("/api/runs/{id}"), &token, None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(rollups(&app).await, exact(&app).await, "after deletions");
    days_sum_their_hours(&app, "after deletions").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/runs/bulk",
            &token,
            Some(json!({"action": "delete", "q": "agent:mailer status:failed"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let job = body["data"]["id"].as_str().unwrap().to_string();
    for _ in 0..200 {
        let (_, body) = app
            .call(Method::GET, &format!("/api/bulk-jobs/{job}"), &token, None)
            .await;
        if body["data"]["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        rollups(&app).await,
        exact(&app).await,
        "after a bulk delete"
    );
    // Pruning: runs created more than 15 days ago go (with their steps and events).
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/retention",
            &token,
            Some(json!({"keepRunsDays": 25})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let before: i64 = store::db::sql::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    app.prune_in(10).await;
    let after: i64 = store::db::sql::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert!(after < before, "pruning removed runs ({before} → {after})");
    assert_eq!(rollups(&app).await, exact(&app).await, "after pruning");
    days_sum_their_hours(&app, "after pruning").await;
}

/// The stats API over the whole window against exact SQL on the runs.
#[tokio::test]
async fn the_stats_api_answers_the_exact_counts_and_bucketed_percentiles() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let mut dice = Dice(11);
    insert_history(&app, account, &mut dice, 600).await;
    live_runs(&app, &token, &mut dice, 6).await;
    let now = store::db::now_ms();
    for (window, hours, bars) in [("24h", 24, 24), ("7d", 168, 28), ("30d", 720, 30)] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/agents/crawler/stats?window={window}"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let stats = &body["data"];
        assert_eq!(stats["window"], window);
        assert_eq!(stats["buckets"].as_array().unwrap().len(), bars, "{window}");
        let parsed = model::StatsWindow::parse(window).unwrap();
        let (first_hour, end_hour) = model::window_hours(parsed, parsed.default_bucket(), now);
        assert!(end_hour - first_hour <= hours && end_hour - first_hour > hours - 24);
        let first = first_hour * 3_600_000;
        let runs: Vec<(String, i64, Option<i64>, Option<i64>)> = store::db::sql::query_as(
            "SELECT r.status, r.attempt, r.duration_ms, r.started_at - r.created_at FROM runs r
             JOIN agents a ON a.pk = r.agent_pk WHERE a.slug = 'crawler' AND r.created_at >= ?",
        )
        .bind(first)
        .fetch_all(&app.db.read)
        .await
        .unwrap();
        assert_eq!(stats["total"], runs.len() as i64, "{window}");
        let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
        for (status, ..) in &runs {
            *by_status.entry(status.clone()).or_default() += 1;
        }
        assert_eq!(stats["byStatus"], json!(by_status), "{window}");
        let bar_total: i64 = stats["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|bar| bar["byStatus"].as_object().unwrap().values())
            .map(|count| count.as_i64().unwrap())
            .sum();
        assert_eq!(bar_total, runs.len() as i64, "the bars hold every run once");
        let finished: i64 = ["completed", "failed", "cancelled"]
            .iter()
            .map(|status| by_status.get(*status).copied().unwrap_or(0))
            .sum();
        let completed = by_status.get("completed").copied().unwrap_or(0);
        match stats["successRate"].as_f64() {
            Some(rate) => {
                assert!(
                    (rate - completed as f64 / finished as f64).abs() < 1e-9,
                    "{window}"
                )
            }
            None => assert_eq!(finished, 0, "{window}"),
        }
        let retries = runs.iter().filter(|run| run.1 > 1).count() as f64;
        assert!((stats["retryRate"].as_f64().unwrap() - retries / runs.len() as f64).abs() < 1e-9);
        let mut durations: Vec<i64> = runs.iter().filter_map(|run| run.2).collect();
        let mut waits: Vec<i64> = runs.iter().filter_map(|run| run.3).collect();
        for (field, fraction) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            let exact = exact_percentile(&mut durations, fraction);
            let answered = stats["durationMs"][field].as_i64();
            assert_eq!(
                answered,
                exact.map(histogram_bound),
                "{window} duration {field}"
            );
            if let (Some(answered), Some(exact)) = (answered, exact) {
                assert!(answered >= exact && answered as f64 <= exact as f64 * 1.19 + 1.0);
            }
        }
        for (field, fraction) in [("p50", 0.5), ("p95", 0.95)] {
            let exact = exact_percentile(&mut waits, fraction);
            assert_eq!(
                stats["queueWaitMs"][field].as_i64(),
                exact.map(histogram_bound),
                "{window} wait {field}"
            );
        }
    }
    // The live runs' steps and usage (all created in this hour).
    let (_, body) = app
        .call(
            Method::GET,
            "/api/agents/crawler/stats?window=24h&bucket=1h",
            &token,
            None,
        )
        .await;
    let stats = &body["data"];
    let failing: Vec<(String, i64)> = store::db::sql::query_as(
        "SELECT coalesce(s.name, s.step_id), count(*) FROM steps s JOIN runs r ON r.pk = s.run_pk
         JOIN agents a ON a.pk = r.agent_pk WHERE a.slug = 'crawler' AND s.status = 'failed'
         GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    let answered: Vec<(String, i64)> = stats["failingSteps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap().to_string(),
                step["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(answered, failing);
    for step in stats["failingSteps"].as_array().unwrap() {
        let codes: i64 = step["codes"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_i64().unwrap())
            .sum();
        assert_eq!(
            codes,
            step["count"].as_i64().unwrap(),
            "every failure here has a code"
        );
    }
    let (tokens, cost): (i64, f64) = store::db::sql::query_as(
        "SELECT coalesce(sum(json_extract(e.metadata, '$.tokens')), 0), coalesce(sum(json_extract(e.metadata, '$.costUsd')), 0)
         FROM events e JOIN runs r ON r.pk = e.run_pk JOIN agents a ON a.pk = r.agent_pk WHERE a.slug = 'crawler'",
    )
    .postgres(
        "SELECT CAST(coalesce(sum(sqlite_json_int(e.metadata, 'tokens')), 0) AS BIGINT),
                coalesce(sum(sqlite_json_real(e.metadata, 'costUsd')), 0)
         FROM events e JOIN runs r ON r.pk = e.run_pk JOIN agents a ON a.pk = r.agent_pk WHERE a.slug = 'crawler'",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(stats["tokens"], tokens);
    assert!((stats["costUsd"].as_f64().unwrap() - cost).abs() < 1e-9);
    let (steps, hits): (i64, i64) = store::db::sql::query_as(
        "SELECT count(*), CAST(sum(s.cache_hit) AS BIGINT) FROM steps s JOIN runs r ON r.pk = s.run_pk
         JOIN agents a ON a.pk = r.agent_pk WHERE a.slug = 'crawler'",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert!((stats["cacheHitRate"].as_f64().unwrap() - hits as f64 / steps as f64).abs() < 1e-9);
}

#[tokio::test]
async fn bad_windows_unknown_agents_and_other_accounts_are_refused() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let other = app.other_account_token().await;
    app.create_run(&token, json!({"agent": "crawler"})).await;
    for (path, status, field) in [
        ("/api/agents/crawler/stats?window=1y", 400, Some("window")),
        ("/api/agents/crawler/stats?bucket=5m", 400, Some("bucket")),
        ("/api/agents/crawler/stats?limit=3", 400, Some("query")),
        ("/api/agents/nobody/stats", 404, None),
    ] {
        let (answer, body) = app.call(Method::GET, path, &token, None).await;
        assert_eq!(answer, status, "{path}: {body}");
        if let Some(field) = field {
            assert_eq!(body["error"]["field"], field, "{path}: {body}");
        }
    }
    let (status, _) = app
        .call(Method::GET, "/api/agents/crawler/stats", &other, None)
        .await;
    assert_eq!(
        status, 404,
        "another account's agent does not exist for the caller"
    );
    let (status, _) = app
        .call(
            Method::GET,
            "/api/agents/crawler/stats",
            "not-a-token",
            None,
        )
        .await;
    assert_eq!(status, 401);
}
