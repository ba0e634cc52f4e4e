//! Push dispatch and webhooks through the durable outbox, against a local receiver,
//! and the outbound policy that keeps them off loopback, private and metadata
//! addresses unless allowed (the test server allows 127.0.0.1; the policy tests
//! start one without that allowance).

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn run_field(app: &TestApp, token: &str, id: &str, field: &str) -> Value {
    let (_, body) = app
        .call(Method::GET, &format!("/api/runs/{id}"), token, None)
        .await;
    body["data"][field].clone()
}

#[tokio::test]
async fn a_run_of_an_agent_with_a_dispatch_url_is_pushed_and_queued() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(vec![], 200);
    let url = receiver.start().await;
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/agents/designer",
            &token,
            Some(json!({"dispatchUrl": url})),
        )
        .await;
    assert_eq!(status, 200);
    let (id, _) = app
        .create_run(&token, json!({"agent": "designer", "input": {"prompt": "a landing page"}, "context": {"theme": "dark"}}))
        .await;
    eventually("the job request", async || receiver.count() == 1).await;
    let (_, job) = receiver.last();
    assert_eq!(job["runId"], id.as_str());
    assert_eq!(job["agent"], "designer");
    assert_eq!(job["input"]["prompt"], "a landing page");
    assert_eq!(job["config"]["theme"], "dark");
    assert!(job["accountId"].is_string());
    assert_eq!(
        job["callbackUrl"],
        format!("{}/api/runner/runs/{id}", app.base).as_str()
    );
    eventually("queued", async || {
        run_field(&app, &token, &id, "status").await == "queued"
    })
    .await;

    // The job's runner token drives the run.
    let runner = job["runnerToken"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            runner,
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn dispatch_is_retried_with_backoff_until_it_succeeds() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(vec![500, 503], 200);
    let url = receiver.start().await;
    app.call(
        Method::PUT,
        "/api/agents/flaky",
        &token,
        Some(json!({"dispatchUrl": url})),
    )
    .await;
    let (id, _) = app.create_run(&token, json!({"agent": "flaky"})).await;
    eventually("queued after retries", async || {
        run_field(&app, &token, &id, "status").await == "queued"
    })
    .await;
    assert_eq!(receiver.count(), 3);
}

#[tokio::test]
async fn dispatch_that_never_succeeds_fails_the_run() {
    let app = spawn_app_with(|config| config.retry_base_ms = 5).await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(vec![], 500);
    let url = receiver.start().await;
    app.call(
        Method::PUT,
        "/api/agents/broken",
        &token,
        Some(json!({"dispatchUrl": url})),
    )
    .await;
    let (id, _) = app.create_run(&token, json!({"agent": "broken"})).await;
    eventually("failed", async || {
        run_field(&app, &token, &id, "status").await == "failed"
    })
    .await;
    let error = run_field(&app, &token, &id, "error").await;
    assert_eq!(error["code"], "dispatch_failed");
    assert_eq!(
        error["details"]["lastError"], "the receiver answered 500",
        "what failed, in general terms: not the URL, not the status line"
    );
    assert_eq!(receiver.count(), 6, "six attempts, then it gives up");
}

fn verify_signature(secret: &str, header: &str, body: &str) -> bool {
    let (t, v1) = header.split_once(',').unwrap();
    let timestamp: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    let expected = runboard::outbox::signature(secret, timestamp, body);
    expected == header
        && v1.starts_with("v1=")
        && (chrono::Utc::now().timestamp() - timestamp).abs() < 300
}

#[tokio::test]
async fn the_final_state_is_posted_to_the_webhook_signed() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(vec![], 200);
    let url = receiver.start().await;
    let (id, runner) = app
        .create_run(&token, json!({"agent": "a", "webhookUrl": url}))
        .await;
    assert_eq!(
        run_field(&app, &token, &id, "webhookStatus").await,
        "pending"
    );
    app.call(
        Method::POST,
        &format!("/api/runner/runs/{id}/status"),
        &runner,
        Some(json!({"status": "completed"})),
    )
    .await;
    eventually("the webhook", async || receiver.count() == 1).await;
    let raw_body = receiver.received.lock().unwrap()[0].1.clone();
    let headers = receiver.received.lock().unwrap()[0].0.clone();
    let (_, account) = app.call(Method::GET, "/api/account", &token, None).await;
    let secret = account["data"]["webhookSecret"].as_str().unwrap();
    let header = headers["runboard-signature"].to_str().unwrap();
    assert!(verify_signature(secret, header, &raw_body), "{header}");
    assert!(!verify_signature("wrong-secret", header, &raw_body));
    let body: Value = serde_json::from_str(&raw_body).unwrap();
    assert_eq!(body["run"]["id"], id.as_str());
    assert_eq!(body["run"]["status"], "completed");
    eventually("delivered", async || {
        run_field(&app, &token, &id, "webhookStatus").await == "delivered"
    })
    .await;
}

#[tokio::test]
async fn a_webhook_pending_at_shutdown_is_delivered_after_a_restart() {
    let app = spawn_app_with(|config| config.retry_base_ms = 100).await;
    let token = app.owner_token().await;
    // A port with nothing listening yet.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let url = format!("http://{addr}/hook");
    let (id, runner) = app
        .create_run(&token, json!({"agent": "a", "webhookUrl": url}))
        .await;
    app.call(
        Method::POST,
        &format!("/api/runner/runs/{id}/status"),
        &runner,
        Some(json!({"status": "failed"})),
    )
    .await;
    eventually("a failed attempt", async || {
        store::db::sql::query_scalar::<i64>("SELECT attempts FROM outbox WHERE kind = 'webhook'")
            .fetch_one(&app.db.read)
            .await
            .unwrap()
            >= 1
    })
    .await;
    assert_eq!(
        run_field(&app, &token, &id, "webhookStatus").await,
        "pending"
    );
    let problem: Option<String> =
        store::db::sql::query_scalar("SELECT last_error FROM outbox WHERE kind = 'webhook'")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(
        problem.as_deref(),
        Some("could not connect"),
        "not the socket's error text"
    );

    let app = app.restart(|config| config.retry_base_ms = 100).await;
    let receiver = Receiver::new(vec![], 200);
    receiver
        .serve_on(tokio::net::TcpListener::bind(addr).await.unwrap())
        .await;
    let token = app.owner_token().await;
    eventually("delivery after the restart", async || receiver.count() == 1).await;
    let (_, body) = receiver.last();
    assert_eq!(body["run"]["status"], "failed");
    eventually("delivered", async || {
        run_field(&app, &token, &id, "webhookStatus").await == "delivered"
    })
    .await;
}

/// A test server with the outbound policy as shipped: no allowance for 127.0.0.1.
async fn strict_app(retry_base_ms: u64) -> TestApp {
    spawn_app_with(|config| {
        config.outbound_allow.clear();
        config.retry_base_ms = retry_base_ms;
    })
    .await
}

#[tokio::test]
async fn urls_to_loopback_private_or_metadata_addresses_are_refused_when_stored() {
    let app = strict_app(20).await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(vec![], 200);
    let url = receiver.start().await;
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/hook");
    let refused = [
        url.clone(),
        format!("http://localhost:{port}/hook"),
        format!("http://rebind.localhost:{port}/hook"),
        "http://2130706433/hook".to_string(),
        "http://0x7f.1/hook".to_string(),
        "http://[::ffff:127.0.0.1]/hook".to_string(),
        "http://[::1]/hook".to_string(),
        "http://10.0.0.8/hook".to_string(),
        "http://[fd00::8]/hook".to_string(),
        "http://100.64.0.8/hook".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://metadata.google.internal/computeMetadata/v1/".to_string(),
    ];
    for bad in &refused {
        for (method, path, body, field) in [
            (
                Method::POST,
                "/api/runs",
                json!({"agent": "a", "webhookUrl": bad}),
                "webhookUrl",
            ),
            (
                Method::POST,
                "/pipelines/p/runs",
                json!({"webhookUrl": bad}),
                "webhookUrl",
            ),
            (
                Method::POST,
                "/pipelines/p/runs",
                json!({"webhook": bad}),
                "webhook",
            ),
            (
                Method::PUT,
                "/api/agents/a",
                json!({"dispatchUrl": bad}),
                "dispatchUrl",
            ),
        ] {
            let (status, response) = app.call(method, path, &token, Some(body.clone())).await;
            assert_eq!(status, 400, "{path} {body} -> {response}");
            assert_eq!(response["error"]["field"], field, "{body} -> {response}");
            assert!(
                response["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{field} points to ")),
                "{response}"
            );
        }
    }
    // The dashboard's new-run form goes through the same check.
    app.login_owner().await;
    let response = app
        .client
        .post(app.url("/fn/start_run"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("agent", "a"),
            ("input", ""),
            ("campaign", ""),
            ("webhook_url", &url),
            ("summary", ""),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer = response.text().await.unwrap();
    assert!(
        answer.contains("webhookUrl points to 127.0.0.1"),
        "{answer}"
    );

    let (_, runs) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(runs["data"]["total"], 0, "nothing was stored");
    let (_, agents) = app.call(Method::GET, "/api/agents", &token, None).await;
    assert!(
        agents["data"]["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|agent| agent["dispatchUrl"].is_null()),
        "{agents}"
    );
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn metadata_addresses_stay_refused_when_everything_is_allowed() {
    let app = spawn_app_with(|config| {
        config.outbound_allow = vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
    })
    .await;
    let token = app.owner_token().await;
    for bad in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/",
    ] {
        let (status, response) = app
            .call(
                Method::POST,
                "/api/runs",
                &token,
                Some(json!({"agent": "a", "webhookUrl": bad})),
            )
            .await;
        assert_eq!(status, 400, "{bad} -> {response}");
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cloud metadata address"),
            "{response}"
        );
    }
}

#[tokio::test]
async fn stored_urls_are_checked_again_when_called() {
    // Stored while 127.0.0.1 was allowed, called after the allowance is gone: the
    // policy holds at connection time, for an address in the URL and for a name
    // that resolves to it (as a rebound DNS name would).
    let app = spawn_app_with(|config| config.retry_base_ms = 5).await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(vec![], 200);
    let url = receiver.start().await;
    let by_name = url.replace("127.0.0.1", "localhost");
    for (agent, dispatch_url) in [("literal", &url), ("named", &by_name)] {
        let (status, body) = app
            .call(
                Method::PUT,
                &format!("/api/agents/{agent}"),
                &token,
                Some(json!({"dispatchUrl": dispatch_url})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (hooked, runner) = app
        .create_run(&token, json!({"agent": "plain", "webhookUrl": by_name}))
        .await;

    let app = app
        .restart(|config| {
            config.outbound_allow.clear();
            config.retry_base_ms = 5;
        })
        .await;
    let token = app.owner_token().await;
    for agent in ["literal", "named"] {
        let (id, _) = app.create_run(&token, json!({"agent": agent})).await;
        eventually("the dispatch given up", async || {
            run_field(&app, &token, &id, "status").await == "failed"
        })
        .await;
        let error = run_field(&app, &token, &id, "error").await;
        assert_eq!(error["code"], "dispatch_failed", "{agent}");
        assert_eq!(
            error["details"]["lastError"], "refused by the outbound policy",
            "{agent}"
        );
    }
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{hooked}/status"),
            &runner,
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(status, 200);
    eventually("the webhook given up", async || {
        run_field(&app, &token, &hooked, "webhookStatus").await == "failed"
    })
    .await;
    let problem: Option<String> =
        store::db::sql::query_scalar("SELECT last_error FROM outbox WHERE kind = 'webhook'")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(problem.as_deref(), Some("refused by the outbound policy"));
    assert_eq!(receiver.count(), 0, "nothing reached the receiver");
}
