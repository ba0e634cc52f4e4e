//! The live stream: committed changes of the caller's account, resumable by id.

use crate::helpers::{spawn_app, spawn_app_with, Stream, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn runner_post(app: &TestApp, run: &str, runner_token: &str, path: &str, body: Value) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{run}/{path}"),
            runner_token,
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{path}: {body}");
}

#[tokio::test]
async fn the_stream_needs_credentials() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/api/events/stream")).await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn every_kind_of_change_arrives_in_order_with_its_data() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let mut stream = Stream::open(&app, "", &token, None).await;

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
    let (run, runner) = app
        .create_run(
            &token,
            json!({"agent": "writer", "input": {"topic": "x"}, "campaignId": campaign_id}),
        )
        .await;
    runner_post(
        &app,
        &run,
        &runner,
        "status",
        json!({"status": "running", "progress": 0.25}),
    )
    .await;
    runner_post(
        &app,
        &run,
        &runner,
        "steps",
        json!({"stepId": "plan", "name": "Plan", "status": "running"}),
    )
    .await;
    runner_post(
        &app,
        &run,
        &runner,
        "events",
        json!({"events": [{"eventType": "agent.start", "message": "hello"}, {"eventType": "warning", "message": "careful"}]}),
    )
    .await;
    runner_post(
        &app,
        &run,
        &runner,
        "artifacts",
        json!({"artifactType": "report", "name": "r.txt", "inlineText": "done"}),
    )
    .await;
    runner_post(
        &app,
        &run,
        &runner,
        "status",
        json!({"status": "completed"}),
    )
    .await;
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/runs/{run}"), &token, None)
        .await;
    assert_eq!(status, 200);

    let messages = stream.take(10).await;
    let kinds: Vec<&str> = messages.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "campaign.changed", // created
            "campaign.changed", // running: a run started
            "run.created",
            "run.updated",
            "step.changed",
            "events.appended",
            "artifact.added",
            "campaign.changed", // live: its run completed
            "run.updated",
            "run.deleted",
        ]
    );
    let ids: Vec<i64> = messages.iter().map(|m| m.id.unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    for message in &messages {
        assert_eq!(message.data["seq"], json!(message.id.unwrap()));
        assert_eq!(message.data["kind"], json!(message.event));
    }
    assert_eq!(messages[2].data["runId"], json!(run));
    assert_eq!(messages[2].data["data"]["agent"], json!("writer"));
    assert_eq!(messages[3].data["data"]["status"], json!("running"));
    assert_eq!(messages[3].data["data"]["progress"], json!(0.25));
    assert_eq!(messages[4].data["data"]["stepId"], json!("plan"));
    let appended = &messages[5].data["data"];
    assert_eq!(appended["firstSeq"], json!(1));
    assert_eq!(appended["lastSeq"], json!(2));
    assert_eq!(appended["complete"], json!(true));
    assert_eq!(appended["events"][1]["message"], json!("careful"));
    assert_eq!(messages[6].data["data"]["name"], json!("r.txt"));
    assert_eq!(messages[7].data["data"]["status"], json!("live"));
    assert_eq!(messages[8].data["data"]["status"], json!("completed"));
    assert_eq!(messages[9].data["data"]["id"], json!(run));
}

#[tokio::test]
async fn a_large_event_batch_is_announced_with_its_range() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (run, runner) = app.create_run(&token, json!({"agent": "bulk"})).await;
    let mut stream = Stream::open(&app, &format!("?runId={run}"), &token, None).await;
    let events: Vec<Value> = (0..120)
        .map(|i| json!({"eventType": "agent.progress", "message": format!("step {i}")}))
        .collect();
    runner_post(&app, &run, &runner, "events", json!({ "events": events })).await;
    // The runner's first callback also announces the run's new `lastSeenAt`.
    let mut message = stream.next().await.unwrap();
    if message.event == "run.updated" {
        assert!(message.data["data"]["lastSeenAt"].is_string());
        message = stream.next().await.unwrap();
    }
    assert_eq!(message.event, "events.appended");
    let data = &message.data["data"];
    assert_eq!(
        (
            data["firstSeq"].clone(),
            data["lastSeq"].clone(),
            data["count"].clone()
        ),
        (json!(1), json!(120), json!(120))
    );
    assert_eq!(data["complete"], json!(false));
    assert_eq!(data["events"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn another_accounts_changes_never_arrive() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let other = app.other_account_token().await;
    let mut stream = Stream::open(&app, "", &token, None).await;
    let mut other_stream = Stream::open(&app, "", &other, None).await;
    app.create_run(&other, json!({"agent": "theirs"})).await;
    let (mine, _) = app.create_run(&token, json!({"agent": "mine"})).await;
    let first = stream.next().await.unwrap();
    assert_eq!(
        first.data["runId"],
        json!(mine),
        "the other account's run leaked: {first:?}"
    );
    assert!(stream
        .next_within(Duration::from_millis(500))
        .await
        .is_none());
    let theirs = other_stream.next().await.unwrap();
    assert_eq!(theirs.data["data"]["agent"], json!("theirs"));
    assert!(other_stream
        .next_within(Duration::from_millis(500))
        .await
        .is_none());

    // Following one run of another account is a 404, like every other route.
    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/events/stream?runId={mine}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn run_id_follows_one_run() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (followed, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let (other, other_runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let mut stream = Stream::open(&app, &format!("?runId={followed}"), &token, None).await;
    runner_post(
        &app,
        &other,
        &other_runner,
        "status",
        json!({"progress": 0.5}),
    )
    .await;
    runner_post(&app, &followed, &runner, "status", json!({"progress": 0.7})).await;
    let message = stream.next().await.unwrap();
    assert_eq!(message.data["runId"], json!(followed));
    assert_eq!(message.data["data"]["progress"], json!(0.7));
    assert!(stream
        .next_within(Duration::from_millis(500))
        .await
        .is_none());
}

/// A list follows `run.brief,run.deleted`: each run's creation and update as
/// a brief (no input, context or error details), live and on replay, and no
/// event traffic; a stream that also asks for `run.updated` gets that whole.
#[tokio::test]
async fn a_list_follows_runs_in_brief() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let mut list = Stream::open(&app, "?kinds=run.brief,run.deleted", &token, None).await;
    let mut mixed = Stream::open(&app, "?kinds=run.brief,run.updated", &token, None).await;
    let big = "x".repeat(2000);
    let (run, runner) = app
        .create_run(&token, json!({"agent": "brief-bot", "input": {"big": big}}))
        .await;
    runner_post(
        &app,
        &run,
        &runner,
        "events",
        json!({"events": [{"eventType": "log", "message": "hi"}]}),
    )
    .await;
    runner_post(
        &app,
        &run,
        &runner,
        "status",
        json!({"status": "running", "progress": 0.25}),
    )
    .await;

    // Created; heard from (the events); running.
    let briefs = list.take(3).await;
    for message in &briefs {
        assert_eq!(message.event, "run.brief");
        assert_eq!(message.data["kind"], "run.brief");
        assert_eq!(message.data["runId"], json!(run));
        let brief = &message.data["data"];
        assert_eq!(brief["id"], json!(run));
        assert_eq!(brief["agent"], "brief-bot");
        assert!(
            brief.get("input").is_none() && brief.get("context").is_none(),
            "{brief}"
        );
        assert!(message.data.to_string().len() < 600, "{}", message.data);
    }
    assert_eq!(briefs[0].data["data"]["status"], "requested");
    assert!(briefs[1].data["data"]["lastSeenAt"].is_string());
    assert_eq!(briefs[2].data["data"]["status"], "running");
    assert_eq!(briefs[2].data["data"]["progress"], json!(0.25));
    assert!(briefs[2].data["data"]["startedAt"].is_string());
    assert!(
        list.next_within(Duration::from_millis(300)).await.is_none(),
        "events arrived"
    );

    let mixed = mixed.take(3).await;
    assert_eq!(mixed[0].event, "run.brief");
    assert_eq!(mixed[2].event, "run.updated");
    assert_eq!(mixed[2].data["data"]["input"]["big"], json!(big));

    // A reconnecting list is replayed the same briefs.
    let first = briefs[0].id.unwrap() - 1;
    let mut replay = Stream::open(&app, "?kinds=run.brief,run.deleted", &token, Some(first)).await;
    let replayed = replay.take(3).await;
    assert_eq!(
        replayed.iter().map(|m| m.data.clone()).collect::<Vec<_>>(),
        briefs.iter().map(|m| m.data.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_session_cookie_opens_the_stream() {
    let app = spawn_app().await;
    app.login_owner().await;
    let response = app.get("/api/events/stream").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
}

#[tokio::test]
async fn reconnecting_with_last_event_id_replays_exactly_what_was_missed() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let mut stream = Stream::open(&app, "", &token, None).await;
    let (run, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let seen = stream.take(1).await;
    let last_seen = seen[0].id.unwrap();
    drop(stream);

    // Missed while disconnected:
    for progress in [0.1, 0.2, 0.3] {
        runner_post(&app, &run, &runner, "status", json!({"progress": progress})).await;
    }
    let mut resumed = Stream::open(&app, "", &token, Some(last_seen)).await;
    runner_post(&app, &run, &runner, "status", json!({"progress": 0.4})).await;
    let messages = resumed.take(4).await;
    let progress: Vec<Value> = messages
        .iter()
        .map(|m| m.data["data"]["progress"].clone())
        .collect();
    assert_eq!(progress, [json!(0.1), json!(0.2), json!(0.3), json!(0.4)]);
    assert!(messages[0].id.unwrap() > last_seen);
    assert!(
        resumed
            .next_within(Duration::from_millis(500))
            .await
            .is_none(),
        "a duplicate arrived"
    );

    // The query parameter works the same for clients that cannot set headers.
    let mut by_query = Stream::open(&app, &format!("?lastEventId={last_seen}"), &token, None).await;
    assert_eq!(by_query.take(4).await.len(), 4);
}

#[tokio::test]
async fn an_unknown_or_forgotten_position_gets_a_resync() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "a"})).await;
    let mut ahead = Stream::open(&app, "", &token, Some(1_000_000)).await;
    let message = ahead.next().await.unwrap();
    assert_eq!(message.event, "resync");
    assert_eq!(message.data["data"]["reason"], json!("unknown_event_id"));
    let head = message.id.unwrap();

    // Changes older than the retention period are forgotten.
    store::db::sql::query("UPDATE changes SET created_at = 0")
        .execute(app.db.writer())
        .await
        .unwrap();
    app.create_run(&token, json!({"agent": "a"})).await;
    let removed = app.prune_in(0).await.changes;
    assert!(removed >= 1);
    let mut behind = Stream::open(&app, "", &token, Some(0)).await;
    let message = behind.next().await.unwrap();
    assert_eq!(message.event, "resync");
    assert_eq!(message.data["data"]["reason"], json!("too_old"));
    assert!(message.id.unwrap() > head);
}

#[tokio::test]
async fn a_change_is_announced_only_once_committed() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let mut stream = Stream::open(&app, "", &token, None).await;
    let mut tx = app.db.begin_write().await.unwrap();
    store::db::changes::record(
        &mut tx,
        account,
        None,
        &model::ChangeData::Resync(model::Resync {
            reason: "uncommitted".to_string(),
        }),
    )
    .await
    .unwrap();
    // The server reads the log at least once a second; nothing may show yet.
    assert!(stream
        .next_within(Duration::from_millis(1500))
        .await
        .is_none());
    tx.commit().await.unwrap();
    let message = stream.next_within(Duration::from_secs(3)).await.unwrap();
    assert_eq!(message.data["data"]["reason"], json!("uncommitted"));
}

#[tokio::test]
async fn idle_streams_get_heartbeats() {
    let app = spawn_app_with(|config| config.heartbeat_secs = 1).await;
    let token = app.owner_token().await;
    let mut stream = Stream::open(&app, "", &token, None).await;
    assert!(stream
        .next_within(Duration::from_millis(2500))
        .await
        .is_none());
    assert!(
        stream.comments.iter().filter(|c| *c == "heartbeat").count() >= 2,
        "{:?}",
        stream.comments
    );
}

#[tokio::test]
async fn bad_stream_parameters_are_a_400_naming_them() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    for (query, field) in [
        ("?lastEventId=soon", "lastEventId"),
        ("?runId=42", "runId"),
        ("?since=3", "since"),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/events/stream{query}"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["field"], json!(field), "{body}");
    }
}

#[tokio::test]
async fn shutting_down_ends_open_streams() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let mut stream = Stream::open(&app, "", &token, None).await;
    let restarted = tokio::time::timeout(Duration::from_secs(10), app.restart(|_| {}))
        .await
        .expect("graceful shutdown waited for the open stream");
    // The old stream ended; the new server serves streams again.
    assert!(stream.next_within(Duration::from_secs(2)).await.is_none());
    let token = restarted.owner_token().await;
    Stream::open(&restarted, "", &token, None).await;
}
