//! `GET /metrics`: who may read it, and what it shows after some traffic.
//!
//! The recorder is global to the process (nextest runs each test in its own, but
//! `cargo test` does not), so assertions are on labels unique to the test (its
//! own agent) or on lower bounds.

use crate::helpers::*;
use model::Role;
use reqwest::Method;
use serde_json::json;

const METRICS_TOKEN: &str = "metrics-token-for-the-tests-0123";

/// The value of the sample `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            let Some(rest) = line.strip_prefix(name) else {
                return false;
            };
            (rest.starts_with('{') || rest.starts_with(' '))
                && labels
                    .iter()
                    .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let mut request = new_client().get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_show_requests_runs_events_subscribers_and_database_size() {
    let app = spawn_app_with(|config| config.metrics_token = Some(METRICS_TOKEN.into())).await;
    let token = app.owner_token().await;
    let agent = format!("metrics-{}", uuid::Uuid::now_v7().simple());
    let (done, done_runner) = app.create_run(&token, json!({"agent": agent})).await;
    let (waiting, _) = app.create_run(&token, json!({"agent": agent})).await;
    let events = json!({"events": [
        {"id": "e1", "eventType": "agent.start"},
        {"id": "e2", "eventType": "agent.progress"},
        {"id": "e2", "eventType": "agent.progress"},
        {"id": "e3", "eventType": "agent.complete"},
    ]});
    for _ in 0..2 {
        // The second post repeats the first: nothing new is stored or counted.
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/runner/runs/{done}/events"),
                &done_runner,
                Some(events.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{done}/status"),
            &done_runner,
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .call(Method::GET, &format!("/api/runs/{waiting}"), &token, None)
        .await;
    assert_eq!(status, 200);
    let _stream = Stream::open(&app, "", &token, None).await;

    let (status, content_type, text) = scrape(&app, Some(&token)).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let agent_label = [("agent", agent.as_str())];
    assert_eq!(
        sample(&text, "runboard_runs_created_total", &agent_label),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "runboard_runs_finished_total",
            &[("agent", &agent), ("status", "completed")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "runboard_events_ingested_total", &agent_label),
        Some(3.0),
        "three distinct events, the repeats not counted: {text}"
    );
    assert_eq!(
        sample(
            &text,
            "runboard_runs_active",
            &[("agent", &agent), ("status", "requested")]
        ),
        Some(1.0),
        "{text}"
    );
    // The route template, never the run's own path.
    let events_route = [
        ("method", "POST"),
        ("route", "/api/runner/runs/{run_id}/events"),
        ("status", "200"),
    ];
    assert!(
        sample(&text, "runboard_http_requests_total", &events_route) >= Some(2.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "runboard_http_request_duration_seconds_count",
            &events_route
        ) >= Some(2.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "runboard_http_requests_total",
            &[("route", "/api/runs"), ("status", "201")]
        ) >= Some(2.0),
        "{text}"
    );
    assert!(!text.contains(&done), "no run id in any label");
    assert!(sample(&text, "runboard_database_size_bytes", &[]) > Some(0.0));
    assert!(sample(&text, "runboard_live_subscribers", &[]) >= Some(1.0));
    assert_eq!(sample(&text, "runboard_outbox_pending", &[]), Some(0.0));
    assert!(sample(&text, "runboard_db_writer_wait_seconds_count", &[]) > Some(0.0));
    assert!(text.contains("# HELP runboard_runs_finished_total"));

    // A refused scrape is counted too, with its status.
    assert_eq!(scrape(&app, None).await.0, 401);
    let (_, _, text) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert!(
        sample(
            &text,
            "runboard_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ) >= Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_need_an_owner_or_the_metrics_token() {
    let app = spawn_app_with(|config| config.metrics_token = Some(METRICS_TOKEN.into())).await;
    for role in [Role::Member, Role::Viewer] {
        let email = format!("{}@example.com", role.as_str());
        store::auth::add_user(&app.db, &email, "metrics-password-42", None, role)
            .await
            .unwrap();
        let token = app.api_token_for(&email, "metrics-password-42").await;
        let (status, _, body) = scrape(&app, Some(&token)).await;
        assert_eq!(status, 403, "a {role}: {body}");
        assert!(body.contains("\"forbidden\""), "{body}");
    }
    // The figures cover every account: another account's owner may not read them.
    let other_owner = app.other_account_token().await;
    let (status, _, body) = scrape(&app, Some(&other_owner)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("first account"), "{body}");
    let (status, _, body) = scrape(&app, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = scrape(&app, Some("not-the-metrics-token-0123456789")).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, _) = scrape(&app, Some(&app.owner_token().await)).await;
    assert_eq!(status, 200);
    let (status, _, body) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("runboard_database_size_bytes"), "{body}");
    // The owner's browser session works too.
    app.login_owner().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);

    // Without a configured metrics token, no bearer is one.
    let app = spawn_app().await;
    let (status, _, _) = scrape(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_run_the_sweeper_ends_counts_as_swept_and_as_finished() {
    let app = spawn_app_with(|config| config.sweep_secs = 1).await;
    let token = app.owner_token().await;
    let agent = format!("swept-{}", uuid::Uuid::now_v7().simple());
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/agents/{agent}"),
            &token,
            Some(json!({"heartbeatTimeoutSecs": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (id, runner) = app.create_run(&token, json!({"agent": agent})).await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            &runner,
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, _, text) = scrape(&app, Some(&token)).await;
    assert_eq!(
        sample(
            &text,
            "runboard_runs_active",
            &[("agent", &agent), ("status", "running")]
        ),
        Some(1.0),
        "{text}"
    );
    let text = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let (_, _, text) = scrape(&app, Some(&token)).await;
            if sample(
                &text,
                "runboard_runs_finished_total",
                &[("agent", &agent), ("status", "failed")],
            ) == Some(1.0)
            {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the silent run is swept within 20 s");
    assert!(
        sample(&text, "runboard_runs_swept_total", &[("reason", "stalled")]) >= Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "runboard_runs_active",
            &[("agent", &agent), ("status", "running")]
        ),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_webhook_shows_in_the_outbox_backlog_and_attempts() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    // Nothing listens on this port: every delivery fails and is retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (id, runner) = app
        .create_run(&token, json!({"agent": "hooked", "webhookUrl": url}))
        .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            &runner,
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let text = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let (_, _, text) = scrape(&app, Some(&token)).await;
            let retried = sample(
                &text,
                "runboard_outbox_attempts_total",
                &[("kind", "webhook"), ("outcome", "retry")],
            );
            if retried >= Some(1.0) {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a failed delivery attempt is counted within 20 s");
    assert_eq!(
        sample(&text, "runboard_outbox_pending", &[]),
        Some(1.0),
        "the webhook waits for its next attempt: {text}"
    );
}
