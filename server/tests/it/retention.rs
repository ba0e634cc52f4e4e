//! Retention: the policy API (owners; bad days, fields and slugs refused naming
//! the field, nothing changed), pins, and pruning — old runs deleted with their
//! files, failed runs kept longer, per-agent overrides, pinned and unfinished
//! runs kept, events and artifacts removed from runs that stay (whose logs say
//! so), the counters, text search and change log kept consistent, small
//! transactions, `runboard prune --dry-run`, the background task and the storage
//! report.

use crate::helpers::*;
use model::RunPk;
use reqwest::Method;
use serde_json::{json, Value};
use store::db::runs::{self, NewRun};
use store::db::sql::Pool;

/// A test server that prunes only when the test says so.
async fn quiet_app() -> TestApp {
    spawn_app_with(|config| config.prune_secs = 0).await
}

async fn put_policy(app: &TestApp, token: &str, policy: Value) -> (u16, Value) {
    app.call(Method::PUT, "/api/retention", token, Some(policy))
        .await
}

/// A run of `agent` that ran, logged `words` as events, uploaded one file, and
/// ended with `status` (`running` leaves it in flight).
async fn run_with(app: &TestApp, token: &str, agent: &str, status: &str, words: &[&str]) -> String {
    let (id, runner) = app.create_run(token, json!({"agent": agent})).await;
    let post = |path: String, body: Value| {
        let runner = runner.clone();
        async move {
            let (code, answer) = app.call(Method::POST, &path, &runner, Some(body)).await;
            assert!((200..300).contains(&code), "{path}: {code} {answer}");
        }
    };
    post(
        format!("/api/runner/runs/{id}/status"),
        json!({"status": "running"}),
    )
    .await;
    let events: Vec<Value> = words
        .iter()
        .map(|word| json!({"eventType": "agent.progress", "message": format!("working on {word}")}))
        .collect();
    if !events.is_empty() {
        post(
            format!("/api/runner/runs/{id}/events"),
            json!({"events": events}),
        )
        .await;
    }
    let response = app
        .upload_file(
            &id,
            &runner,
            "report",
            (
                "report.txt",
                "text/plain",
                format!("report of {agent}").into_bytes(),
            ),
        )
        .await;
    assert!(response.status().is_success(), "upload");
    if status != "running" {
        let mut body = json!({"status": status});
        if status == "failed" {
            body["error"] = json!({"message": "it broke"});
        }
        post(format!("/api/runner/runs/{id}/status"), body).await;
    }
    id
}

async fn run_json(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    app.call(Method::GET, &format!("/api/runs/{id}"), token, None)
        .await
}

async fn events_of(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let (status, body) = app
        .call(Method::GET, &format!("/api/runs/{id}/events"), token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["events"].as_array().unwrap().clone()
}

async fn artifacts_of(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/artifacts"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["artifacts"].as_array().unwrap().clone()
}

/// The stored files under the artifact directory.
fn files(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.artifact_dir(), &mut out);
    out
}

/// Ids of the runs a full-text search of the runs list finds.
async fn search(app: &TestApp, token: &str, text: &str) -> Vec<String> {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs?q={text}&limit=100"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap().to_string())
        .collect()
}

/// `run_counts` says what `SELECT count(*)` says, per account, day, agent and status.
async fn assert_counts_consistent(pool: &Pool) {
    let counted: Vec<(i64, i64, i64, String, i64)> = store::db::sql::query_as(
        "SELECT account_pk, day, agent_pk, status, count FROM run_counts WHERE count <> 0
         ORDER BY 1, 2, 3, 4",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let actual: Vec<(i64, i64, i64, String, i64)> = store::db::sql::query_as(
        "SELECT account_pk, created_at / 86400000, agent_pk, status, count(*) FROM runs
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(counted, actual, "run_counts against the runs");
    let negative: i64 =
        store::db::sql::query_scalar("SELECT count(*) FROM run_counts WHERE count < 0")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(negative, 0);
}

fn is_note(event: &Value) -> bool {
    event["eventType"] == "retention.pruned"
}

#[tokio::test]
async fn runs_events_and_artifacts_go_by_the_policy_with_overrides_failures_kept_longer_and_pins() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    let old = run_with(&app, &token, "crawler", "completed", &["zebra", "giraffe"]).await;
    let failed = run_with(&app, &token, "crawler", "failed", &["zebra"]).await;
    let cancelled = run_with(&app, &token, "crawler", "cancelled", &[]).await;
    let pinned = run_with(&app, &token, "crawler", "completed", &["zebra"]).await;
    let in_flight = run_with(&app, &token, "crawler", "running", &["zebra"]).await;
    let kept_agent = run_with(&app, &token, "keeper", "completed", &["okapi"]).await;
    let brief = run_with(&app, &token, "brief", "completed", &["lemur"]).await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{pinned}/pin"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["pinned"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        run_json(&app, &token, &old).await.1["data"]["pinned"],
        false
    );
    assert_eq!(files(&app).len(), 7);

    let (status, body) = put_policy(
        &app,
        &token,
        json!({
            "keepRunsDays": 30,
            "keepFailedRunsDays": 60,
            "keepEventsDays": 7,
            "keepArtifactsDays": 14,
            "agents": {
                "keeper": {"keepRunsDays": null, "keepEventsDays": null},
                "brief": {"keepRunsDays": 2}
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(search(&app, &token, "zebra").await.len(), 4);

    // Ten days on: the `brief` agent's run is gone (its own 2 days); the other
    // ended runs lose their events (7 days) but stay, and their logs say so;
    // the keeper's events are kept (null: forever); pinned and running runs keep all.
    let pass = app.prune_in(10).await;
    assert_eq!(pass.removed().runs, 1, "{pass:?}");
    assert_eq!(run_json(&app, &token, &brief).await.0, 404);
    for id in [&old, &failed, &cancelled] {
        let (status, run) = run_json(&app, &token, id).await;
        assert_eq!(status, 200, "{id} stays");
        assert_eq!(run["data"]["pinned"], false);
        let events = events_of(&app, &token, id).await;
        if id == &cancelled {
            assert!(events.is_empty(), "a log without events gets no note");
            continue;
        }
        assert_eq!(events.len(), 1, "{id}: only the note is left: {events:?}");
        assert!(is_note(&events[0]));
        let message = events[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Events older than 7 days were pruned on "),
            "{message}"
        );
        assert_eq!(
            artifacts_of(&app, &token, id).await.len(),
            1,
            "artifacts: 14 days"
        );
    }
    let words: Vec<String> = events_of(&app, &token, &old)
        .await
        .iter()
        .map(|event| event["message"].to_string())
        .collect();
    assert!(words[0].contains("2 events removed"), "{words:?}");
    assert_eq!(events_of(&app, &token, &kept_agent).await.len(), 1);
    assert!(!is_note(&events_of(&app, &token, &kept_agent).await[0]));
    for id in [&pinned, &in_flight] {
        let events = events_of(&app, &token, id).await;
        assert!(
            events.iter().all(|event| !is_note(event)),
            "{id}: {events:?}"
        );
        assert_eq!(events.len(), 1);
    }
    // The text index forgot the pruned events: only the pinned and the running
    // run still match.
    let mut found = search(&app, &token, "zebra").await;
    found.sort();
    let mut expected = vec![pinned.clone(), in_flight.clone()];
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(files(&app).len(), 6, "the brief run's file went with it");

    // Twenty days on: artifacts (14 days) go with their files, the runs stay.
    let before = files(&app).len();
    let pass = app.prune_in(20).await;
    assert_eq!(pass.removed().runs, 0);
    assert_eq!(
        pass.removed().artifact_sets,
        4,
        "old, failed, cancelled, keeper"
    );
    assert_eq!(pass.files, 4);
    assert_eq!(files(&app).len(), before - 4);
    for id in [&old, &failed, &cancelled, &kept_agent] {
        assert!(artifacts_of(&app, &token, id).await.is_empty(), "{id}");
        let events = events_of(&app, &token, id).await;
        let note = events.last().unwrap();
        assert!(is_note(note), "{events:?}");
        assert!(
            note["message"]
                .as_str()
                .unwrap()
                .starts_with("Artifacts older than 14 days were pruned on "),
            "{note}"
        );
    }
    for id in [&pinned, &in_flight] {
        assert_eq!(artifacts_of(&app, &token, id).await.len(), 1, "{id}");
    }

    // Forty days on: completed and cancelled runs (30 days) go; the failed one
    // (60 days), the keeper's, the pinned and the running one stay.
    let pass = app.prune_in(40).await;
    assert_eq!(pass.removed().runs, 2, "{pass:?}");
    for (id, stays) in [
        (&old, false),
        (&cancelled, false),
        (&failed, true),
        (&kept_agent, true),
        (&pinned, true),
        (&in_flight, true),
    ] {
        let expected = if stays { 200 } else { 404 };
        assert_eq!(run_json(&app, &token, id).await.0, expected, "{id}");
    }
    assert_counts_consistent(&app.db.read).await;

    // Seventy days on the failed run goes too; unpinned, the pinned one follows.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/runs/{pinned}/pin"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["pinned"].as_bool()),
        (200, Some(false))
    );
    let pass = app.prune_in(70).await;
    assert_eq!(pass.removed().runs, 2);
    assert_eq!(run_json(&app, &token, &failed).await.0, 404);
    assert_eq!(run_json(&app, &token, &pinned).await.0, 404);
    assert_eq!(run_json(&app, &token, &in_flight).await.0, 200);
    assert_eq!(run_json(&app, &token, &kept_agent).await.0, 200);
    assert_counts_consistent(&app.db.read).await;
    let mut left: Vec<String> = store::db::sql::query_scalar("SELECT id FROM runs")
        .fetch_all(&app.db.read)
        .await
        .unwrap();
    left.sort();
    let mut expected = vec![in_flight.clone(), kept_agent.clone()];
    expected.sort();
    assert_eq!(left, expected);
    assert_eq!(files(&app).len(), 1, "only the running run's file is left");
    let orphans: i64 = store::db::sql::query_scalar(
        "SELECT (SELECT count(*) FROM events WHERE run_pk NOT IN (SELECT pk FROM runs))
              + (SELECT count(*) FROM artifacts WHERE run_pk NOT IN (SELECT pk FROM runs))
              + (SELECT count(*) FROM steps WHERE run_pk NOT IN (SELECT pk FROM runs))
              + (SELECT count(*) FROM run_input_fields WHERE run_pk NOT IN (SELECT pk FROM runs))
              + (SELECT count(*) FROM storage_trash)",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    assert!(search(&app, &token, "zebra").await == vec![in_flight.clone()]);

    // What each pass removed is on record for the storage page.
    let reports: i64 = store::db::sql::query_scalar("SELECT count(*) FROM prune_reports")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(reports, 4);
}

/// Inserts `runs` completed runs of `agent` that ended `days_ago`, each with
/// `events` events mentioning `word`, straight through the database layer.
async fn old_runs(
    app: &TestApp,
    agent: &str,
    runs: usize,
    events: usize,
    days_ago: i64,
    word: &str,
) -> Vec<RunPk> {
    let account = app.owner_account().await;
    let ended = store::db::now_ms() - days_ago * model::DAY_MS;
    let mut tx = app.db.begin_write().await.unwrap();
    let mut pks = Vec::new();
    for _ in 0..runs {
        let mut run = NewRun::requested(agent, json!({"company": "Acme"}));
        run.status = model::RunStatus::Completed;
        run.progress = 1.0;
        run.created_at = ended - 60_000;
        run.started_at = Some(ended - 50_000);
        run.completed_at = Some(ended);
        let (pk, _) = runs::insert_run(&mut tx, account, &run).await.unwrap();
        let batch: Vec<_> = (0..events)
            .map(|index| store::db::events::NewEvent {
                client_id: Some(format!("e{index}")),
                event_type: "agent.progress".to_string(),
                message: Some(format!("{word} step {index}")),
                metadata: None,
            })
            .collect();
        for chunk in batch.chunks(4_000) {
            store::db::events::append_events(&mut tx, pk, chunk)
                .await
                .unwrap();
        }
        pks.push(pk);
    }
    tx.commit().await.unwrap();
    pks
}

#[tokio::test]
async fn a_backlog_is_pruned_in_many_small_transactions() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    old_runs(&app, "bulk", 400, 20, 10, "quokka").await;
    // One run whose log alone is bigger than any batch: it is taken apart first.
    old_runs(&app, "bulk", 1, 6_000, 10, "wombat").await;
    let (status, body) = put_policy(&app, &token, json!({"keepRunsDays": 5})).await;
    assert_eq!(status, 200, "{body}");
    let text_rows = |word: &'static str| {
        let pool = app.db.read.clone();
        async move {
            store::db::sql::query_scalar::<i64>("SELECT key FROM event_text WHERE message MATCH ?")
                .postgres("SELECT pk FROM events WHERE search @@ plainto_tsquery('simple', ?)")
                .bind(word)
                .fetch_all(&pool)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(text_rows("quokka").await, 8_000);

    let pass = app.prune_in(0).await;
    let removed = pass.removed();
    assert_eq!((removed.runs, removed.events), (401, 14_000), "{removed:?}");
    assert!(
        pass.transactions >= 5,
        "a backlog of 14,401 rows takes several transactions, not one: {:?}",
        pass.batches
    );
    assert!(
        pass.batches.iter().all(|rows| *rows <= 20_000),
        "no transaction is sized beyond the batcher's limit: {:?}",
        pass.batches
    );
    assert!(
        pass.batches[0] <= 64,
        "the first batch of deletions starts small: {:?}",
        pass.batches
    );
    // Each transaction is sized to stay well under 50 ms; on a busy test
    // machine (an unoptimised SQLite) allow for a stall, but not for one big delete.
    assert!(
        pass.longest_hold < std::time::Duration::from_millis(500),
        "the longest hold was {:?}",
        pass.longest_hold
    );
    let left: (i64, i64) = store::db::sql::query_as(
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM events)",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    assert_eq!(left, (0, 0));
    assert_eq!(text_rows("quokka").await, 0, "the text index follows");
    // Every deleted run left a `run.deleted` change for the live stream.
    let announced: i64 =
        store::db::sql::query_scalar("SELECT count(*) FROM changes WHERE kind = 'run.deleted'")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(announced, 401);
    assert_eq!(text_rows("wombat").await, 0);
    // FTS5's own merging is on after the pass (the runs' index's was never
    // turned off: deletions leave it nothing to merge).
    let fts_tables: &[&str] = if on_postgres() {
        &[]
    } else {
        &["event_text_1", "runs_fts"]
    };
    for table in fts_tables {
        let automerge: i64 = store::db::sql::query_scalar(format!(
            "SELECT coalesce((SELECT v FROM {table}_config WHERE k = 'automerge'), 4)"
        ))
        .fetch_one(&app.db.read)
        .await
        .unwrap();
        assert_eq!(automerge, 4, "{table}");
    }
    assert_counts_consistent(&app.db.read).await;
}

#[tokio::test]
async fn a_long_log_is_pruned_in_pieces_and_the_run_stays() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    let pk = old_runs(&app, "chatty", 1, 5_000, 10, "pangolin").await[0];
    let (status, _) = put_policy(&app, &token, json!({"keepEventsDays": 3})).await;
    assert_eq!(status, 200);
    let pass = app.prune_in(0).await;
    assert_eq!(pass.removed().events, 5_000);
    assert_eq!(pass.removed().event_logs, 1);
    assert!(pass.transactions > 2, "{:?}", pass.batches);
    let left: Vec<(String, String)> =
        store::db::sql::query_as("SELECT event_type, message FROM events WHERE run_pk = ?")
            .bind(pk)
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].0, "retention.pruned");
    assert!(left[0].1.contains("5,000 events removed"), "{}", left[0].1);
    // A second pass finds nothing more to do.
    let again = app.prune_in(0).await;
    assert!(again.removed().is_empty(), "{:?}", again.removed());
}

/// Everything a dry run must leave as it was.
async fn fingerprint(app: &TestApp) -> Value {
    let row: (i64, i64, i64, i64, i64, i64, i64, i64) = store::db::sql::query_as(
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM events),
                (SELECT count(*) FROM artifacts), (SELECT count(*) FROM changes),
                (SELECT count(*) FROM prune_reports), (SELECT count(*) FROM storage_trash),
                (SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM run_counts),
                (SELECT coalesce(max(updated_at), 0) FROM runs)",
    )
    .fetch_one(&app.db.read)
    .await
    .unwrap();
    json!([
        row.0,
        row.1,
        row.2,
        row.3,
        row.4,
        row.5,
        row.6,
        row.7,
        files(app).len()
    ])
}

async fn runboard(app: &TestApp, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_runboard"))
        .args(args)
        .env("DATABASE_URL", app.database_url())
        .env("RUNBOARD_ARTIFACT_DIR", app.artifact_dir())
        .env_remove("RUNBOARD_ADMIN_EMAIL")
        .env_remove("RUNBOARD_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "runboard {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn prune_dry_run_prints_what_would_go_and_changes_nothing() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    old_runs(&app, "nightly", 3, 4, 20, "tapir").await;
    old_runs(&app, "nightly", 2, 4, 2, "tapir").await;
    let (status, _) = put_policy(
        &app,
        &token,
        json!({"keepRunsDays": 10, "keepEventsDays": 1}),
    )
    .await;
    assert_eq!(status, 200);
    let before = fingerprint(&app).await;
    let printed = runboard(&app, &["prune", "--dry-run"]).await;
    assert!(
        printed.contains("Dry run: nothing was changed."),
        "{printed}"
    );
    assert!(
        printed.contains("nightly (keeps runs 10 d, failed runs forever, events 1 d, artifacts forever): would delete 3 runs and empty the event logs of 2 runs"),
        "{printed}"
    );
    assert!(printed.contains("20 events"), "{printed}");
    assert_eq!(fingerprint(&app).await, before, "a dry run changes nothing");

    let printed = runboard(&app, &["prune"]).await;
    assert!(
        printed.contains("deleted 3 runs; removed 20 events"),
        "{printed}"
    );
    let runs: i64 = store::db::sql::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(runs, 2);
    let origin: String =
        store::db::sql::query_scalar("SELECT origin FROM prune_reports ORDER BY pk DESC LIMIT 1")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(origin, "cli");
}

#[tokio::test]
async fn bad_retention_input_is_refused_naming_the_field_and_changes_nothing() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "crawler"})).await;
    let good = json!({"keepRunsDays": 30, "agents": {"crawler": {"keepEventsDays": 2}}});
    let (status, _) = put_policy(&app, &token, good.clone()).await;
    assert_eq!(status, 200);
    let audits = || async {
        store::db::sql::query_scalar::<i64>(
            "SELECT count(*) FROM audit_log WHERE action = 'retention.update'",
        )
        .fetch_one(&app.db.read)
        .await
        .unwrap()
    };
    assert_eq!(audits().await, 1);
    let cases = [
        (json!({"keepRunsDays": 0}), "keepRunsDays"),
        (json!({"keepFailedRunsDays": -1}), "keepFailedRunsDays"),
        (json!({"keepEventsDays": 1.5}), "keepEventsDays"),
        (json!({"keepArtifactsDays": "7"}), "keepArtifactsDays"),
        (json!({"keepRunsDays": 36501}), "keepRunsDays"),
        (json!({"keepRunDays": 3}), "keepRunDays"),
        (
            json!({"agents": {"nobody": {"keepRunsDays": 3}}}),
            "agents.nobody",
        ),
        (
            json!({"agents": {"crawler": {"keepRunsDays": 0}}}),
            "agents.crawler.keepRunsDays",
        ),
        (
            json!({"agents": {"crawler": {"days": 3}}}),
            "agents.crawler.days",
        ),
        (
            json!({"agents": {"crawler": {"keepEventsDays": 2.5}}}),
            "agents.crawler.keepEventsDays",
        ),
        (json!({"agents": {"../x": {}}}), "agents"),
        (json!({"agents": []}), "agents"),
    ];
    for (body, field) in cases {
        let (status, answer) = put_policy(&app, &token, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("sqlx") && !message.contains("SELECT"),
            "{message}"
        );
    }
    let (status, stored) = app.call(Method::GET, "/api/retention", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(stored["data"]["keepRunsDays"], 30, "{stored}");
    assert_eq!(
        stored["data"]["agents"],
        json!({"crawler": {"keepEventsDays": 2}}),
        "absent override fields stay absent"
    );
    assert_eq!(
        audits().await,
        1,
        "nothing was recorded for refused requests"
    );
}

#[tokio::test]
async fn the_policy_and_pins_are_audited_and_a_default_policy_is_no_row() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    let (id, _) = app.create_run(&token, json!({"agent": "a"})).await;
    let (status, body) = app.call(Method::GET, "/api/retention", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        json!({"keepRunsDays": null, "keepFailedRunsDays": null, "keepEventsDays": null,
               "keepArtifactsDays": null, "agents": {}})
    );
    let policy = json!({"keepRunsDays": 30, "keepFailedRunsDays": 90, "keepEventsDays": 7,
                        "keepArtifactsDays": 14, "agents": {"a": {"keepRunsDays": null}}});
    let (status, body) = put_policy(&app, &token, policy.clone()).await;
    assert_eq!((status, &body["data"]), (200, &policy));
    assert_eq!(
        app.call(Method::GET, "/api/retention", &token, None)
            .await
            .1["data"],
        policy
    );
    // Pin twice, unpin once: two entries (a repeat changes nothing).
    for method in [Method::POST, Method::POST, Method::DELETE] {
        let (status, _) = app
            .call(method, &format!("/api/runs/{id}/pin"), &token, None)
            .await;
        assert_eq!(status, 200);
    }
    let actions: Vec<String> = store::db::sql::query_scalar(
        "SELECT action FROM audit_log WHERE action IN ('retention.update', 'run.pin', 'run.unpin') ORDER BY pk",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    assert_eq!(actions, ["retention.update", "run.pin", "run.unpin"]);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/runs/01900000-0000-7000-8000-000000000000/pin",
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (status, _) = put_policy(&app, &token, json!({})).await;
    assert_eq!(status, 200);
    let rows: i64 = store::db::sql::query_scalar("SELECT count(*) FROM retention_policies")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(rows, 0, "keeping everything needs no row");
}

#[tokio::test]
async fn a_crash_between_the_commit_and_the_file_deletion_leaves_the_key_for_the_next_prune() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    let id = run_with(&app, &token, "crawler", "completed", &["x"]).await;
    assert_eq!(files(&app).len(), 1);
    let pk: RunPk = store::db::sql::query_scalar("SELECT pk FROM runs WHERE id = ?")
        .bind(&id)
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    // The deleting transaction commits; the process "dies" before deleting files.
    let written = store::db::prune::delete_runs(&app.db, &[pk], store::db::now_ms())
        .await
        .unwrap();
    assert_eq!((written.counts.runs, written.trashed), (1, 1));
    let artifacts: i64 = store::db::sql::query_scalar("SELECT count(*) FROM artifacts")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(artifacts, 0, "no row points at the file any more");
    assert_eq!(files(&app).len(), 1, "the file is still there…");
    let waiting: i64 = store::db::sql::query_scalar("SELECT count(*) FROM storage_trash")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(waiting, 1, "…and known to the trash");
    // The next pass (no policy needed) deletes it and forgets it.
    let pass = app.prune_in(0).await;
    assert_eq!(pass.files, 1);
    assert!(files(&app).is_empty());
    let waiting: i64 = store::db::sql::query_scalar("SELECT count(*) FROM storage_trash")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}

#[tokio::test]
async fn deleting_a_run_by_hand_deletes_its_file_through_the_trash() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    let id = run_with(&app, &token, "crawler", "completed", &["x"]).await;
    assert_eq!(files(&app).len(), 1);
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert!(files(&app).is_empty());
    let waiting: i64 = store::db::sql::query_scalar("SELECT count(*) FROM storage_trash")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}

#[tokio::test]
async fn the_server_prunes_in_the_background() {
    let app = spawn_app_with(|config| config.prune_secs = 1).await;
    let token = app.owner_token().await;
    old_runs(&app, "stale", 2, 3, 9, "dingo").await;
    let (status, _) = put_policy(&app, &token, json!({"keepRunsDays": 3})).await;
    assert_eq!(status, 200);
    // The pass after the policy removes them and records it (the report is
    // written after the deletions commit, so wait for the report).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = app.call(Method::GET, "/api/storage", &token, None).await;
        assert_eq!(status, 200, "{body}");
        let prunes = body["data"]["lastPrunes"].as_array().unwrap().clone();
        if prunes
            .iter()
            .any(|prune| prune["origin"] == "server" && prune["removed"]["runs"] == 2)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background prune removed the runs: {prunes:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let runs: i64 = store::db::sql::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(runs, 0);
}

#[tokio::test]
async fn the_storage_report_shows_size_rows_artifacts_what_goes_next_and_the_last_prunes() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    run_with(&app, &token, "crawler", "completed", &["a", "b"]).await;
    run_with(&app, &token, "designer", "completed", &["c"]).await;
    old_runs(&app, "crawler", 3, 5, 40, "old").await;
    old_runs(&app, "designer", 2, 5, 10, "old").await;
    let (status, _) = put_policy(
        &app,
        &token,
        json!({"keepRunsDays": 30, "keepEventsDays": 7}),
    )
    .await;
    assert_eq!(status, 200);
    // The census (rows, artifact bytes) comes from a pass; this one removes
    // nothing (as if it ran before the policy's days were up).
    let pass = app.prune_in(-100).await;
    assert!(pass.removed().is_empty());
    let (status, body) = app.call(Method::GET, "/api/storage", &token, None).await;
    assert_eq!(status, 200, "{body}");
    let report = &body["data"];
    assert!(report["databaseBytes"].as_i64().unwrap() > 0);
    assert!(report["walBytes"].as_i64().is_some());
    let rows = |table: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["table"] == table)
            .map(|row| row["rows"].as_i64().unwrap())
    };
    assert_eq!(rows("runs"), Some(7));
    assert_eq!(rows("events"), Some(3 + 15 + 10));
    assert_eq!(
        rows("runs_fts_data"),
        None,
        "shadow tables of text indexes are left out"
    );
    let artifacts = report["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    assert!(artifacts
        .iter()
        .all(|each| each["files"] == 1 && each["bytes"].as_i64().unwrap() > 0));
    assert!(report["countedAt"].is_string());
    // Next: the three crawler runs ended 40 days ago go (with 15 events); the
    // designer runs that ended 10 days ago lose their 10 events.
    assert_eq!(
        report["next"]["counts"],
        json!({"runs": 3, "events": 25, "artifacts": 0, "artifactBytes": 0, "eventLogs": 2, "artifactSets": 0})
    );
    assert_eq!(report["next"]["capped"], false);
    assert_eq!(report["policy"]["keepRunsDays"], 30);
    assert_eq!(report["lastPrunes"].as_array().unwrap().len(), 1);

    let pass = app.prune_in(0).await;
    assert_eq!((pass.removed().runs, pass.removed().event_logs), (3, 2));
    let (_, body) = app.call(Method::GET, "/api/storage", &token, None).await;
    let report = &body["data"];
    assert_eq!(
        report["next"]["counts"]["runs"], 0,
        "nothing is due any more"
    );
    let last = &report["lastPrunes"][0];
    assert_eq!(last["removed"]["runs"], 3);
    assert_eq!(last["removed"]["events"], 25);
    assert!(last["transactions"].as_i64().unwrap() >= 2);
    assert!(last["longestHoldMs"].as_i64().is_some());
}

#[tokio::test]
async fn the_settings_forms_save_the_policy_through_the_same_rules() {
    let app = quiet_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "crawler"})).await;
    let browser = app.signed_in_client(OWNER_EMAIL, OWNER_PASSWORD).await;
    let post = |endpoint: &'static str, args: Vec<(&'static str, &'static str)>| {
        let browser = browser.clone();
        let url = app.url(&format!("/fn/{endpoint}"));
        async move {
            let response = browser
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form(&args))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let account = |runs, failed, events, artifacts| {
        vec![
            ("keep_runs_days", runs),
            ("keep_failed_runs_days", failed),
            ("keep_events_days", events),
            ("keep_artifacts_days", artifacts),
        ]
    };
    let (status, body) = post("save_retention", account("30", "", "7", " ")).await;
    assert_eq!(status, 200, "{body}");
    let mut agent = vec![("agent", "crawler")];
    agent.extend(account("forever", "", "2", ""));
    let (status, body) = post("save_agent_retention", agent).await;
    assert_eq!(status, 200, "{body}");
    let (_, stored) = app.call(Method::GET, "/api/retention", &token, None).await;
    assert_eq!(
        stored["data"],
        json!({"keepRunsDays": 30, "keepFailedRunsDays": null, "keepEventsDays": 7,
               "keepArtifactsDays": null,
               "agents": {"crawler": {"keepRunsDays": null, "keepEventsDays": 2}}})
    );
    // Refused, naming the field; nothing changes.
    for (endpoint, args, field) in [
        ("save_retention", account("0", "", "", ""), "keepRunsDays"),
        (
            "save_retention",
            account("", "2.5", "", ""),
            "keepFailedRunsDays",
        ),
        (
            "save_agent_retention",
            {
                let mut args = vec![("agent", "crawler")];
                args.extend(account("", "", "", "never"));
                args
            },
            "agents.crawler.keepArtifactsDays",
        ),
        (
            "save_agent_retention",
            {
                let mut args = vec![("agent", "nobody")];
                args.extend(account("3", "", "", ""));
                args
            },
            "agents.nobody",
        ),
    ] {
        let (status, body) = post(endpoint, args).await;
        assert_eq!(status, 400, "{endpoint}: {body}");
        assert!(body.contains(field), "{endpoint}: {body}");
    }
    let (_, again) = app.call(Method::GET, "/api/retention", &token, None).await;
    assert_eq!(again, stored);
    // All of an agent's fields empty: the override goes.
    let mut agent = vec![("agent", "crawler")];
    agent.extend(account("", "", "", ""));
    let (status, _) = post("save_agent_retention", agent).await;
    assert_eq!(status, 200);
    let (_, stored) = app.call(Method::GET, "/api/retention", &token, None).await;
    assert_eq!(stored["data"]["agents"], json!({}));
}
