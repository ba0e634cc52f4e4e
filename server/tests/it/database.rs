//! The database set-up: pragmas, schema, first owner, concurrent writers.

use crate::helpers::*;
use store::auth::{bootstrap_owner, Bootstrap};
use store::db::Db;

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_and_normal_sync() {
    if sqlite_only() {
        return;
    }
    let app = spawn_app().await;
    let mut conn = app.db.read.acquire().await.unwrap();
    let mode: String = store::db::sql::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let foreign_keys: i64 = store::db::sql::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let synchronous: i64 = store::db::sql::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(synchronous, 1, "NORMAL");
    let busy_timeout: i64 = store::db::sql::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(busy_timeout >= 5_000);
}

#[tokio::test]
async fn the_schema_has_a_table_for_every_concept() {
    let app = spawn_app().await;
    let tables: Vec<String> =
        store::db::sql::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .postgres(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                 WHERE table_schema = current_schema()",
            )
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    for table in [
        "accounts",
        "users",
        "tower_sessions",
        "api_tokens",
        "agents",
        "campaigns",
        "runs",
        "run_input_fields",
        "runs_fts",
        "steps",
        "events",
        "event_text_pieces",
        "event_text_1",
        "event_text_gone",
        "idempotency_keys",
        "artifacts",
        "outbox",
        "changes",
    ] {
        // SQLite's full-text tables; PostgreSQL's text search is a column.
        if on_postgres() && (table.starts_with("runs_fts") || table.starts_with("event_text")) {
            continue;
        }
        assert!(
            tables.iter().any(|name| name == table),
            "missing table {table}"
        );
    }
}

#[tokio::test]
async fn the_first_start_creates_one_owner_and_later_starts_create_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/r.db", dir.path().display()))
        .await
        .unwrap();
    let first = bootstrap_owner(&db, None, None).await.unwrap();
    let Bootstrap::CreatedWithPassword { email, password } = first else {
        panic!("expected a generated password, got {first:?}");
    };
    assert_eq!(email, store::auth::DEFAULT_ADMIN_EMAIL);
    assert!(password.len() >= 16);
    assert!(store::auth::login(
        &db,
        &store::login_limit::LoginLimiter::new(10),
        &email,
        &password,
        model::Via::Cli,
        None
    )
    .await
    .is_ok());

    let again = bootstrap_owner(&db, Some("second@example.com"), Some("another-password"))
        .await
        .unwrap();
    assert_eq!(again, Bootstrap::Existing);
    assert_eq!(store::db::users::count_users(&db.read).await.unwrap(), 1);
}

#[tokio::test]
async fn a_configured_admin_password_that_is_too_short_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/r.db", dir.path().display()))
        .await
        .unwrap();
    let result = bootstrap_owner(&db, Some("a@example.com"), Some("short")).await;
    assert!(result.is_err());
    assert_eq!(store::db::users::count_users(&db.read).await.unwrap(), 0);
}

#[tokio::test]
async fn many_concurrent_writers_never_see_sqlite_busy() {
    let app = spawn_app().await;
    let account = app.owner_account().await;
    let tasks: Vec<_> = (0..64)
        .map(|index| {
            let db = app.db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin_write().await?;
                // Read, then write: the pattern that fails under deferred transactions.
                let count: i64 = store::db::sql::query_scalar("SELECT count(*) FROM agents")
                    .fetch_one(&mut *tx)
                    .await?;
                store::db::runs::ensure_agent(&mut tx, account, &format!("agent-{index}-{count}"))
                    .await?;
                tx.commit().await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no write may fail");
    }
    // A second process (the server of this test) writing at the same time is fine too.
    let agents: i64 = store::db::sql::query_scalar("SELECT count(*) FROM agents")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(agents, 64);
}

#[tokio::test]
async fn run_counters_follow_creation_status_changes_retries_and_deletion() {
    use reqwest::Method;
    use serde_json::json;
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (a, runner_a) = app.create_run(&token, json!({"agent": "one"})).await;
    let (b, runner_b) = app.create_run(&token, json!({"agent": "two"})).await;
    let (c, _) = app.create_run(&token, json!({"agent": "two"})).await;
    let (d, _) = app.create_run(&token, json!({"agent": "one"})).await;
    app.call(
        Method::POST,
        &format!("/api/runner/runs/{a}/status"),
        &runner_a,
        Some(json!({"status": "running"})),
    )
    .await;
    app.call(
        Method::POST,
        &format!("/api/runner/runs/{b}/status"),
        &runner_b,
        Some(json!({"status": "completed"})),
    )
    .await;
    app.call(Method::POST, &format!("/api/runs/{c}/cancel"), &token, None)
        .await;
    app.call(Method::POST, &format!("/api/runs/{c}/retry"), &token, None)
        .await;
    app.call(Method::DELETE, &format!("/api/runs/{d}"), &token, None)
        .await;

    let account = app.owner_account().await;
    let counted: Vec<(String, i64)> = store::db::sql::query_as(
        "SELECT status, CAST(sum(count) AS BIGINT) FROM run_counts WHERE account_pk = ? GROUP BY status HAVING sum(count) <> 0 ORDER BY status",
    )
    .bind(account)
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    let actual: Vec<(String, i64)> = store::db::sql::query_as(
        "SELECT status, count(*) FROM runs WHERE account_pk = ? GROUP BY status ORDER BY status",
    )
    .bind(account)
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    assert_eq!(counted, actual);
    assert_eq!(
        actual,
        vec![
            ("cancelled".to_string(), 1),
            ("completed".to_string(), 1),
            ("requested".to_string(), 1),
            ("running".to_string(), 1)
        ]
    );
    // The chips read the counters; by agent too.
    app.login_owner().await;
    let html = app.get("/?agent=two").await.text().await.unwrap();
    let chip = |status: &str| {
        let start = html
            .find(&format!(r#"data-status="{status}""#))
            .expect("chip");
        let end = start + html[start..].find("</a>").expect("chip end");
        html[start..end].to_string()
    };
    assert!(chip("all").contains(">3<"), "{}", chip("all"));
    assert!(chip("completed").contains(">1<"), "{}", chip("completed"));
    assert!(
        chip("running").contains(">0<"),
        "agent one's running run is not counted for two"
    );
    let (_, listed) = app
        .call(Method::GET, "/api/runs?agent=two", &token, None)
        .await;
    assert_eq!(listed["data"]["total"], 3);
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_refused_with_the_reason_and_no_secret() {
    for url in [
        "mysql://root:hunter2@localhost/runboard",
        "runboard:hunter2@localhost/runboard",
    ] {
        let refused = Db::connect(url).await.unwrap_err().to_string();
        assert!(refused.contains("must be a sqlite:// URL"), "{refused}");
        assert!(refused.contains("postgres://"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
    }
}
