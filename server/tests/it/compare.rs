//! Run comparison through `GET /api/runs/{id}/compare/{otherId}` and its default
//! (`/compare`): every part of the diff from real runner callbacks (input, steps
//! with attempts and cache use, error, stored and inline artifacts, the logs'
//! first differing event type, also beyond one read chunk), the default
//! baseline, account scoping and the comparison page.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn post(app: &TestApp, id: &str, runner: &str, part: &str, body: Value) {
    let (status, answer) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/{part}"),
            runner,
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "POST {part}: {answer}");
}

async fn upload(app: &TestApp, id: &str, runner: &str, name: &str, mime: &str, bytes: &[u8]) {
    let response = app
        .upload_file(id, runner, "file", (name, mime, bytes.to_vec()))
        .await;
    assert_eq!(response.status().as_u16(), 200, "upload {name}");
}

async fn events(app: &TestApp, id: &str, runner: &str, types: &[&str]) {
    for chunk in types.chunks(1000) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|kind| json!({"eventType": kind, "message": format!("{kind} happened")}))
            .collect();
        post(app, id, runner, "events", json!({"events": batch})).await;
    }
}

fn by<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

/// A baseline run that worked and a later one that failed, reported the way a
/// runner reports them; returns (token, baseline id, failed id).
async fn two_runs(app: &TestApp) -> (String, String, String) {
    let token = app.owner_token().await;
    let (good, good_runner) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "summary": "good", "input": {"company": {"name": "Acme", "size": 10}, "mode": "fast", "gone": [1]}}),
        )
        .await;
    post(
        app,
        &good,
        &good_runner,
        "status",
        json!({"status": "running"}),
    )
    .await;
    for (step, idx, ms) in [("fetch", 0, 1_200), ("parse", 1, 300)] {
        post(app, &good, &good_runner, "steps", json!({"stepId": step, "idx": idx, "name": step, "status": "completed", "startedAt": "2026-12-01T10:00:00Z", "endedAt": format!("2026-12-01T10:00:{:02}.{:03}Z", ms / 1000, ms % 1000)})).await;
    }
    events(
        app,
        &good,
        &good_runner,
        &["start", "fetch", "parse", "done"],
    )
    .await;
    upload(
        app,
        &good,
        &good_runner,
        "report.md",
        "text/markdown",
        b"# Report\nline 1\nline 2\nline 3\n",
    )
    .await;
    upload(
        app,
        &good,
        &good_runner,
        "chart.png",
        "image/png",
        b"\x89PNG first",
    )
    .await;
    post(
        app,
        &good,
        &good_runner,
        "artifacts",
        json!({"artifactType": "data", "name": "data.json", "inlineText": "{\"b\": 1, \"a\": 2}"}),
    )
    .await;
    post(
        app,
        &good,
        &good_runner,
        "status",
        json!({"status": "completed"}),
    )
    .await;

    let (bad, bad_runner) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "summary": "bad", "input": {"company": {"name": "Stripe", "size": 10}, "mode": "fast", "extra": true}}),
        )
        .await;
    post(
        app,
        &bad,
        &bad_runner,
        "status",
        json!({"status": "running"}),
    )
    .await;
    for (attempt, status) in [(1, "failed"), (2, "completed")] {
        post(app, &bad, &bad_runner, "steps", json!({"stepId": "fetch", "idx": 0, "name": "fetch", "attempt": attempt, "status": status, "cacheHit": attempt == 2, "startedAt": "2026-12-01T11:00:00Z", "endedAt": "2026-12-01T11:00:02Z"})).await;
    }
    post(app, &bad, &bad_runner, "steps", json!({"stepId": "parse", "idx": 1, "name": "parse", "status": "failed", "error": {"code": "bad_html"}})).await;
    events(
        app,
        &bad,
        &bad_runner,
        &["start", "fetch", "retry", "fetch", "parse"],
    )
    .await;
    upload(
        app,
        &bad,
        &bad_runner,
        "report.md",
        "text/markdown",
        b"# Report\nline 1\nline TWO\nline 3\n",
    )
    .await;
    upload(
        app,
        &bad,
        &bad_runner,
        "chart.png",
        "image/png",
        b"\x89PNG second",
    )
    .await;
    post(
        app,
        &bad,
        &bad_runner,
        "artifacts",
        json!({"artifactType": "data", "name": "data.json", "inlineText": "{\"a\": 2, \"b\": 1}"}),
    )
    .await;
    post(
        app,
        &bad,
        &bad_runner,
        "artifacts",
        json!({"artifactType": "link", "name": "trace", "url": "https://example.com/trace/1"}),
    )
    .await;
    post(app, &bad, &bad_runner, "status", json!({"status": "failed", "error": {"code": "parse_failed", "message": "could not parse the page"}})).await;
    (token, good, bad)
}

#[tokio::test]
async fn a_comparison_reports_input_steps_error_artifacts_and_where_the_logs_part() {
    let app = spawn_app().await;
    let (token, good, bad) = two_runs(&app).await;
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{bad}/compare/{good}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let diff = &body["data"];
    assert_eq!(
        (diff["run"]["id"].as_str(), diff["other"]["id"].as_str()),
        (Some(bad.as_str()), Some(good.as_str()))
    );
    assert_eq!(diff["run"]["status"], "failed");

    // Input, key by key, read from the other run to this one.
    let input = &diff["input"];
    assert_eq!(by(input, "path", "company.name")["change"], "changed");
    assert_eq!(by(input, "path", "company.name")["run"], "Stripe");
    assert_eq!(by(input, "path", "company.name")["other"], "Acme");
    assert_eq!(by(input, "path", "company.size")["change"], "same");
    assert_eq!(by(input, "path", "mode")["change"], "same");
    assert_eq!(by(input, "path", "extra")["change"], "added");
    assert_eq!(by(input, "path", "gone[0]")["change"], "removed");
    assert_eq!(input.as_array().unwrap().len(), 5);

    // Steps by id: the latest attempt, how many there were, the duration delta.
    let fetch = by(&diff["steps"], "stepId", "fetch");
    assert_eq!(fetch["change"], "changed", "{fetch}");
    assert_eq!(
        (
            fetch["run"]["attempts"].as_i64(),
            fetch["other"]["attempts"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (
            fetch["run"]["cacheHit"].as_bool(),
            fetch["run"]["status"].as_str()
        ),
        (Some(true), Some("completed"))
    );
    assert_eq!(fetch["durationDeltaMs"], 2_000 - 1_200);
    let parse = by(&diff["steps"], "stepId", "parse");
    assert_eq!(
        (parse["change"].as_str(), parse["run"]["status"].as_str()),
        (Some("changed"), Some("failed"))
    );
    assert_eq!(parse["run"]["error"]["code"], "bad_html");

    // The error, present in this run only.
    assert_eq!(diff["error"]["change"], "added");
    assert_eq!(diff["error"]["run"]["code"], "parse_failed");
    assert!(diff["error"]["other"].is_null());

    // Artifacts by name: a stored text with its line diff, JSON equal once
    // pretty-printed, images side by side, a link in this run only.
    let artifacts = &diff["artifacts"];
    let report = by(artifacts, "key", "report.md");
    assert_eq!(report["change"], "changed");
    let text = &report["textDiff"];
    assert_eq!(
        (text["inserted"].as_u64(), text["deleted"].as_u64()),
        (Some(1), Some(1)),
        "{text}"
    );
    let lines = text["hunks"][0].as_array().unwrap();
    let inserted = lines.iter().find(|line| line["op"] == "insert").unwrap();
    assert_eq!(
        (inserted["text"].as_str(), inserted["runLine"].as_u64()),
        (Some("line TWO"), Some(3))
    );
    let deleted = lines.iter().find(|line| line["op"] == "delete").unwrap();
    assert_eq!(
        (deleted["text"].as_str(), deleted["otherLine"].as_u64()),
        (Some("line 2"), Some(3))
    );
    let data = by(artifacts, "key", "data.json");
    assert_eq!(data["change"], "same", "{data}");
    assert!(data["textDiff"].is_null());
    let chart = by(artifacts, "key", "chart.png");
    assert_eq!(chart["change"], "changed");
    assert_eq!(
        (
            chart["run"]["image"].as_bool(),
            chart["other"]["image"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let url = chart["run"]["contentUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/api/runs/{bad}/artifacts/")),
        "{url}"
    );
    let response = new_client()
        .get(app.url(url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        b"\x89PNG second",
        "the URL serves this run's image"
    );
    let trace = by(artifacts, "key", "trace");
    assert_eq!(
        (trace["change"].as_str(), trace["other"].is_null()),
        (Some("added"), true)
    );
    assert_eq!(trace["run"]["contentUrl"], "https://example.com/trace/1");

    // The logs agree for two events; the third differs in type.
    let log = &diff["log"];
    assert_eq!(log["divergence"]["index"], 2, "{log}");
    assert_eq!(log["divergence"]["run"]["eventType"], "retry");
    assert_eq!(log["divergence"]["run"]["seq"], 3);
    assert_eq!(log["divergence"]["other"]["eventType"], "parse");
    assert_eq!(log["complete"], true);

    // Compared with itself, nothing differs.
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{good}/compare/{good}"),
            &token,
            None,
        )
        .await;
    let same = &body["data"];
    for list in ["input", "steps", "artifacts"] {
        for item in same[list].as_array().unwrap() {
            assert_eq!(item["change"], "same", "{list}: {item}");
        }
    }
    assert_eq!(
        (
            same["log"]["divergence"].is_null(),
            same["log"]["compared"].as_i64()
        ),
        (true, Some(4))
    );
}

#[tokio::test]
async fn the_default_baseline_is_the_agents_previous_completed_run() {
    let app = spawn_app().await;
    let (token, good, bad) = two_runs(&app).await;
    // Runs that must not be chosen: a later completed one, another agent's.
    for agent in ["crawler", "other"] {
        let (later, runner) = app.create_run(&token, json!({"agent": agent})).await;
        post(
            &app,
            &later,
            &runner,
            "status",
            json!({"status": "completed"}),
        )
        .await;
    }
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{bad}/compare"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["other"]["id"], good.as_str());
    // The first run of the agent has nothing before it: a 400 naming the way out.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{good}/compare"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("otherId")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("crawler"));
}

#[tokio::test]
async fn comparison_is_scoped_to_the_callers_account() {
    let app = spawn_app().await;
    let (token, good, bad) = two_runs(&app).await;
    let stranger = app.other_account_token().await;
    let (theirs, _) = app.create_run(&stranger, json!({"agent": "crawler"})).await;
    for (who, path) in [
        (&stranger, format!("/api/runs/{bad}/compare/{good}")),
        (&stranger, format!("/api/runs/{bad}/compare")),
        (&token, format!("/api/runs/{bad}/compare/{theirs}")),
        (&stranger, format!("/api/runs/{theirs}/compare/{good}")),
    ] {
        let (status, body) = app.call(Method::GET, &path, who, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            !body.to_string().contains("Acme"),
            "nothing of the run leaks: {body}"
        );
    }
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{bad}/compare/not-a-run"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "an id that is no run's is an unknown run: {body}"
    );
    let response = new_client()
        .get(app.url(&format!("/api/runs/{bad}/compare/{good}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn logs_are_walked_past_one_read_chunk_to_the_first_difference() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let mut types: Vec<&str> = (0..2_600)
        .map(|at| if at % 3 == 0 { "tick" } else { "log" })
        .collect();
    let (a, a_runner) = app.create_run(&token, json!({"agent": "long"})).await;
    events(&app, &a, &a_runner, &types).await;
    let (b, b_runner) = app.create_run(&token, json!({"agent": "long"})).await;
    events(&app, &b, &b_runner, &types).await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{a}/compare/{b}"),
            &token,
            None,
        )
        .await;
    let log = &body["data"]["log"];
    assert_eq!(
        (log["compared"].as_i64(), log["complete"].as_bool()),
        (Some(2_600), Some(true)),
        "{log}"
    );
    assert!(log["divergence"].is_null());

    types[2_345] = "oops";
    let (c, c_runner) = app.create_run(&token, json!({"agent": "long"})).await;
    events(&app, &c, &c_runner, &types).await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{c}/compare/{a}"),
            &token,
            None,
        )
        .await;
    let divergence = &body["data"]["log"]["divergence"];
    assert_eq!(divergence["index"], 2_345, "{divergence}");
    assert_eq!(
        (
            divergence["run"]["eventType"].as_str(),
            divergence["run"]["seq"].as_i64()
        ),
        (Some("oops"), Some(2_346))
    );

    // One log a prefix of the other: they part where the shorter one ends.
    let (d, d_runner) = app.create_run(&token, json!({"agent": "long"})).await;
    events(&app, &d, &d_runner, &types[..2_000]).await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{d}/compare/{c}"),
            &token,
            None,
        )
        .await;
    let divergence = &body["data"]["log"]["divergence"];
    assert_eq!(divergence["index"], 2_000, "{divergence}");
    assert!(divergence["run"].is_null());
    assert_eq!(divergence["other"]["seq"], 2_001);
}

#[tokio::test]
async fn the_comparison_page_renders_both_runs_and_the_run_page_links_to_it() {
    let app = spawn_app().await;
    let (_, good, bad) = two_runs(&app).await;
    app.login_owner().await;
    let page = app.get(&format!("/runs/{bad}")).await.text().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/runs/{bad}/compare\"")),
        "Compare with… link"
    );
    let response = app.get(&format!("/runs/{bad}/compare")).await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&good[good.len() - 8..]),
        "the baseline is shown"
    );
    for expected in [
        "Compare runs",
        "company.name",
        "Stripe",
        "Acme",
        "line TWO",
        "parse_failed",
        "logs part at event 3",
    ] {
        assert!(page.contains(expected), "{expected} missing");
    }
    let response = app
        .get(&format!("/runs/{bad}/compare/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(response.status().as_u16(), 404);
}
