//! The server-rendered runs list: newest first, filtered, scoped to the account.

use crate::helpers::*;
use model::RunStatus;
use serde_json::json;
use store::db::runs::{insert_run, NewRun};

fn run(agent: &str, status: RunStatus, summary: &str, created_at: i64) -> NewRun {
    let mut run = NewRun::requested(agent, json!({"company_name": "Stripe"}));
    run.status = status;
    run.initiator = Some("test".to_string());
    run.summary = Some(summary.to_string());
    run.created_at = created_at;
    run.started_at = Some(created_at + 1_000);
    run.completed_at = status.is_terminal().then_some(created_at + 61_000);
    run
}

async fn insert(app: &TestApp, account_pk: model::AccountPk, runs: &[NewRun]) {
    let mut tx = app.db.begin_write().await.unwrap();
    for new_run in runs {
        insert_run(&mut tx, account_pk, new_run).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("{needle} not in page"))
}

#[tokio::test]
async fn the_runs_list_shows_the_accounts_runs_newest_first() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let base = 1_780_000_000_000;
    insert(
        &app,
        account,
        &[
            run("alpha-agent", RunStatus::Completed, "oldest run", base),
            run("beta-agent", RunStatus::Failed, "middle run", base + 60_000),
            run(
                "gamma-agent",
                RunStatus::Running,
                "newest run",
                base + 120_000,
            ),
        ],
    )
    .await;
    app.login_owner().await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(position(&html, "newest run") < position(&html, "middle run"));
    assert!(position(&html, "middle run") < position(&html, "oldest run"));
    assert!(html.contains("gamma-agent"));
    assert!(html.contains("1m 00s"), "duration of the finished runs");
    assert!(html.contains("1–3 of 3"));
}

#[tokio::test]
async fn the_status_filter_is_applied_by_the_server() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let base = 1_780_000_000_000;
    insert(
        &app,
        account,
        &[
            run("agent", RunStatus::Completed, "a completed run", base),
            run("agent", RunStatus::Failed, "a failed run", base + 1),
            run("agent", RunStatus::Cancelled, "a cancelled run", base + 2),
        ],
    )
    .await;
    app.login_owner().await;
    let html = app.get("/?status=failed").await.text().await.unwrap();
    assert!(html.contains("a failed run"));
    assert!(!html.contains("a completed run"));
    assert!(!html.contains("a cancelled run"));

    let html = app
        .get("/?status=failed,cancelled")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("a failed run") && html.contains("a cancelled run"));
    assert!(!html.contains("a completed run"));
}

#[tokio::test]
async fn another_accounts_runs_are_never_listed() {
    let app = spawn_app().await;
    let mut tx = app.db.begin_write().await.unwrap();
    let other = store::db::accounts::create_account(&mut tx, "Other")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    insert(
        &app,
        other,
        &[run("agent", RunStatus::Completed, "someone else's run", 1)],
    )
    .await;
    app.login_owner().await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(!html.contains("someone else's run"));
    assert!(
        html.contains("No runs yet"),
        "the empty state explains what to do"
    );
}

#[tokio::test]
async fn pages_of_twenty_link_to_older_runs_by_keyset() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let runs: Vec<NewRun> = (0..25)
        .map(|index| {
            run(
                "agent",
                RunStatus::Completed,
                &format!("run number {index:02}"),
                1_000 + index,
            )
        })
        .collect();
    insert(&app, account, &runs).await;
    app.login_owner().await;
    let first = app.get("/").await.text().await.unwrap();
    assert!(first.contains("run number 24") && first.contains("run number 05"));
    assert!(!first.contains("run number 04"));
    // The older page is addressed by the last run shown, not by an offset.
    let link = first
        .split("href=\"")
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .find(|href| href.contains("cursor="))
        .expect("an Older link with a cursor")
        .replace("&amp;", "&");
    let second = app.get(&link).await.text().await.unwrap();
    assert!(second.contains("run number 04") && second.contains("run number 00"));
    assert!(!second.contains("run number 05"));
    assert!(second.contains("5 older runs of 25"));
    // Offsets still work for a shared link.
    let by_offset = app.get("/?offset=20").await.text().await.unwrap();
    assert!(by_offset.contains("21–25 of 25"));
}

#[tokio::test]
async fn parameters_the_list_does_not_know_are_ignored_by_pages_and_refused_by_the_api() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let base = 1_780_000_000_000;
    insert(
        &app,
        account,
        &[
            run("agent", RunStatus::Completed, "a completed run", base),
            run("agent", RunStatus::Failed, "a failed run", base + 1),
        ],
    )
    .await;
    app.login_owner().await;
    // A link shared in chat gains tracking parameters; the page still lists, and
    // still applies the parameters it knows.
    let response = app.get("/?utm_source=slack&status=failed&ref=x").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("a failed run"), "the known filter applies");
    assert!(!html.contains("a completed run"));
    assert!(
        !html.contains("could not be loaded"),
        "no error for utm_source"
    );
    // The page's own call, as the browser makes it on every live update.
    let response = app
        .client
        .post(app.url("/fn/list_runs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=utm_source%3Dslack")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A program's typo is still a 400 naming it.
    let token = app.owner_token().await;
    let (status, body) = app
        .call(
            reqwest::Method::GET,
            "/api/runs?utm_source=slack",
            &token,
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("utm_source"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_status_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    app.login_owner().await;
    let response = app
        .client
        .post(app.url("/fn/list_runs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=status%3Ddone")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("status") && body.contains("`done`"), "{body}");

    let page = app.get("/?status=done").await.text().await.unwrap();
    assert!(
        page.contains("unknown status"),
        "the page explains the bad filter"
    );
}

#[tokio::test]
async fn the_runs_chart_counts_each_day_by_status() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let now = store::db::now_ms();
    insert(
        &app,
        account,
        &[
            run("agent", RunStatus::Failed, "today's failure", now - 1_000),
            run(
                "agent",
                RunStatus::Completed,
                "today's success",
                now - 2_000,
            ),
            run(
                "agent",
                RunStatus::Completed,
                "ancient",
                now - 90 * 86_400_000,
            ),
        ],
    )
    .await;
    app.login_owner().await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(
        html.contains("Runs created per day over 14 days: 2 in all"),
        "the 90-day-old run is outside the chart"
    );
    assert!(html.contains("chart-bar status-failed"));
    assert!(html.contains("chart-bar status-completed"));
    // A short range is charted by the hour: 25 bars from the hour a day ago.
    let html = app.get("/?createdAfter=-24h").await.text().await.unwrap();
    assert!(
        html.contains("Runs created per hour (UTC) over 25 hours: 2 in all"),
        "{}",
        html.split("aria-label=\"Runs created")
            .nth(1)
            .unwrap_or("no chart")
    );
    let html = app.get("/?createdAfter=-1h").await.text().await.unwrap();
    assert!(html.contains("per 5 minutes (UTC) over 13 5-minute periods: 2 in all"));
}

#[tokio::test]
async fn the_server_rendered_run_page_carries_the_first_page_of_its_log() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "logger"})).await;
    let events: Vec<serde_json::Value> = (1..=120)
        .map(|i| json!({"eventType": "agent.progress", "message": format!("ssr line {i}.")}))
        .collect();
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/runner/runs/{id}/events"),
            &runner,
            Some(json!({ "events": events })),
        )
        .await;
    assert_eq!(status, 200);
    app.login_owner().await;
    // Every time, not only when the nested load happens to finish first.
    for _ in 0..5 {
        let html = app.get(&format!("/runs/{id}")).await.text().await.unwrap();
        assert!(
            html.contains("ssr line 1."),
            "the log's first page is missing"
        );
        assert!(html.contains("ssr line 100."));
        assert!(
            !html.contains("ssr line 101."),
            "more than one page was rendered"
        );
        assert!(html.contains("Load more"));
    }
}

#[tokio::test]
async fn every_committed_write_shows_on_the_next_page_view() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let base = 1_780_000_000_000;
    insert(
        &app,
        account,
        &[run("alpha-agent", RunStatus::Completed, "first run", base)],
    )
    .await;
    app.login_owner().await;
    let before = app.get("/").await.text().await.unwrap();
    assert!(before.contains("1–1 of 1"), "the list is read once");
    // The page is kept in memory between writes; a commit must drop it at once.
    insert(
        &app,
        account,
        &[run("beta-agent", RunStatus::Failed, "second run", base + 1)],
    )
    .await;
    let after = app.get("/").await.text().await.unwrap();
    assert!(after.contains("second run") && after.contains("1–2 of 2"));

    // A write by another process on the same file (its own `Db`, as the CLI
    // has) reaches the page too: the live stream's tail sees its change.
    let other = store::db::Db::connect(&app.database_url()).await.unwrap();
    let request = store::db::runs::CreateRun {
        agent: "gamma-agent".to_string(),
        ..Default::default()
    };
    store::db::runs::create_run(
        &other,
        &store::db::audit::Actor::system(account, model::Via::System),
        request,
    )
    .await
    .unwrap();
    let mut seen = false;
    for _ in 0..40 {
        if app
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("gamma-agent")
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    other.close().await;
    assert!(seen, "another process's run appears within four seconds");
}
