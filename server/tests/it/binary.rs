//! The `runboard` binary itself: first start, configuration by environment, and a
//! graceful stop on SIGTERM.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn first_start_prints_a_generated_password_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // A database path in a directory that does not exist yet.
    let database_url = format!("sqlite://{}/nested/data/runboard.db", dir.path().display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_runboard"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("DATABASE_URL", &database_url)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_SITE_ROOT", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let mut printed = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push(line.clone());
            if let Some(at) = line.find("listening on http://") {
                return line[at + "listening on ".len()..].trim().to_string();
            }
        }
        panic!("the server exited before listening: {printed:?}");
    })
    .await
    .expect("the server starts within 30 s");

    let output = printed.join("\n");
    assert!(output.contains("created the first owner"), "{output}");
    assert!(output.contains(&format!("{base}/login")), "{output}");
    let password = printed
        .iter()
        .find_map(|line| line.trim().strip_prefix("password: "))
        .expect("the generated password is printed")
        .trim()
        .to_string();
    assert!(password.len() >= 16);
    assert!(dir.path().join("nested/data/runboard.db").exists());

    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);

    let status = crate::helpers::terminate(&mut child, Duration::from_secs(15)).await;
    assert!(status.success(), "graceful exit, got {status}");

    // The printed password works on the next start (and no new owner is made).
    let db = store::db::Db::connect(&database_url).await.unwrap();
    assert!(store::auth::login(
        &db,
        &store::login_limit::LoginLimiter::new(10),
        store::auth::DEFAULT_ADMIN_EMAIL,
        &password,
        model::Via::Cli,
        None
    )
    .await
    .is_ok());
    assert_eq!(store::db::users::count_users(&db.read).await.unwrap(), 1);
}

#[tokio::test]
async fn a_runner_auth_secret_shorter_than_32_bytes_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let start = |secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_runboard"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/runboard.db", dir.path().display()),
            )
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("RUNNER_AUTH_SECRET", secret)
            .arg("serve")
            .kill_on_drop(true)
            .output()
    };
    let short = "31-bytes-of-a-guessable-secret!";
    assert_eq!(short.len(), 31);
    let output = tokio::time::timeout(Duration::from_secs(30), start(short))
        .await
        .expect("the server refuses at once")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RUNNER_AUTH_SECRET is 31 bytes long; it must be at least 32"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(short),
        "the secret is not printed: {stderr}"
    );
    assert!(
        !dir.path().join("runboard.db").exists(),
        "refused before anything was created"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_a_bad_backup_interval_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let command = |extra: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_runboard"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/runboard.db", dir.path().display()),
            )
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("RUNBOARD_ADMIN_PASSWORD", "correct-horse-battery")
            .kill_on_drop(true);
        for (key, value) in extra {
            command.env(key, value);
        }
        command
    };
    let mut child = command(&[("RUNBOARD_LOG_FORMAT", "json")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("listening on") {
                return line;
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server starts within 30 s");
    let logged: serde_json::Value = serde_json::from_str(&listening).unwrap();
    assert_eq!(logged["level"], "INFO", "{logged}");
    assert!(logged["message"]
        .as_str()
        .unwrap()
        .starts_with("Runboard listening on http://"));
    assert!(logged["timestamp"].is_string(), "{logged}");
    let status = crate::helpers::terminate(&mut child, Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");

    let output = command(&[
        ("RUNBOARD_BACKUP_DIR", "/tmp/never-written"),
        ("RUNBOARD_BACKUP_EVERY", "6 hours"),
    ])
    .arg("serve")
    .output()
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`6 hours` is not a backup interval"),
        "{stderr}"
    );
}
