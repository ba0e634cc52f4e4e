//! Runs that never stay stuck: heartbeats and `lastSeenAt`, the agents' limits
//! (heartbeat timeout, maximum run time, queue timeout, claim lease, maximum
//! attempts), and the sweeper that applies them through the one status function.
//!
//! Most tests run a sweep directly with a `now` in the future (deterministic and
//! instant); the server's own sweeper is told to wait an hour so it stays out of
//! the way. One test watches the real sweeper task end a run.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use store::db::now_ms;
use store::db::sweep::{self, SweepReason, SweepReport};

fn runner_path(id: &str, part: &str) -> String {
    format!("/api/runner/runs/{id}/{part}")
}

/// A server whose background sweeper stays out of the tests' way.
async fn quiet_app() -> (TestApp, String) {
    let app = spawn_app_with(|config| config.sweep_secs = 3600).await;
    let token = app.owner_token().await;
    (app, token)
}

async fn set_limits(app: &TestApp, token: &str, agent: &str, limits: Value) -> Value {
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/agents/{agent}"),
            token,
            Some(limits),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn run_json(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) = app
        .call(Method::GET, &format!("/api/runs/{id}"), token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn report_status(app: &TestApp, runner: &str, id: &str, body: Value) -> (u16, Value) {
    app.call(Method::POST, &runner_path(id, "status"), runner, Some(body))
        .await
}

async fn sweep_at(app: &TestApp, now: i64) -> SweepReport {
    sweep::sweep(&app.db, now, |_| {}).await.unwrap()
}

const SECOND: i64 = 1_000;

async fn event_types(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let (_, body) = app
        .call(Method::GET, &format!("/api/runs/{id}/events"), token, None)
        .await;
    body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["eventType"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_new_agent_has_the_default_limits_and_null_turns_one_off() {
    let (app, token) = quiet_app().await;
    let agent = set_limits(&app, &token, "crawler", json!({"name": "Crawler"})).await;
    assert_eq!(agent["heartbeatTimeoutSecs"], 600);
    assert_eq!(agent["leaseSecs"], 60);
    for off in ["maxRuntimeSecs", "queueTimeoutSecs", "maxAttempts"] {
        assert_eq!(agent[off], Value::Null, "{off}");
    }
    let agent = set_limits(
        &app,
        &token,
        "crawler",
        json!({"heartbeatTimeoutSecs": null, "maxAttempts": 3}),
    )
    .await;
    assert_eq!(agent["heartbeatTimeoutSecs"], Value::Null);
    assert_eq!(agent["maxAttempts"], 3);
    assert_eq!(agent["leaseSecs"], 60, "absent fields keep their value");
    assert_eq!(agent["name"], "Crawler");

    // With the heartbeat timeout off, a silent run is left alone.
    let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &id, json!({"status": "running"})).await;
    let report = sweep_at(&app, now_ms() + 30 * 86_400 * SECOND).await;
    assert_eq!(report.count(SweepReason::Stalled), 0);
    assert_eq!(run_json(&app, &token, &id).await["status"], "running");
}

#[tokio::test]
async fn limits_out_of_bounds_are_refused_naming_the_field_and_change_nothing() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"maxRuntimeSecs": 3600})).await;
    let cases = [
        json!({"heartbeatTimeoutSecs": 0}),
        json!({"heartbeatTimeoutSecs": -5}),
        json!({"maxRuntimeSecs": 2_592_001}),
        json!({"queueTimeoutSecs": 0}),
        json!({"maxAttempts": 101}),
        json!({"leaseSecs": 86_401}),
        json!({"maxRuntimeSecs": 1.5}),
        json!({"maxRuntimeSecs": "10"}),
    ];
    for body in cases {
        let field = body.as_object().unwrap().keys().next().unwrap().clone();
        let (status, answer) = app
            .call(
                Method::PUT,
                "/api/agents/crawler",
                &token,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            answer["error"]["field"] == field.as_str() || message.contains(&field),
            "{body}: the error names {field}: {answer}"
        );
    }
    let (_, agents) = app.call(Method::GET, "/api/agents", &token, None).await;
    let agent = &agents["data"]["agents"][0];
    assert_eq!(agent["maxRuntimeSecs"], 3600);
    assert_eq!(agent["heartbeatTimeoutSecs"], 600);
    assert_eq!(agent["maxAttempts"], Value::Null);
}

#[tokio::test]
async fn every_runner_callback_and_the_heartbeat_record_last_seen() {
    let (app, token) = quiet_app().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    assert_eq!(run_json(&app, &token, &id).await["lastSeenAt"], Value::Null);

    let stamp = async |app: &TestApp| -> i64 {
        let run = run_json(app, &token, &id).await;
        let seen = run["lastSeenAt"].as_str().expect("lastSeenAt is set");
        chrono::DateTime::parse_from_rfc3339(seen)
            .unwrap()
            .timestamp_millis()
    };
    let age_out = async |app: &TestApp| {
        app.execute(
            "UPDATE runs SET last_seen_at = last_seen_at - 60000 WHERE id = ?",
            &[&id],
        )
        .await;
    };
    let callbacks: Vec<(&str, Value)> = vec![
        ("status", json!({"status": "running"})),
        ("heartbeat", Value::Null),
        (
            "events",
            json!({"events": [{"eventType": "log", "message": "hi"}]}),
        ),
        (
            "steps",
            json!({"stepId": "fetch", "status": "running", "name": "Fetch"}),
        ),
        (
            "artifacts",
            json!({"artifactType": "link", "name": "page", "url": "https://example.com/a"}),
        ),
    ];
    for (part, body) in callbacks {
        let before = now_ms();
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = app
            .call(Method::POST, &runner_path(&id, part), &runner, body)
            .await;
        assert!((200..300).contains(&status), "{part}: {status} {answer}");
        let seen = stamp(&app).await;
        assert!(
            seen >= before - 5 && seen <= now_ms() + 5,
            "{part} stamps lastSeenAt"
        );
        age_out(&app).await;
    }

    // A heartbeat answers the run, so the runner learns of a cancellation.
    let (status, answer) = app
        .call(Method::POST, &runner_path(&id, "heartbeat"), &runner, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["id"], id.as_str());
    assert_eq!(answer["data"]["status"], "running");
    // Another run's token is refused.
    let (other, _) = app.create_run(&token, json!({"agent": "crawler"})).await;
    let (status, _) = app
        .call(
            Method::POST,
            &runner_path(&other, "heartbeat"),
            &runner,
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_silent_running_run_fails_as_stalled_and_a_late_runner_gets_409() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"heartbeatTimeoutSecs": 30})).await;
    let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &id, json!({"status": "running"})).await;
    let started = now_ms();

    let report = sweep_at(&app, started + 20 * SECOND).await;
    assert_eq!(
        report.count(SweepReason::Stalled),
        0,
        "20 s of silence is within 30 s"
    );
    // A heartbeat resets the clock: 40 s after a heartbeat made "at" +20 s is not
    // yet stalled at +45 s, measured from the heartbeat.
    app.execute(
        "UPDATE runs SET last_seen_at = ? WHERE id = ?",
        &[&(started + 20 * SECOND).to_string(), &id],
    )
    .await;
    let report = sweep_at(&app, started + 45 * SECOND).await;
    assert_eq!(report.count(SweepReason::Stalled), 0);

    let report = sweep_at(&app, started + 51 * SECOND).await;
    assert_eq!(report.count(SweepReason::Stalled), 1);
    let run = run_json(&app, &token, &id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["code"], "stalled");
    assert!(run["error"]["message"]
        .as_str()
        .unwrap()
        .contains("heartbeat timeout"));
    assert!(event_types(&app, &token, &id)
        .await
        .contains(&"stalled".to_string()));

    for (part, body) in [
        ("status", Some(json!({"status": "completed"}))),
        ("heartbeat", None),
        ("events", Some(json!({"events": [{"eventType": "log"}]}))),
    ] {
        let (status, answer) = app
            .call(Method::POST, &runner_path(&id, part), &runner, body)
            .await;
        assert_eq!(status, 409, "{part}: {answer}");
        assert_eq!(answer["error"]["code"], "run_finished", "{part}");
    }
    assert_eq!(
        sweep_at(&app, started + 600 * SECOND).await,
        SweepReport::default(),
        "a finished run is not swept again"
    );
}

#[tokio::test]
async fn a_run_running_past_its_maximum_time_fails_as_timed_out_even_while_heartbeating() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"maxRuntimeSecs": 60})).await;
    let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &id, json!({"status": "running"})).await;
    let started = now_ms();
    assert_eq!(
        sweep_at(&app, started + 55 * SECOND)
            .await
            .count(SweepReason::TimedOut),
        0
    );
    // Heard from "just now", yet over its time.
    app.execute(
        "UPDATE runs SET last_seen_at = ? WHERE id = ?",
        &[&(started + 60 * SECOND).to_string(), &id],
    )
    .await;
    let report = sweep_at(&app, started + 61 * SECOND).await;
    assert_eq!(report.count(SweepReason::TimedOut), 1);
    assert_eq!(report.count(SweepReason::Stalled), 0);
    let run = run_json(&app, &token, &id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["code"], "timed_out");
    assert!(run["durationMs"].as_i64().is_some());
}

#[tokio::test]
async fn a_run_not_started_within_the_queue_timeout_fails_as_not_started() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"queueTimeoutSecs": 120})).await;
    let (requested, _) = app.create_run(&token, json!({"agent": "crawler"})).await;
    let (queued, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &queued, json!({"status": "queued"})).await;
    let (started, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &started, json!({"status": "running"})).await;
    let (other_agent, _) = app.create_run(&token, json!({"agent": "other"})).await;

    let now = now_ms();
    assert_eq!(
        sweep_at(&app, now + 100 * SECOND)
            .await
            .count(SweepReason::NotStarted),
        0
    );
    let report = sweep_at(&app, now + 121 * SECOND).await;
    assert_eq!(report.count(SweepReason::NotStarted), 2);
    for id in [&requested, &queued] {
        let run = run_json(&app, &token, id).await;
        assert_eq!(run["status"], "failed");
        assert_eq!(run["error"]["code"], "not_started");
    }
    assert_eq!(run_json(&app, &token, &started).await["status"], "running");
    assert_eq!(
        run_json(&app, &token, &other_agent).await["status"],
        "requested",
        "another agent's limits are its own"
    );
}

async fn claim(app: &TestApp, token: &str, agent: &str) -> Option<(String, String)> {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/runner/claim",
            token,
            Some(json!({ "agent": agent })),
        )
        .await;
    match status {
        200 => Some((
            body["data"]["run"]["id"].as_str().unwrap().to_string(),
            body["data"]["runnerToken"].as_str().unwrap().to_string(),
        )),
        204 => None,
        other => panic!("claim answered {other}: {body}"),
    }
}

fn millis(value: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn a_claim_whose_runner_neither_starts_nor_heartbeats_goes_back_to_the_queue() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "puller", json!({"leaseSecs": 30})).await;
    let (id, _) = app.create_run(&token, json!({"agent": "puller"})).await;
    let before = now_ms();
    let (claimed, _) = claim(&app, &token, "puller").await.unwrap();
    assert_eq!(claimed, id);
    let run = run_json(&app, &token, &id).await;
    assert_eq!(run["status"], "queued");
    let lease = millis(&run["leaseExpiresAt"]);
    assert!(lease >= before + 30 * SECOND && lease <= now_ms() + 30 * SECOND);
    assert!(
        claim(&app, &token, "puller").await.is_none(),
        "held by its claimant"
    );

    assert_eq!(
        sweep_at(&app, lease - SECOND)
            .await
            .count(SweepReason::LeaseExpired),
        0
    );
    let report = sweep_at(&app, lease + SECOND).await;
    assert_eq!(report.count(SweepReason::LeaseExpired), 1);
    let run = run_json(&app, &token, &id).await;
    assert_eq!(run["status"], "requested");
    assert_eq!(run["leaseExpiresAt"], Value::Null);
    assert!(event_types(&app, &token, &id)
        .await
        .contains(&"lease_expired".to_string()));
    // The next claim gets it.
    let (again, _) = claim(&app, &token, "puller").await.unwrap();
    assert_eq!(again, id);
}

#[tokio::test]
async fn a_heartbeat_renews_the_lease_and_starting_ends_it() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "puller", json!({"leaseSecs": 30})).await;
    let (id, _) = app.create_run(&token, json!({"agent": "puller"})).await;
    let (_, runner) = claim(&app, &token, "puller").await.unwrap();
    let first = millis(&run_json(&app, &token, &id).await["leaseExpiresAt"]);
    // The lease as if granted 20 s ago; a heartbeat grants it anew from now.
    app.execute(
        "UPDATE runs SET lease_expires_at = lease_expires_at - 20000 WHERE id = ?",
        &[&id],
    )
    .await;
    let (status, _) = app
        .call(Method::POST, &runner_path(&id, "heartbeat"), &runner, None)
        .await;
    assert_eq!(status, 200);
    let renewed = millis(&run_json(&app, &token, &id).await["leaseExpiresAt"]);
    assert!(renewed >= first, "{renewed} renews {first}");
    assert_eq!(
        sweep_at(&app, first - 5 * SECOND)
            .await
            .count(SweepReason::LeaseExpired),
        0,
        "the renewed lease holds where the aged one would have lapsed"
    );

    report_status(&app, &runner, &id, json!({"status": "running"})).await;
    let run = run_json(&app, &token, &id).await;
    assert_eq!(run["status"], "running");
    assert_eq!(
        run["leaseExpiresAt"],
        Value::Null,
        "a started run has no lease"
    );
    let report = sweep_at(&app, renewed + 120 * SECOND).await;
    assert_eq!(report.count(SweepReason::LeaseExpired), 0);
    assert_eq!(run_json(&app, &token, &id).await["status"], "running");
}

#[tokio::test]
async fn failing_runs_are_retried_automatically_up_to_the_maximum_attempts() {
    let (app, token) = quiet_app().await;
    set_limits(
        &app,
        &token,
        "crawler",
        json!({"maxAttempts": 3, "heartbeatTimeoutSecs": 30}),
    )
    .await;
    let (first, runner) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "input": {"company": "Stripe"}}),
        )
        .await;

    // Attempt 1 stalls; the same sweep retries it once the 20 ms base delay
    // (the test server's RUNBOARD_RETRY_BASE_MS) has passed.
    report_status(&app, &runner, &first, json!({"status": "running"})).await;
    let report = sweep_at(&app, now_ms() + 31 * SECOND).await;
    assert_eq!(report.count(SweepReason::Stalled), 1);
    assert_eq!(report.count(SweepReason::Retried), 1);
    let original = run_json(&app, &token, &first).await;
    assert_eq!(original["error"]["code"], "stalled");
    assert_eq!(
        original["retryAt"],
        Value::Null,
        "retried, so nothing is due"
    );
    let (_, runner) = claim(&app, &token, "crawler").await.unwrap();
    let (_, list) = app
        .call(
            Method::GET,
            "/api/runs?agent=crawler&status=queued",
            &token,
            None,
        )
        .await;
    let second_id = list["data"]["runs"][0]["id"].as_str().unwrap().to_string();
    let second = run_json(&app, &token, &second_id).await;
    assert_eq!(second["retryOf"], first.as_str());
    assert_eq!(second["attempt"], 2);
    assert_eq!(second["input"]["company"], "Stripe");

    // Attempt 2 fails: its retry waits twice the base delay.
    report_status(
        &app,
        &runner,
        &second_id,
        json!({"status": "failed", "error": "upstream 502"}),
    )
    .await;
    let second = run_json(&app, &token, &second_id).await;
    let due = millis(&second["retryAt"]);
    assert_eq!(due - millis(&second["completedAt"]), 40, "20 ms doubled");
    let report = sweep_at(&app, due - 1).await;
    assert_eq!(
        report.count(SweepReason::Retried),
        0,
        "not before it is due"
    );
    let report = sweep_at(&app, due).await;
    assert_eq!(report.count(SweepReason::Retried), 1);
    assert_eq!(
        sweep_at(&app, due + 3_600 * SECOND)
            .await
            .count(SweepReason::Retried),
        0,
        "one retry per failed attempt"
    );

    // Attempt 3 fails: the agent's three attempts are spent.
    let (third_id, runner) = claim(&app, &token, "crawler").await.unwrap();
    let third = run_json(&app, &token, &third_id).await;
    assert_eq!(third["attempt"], 3);
    assert_eq!(third["retryOf"], second_id.as_str());
    report_status(&app, &runner, &third_id, json!({"status": "failed"})).await;
    assert_eq!(
        run_json(&app, &token, &third_id).await["retryAt"],
        Value::Null
    );
    assert_eq!(
        sweep_at(&app, now_ms() + 3_600 * SECOND)
            .await
            .count(SweepReason::Retried),
        0
    );
    let (_, list) = app
        .call(Method::GET, "/api/runs?agent=crawler", &token, None)
        .await;
    assert_eq!(list["data"]["runs"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn cancelled_runs_are_not_retried_and_a_manual_retry_replaces_the_automatic_one() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"maxAttempts": 5})).await;
    let (cancelled, _) = app.create_run(&token, json!({"agent": "crawler"})).await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runs/{cancelled}/cancel"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        run_json(&app, &token, &cancelled).await["retryAt"],
        Value::Null
    );

    let (failed, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &failed, json!({"status": "failed"})).await;
    assert!(run_json(&app, &token, &failed).await["retryAt"].is_string());
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{failed}/retry"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        run_json(&app, &token, &failed).await["retryAt"],
        Value::Null,
        "the manual retry is the next attempt"
    );
    let report = sweep_at(&app, now_ms() + 3_600 * SECOND).await;
    assert_eq!(report.count(SweepReason::Retried), 0);
    let (_, list) = app
        .call(Method::GET, "/api/runs?agent=crawler", &token, None)
        .await;
    assert_eq!(list["data"]["runs"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_sweeper_racing_late_runner_callbacks_ends_each_run_exactly_once() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"heartbeatTimeoutSecs": 5})).await;
    let mut runs = Vec::new();
    for _ in 0..30 {
        let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
        report_status(&app, &runner, &id, json!({"status": "running"})).await;
        runs.push((id, runner));
    }
    app.execute(
        "UPDATE runs SET last_seen_at = last_seen_at - 10000 WHERE status = 'running'",
        &[],
    )
    .await;
    let sweeper = {
        let db = app.db.clone();
        tokio::spawn(async move { sweep::sweep(&db, now_ms(), |_| {}).await.unwrap() })
    };
    let callbacks: Vec<_> = runs
        .iter()
        .map(|(id, runner)| {
            let url = app.url(&runner_path(id, "status"));
            let runner = runner.clone();
            tokio::spawn(async move {
                let response = new_client()
                    .post(url)
                    .bearer_auth(runner)
                    .json(&json!({"status": "completed"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let report = sweeper.await.unwrap();
    let mut runner_wins = 0;
    for ((id, _), callback) in runs.iter().zip(callbacks) {
        let (status, body) = callback.await.unwrap();
        let run = run_json(&app, &token, id).await;
        match status {
            200 => {
                runner_wins += 1;
                assert_eq!(run["status"], "completed", "{id}");
                assert!(!event_types(&app, &token, id)
                    .await
                    .contains(&"stalled".to_string()));
            }
            409 => {
                assert_eq!(body["error"]["code"], "run_finished");
                assert_eq!(run["status"], "failed", "{id}");
                assert_eq!(run["error"]["code"], "stalled");
            }
            other => panic!("{id}: {other} {body}"),
        }
    }
    assert_eq!(
        report.count(SweepReason::Stalled) + runner_wins,
        runs.len() as i64,
        "every run ended once, by the sweeper or by its runner"
    );
    // The per-status counts the list reads agree with the runs themselves.
    let counted: i64 = store::db::sql::query_scalar(
        "SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM run_counts WHERE status = 'running'",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(counted, 0);
}

#[tokio::test]
async fn a_stalled_end_settles_the_campaign_and_queues_the_webhook_like_any_end() {
    let (app, token) = quiet_app().await;
    set_limits(&app, &token, "crawler", json!({"heartbeatTimeoutSecs": 5})).await;
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/campaigns",
            &token,
            Some(json!({"name": "Launch"})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign_id = campaign["data"]["id"].as_str().unwrap().to_string();
    let (id, runner) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "campaignId": campaign_id,
                   "webhookUrl": "http://127.0.0.1:9/hook"}),
        )
        .await;
    report_status(&app, &runner, &id, json!({"status": "running"})).await;
    sweep_at(&app, now_ms() + 6 * SECOND).await;
    let (_, campaign) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(campaign["data"]["status"], "failed", "{campaign}");
    let webhooks: i64 = store::db::sql::query_scalar(
        "SELECT count(*) FROM outbox o JOIN runs r ON r.pk = o.run_pk
         WHERE o.kind = 'webhook' AND r.id = ?",
    )
    .bind(&id)
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(webhooks, 1, "the final state is queued for the webhook");
}

#[tokio::test]
async fn the_server_sweeps_on_its_own_every_sweep_interval() {
    let app = spawn_app_with(|config| config.sweep_secs = 1).await;
    let token = app.owner_token().await;
    set_limits(&app, &token, "crawler", json!({"heartbeatTimeoutSecs": 1})).await;
    let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    report_status(&app, &runner, &id, json!({"status": "running"})).await;
    for _ in 0..100 {
        let run = run_json(&app, &token, &id).await;
        if run["status"] == "failed" {
            assert_eq!(run["error"]["code"], "stalled");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run was not swept within 10 s");
}
