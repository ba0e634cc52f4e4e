//! Backups while the server serves and writes, restores, and scheduled backups.

use crate::helpers::*;
use reqwest::Method;
use runboard::backup::{artifacts_beside, backup_to, restore_from, scheduled_backup, Schedule};
use serde_json::json;
use sqlx::{Connection, SqliteConnection};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn open(file: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display()))
        .await
        .unwrap()
}

async fn integrity(file: &Path) -> Vec<String> {
    let mut conn = open(file).await;
    let result = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    result
}

async fn count_runs(file: &Path) -> i64 {
    let mut conn = open(file).await;
    let count = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    count
}

fn database_file(app: &TestApp) -> std::path::PathBuf {
    app.dir().join("runboard.db")
}

#[tokio::test]
async fn a_backup_during_heavy_ingest_holds_every_event_acknowledged_before_it_started() {
    if sqlite_only() {
        return;
    }
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut runners = Vec::new();
    for runner_index in 0..4 {
        let (run, runner) = app.create_run(&token, json!({"agent": "ingest"})).await;
        let url = app.url(&format!("/api/runner/runs/{run}/events"));
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        runners.push(tokio::spawn(async move {
            let client = new_client();
            let mut batch = 0;
            while !stop.load(Ordering::Relaxed) && batch < 2_000 {
                let ids: Vec<String> = (0..50)
                    .map(|index| format!("r{runner_index}-b{batch}-e{index}"))
                    .collect();
                let events: Vec<_> = ids
                    .iter()
                    .map(|id| json!({"id": id, "eventType": "agent.progress", "message": id}))
                    .collect();
                let response = client
                    .post(&url)
                    .bearer_auth(&runner)
                    .json(&json!({ "events": events }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                acknowledged.lock().unwrap().extend(ids);
                batch += 1;
            }
        }));
    }
    // Ingest is under way before the backup starts, and goes on during it.
    tokio::time::timeout(Duration::from_secs(60), async {
        while acknowledged.lock().unwrap().len() < 2_000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("2,000 events acknowledged within a minute");
    let before: HashSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    let file = app.dir().join("backup.db");
    let report = backup_to(&app.config, &file).await.unwrap();
    let during = acknowledged.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::Relaxed);
    for runner in runners {
        runner.await.unwrap();
    }

    assert_eq!(report.database.path, file);
    assert!(report.database.bytes > 0);
    assert_eq!(integrity(&file).await, ["ok"]);
    let mut conn = open(&file).await;
    let stored: HashSet<String> = sqlx::query_scalar("SELECT client_id FROM events")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    conn.close().await.unwrap();
    let missing: Vec<&String> = before.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events missing from the backup (e.g. {:?}); {during} more were acknowledged during it",
        missing.len(),
        before.len(),
        missing.first()
    );
    // The copy is a Runboard database this build restores.
    store::backup::inspect(&file).await.unwrap();
}

/// Uploads a small file artifact to `run`; returns its id.
async fn upload(app: &TestApp, run: &str, runner: &str, body: &'static [u8]) -> String {
    let response = app
        .upload_file(
            run,
            runner,
            "report",
            ("notes.txt", "text/plain", body.to_vec()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_restore_brings_back_the_database_and_its_artifact_files() {
    if sqlite_only() {
        return;
    }
    let mut app = spawn_app().await;
    let token = app.owner_token().await;
    let (kept, runner) = app.create_run(&token, json!({"agent": "keep"})).await;
    let artifact = upload(&app, &kept, &runner, b"before the backup").await;
    let file = app.dir().join("backups/nightly.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let report = backup_to(&app.config, &file).await.unwrap();
    assert_eq!(report.artifacts.map(|(files, _)| files), Some(1));
    let (later, later_runner) = app.create_run(&token, json!({"agent": "later"})).await;
    upload(&app, &later, &later_runner, b"after the backup").await;

    app.stop().await;
    let config = app.config.clone();
    let restored = restore_from(&config, &file).await.unwrap();
    let said = restored.to_string();
    assert!(said.contains("Restored"), "{said}");
    assert!(said.contains("Artifact files restored into"), "{said}");
    let previous = restored
        .restored
        .previous
        .clone()
        .expect("the old file is kept");
    assert_eq!(
        count_runs(&previous).await,
        2,
        "the replaced database, whole"
    );
    assert!(!store::backup::with_suffix(&database_file(&app), "-wal").exists());

    let app = app.start_again(|_| {}).await;
    let token = app.owner_token().await;
    let (status, _) = app
        .call(Method::GET, &format!("/api/runs/{kept}"), &token, None)
        .await;
    assert_eq!(status, 200, "the run from before the backup is back");
    let (status, _) = app
        .call(Method::GET, &format!("/api/runs/{later}"), &token, None)
        .await;
    assert_eq!(status, 404, "the run made after the backup is gone");
    let response = app.artifact_content(&token, &kept, &artifact).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "before the backup");
    // The restored server writes as usual.
    app.create_run(&token, json!({"agent": "after-restore"}))
        .await;
}

#[tokio::test]
async fn a_restore_is_refused_while_a_server_uses_the_database() {
    if sqlite_only() {
        return;
    }
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let file = app.dir().join("backup.db");
    backup_to(&app.config, &file).await.unwrap();
    app.create_run(&token, json!({"agent": "live"})).await;

    let refused = restore_from(&app.config, &file).await.unwrap_err();
    let said = format!("{refused:#}");
    assert!(
        said.contains("refusing to restore") && said.contains("server.lock"),
        "{said}"
    );
    // The command line, another process, is refused by the same lock.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_runboard"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", app.database_url())
        .env("RUNBOARD_ARTIFACT_DIR", &app.config.artifact_dir)
        .args(["restore", "--from"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is using"), "{stderr}");
    assert_eq!(
        count_runs(&database_file(&app)).await,
        1,
        "nothing restored"
    );
    let (status, _) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(status, 200, "the server serves on");

    // And a second server on the same database does not start.
    let second = runboard::startup::Application::build(app.config.clone()).await;
    let said = format!("{:#}", second.err().expect("refused"));
    assert!(said.contains("cannot start"), "{said}");
}

fn fingerprint(file: &Path) -> Vec<u8> {
    std::fs::read(file).unwrap()
}

#[tokio::test]
async fn a_restore_refuses_a_file_that_is_not_a_runboard_database_and_changes_nothing() {
    if sqlite_only() {
        return;
    }
    let mut app = spawn_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "precious"})).await;
    let good = app.dir().join("good.db");
    backup_to(&app.config, &good).await.unwrap();
    app.stop().await;
    let live = database_file(&app);
    let dir = app.dir().to_path_buf();

    let text = dir.join("notes.db");
    std::fs::write(&text, "these are not the rows you are looking for").unwrap();

    let foreign = dir.join("foreign.db");
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", foreign.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE runs (id TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let newer = dir.join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", newer.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    // A page in the middle of the runs table overwritten: SQLite opens the file,
    // and only the integrity check finds the damage.
    let corrupt = dir.join("corrupt.db");
    let mut bytes = std::fs::read(&good).unwrap();
    let page_size = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    let mut conn = open(&good).await;
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_schema WHERE name = 'runs'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let at = (root as usize - 1) * page_size;
    bytes[at..at + page_size].fill(0xA5);
    std::fs::write(&corrupt, bytes).unwrap();

    let before = fingerprint(&live);
    let artifacts_before: Vec<_> = std::fs::read_dir(&app.config.artifact_dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    for (file, reason) in [
        (&text, "not a SQLite database"),
        (&foreign, "no migration history"),
        (&newer, "newer Runboard"),
        (&corrupt, "damaged"),
    ] {
        let refused = restore_from(&app.config, file).await.unwrap_err();
        let said = format!("{refused:#}");
        assert!(
            said.contains("is not a Runboard database") && said.contains(reason),
            "{}: {said}",
            file.display()
        );
        assert!(
            fingerprint(&live) == before,
            "{}: the live file is untouched",
            file.display()
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().to_string())
            .filter(|name| name.contains("restoring") || name.contains("before-restore"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    let artifacts_after: Vec<_> = std::fs::read_dir(&app.config.artifact_dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    assert_eq!(artifacts_after, artifacts_before);

    let app = app.start_again(|_| {}).await;
    let token = app.owner_token().await;
    let (status, body) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["total"], 1, "{body}");
}

#[tokio::test]
async fn scheduled_backups_keep_the_last_n() {
    if sqlite_only() {
        return;
    }
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = spawn_app_with(|config| {
        config.backup_dir = Some(dir.clone());
        config.backup_every = Some(Duration::from_secs(1));
        config.backup_keep = 3;
    })
    .await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "scheduled"})).await;

    let listed = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().to_string())
            .filter(|name| name.ends_with(".db"))
            .collect();
        names.sort();
        names
    };
    // The server's own task: the first backup at once, then one a second, never
    // more than three kept.
    let mut seen = HashSet::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while seen.len() < 5 {
            let names = listed(&dir);
            assert!(names.len() <= 3 + 1, "{names:?}");
            seen.extend(names);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("five scheduled backups within a minute");
    let mut app = app;
    app.stop().await;
    let kept = listed(&dir);
    assert_eq!(kept.len(), 3, "{kept:?}");
    let mut all: Vec<&String> = seen.iter().collect();
    all.sort();
    assert_eq!(
        kept.iter().collect::<Vec<_>>(),
        all[all.len() - 3..].to_vec(),
        "the newest are kept"
    );
    for name in &kept {
        let file = dir.join(name);
        assert!(artifacts_beside(&file).is_dir(), "{name} has its artifacts");
        assert_eq!(integrity(&file).await, ["ok"]);
        assert_eq!(count_runs(&file).await, 1);
    }

    // One backup by hand with the same settings: still three, the oldest gone.
    let schedule = Schedule {
        dir: dir.clone(),
        every: Duration::from_secs(3600),
        keep: 3,
    };
    let report = scheduled_backup(&app.config, &schedule).await.unwrap();
    let now_kept = listed(&dir);
    assert_eq!(now_kept.len(), 3);
    assert!(!now_kept.contains(&kept[0]));
    assert!(!artifacts_beside(&dir.join(&kept[0])).exists());
    assert!(report.to_string().contains(".db"));
}
