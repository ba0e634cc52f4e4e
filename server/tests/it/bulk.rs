//! Bulk actions by query: exact previews that change nothing, each action's
//! effect through the single-run rule, runs that changed before they were
//! reached counted as skipped, a job stopped mid-way finishing after a restart
//! with exact counts, cancellation, account scoping and bad input.

use crate::helpers::*;
use model::{AccountPk, RunStatus};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use store::db::runs::{self, NewRun};

/// Inserts `count` runs of `agent` with `status` (and `tags`) straight into the
/// database; returns their keys.
async fn insert_runs(
    app: &TestApp,
    account: AccountPk,
    agent: &str,
    count: usize,
    status: RunStatus,
    tags: &[&str],
) -> Vec<model::RunPk> {
    let mut tx = app.db.begin_write().await.unwrap();
    let mut keys = Vec::new();
    for index in 0..count {
        let mut run = NewRun::requested(agent, json!({"n": index}));
        run.status = status;
        run.tags = tags.iter().map(|tag| tag.to_string()).collect();
        keys.push(runs::insert_run(&mut tx, account, &run).await.unwrap().0);
    }
    tx.commit().await.unwrap();
    keys
}

async fn bulk(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.call(Method::POST, "/api/runs/bulk", token, Some(body))
        .await
}

/// Starts a job; returns its id.
async fn start(app: &TestApp, token: &str, body: Value) -> String {
    let (status, answer) = bulk(app, token, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["data"]["status"], "queued", "{answer}");
    answer["data"]["id"].as_str().unwrap().to_string()
}

async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) = app
        .call(Method::GET, &format!("/api/bulk-jobs/{id}"), token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// The job once it is finished (the worker polls every second).
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let job = job(app, token, id).await;
        if ["done", "cancelled", "failed"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bulk job {id} did not finish within 10 s");
}

fn counts(job: &Value) -> (i64, i64, i64, i64) {
    (
        job["matched"].as_i64().unwrap(),
        job["done"].as_i64().unwrap(),
        job["skipped"].as_i64().unwrap(),
        job["failed"].as_i64().unwrap(),
    )
}

async fn job_pk(app: &TestApp, id: &str) -> i64 {
    store::db::sql::query_scalar("SELECT pk FROM bulk_jobs WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

fn artifact_store(app: &TestApp) -> store::storage::Store {
    store::storage::Store::local(app.artifact_dir()).unwrap()
}

async fn statuses(app: &TestApp, agent: &str) -> Vec<(String, i64)> {
    store::db::sql::query_as(
        "SELECT r.status, count(*) FROM runs r JOIN agents a ON a.pk = r.agent_pk
         WHERE a.slug = ? GROUP BY r.status ORDER BY r.status",
    )
    .bind(agent)
    .fetch_all(&app.db.read)
    .await
    .unwrap()
}

/// Everything a preview could have changed.
async fn fingerprint(app: &TestApp) -> (i64, i64, String, i64, i64, i64) {
    let sql = |concat: &str| {
        format!(
            "SELECT (SELECT count(*) FROM runs),
                    (SELECT CAST(coalesce(sum(updated_at), 0) AS BIGINT) FROM runs),
                    (SELECT coalesce({concat}, '') FROM runs),
                    (SELECT count(*) FROM run_tags), (SELECT count(*) FROM bulk_jobs),
                    (SELECT count(*) FROM audit_log)"
        )
    };
    store::db::sql::query_as(sql("group_concat(tags, ';')"))
        .postgres(sql("string_agg(tags, ';' ORDER BY pk)"))
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dry_run_counts_exactly_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    insert_runs(&app, account, "crawler", 30, RunStatus::Running, &[]).await;
    insert_runs(&app, account, "crawler", 15, RunStatus::Failed, &["x"]).await;
    insert_runs(&app, account, "crawler", 5, RunStatus::Cancelled, &[]).await;
    insert_runs(&app, account, "crawler", 7, RunStatus::Completed, &[]).await;
    let full: Vec<String> = (0..20).map(|n| format!("t{n}")).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    insert_runs(&app, account, "crawler", 3, RunStatus::Completed, &full).await;
    insert_runs(&app, account, "other", 11, RunStatus::Running, &[]).await;
    let before = fingerprint(&app).await;
    let crawler = json!({"agent": "crawler"});
    for (body, matched, would_change) in [
        (json!({"action": "cancel", "filter": crawler}), 60, 30),
        (json!({"action": "retry", "filter": crawler}), 60, 20),
        (json!({"action": "delete", "filter": crawler}), 60, 60),
        (
            json!({"action": "tag", "tag": "x", "filter": crawler}),
            60,
            42,
        ),
        (
            json!({"action": "untag", "tag": "x", "filter": crawler}),
            60,
            15,
        ),
        (
            json!({"action": "cancel", "filter": {"status": "running,failed"}}),
            56,
            41,
        ),
        (json!({"action": "delete"}), 71, 71),
        (
            json!({"action": "cancel", "filter": {"agent": "nobody"}}),
            0,
            0,
        ),
        // The query language, alone and beside the filter.
        (
            json!({"action": "cancel", "q": "agent:crawler status:running"}),
            30,
            30,
        ),
        (
            json!({"action": "retry", "q": "agent:crawler (status:failed OR status:cancelled)"}),
            20,
            20,
        ),
        (
            json!({"action": "retry", "q": "-tag:x", "filter": {"agent": "crawler"}}),
            45,
            5,
        ),
        (
            json!({"action": "untag", "tag": "x", "q": "tag:x OR agent:other"}),
            26,
            15,
        ),
    ] {
        let mut body = body;
        body["dryRun"] = json!(true);
        let (status, answer) = bulk(&app, &token, body.clone()).await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(
            answer["data"],
            json!({"matched": matched, "wouldChange": would_change}),
            "{body}"
        );
    }
    assert_eq!(fingerprint(&app).await, before, "a preview changes nothing");
}

#[tokio::test]
async fn each_action_changes_what_it_applies_to_and_the_rest_follows() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let mut stream = Stream::open(&app, "", &token, None).await;

    // cancel: through the single status rule, so the webhook is queued.
    let receiver = "http://127.0.0.1:9/hook";
    let (hooked, _) = app
        .create_run(&token, json!({"agent": "crawler", "webhookUrl": receiver}))
        .await;
    insert_runs(&app, account, "crawler", 40, RunStatus::Running, &[]).await;
    insert_runs(&app, account, "crawler", 10, RunStatus::Failed, &[]).await;
    insert_runs(&app, account, "other", 5, RunStatus::Running, &[]).await;
    let id = start(
        &app,
        &token,
        json!({"action": "cancel", "filter": {"agent": "crawler"}}),
    )
    .await;
    let done = finished(&app, &token, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(counts(&done), (51, 41, 10, 0), "{done}");
    assert!(done["finishedAt"].is_string());
    assert_eq!(
        statuses(&app, "crawler").await,
        vec![("cancelled".into(), 41), ("failed".into(), 10)]
    );
    assert_eq!(statuses(&app, "other").await, vec![("running".into(), 5)]);
    let hooks: i64 = store::db::sql::query_scalar(
        "SELECT count(*) FROM outbox o JOIN runs r ON r.pk = o.run_pk WHERE o.kind = 'webhook' AND r.id = ?",
    )
    .bind(&hooked)
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(hooks, 1, "the cancelled run's webhook is queued");
    // The live stream heard of the job and of each run.
    let mut job_states = Vec::new();
    let mut run_updates = 0;
    while let Some(message) = stream.next().await {
        match message.event.as_str() {
            "bulk_job.changed" => job_states.push(message.data["data"]["status"].clone()),
            "run.updated" => run_updates += 1,
            _ => {}
        }
        if job_states.last() == Some(&json!("done")) {
            break;
        }
    }
    assert_eq!(job_states.first(), Some(&json!("queued")));
    assert_eq!(job_states.last(), Some(&json!("done")));
    assert_eq!(run_updates, 41);

    // retry: a new attempt of each failed or cancelled run.
    let id = start(
        &app,
        &token,
        json!({"action": "retry", "filter": {"agent": "crawler", "status": "failed"}}),
    )
    .await;
    let done = finished(&app, &token, &id).await;
    assert_eq!(counts(&done), (10, 10, 0, 0), "{done}");
    let retried: i64 = store::db::sql::query_scalar(
        "SELECT count(DISTINCT retry_of_pk) FROM runs WHERE retry_of_pk IS NOT NULL AND status = 'requested'",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(retried, 10);

    // tag (by a query) and untag.
    let id = start(
        &app,
        &token,
        json!({"action": "tag", "tag": "nightly", "q": "agent:other"}),
    )
    .await;
    assert_eq!(counts(&finished(&app, &token, &id).await), (5, 5, 0, 0));
    let (status, page) = app
        .call(Method::GET, "/api/runs?agent=other", &token, None)
        .await;
    assert_eq!(status, 200);
    for run in page["data"]["runs"].as_array().unwrap() {
        assert_eq!(run["tags"], json!(["nightly"]));
    }
    let id = start(&app, &token, json!({"action": "untag", "tag": "nightly"})).await;
    assert_eq!(counts(&finished(&app, &token, &id).await).1, 5);
    let tagged: i64 = store::db::sql::query_scalar("SELECT count(*) FROM run_tags")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(tagged, 0);

    // delete: the matching runs, nothing else.
    let id = start(
        &app,
        &token,
        json!({"action": "delete", "filter": {"agent": "crawler", "status": "cancelled"}}),
    )
    .await;
    assert_eq!(counts(&finished(&app, &token, &id).await), (41, 41, 0, 0));
    assert_eq!(
        statuses(&app, "crawler").await,
        vec![("failed".into(), 10), ("requested".into(), 10)]
    );

    // Every job is listed, newest first; creating each was audited.
    let (status, list) = app.call(Method::GET, "/api/bulk-jobs", &token, None).await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = list["data"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["action"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["delete", "untag", "tag", "retry", "cancel"]);
    let (_, audit) = app
        .call(Method::GET, "/api/audit?action=bulk.create", &token, None)
        .await;
    let entries = audit["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5, "{audit}");
    assert_eq!(entries[4]["detail"]["action"], "cancel");
    assert_eq!(entries[4]["detail"]["matched"], 51);
    assert_eq!(entries[4]["detail"]["filter"], json!({"agent": "crawler"}));
}

#[tokio::test]
async fn runs_that_changed_before_they_were_reached_are_skipped() {
    let app = spawn_app_with(|config| config.bulk_worker = false).await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(app.create_run(&token, json!({"agent": "crawler"})).await);
    }
    let id = start(
        &app,
        &token,
        json!({"action": "cancel", "filter": {"agent": "crawler"}}),
    )
    .await;
    assert_eq!(counts(&job(&app, &token, &id).await), (10, 0, 0, 0));
    // After the preview and the start, three runs finish on their own and one is deleted.
    for (run, runner) in &ids[..3] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/runner/runs/{run}/status"),
                runner,
                Some(json!({"status": "completed"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let pk = job_pk(&app, &id).await;
    let job_now = store::db::bulk::open_job(&app.db.read, pk)
        .await
        .unwrap()
        .unwrap();
    // The worker has read the next runs; one is deleted before its transaction.
    let keys = {
        let mut conn = app.db.read.acquire().await.unwrap();
        runs::keys_below(
            &mut conn,
            account,
            job_now.filter.as_ref().unwrap(),
            job_now.next,
            100,
        )
        .await
        .unwrap()
    };
    assert_eq!(keys.len(), 10);
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/runs/{}", ids[9].0),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let applied = store::db::bulk::apply_batch(&app.db, &job_now, &keys, true)
        .await
        .unwrap();
    assert_eq!((applied.done, applied.skipped, applied.failed), (6, 4, 0));
    let done = job(&app, &token, &id).await;
    assert_eq!(done["status"], "done");
    assert_eq!(counts(&done), (10, 6, 4, 0));
    assert_eq!(
        statuses(&app, "crawler").await,
        vec![("cancelled".into(), 6), ("completed".into(), 3)]
    );

    // A tag the run has already is skipped; a 21st tag fails, alone.
    let full: Vec<String> = (0..20).map(|n| format!("t{n}")).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    insert_runs(&app, account, "tagged", 2, RunStatus::Completed, &["x"]).await;
    insert_runs(&app, account, "tagged", 1, RunStatus::Completed, &full).await;
    insert_runs(&app, account, "tagged", 4, RunStatus::Completed, &[]).await;
    let id = start(
        &app,
        &token,
        json!({"action": "tag", "tag": "x", "filter": {"agent": "tagged"}}),
    )
    .await;
    let store = artifact_store(&app);
    let step = store::bulk::step(&app.db, &store, job_pk(&app, &id).await, 100)
        .await
        .unwrap();
    assert!(step.finished);
    let done = job(&app, &token, &id).await;
    assert_eq!(counts(&done), (7, 4, 2, 1), "{done}");
    let full_run: String = store::db::sql::query_scalar(
        "SELECT r.tags FROM runs r JOIN agents a ON a.pk = r.agent_pk
         WHERE a.slug = 'tagged' AND json_array_length(r.tags) = 20",
    )
    .postgres(
        "SELECT r.tags FROM runs r JOIN agents a ON a.pk = r.agent_pk
         WHERE a.slug = 'tagged' AND json_array_length(CAST(r.tags AS json)) = 20",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert!(!full_run.contains("\"x\""), "the full run kept its 20 tags");
}

#[tokio::test]
async fn a_job_stopped_midway_goes_on_after_a_restart_with_exact_counts() {
    let app = spawn_app_with(|config| config.bulk_worker = false).await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    insert_runs(&app, account, "crawler", 120, RunStatus::Failed, &[]).await;
    insert_runs(&app, account, "crawler", 30, RunStatus::Completed, &[]).await;
    let id = start(
        &app,
        &token,
        json!({"action": "retry", "filter": {"agent": "crawler"}}),
    )
    .await;
    // Two transactions of 40 runs, as the worker would make them; then the server stops.
    let store = artifact_store(&app);
    let pk = job_pk(&app, &id).await;
    for _ in 0..2 {
        let step = store::bulk::step(&app.db, &store, pk, 40).await.unwrap();
        assert_eq!((step.rows, step.finished), (40, false));
    }
    let midway = job(&app, &token, &id).await;
    assert_eq!(midway["status"], "running");
    let (_, done, skipped, _) = counts(&midway);
    assert_eq!(done + skipped, 80);

    let app = app.restart(|config| config.bulk_worker = true).await;
    let token = app.owner_token().await;
    let end = finished(&app, &token, &id).await;
    assert_eq!(end["status"], "done", "{end}");
    assert_eq!(counts(&end), (150, 120, 30, 0), "{end}");
    // Each failed run was retried exactly once, across the restart.
    let attempts: Vec<(i64, i64)> = store::db::sql::query_as(
        "SELECT retry_of_pk, count(*) FROM runs WHERE retry_of_pk IS NOT NULL GROUP BY retry_of_pk",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    assert_eq!(attempts.len(), 120);
    assert!(attempts.iter().all(|(_, count)| *count == 1));
}

#[tokio::test]
async fn a_cancelled_job_does_nothing_more() {
    let app = spawn_app_with(|config| config.bulk_worker = false).await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    insert_runs(&app, account, "crawler", 40, RunStatus::Running, &[]).await;
    let id = start(
        &app,
        &token,
        json!({"action": "cancel", "filter": {"agent": "crawler"}}),
    )
    .await;
    let store = artifact_store(&app);
    let pk = job_pk(&app, &id).await;
    store::bulk::step(&app.db, &store, pk, 10).await.unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/bulk-jobs/{id}/cancel"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    assert_eq!(counts(&body["data"]), (40, 10, 0, 0));
    assert!(
        store::bulk::step(&app.db, &store, pk, 10)
            .await
            .unwrap()
            .finished
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/bulk-jobs/{id}/cancel"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "job_finished");

    let app = app.restart(|config| config.bulk_worker = true).await;
    let token = app.owner_token().await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = job(&app, &token, &id).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(counts(&after), (40, 10, 0, 0));
    assert_eq!(
        statuses(&app, "crawler").await,
        vec![("cancelled".into(), 10), ("running".into(), 30)]
    );
    let (_, audit) = app
        .call(Method::GET, "/api/audit?action=bulk.cancel", &token, None)
        .await;
    let entries = audit["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["targetId"], id);
    assert_eq!(entries[0]["detail"]["done"], 10);
}

#[tokio::test]
async fn jobs_and_their_runs_belong_to_one_account() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let other = app.other_account_token().await;
    let account = app.owner_account().await;
    insert_runs(&app, account, "crawler", 5, RunStatus::Running, &[]).await;
    for _ in 0..3 {
        app.create_run(&other, json!({"agent": "crawler"})).await;
    }
    let (_, preview) = bulk(&app, &other, json!({"action": "cancel", "dryRun": true})).await;
    assert_eq!(preview["data"]["matched"], 3);
    let id = start(
        &app,
        &token,
        json!({"action": "cancel", "filter": {"agent": "crawler"}}),
    )
    .await;
    assert_eq!(counts(&finished(&app, &token, &id).await), (5, 5, 0, 0));
    let theirs: i64 =
        store::db::sql::query_scalar("SELECT count(*) FROM runs WHERE status = 'requested'")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(theirs, 3, "the other account's runs are untouched");
    for (method, path) in [
        (Method::GET, format!("/api/bulk-jobs/{id}")),
        (Method::POST, format!("/api/bulk-jobs/{id}/cancel")),
    ] {
        let (status, body) = app.call(method, &path, &other, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (_, list) = app.call(Method::GET, "/api/bulk-jobs", &other, None).await;
    assert_eq!(list["data"]["jobs"], json!([]));
}

/// The dashboard's "Run on N selected" sends the ticked rows as `id:`: the job
/// covers exactly those runs of the caller's account, whatever else matches.
#[tokio::test]
async fn selected_runs_by_id_are_exactly_what_a_job_changes() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let other = app.other_account_token().await;
    let account = app.owner_account().await;
    insert_runs(&app, account, "crawler", 10, RunStatus::Running, &[]).await;
    let (theirs, _) = app.create_run(&other, json!({"agent": "crawler"})).await;
    let ids: Vec<String> = store::db::sql::query_scalar(
        "SELECT id FROM runs WHERE account_pk = ? ORDER BY pk LIMIT 3",
    )
    .bind(account)
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    let q = format!("id:{},{theirs}", ids.join(","));
    let (status, preview) = bulk(
        &app,
        &token,
        json!({"action": "cancel", "q": q, "dryRun": true}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["data"],
        json!({"matched": 3, "wouldChange": 3}),
        "another account's run id matches nothing"
    );
    let id = start(&app, &token, json!({"action": "cancel", "q": q})).await;
    assert_eq!(counts(&finished(&app, &token, &id).await), (3, 3, 0, 0));
    let cancelled: Vec<String> = store::db::sql::query_scalar(
        "SELECT id FROM runs WHERE account_pk = ? AND status = 'cancelled' ORDER BY pk",
    )
    .bind(account)
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    assert_eq!(cancelled, ids, "exactly the selected runs");
    assert_eq!(
        statuses(&app, "crawler").await,
        vec![
            ("cancelled".to_string(), 3),
            ("requested".to_string(), 1),
            ("running".to_string(), 7)
        ]
    );
    let (_, run) = app
        .call(Method::GET, &format!("/api/runs/{theirs}"), &other, None)
        .await;
    assert_eq!(run["data"]["status"], "requested", "{run}");
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field_and_roles_apply() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    for (body, field) in [
        (json!({"action": "explode"}), "action"),
        (json!({"q": ""}), "action"),
        (json!({"action": "tag"}), "tag"),
        (json!({"action": "untag", "tag": " "}), "tag"),
        (json!({"action": "tag", "tag": "x".repeat(65)}), "tag"),
        (json!({"action": "cancel", "tag": "x"}), "tag"),
        (json!({"action": "cancel", "q": "status:(failed"}), "q"),
        (json!({"action": "cancel", "q": "created:>yesterday"}), "q"),
        (
            json!({"action": "cancel", "filter": {"status": "sleeping"}}),
            "filter.status",
        ),
        (
            json!({"action": "cancel", "filter": {"colour": "red"}}),
            "filter.colour",
        ),
        (
            json!({"action": "cancel", "filter": {"limit": "5"}}),
            "filter.limit",
        ),
        (
            json!({"action": "cancel", "filter": {"status": 5}}),
            "filter.status",
        ),
        (json!({"action": "cancel", "dryRun": "yes"}), "dryRun"),
        (json!({"action": "cancel", "colour": "red"}), "colour"),
    ] {
        for dry_run in [false, true] {
            let mut body = body.clone();
            if dry_run && body.get("dryRun").is_none() {
                body["dryRun"] = json!(true);
            }
            let (status, answer) = bulk(&app, &token, body.clone()).await;
            assert_eq!(status, 400, "{body}: {answer}");
            assert_eq!(answer["error"]["code"], "invalid", "{body}");
            assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        }
    }
    let (status, body) = app
        .call(Method::GET, "/api/bulk-jobs/not-a-job", &token, None)
        .await;
    assert_eq!(status, 404, "{body}");
    let count: i64 = store::db::sql::query_scalar("SELECT count(*) FROM bulk_jobs")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(count, 0, "no job from a bad request");

    // A member may cancel in bulk but not delete; a viewer may only read.
    for (role, email) in [
        (model::Role::Member, "m@example.com"),
        (model::Role::Viewer, "v@example.com"),
    ] {
        store::auth::add_user(&app.db, email, "a-long-password-1", None, role)
            .await
            .unwrap();
        let person = app.api_token_for(email, "a-long-password-1").await;
        for (body, allowed) in [
            (
                json!({"action": "cancel", "dryRun": true}),
                role == model::Role::Member,
            ),
            (json!({"action": "delete", "dryRun": true}), false),
            (json!({"action": "delete"}), false),
        ] {
            let (status, answer) = bulk(&app, &person, body.clone()).await;
            if allowed {
                assert_eq!(status, 200, "{role} {body}: {answer}");
            } else {
                assert_eq!(status, 403, "{role} {body}: {answer}");
            }
        }
        let (status, _) = app.call(Method::GET, "/api/bulk-jobs", &person, None).await;
        assert_eq!(status, 200);
    }
}
