//! The runner API (the original callback API and what it lacks): auth per run, the status rules,
//! events with sequence and idempotency, limits, artifacts, steps, claims.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn new_run(app: &TestApp) -> (String, String, String) {
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "builder"})).await;
    (token, id, runner)
}

fn path(id: &str, part: &str) -> String {
    format!("/api/runner/runs/{id}/{part}")
}

#[tokio::test]
async fn seed_003_status_codes_for_the_status_endpoint() {
    let app = spawn_app().await;
    let (_, id, runner) = new_run(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)), "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"status": "exploded"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("status")),
        "{body}"
    );
    let (status, _) = app
        .call(Method::POST, &path(&id, "status"), &runner, Some(json!({})))
        .await;
    assert_eq!(status, 400, "neither status nor progress");
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            "wrong",
            Some(json!({"progress": 0.1})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            "",
            Some(json!({"progress": 0.1})),
        )
        .await;
    assert_eq!(status, 401);
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, _) = app
        .call(
            Method::POST,
            &path(&unknown, "status"),
            &runner,
            Some(json!({"progress": 0.1})),
        )
        .await;
    assert_eq!(status, 401, "a token for one run is refused on another");
}

#[tokio::test]
async fn a_token_for_run_a_is_refused_on_run_b() {
    let app = spawn_app().await;
    let (token, a, runner_a) = new_run(&app).await;
    let (b, _) = app.create_run(&token, json!({"agent": "builder"})).await;
    for part in ["status", "events", "steps", "artifacts"] {
        let (status, _) = app
            .call(
                Method::POST,
                &path(&b, part),
                &runner_a,
                Some(json!({"progress": 0.5})),
            )
            .await;
        assert_eq!(status, 401, "{part}");
    }
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/runner/runs/{b}"),
            &runner_a,
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/runner/runs/{a}"),
            &runner_a,
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Owner tokens are not runner tokens.
    let (status, _) = app
        .call(
            Method::POST,
            &path(&a, "status"),
            &token,
            Some(json!({"progress": 0.5})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_expired_runner_token_is_refused() {
    let app = spawn_app().await;
    let (_, id, _) = new_run(&app).await;
    // Signed with this server's own runner key, but expired an hour ago.
    let secret: String = store::db::sql::query_scalar(
        "SELECT value FROM settings WHERE key = 'runner_token_secret'",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": id, "iss": "runboard", "aud": "runboard:runner", "iat": now - 90_000, "exp": now - 3_600});
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &expired,
            Some(json!({"progress": 0.5})),
        )
        .await;
    assert_eq!(status, 401);
    let fresh = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": id, "iss": "runboard", "aud": "runboard:runner", "iat": now, "exp": now + 60}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &fresh,
            Some(json!({"progress": 0.5})),
        )
        .await;
    assert_eq!(status, 200, "the same claims, unexpired, are accepted");
}

#[tokio::test]
async fn the_legacy_runner_secret_is_accepted_when_configured() {
    let app = spawn_app_with(|config| {
        config.runner_auth_secret = Some("legacy-shared-secret-0123456789abcdef".into())
    })
    .await;
    let (_, id, runner) = new_run(&app).await;
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            "legacy-shared-secret-0123456789abcdef",
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"progress": 0.2})),
        )
        .await;
    assert_eq!(
        status, 200,
        "runner tokens are signed with the configured secret"
    );
    // Seed 003's 404: an unknown run, for every runner endpoint.
    let unknown = uuid::Uuid::now_v7().to_string();
    for part in ["status", "events", "steps", "artifacts"] {
        let (status, body) = app
            .call(
                Method::POST,
                &path(&unknown, part),
                "legacy-shared-secret-0123456789abcdef",
                Some(json!({"progress": 0.5})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{part}"
        );
    }
}

#[tokio::test]
async fn status_rules_progress_clamp_and_timestamps() {
    let app = spawn_app().await;
    let (token, id, runner) = new_run(&app).await;
    let (_, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"progress": 7.5})),
        )
        .await;
    assert_eq!(body["data"]["progress"], 1.0, "clamped");
    assert_eq!(
        body["data"]["status"], "requested",
        "progress alone keeps the status"
    );
    let (_, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"progress": -2})),
        )
        .await;
    assert_eq!(body["data"]["progress"], 0.0);
    let (_, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"status": "running", "progress": 0.4})),
        )
        .await;
    let started = body["data"]["startedAt"].as_str().unwrap().to_string();
    assert!(body["data"]["completedAt"].is_null());
    let (_, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(
        body["data"]["startedAt"],
        started.as_str(),
        "startedAt is set once"
    );
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"status": "queued"})),
        )
        .await;
    assert_eq!(status, 409, "never backwards");
    let (_, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"status": "failed", "error": "out of memory"})),
        )
        .await;
    assert_eq!(body["data"]["status"], "failed");
    assert_eq!(body["data"]["progress"], 1.0, "progress 1 at the end");
    assert!(body["data"]["completedAt"].is_string());
    assert!(body["data"]["durationMs"].as_i64().unwrap() >= 0);
    assert_eq!(body["data"]["error"]["message"], "out of memory");
    // Finished: every callback answers 409 run_finished.
    for (part, payload) in [
        ("status", json!({"status": "completed"})),
        ("events", json!({"eventType": "agent.progress"})),
        ("steps", json!({"stepId": "s"})),
        (
            "artifacts",
            json!({"artifactType": "report", "inlineText": "x"}),
        ),
    ] {
        let (status, body) = app
            .call(Method::POST, &path(&id, part), &runner, Some(payload))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("run_finished")),
            "{part}"
        );
    }
    let (_, body) = app
        .call(Method::GET, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(
        body["data"]["status"], "failed",
        "nothing overwrote the terminal status"
    );
}

#[tokio::test]
async fn every_legal_and_illegal_transition() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let statuses = ["queued", "running", "completed", "failed", "cancelled"];
    let order = |status: &str| match status {
        "requested" => 0,
        "queued" => 1,
        "running" => 2,
        _ => 3,
    };
    for from in [
        "requested",
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
    ] {
        for to in statuses {
            let (id, runner) = app.create_run(&token, json!({"agent": "t"})).await;
            if from != "requested" {
                let (status, _) = app
                    .call(
                        Method::POST,
                        &path(&id, "status"),
                        &runner,
                        Some(json!({"status": from})),
                    )
                    .await;
                assert_eq!(status, 200, "reaching {from}");
            }
            let (status, _) = app
                .call(
                    Method::POST,
                    &path(&id, "status"),
                    &runner,
                    Some(json!({"status": to})),
                )
                .await;
            let terminal = order(from) == 3;
            let legal = !terminal && (order(to) > order(from) || (to == from));
            assert_eq!(status, if legal { 200 } else { 409 }, "{from} -> {to}");
        }
    }
}

#[tokio::test]
async fn events_get_sequence_numbers_and_retried_batches_store_nothing_twice() {
    let app = spawn_app().await;
    let (token, id, runner) = new_run(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"eventType": "agent.start", "message": "hello"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["eventId"].is_string(),
        "the original runner API's body: {body}"
    );
    let batch = json!({"events": [
        {"id": "e-1", "eventType": "agent.tool_use", "message": "search", "metadata": {"tool": "web"}},
        {"id": "e-2", "eventType": "agent.progress", "message": "half way"},
    ]});
    let first = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(batch.clone()),
        )
        .await;
    let again = app
        .call(Method::POST, &path(&id, "events"), &runner, Some(batch))
        .await;
    assert_eq!(first.0, 200);
    assert_eq!(
        first.1["data"], again.1["data"],
        "a retried batch answers as the first time"
    );

    // With an Idempotency-Key the whole answer is replayed, even without event ids.
    let keyed = json!({"events": [{"eventType": "warning", "message": "slow"}]});
    let send = || {
        new_client()
            .post(app.url(&path(&id, "events")))
            .bearer_auth(&runner)
            .header("Idempotency-Key", "batch-7")
            .json(&keyed)
            .send()
    };
    let one: serde_json::Value = send().await.unwrap().json().await.unwrap();
    let two: serde_json::Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(one, two);

    let (_, body) = app
        .call(Method::GET, &format!("/api/runs/{id}/events"), &token, None)
        .await;
    let events = body["data"]["events"].as_array().unwrap();
    let seqs: Vec<i64> = events
        .iter()
        .map(|event| event["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3, 4],
        "four distinct events, numbered in arrival order"
    );
    assert_eq!(events[1]["metadata"]["tool"], "web");

    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events?after=2&limit=1"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["events"][0]["seq"], 3);
    assert_eq!(body["data"]["nextAfter"], 3);
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events?type=warning"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["events"].as_array().unwrap().len(), 1);
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events?q=half"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["events"][0]["message"], "half way");
}

#[tokio::test]
async fn a_batch_mixing_stored_repeated_and_new_ids_stores_each_event_once() {
    let app = spawn_app().await;
    let (token, id, runner) = new_run(&app).await;
    let first = json!({"events": [
        {"id": "a", "eventType": "log", "message": "alpha"},
        {"id": "b", "eventType": "log", "message": "bravo"},
    ]});
    let (status, first) = app
        .call(Method::POST, &path(&id, "events"), &runner, Some(first))
        .await;
    assert_eq!(status, 200, "{first}");
    // "b" is stored already, "c" comes twice in this batch, one event has no id.
    let mixed = json!({"events": [
        {"id": "c", "eventType": "log", "message": "charlie"},
        {"id": "b", "eventType": "log", "message": "bravo again"},
        {"eventType": "log", "message": "no id"},
        {"id": "c", "eventType": "log", "message": "charlie again"},
    ]});
    let (status, mixed) = app
        .call(Method::POST, &path(&id, "events"), &runner, Some(mixed))
        .await;
    assert_eq!(status, 200, "{mixed}");
    let acked = mixed["data"]["events"].as_array().unwrap();
    let seqs: Vec<i64> = acked.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        vec![3, 2, 4, 3],
        "repeats answer with the stored event"
    );
    assert_eq!(acked[1]["eventId"], first["data"]["events"][1]["eventId"]);
    assert_eq!(acked[3]["eventId"], acked[0]["eventId"]);

    // A full batch of 1,000 goes in whole, numbered in order and searchable.
    let big: Vec<_> = (0..1000)
        .map(|n| json!({"id": format!("big-{n}"), "eventType": "log", "message": format!("line{n} zebra")}))
        .collect();
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"events": big})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["events"][999]["seq"], 1004);

    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events?limit=10"),
            &token,
            None,
        )
        .await;
    let messages: Vec<&str> = body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages[..6],
        [
            "alpha",
            "bravo",
            "charlie",
            "no id",
            "line0 zebra",
            "line1 zebra"
        ]
    );
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events?q=line999&limit=5"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["events"][0]["seq"], 1004, "{body}");
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events?q=zebra&limit=1000"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["events"].as_array().unwrap().len(), 1000);
}

#[tokio::test]
async fn bad_and_oversized_events() {
    let app = spawn_app().await;
    let (_, id, runner) = new_run(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"message": "no type"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("body.eventType")),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"events": [{"eventType": "ok"}, {"message": 1}]})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("events[1]"),
        "{body}"
    );
    let big = "x".repeat(300 * 1024);
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"eventType": "log", "message": big})),
        )
        .await;
    assert_eq!(status, 413, "one event over 256 KiB");
    let many: Vec<_> = (0..1001).map(|_| json!({"eventType": "tick"})).collect();
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"events": many})),
        )
        .await;
    assert_eq!(status, 413, "more than 1,000 events");
    let huge: Vec<_> = (0..20)
        .map(|_| json!({"eventType": "log", "message": "y".repeat(200 * 1024)}))
        .collect();
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "events"),
            &runner,
            Some(json!({"events": huge})),
        )
        .await;
    assert_eq!(status, 413, "a batch over 3 MiB");
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/events"),
            &app.owner_token().await,
            None,
        )
        .await;
    assert_eq!(
        body["data"]["events"],
        json!([]),
        "nothing of a refused batch was stored"
    );
}

#[tokio::test]
async fn steps_keep_every_attempt() {
    let app = spawn_app().await;
    let (token, id, runner) = new_run(&app).await;
    for (attempt, status) in [
        (1, "running"),
        (1, "failed"),
        (2, "running"),
        (2, "completed"),
    ] {
        let (code, body) = app
            .call(
                Method::POST,
                &path(&id, "steps"),
                &runner,
                Some(json!({"stepId": "fetch", "idx": 0, "name": "Fetch", "attempt": attempt, "status": status})),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    app.call(
        Method::POST,
        &path(&id, "steps"),
        &runner,
        Some(json!({"stepId": "render", "idx": 1, "status": "completed", "cacheHit": true})),
    )
    .await;
    let (_, body) = app
        .call(Method::GET, &format!("/api/runs/{id}/steps"), &token, None)
        .await;
    let steps = body["data"]["steps"].as_array().unwrap();
    let shape: Vec<(String, i64, String)> = steps
        .iter()
        .map(|step| {
            (
                step["stepId"].as_str().unwrap().to_string(),
                step["attempt"].as_i64().unwrap(),
                step["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("fetch".into(), 1, "failed".into()),
            ("fetch".into(), 2, "completed".into()),
            ("render".into(), 1, "completed".into())
        ]
    );
    assert_eq!(steps[2]["cacheHit"], true);
    assert!(steps[0]["durationMs"].is_i64());
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "steps"),
            &runner,
            Some(json!({"stepId": ""})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_runner_learns_that_its_run_was_cancelled() {
    let app = spawn_app().await;
    let (token, id, runner) = new_run(&app).await;
    app.call(
        Method::POST,
        &format!("/api/runs/{id}/cancel"),
        &token,
        None,
    )
    .await;
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runner/runs/{id}"),
            &runner,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    let (status, body) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            &runner,
            Some(json!({"progress": 0.9})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("run_finished"))
    );
}

#[tokio::test]
async fn ten_concurrent_claimants_of_one_run_exactly_one_wins() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app.create_run(&token, json!({"agent": "puller"})).await;
    let claims: Vec<_> = (0..10)
        .map(|_| {
            let client = new_client();
            let url = app.url("/api/runner/claim");
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"agent": "puller"}))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for claim in claims {
        let response = claim.await.unwrap();
        match response.status().as_u16() {
            200 => winners.push(response.json::<serde_json::Value>().await.unwrap()),
            204 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0]["data"]["run"]["id"], id.as_str());
    assert_eq!(winners[0]["data"]["run"]["status"], "queued");
    let runner = winners[0]["data"]["runnerToken"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &path(&id, "status"),
            runner,
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(status, 200, "the claim's runner token works");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/runner/claim",
            &token,
            Some(json!({"agent": "puller"})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/runner/claim",
            "",
            Some(json!({"agent": "puller"})),
        )
        .await;
    assert_eq!(status, 401);
    let other = app.other_account_token().await;
    app.create_run(&token, json!({"agent": "puller"})).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/runner/claim",
            &other,
            Some(json!({"agent": "puller"})),
        )
        .await;
    assert_eq!(status, 204, "claims never cross accounts");
}
