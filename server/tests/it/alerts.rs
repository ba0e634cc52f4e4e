//! Alert rules end to end: who may manage them, each condition firing exactly
//! once (and the threshold ones resolving once), delivery to a local HTTP
//! receiver in the webhook and Slack shapes and to a local SMTP sink, and a
//! delivery that survives a restart of the server.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn create_rule(app: &TestApp, token: &str, rule: Value) -> String {
    let (status, body) = app
        .call(Method::POST, "/api/alerts", token, Some(rule))
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

async fn firings(app: &TestApp, token: &str, rule: &str) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/alerts/{rule}/firings"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["firings"].as_array().unwrap().clone()
}

/// The kinds of the rule's firings, oldest first.
async fn firing_kinds(app: &TestApp, token: &str, rule: &str) -> Vec<String> {
    let mut kinds: Vec<String> = firings(app, token, rule)
        .await
        .iter()
        .map(|firing| firing["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.reverse();
    kinds
}

async fn report(app: &TestApp, id: &str, runner: &str, body: Value) {
    let (status, answer) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            runner,
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

/// Creates a run of `agent` and ends it with `status` (and `code` when failed).
async fn finished_run(
    app: &TestApp,
    token: &str,
    agent: &str,
    status: &str,
    code: Option<&str>,
) -> String {
    let (id, runner) = app.create_run(token, json!({"agent": agent})).await;
    report(app, &id, &runner, json!({"status": "running"})).await;
    let mut body = json!({"status": status});
    if status == "failed" {
        body["error"] = json!({"code": code, "message": "the site did not answer"});
    }
    report(app, &id, &runner, body).await;
    id
}

#[tokio::test]
async fn rules_are_checked_scoped_to_the_account_and_managed_by_owners() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let hook = json!([{"type": "webhook", "url": "https://hooks.example.com/a"}]);
    app.create_run(&token, json!({"agent": "crawler"})).await;
    for (rule, field) in [
        (
            json!({"name": "", "condition": {"type": "run_failed"}, "channels": hook}),
            "name",
        ),
        (
            json!({"name": "x", "condition": {"type": "sometimes"}, "channels": hook}),
            "body",
        ),
        (
            json!({"name": "x", "condition": {"type": "failure_rate", "threshold": 2}, "channels": hook}),
            "condition.threshold",
        ),
        (
            json!({"name": "x", "condition": {"type": "run_failed"}, "channels": []}),
            "channels",
        ),
        (
            json!({"name": "x", "condition": {"type": "run_failed"}, "channels": [{"type": "email", "to": "ops@example.com"}]}),
            "channels[0]",
        ),
        (
            json!({"name": "x", "scope": {"agent": "nobody"}, "condition": {"type": "run_failed"}, "channels": hook}),
            "scope.agent",
        ),
        (
            json!({"name": "x", "scope": {"q": "status:("}, "condition": {"type": "run_failed"}, "channels": hook}),
            "scope.q",
        ),
        (
            json!({"name": "x", "condition": {"type": "run_failed"}, "channels": [{"type": "slack", "url": "http://169.254.169.254/"}]}),
            "channels[0].url",
        ),
    ] {
        let (status, body) = app
            .call(Method::POST, "/api/alerts", &token, Some(rule.clone()))
            .await;
        assert_eq!(status, 400, "{rule}: {body}");
        if field != "body" {
            assert_eq!(body["error"]["field"], field, "{rule}: {body}");
        }
    }
    let id = create_rule(
        &app,
        &token,
        json!({"name": "Crawler failures", "scope": {"agent": "crawler"}, "condition": {"type": "failure_rate", "threshold": 0.5}, "channels": hook}),
    )
    .await;
    let (_, body) = app
        .call(Method::GET, &format!("/api/alerts/{id}"), &token, None)
        .await;
    assert_eq!(
        body["data"]["condition"]["windowMins"], 60,
        "defaults are filled in"
    );
    assert_eq!(body["data"]["state"], "ok");

    // A member sees rules but may not change them.
    store::auth::add_user(
        &app.db,
        "member@example.com",
        "member-password",
        None,
        model::Role::Member,
    )
    .await
    .unwrap();
    let member = app
        .api_token_for("member@example.com", "member-password")
        .await;
    let (status, body) = app.call(Method::GET, "/api/alerts", &member, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["alerts"].as_array().unwrap().len(), 1);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/alerts".to_string(),
            Some(json!({"name": "x", "condition": {"type": "run_failed"}, "channels": hook})),
        ),
        (
            Method::PATCH,
            format!("/api/alerts/{id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/api/alerts/{id}"), None),
        (Method::POST, format!("/api/alerts/{id}/test"), None),
    ] {
        let (status, answer) = app.call(method.clone(), &path, &member, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }

    // Another account sees none of it.
    let other = app.other_account_token().await;
    let (_, body) = app.call(Method::GET, "/api/alerts", &other, None).await;
    assert_eq!(body["data"]["alerts"], json!([]));
    for path in [
        format!("/api/alerts/{id}"),
        format!("/api/alerts/{id}/firings"),
    ] {
        let (status, _) = app.call(Method::GET, &path, &other, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/alerts/{id}"), &other, None)
        .await;
    assert_eq!(status, 404);

    // Owners change and delete; each change is audited.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/alerts/{id}"),
            &token,
            Some(json!({"enabled": false, "name": "Crawler"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["enabled"], false);
    assert_eq!(body["data"]["name"], "Crawler");
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/alerts/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(Method::GET, &format!("/api/alerts/{id}"), &token, None)
        .await;
    assert_eq!(status, 404);
    let actions: Vec<String> = store::db::sql::query_scalar(
        "SELECT action FROM audit_log WHERE target_id = ? ORDER BY pk",
    )
    .bind(&id)
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    assert_eq!(actions, ["alert.create", "alert.update", "alert.delete"]);
}

#[tokio::test]
async fn a_failed_run_notifies_each_matching_rule_once_as_webhook_and_slack() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(Vec::new(), 200);
    let url = receiver.start().await;
    app.create_run(&token, json!({"agent": "crawler"})).await;
    app.create_run(&token, json!({"agent": "mailer"})).await;
    let any_failure = create_rule(
        &app,
        &token,
        json!({"name": "Crawler failed", "scope": {"agent": "crawler"}, "condition": {"type": "run_failed"},
               "channels": [{"type": "webhook", "url": url}, {"type": "slack", "url": url}]}),
    )
    .await;
    let timed_out = create_rule(
        &app,
        &token,
        json!({"name": "Timeouts", "condition": {"type": "run_timed_out"}, "channels": [{"type": "webhook", "url": url}]}),
    )
    .await;
    // Out of scope (another agent) and not failed: nothing.
    finished_run(&app, &token, "mailer", "failed", Some("boom")).await;
    finished_run(&app, &token, "crawler", "completed", None).await;
    let failed = finished_run(&app, &token, "crawler", "failed", Some("http_500")).await;
    eventually("the webhook and the Slack message", async || {
        receiver.count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        receiver.count(),
        2,
        "one notification per channel, nothing else"
    );

    let received = receiver.received.lock().unwrap().clone();
    let (headers, webhook): (_, Value) = received
        .iter()
        .map(|(headers, body)| {
            (
                headers.clone(),
                serde_json::from_str::<Value>(body).unwrap(),
            )
        })
        .find(|(_, body)| body.get("type").is_some())
        .unwrap();
    assert_eq!(webhook["type"], "alert.fired");
    assert_eq!(webhook["alert"]["id"], any_failure.as_str());
    assert_eq!(webhook["run"]["id"], failed.as_str());
    assert_eq!(webhook["url"], format!("{}/runs/{failed}", app.base));
    let secret: String =
        store::db::sql::query_scalar("SELECT webhook_secret FROM accounts WHERE pk = ?")
            .bind(app.owner_account().await)
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    let header = headers["runboard-signature"].to_str().unwrap();
    let (timestamp, _) = header.trim_start_matches("t=").split_once(',').unwrap();
    let raw = received
        .iter()
        .map(|(_, body)| body)
        .find(|body| body.contains("alert.fired"))
        .unwrap();
    assert_eq!(
        header,
        runboard::outbox::signature(&secret, timestamp.parse().unwrap(), raw),
        "signed like run webhooks"
    );
    let slack: Value = received
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap())
        .find(|body| body.get("text").is_some())
        .unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("Crawler failed") && text.contains("http_500"),
        "{text}"
    );
    assert!(
        text.contains(&format!("<{}/runs/{failed}|", app.base)),
        "{text}"
    );

    let history = firings(&app, &token, &any_failure).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["kind"], "fired");
    assert_eq!(history[0]["runId"], failed.as_str());
    eventually("both channels recorded as delivered", async || {
        firings(&app, &token, &any_failure).await[0]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|channel| channel["status"] == "delivered")
    })
    .await;
    assert!(
        firings(&app, &token, &timed_out).await.is_empty(),
        "not a timeout"
    );

    // The same run meeting the rule again is not told twice.
    let run = store::db::runs::find_run(
        &app.db.read,
        app.owner_account().await,
        failed.parse().unwrap(),
    )
    .await
    .unwrap();
    let mut tx = app.db.begin_write().await.unwrap();
    store::db::alerts::on_run_failed(&mut tx, &run)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(firings(&app, &token, &any_failure).await.len(), 1);

    // A timeout meets both rules.
    let timeout = finished_run(&app, &token, "crawler", "failed", Some("timed_out")).await;
    eventually("two more notifications", async || receiver.count() >= 5).await;
    assert_eq!(
        firings(&app, &token, &timed_out).await[0]["runId"],
        timeout.as_str()
    );
    assert_eq!(firings(&app, &token, &any_failure).await.len(), 2);
}

#[tokio::test]
async fn a_stalled_run_fires_the_stall_rule_through_the_sweeper() {
    let app = spawn_app_with(|config| config.sweep_secs = 1).await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(Vec::new(), 200);
    let url = receiver.start().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "crawler"})).await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/agents/crawler",
            &token,
            Some(json!({"heartbeatTimeoutSecs": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rule = create_rule(
        &app,
        &token,
        json!({"name": "Stalls", "condition": {"type": "run_stalled"}, "channels": [{"type": "webhook", "url": url}]}),
    )
    .await;
    report(&app, &id, &runner, json!({"status": "running"})).await;
    eventually("the stalled run's notification", async || {
        receiver.count() >= 1
    })
    .await;
    let (_, body) = receiver.last();
    assert_eq!(body["run"]["id"], id.as_str());
    assert_eq!(body["run"]["error"]["code"], "stalled");
    assert_eq!(firing_kinds(&app, &token, &rule).await, ["fired"]);
}

#[tokio::test]
async fn campaigns_fire_when_they_fail_and_when_they_go_live() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(Vec::new(), 200);
    let url = receiver.start().await;
    let (_, body) = app
        .call(
            Method::POST,
            "/api/campaigns",
            &token,
            Some(json!({"name": "Spring launch"})),
        )
        .await;
    let campaign = body["data"]["id"].as_str().unwrap().to_string();
    let hook = json!([{"type": "webhook", "url": url}]);
    let failed_rule = create_rule(
        &app,
        &token,
        json!({"name": "Launch failed", "scope": {"campaign": campaign}, "condition": {"type": "campaign_failed"}, "channels": hook}),
    )
    .await;
    let live_rule = create_rule(
        &app,
        &token,
        json!({"name": "Launch live", "condition": {"type": "campaign_live"}, "channels": hook}),
    )
    .await;
    let run = |status: &'static str| {
        let app = &app;
        let token = &token;
        let campaign = campaign.clone();
        async move {
            let (id, runner) = app
                .create_run(token, json!({"agent": "site", "campaignId": campaign}))
                .await;
            report(app, &id, &runner, json!({"status": "running"})).await;
            let mut body = json!({"status": status});
            if status == "failed" {
                body["error"] = json!({"message": "build broke"});
            }
            report(app, &id, &runner, body).await;
        }
    };
    run("failed").await;
    // A new run sets the campaign running again; its failure is news again, once.
    run("failed").await;
    let second_failure: Vec<Value> = firings(&app, &token, &failed_rule).await;
    assert_eq!(second_failure.len(), 2);
    assert_ne!(second_failure[0]["runId"], second_failure[1]["runId"]);
    run("completed").await;
    eventually("three notifications", async || receiver.count() >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 3);
    assert_eq!(
        firing_kinds(&app, &token, &failed_rule).await,
        ["fired", "fired"]
    );
    assert_eq!(firing_kinds(&app, &token, &live_rule).await, ["fired"]);
    // The same run cannot fire the campaign rule twice.
    let (fired_again,): (i64,) = store::db::sql::query_as(
        "SELECT count(*) FROM alert_firings f JOIN alert_rules r ON r.pk = f.rule_pk
         WHERE r.id = ? GROUP BY f.run_id ORDER BY 1 DESC LIMIT 1",
    )
    .bind(&failed_rule)
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(fired_again, 1);
    let (_, last) = receiver.last();
    assert_eq!(last["campaign"]["name"], "Spring launch");
    assert_eq!(last["url"], format!("{}/campaigns/{campaign}", app.base));
}

/// Sets the finished runs' durations (the runner cannot choose them).
async fn set_durations(app: &TestApp, ms: i64) {
    app.execute(
        "UPDATE runs SET duration_ms = ? WHERE completed_at IS NOT NULL",
        &[&ms.to_string()],
    )
    .await;
}

#[tokio::test]
async fn threshold_rules_fire_once_when_crossed_and_resolve_once_when_back() {
    let app = spawn_app_with(|config| config.alert_secs = 1).await;
    let token = app.owner_token().await;
    let receiver = Receiver::new(Vec::new(), 200);
    let url = receiver.start().await;
    let hook = json!([{"type": "slack", "url": url}]);
    app.create_run(&token, json!({"agent": "crawler"})).await;
    let rate = create_rule(
        &app,
        &token,
        json!({"name": "Failure rate", "scope": {"agent": "crawler"},
               "condition": {"type": "failure_rate", "threshold": 0.5, "windowMins": 60, "minRuns": 2}, "channels": hook}),
    )
    .await;
    let slow = create_rule(
        &app,
        &token,
        json!({"name": "Slow", "condition": {"type": "p95_duration", "threshold": 1000, "windowMins": 60}, "channels": hook}),
    )
    .await;
    let quiet = create_rule(
        &app,
        &token,
        json!({"name": "Quiet", "condition": {"type": "no_success", "windowMins": 1}, "channels": hook}),
    )
    .await;
    // The no-success rule has watched a whole window already.
    app.execute(
        "UPDATE alert_rules SET created_at = created_at - 120000 WHERE id = ?",
        &[&quiet],
    )
    .await;

    finished_run(&app, &token, "crawler", "failed", Some("boom")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        firing_kinds(&app, &token, &rate).await.is_empty(),
        "one run is below minRuns"
    );
    finished_run(&app, &token, "crawler", "failed", Some("boom")).await;
    eventually("the failure rate firing", async || {
        !firing_kinds(&app, &token, &rate).await.is_empty()
    })
    .await;
    eventually("no success firing", async || {
        !firing_kinds(&app, &token, &quiet).await.is_empty()
    })
    .await;
    set_durations(&app, 5_000).await;
    eventually("the p95 firing", async || {
        !firing_kinds(&app, &token, &slow).await.is_empty()
    })
    .await;
    // Still crossed at the next evaluations: no second firing.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(firing_kinds(&app, &token, &rate).await, ["fired"]);
    assert_eq!(firing_kinds(&app, &token, &slow).await, ["fired"]);
    assert_eq!(firing_kinds(&app, &token, &quiet).await, ["fired"]);
    let (_, body) = app
        .call(Method::GET, &format!("/api/alerts/{rate}"), &token, None)
        .await;
    assert_eq!(body["data"]["state"], "firing");
    assert_eq!(body["data"]["lastValue"], 1.0);

    // Back: three completed runs (2 of 5 failed), short durations, a success.
    for _ in 0..3 {
        finished_run(&app, &token, "crawler", "completed", None).await;
    }
    set_durations(&app, 10).await;
    for rule in [&rate, &slow, &quiet] {
        eventually("the rule resolving", async || {
            firing_kinds(&app, &token, rule).await.len() == 2
        })
        .await;
        assert_eq!(
            firing_kinds(&app, &token, rule).await,
            ["fired", "resolved"]
        );
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    for rule in [&rate, &slow, &quiet] {
        assert_eq!(
            firing_kinds(&app, &token, rule).await.len(),
            2,
            "resolved once"
        );
    }
    let history = firings(&app, &token, &rate).await;
    assert!(
        history[0]["message"].as_str().unwrap().contains("40 %"),
        "{}",
        history[0]
    );
    eventually("six notifications", async || receiver.count() >= 6).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 6);
}

/// A message as the sink received it: its recipients and its data.
type Mail = (Vec<String>, String);

/// A minimal SMTP server: accepts every message and keeps it.
#[derive(Clone, Default)]
struct SmtpSink {
    messages: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let sink = self.clone();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let sink = sink.clone();
                tokio::spawn(async move { sink.session(socket).await });
            }
        });
        url
    }

    async fn session(&self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        let mut recipients = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let command = line.to_ascii_uppercase();
            let answer: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                b"250 sink\r\n"
            } else if command.starts_with("RCPT TO:") {
                recipients.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                b"250 OK\r\n"
            } else if command.starts_with("DATA") {
                write.write_all(b"354 go on\r\n").await.unwrap();
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    data.push_str(&line);
                    data.push('\n');
                }
                self.messages
                    .lock()
                    .unwrap()
                    .push((std::mem::take(&mut recipients), data));
                b"250 queued\r\n"
            } else if command.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.unwrap();
                return;
            } else {
                b"250 OK\r\n"
            };
            write.write_all(answer).await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_test_notification_reaches_an_smtp_sink_as_email() {
    let sink = SmtpSink::default();
    let smtp = sink.start().await;
    let app = spawn_app_with(|config| config.smtp_url = Some(smtp.clone())).await;
    let token = app.owner_token().await;
    let rule = create_rule(
        &app,
        &token,
        json!({"name": "Ops mail", "condition": {"type": "run_failed"}, "channels": [{"type": "email", "to": "ops@example.com"}]}),
    )
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/alerts/{rule}/test"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["kind"], "test");
    eventually("the email", async || {
        !sink.messages.lock().unwrap().is_empty()
    })
    .await;
    let (recipients, data) = sink.messages.lock().unwrap()[0].clone();
    assert_eq!(recipients, ["ops@example.com"]);
    assert!(
        data.contains("Subject: [Runboard] Test: Ops mail"),
        "{data}"
    );
    assert!(
        data.contains(&app.base),
        "the email links to the server: {data}"
    );
    eventually("the delivery recorded", async || {
        firings(&app, &token, &rule).await[0]["channels"][0]["status"] == "delivered"
    })
    .await;
    assert_eq!(
        firings(&app, &token, &rule).await[0]["channels"][0]["type"],
        "email"
    );
}

#[tokio::test]
async fn a_notification_pending_across_a_restart_is_delivered_once() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    // The receiver fails the first attempt, and the server stops before the retry.
    let receiver = Receiver::new(vec![503], 200);
    let url = receiver.start().await;
    let rule = create_rule(
        &app,
        &token,
        json!({"name": "Any failure", "condition": {"type": "run_failed"}, "channels": [{"type": "webhook", "url": url}]}),
    )
    .await;
    let failed = finished_run(&app, &token, "crawler", "failed", None).await;
    eventually("the first attempt", async || receiver.count() >= 1).await;
    let app = app.restart(|config| config.retry_base_ms = 300).await;
    eventually("the retry after the restart", async || {
        receiver.count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.count(), 2, "delivered once after the failure");
    let (_, body) = receiver.last();
    assert_eq!(body["run"]["id"], failed.as_str());
    let history = firings(&app, &token, &rule).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["channels"][0]["status"], "delivered");
    assert_eq!(history[0]["channels"][0]["attempts"], 2);
}
