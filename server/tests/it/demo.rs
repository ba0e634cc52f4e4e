//! Demo mode: a simulated fleet drives realistic runs through the real APIs, and
//! is off unless asked for.

use crate::helpers::{new_client, spawn_app_with, TestApp, OWNER_PASSWORD};
use adler2::adler32_slice as adler32;
use clap::Parser;
use crc32fast::hash as crc32;
use reqwest::Method;
use runboard::config::{Cli, Config};
use runboard::demo::{self, DemoOptions};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// What the owner API shows of the fleet's work so far.
#[derive(Debug, Default)]
struct Seen {
    agents: BTreeSet<String>,
    campaigns: HashSet<String>,
    statuses: HashSet<String>,
    /// A failed run with an error code, message and details.
    failed_with_error: Option<String>,
    /// A run cancelled by the owner (not by the fleet stopping).
    cancelled_by_owner: Option<String>,
    /// A run with a retried step (attempt 1 failed, 2 completed), a cache hit and a skipped step.
    retry_cache_skip: Option<String>,
    event_types: BTreeSet<String>,
    /// A claimed run that its runner then completed.
    claimed: Option<String>,
    /// A dispatched run that its runner then completed.
    dispatched: Option<String>,
    png: Option<Vec<u8>>,
    markdown: Option<String>,
    json_file: Option<Value>,
    registered: Option<String>,
    dispatch_url: Option<String>,
    inspected: HashSet<String>,
}

impl Seen {
    fn complete(&self) -> bool {
        self.agents.len() >= 4
            && self.campaigns.len() >= 2
            && ["completed", "failed", "cancelled"]
                .iter()
                .all(|status| self.statuses.contains(*status))
            && self.failed_with_error.is_some()
            && self.cancelled_by_owner.is_some()
            && self.retry_cache_skip.is_some()
            && EVENT_TYPES
                .iter()
                .all(|event_type| self.event_types.contains(*event_type))
            && self.claimed.is_some()
            && self.dispatched.is_some()
            && self.png.is_some()
            && self.markdown.is_some()
            && self.json_file.is_some()
            && self.registered.is_some()
            && self.dispatch_url.is_some()
    }
}

const EVENT_TYPES: [&str; 6] = [
    "agent.start",
    "agent.progress",
    "agent.tool_use",
    "warning",
    "error",
    "agent.complete",
];

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) = app.call(Method::GET, path, token, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body["data"].clone()
}

async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let response = new_client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.bytes().await.unwrap().to_vec()
}

/// Every run of the account (newest first), page by page.
async fn all_runs(app: &TestApp, token: &str) -> Vec<Value> {
    let mut runs = Vec::new();
    loop {
        let page = get(
            app,
            token,
            &format!("/api/runs?limit=100&offset={}", runs.len()),
        )
        .await;
        let batch = page["runs"].as_array().cloned().unwrap_or_default();
        let done = batch.len() < 100;
        runs.extend(batch);
        if done {
            return runs;
        }
    }
}

/// Looks at the finished runs not looked at yet.
async fn observe(app: &TestApp, token: &str, seen: &mut Seen) {
    let agents = get(app, token, "/api/agents").await;
    if let Some(url) = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|agent| agent["slug"] == "design-builder")
        .and_then(|agent| agent["dispatchUrl"].as_str())
    {
        seen.dispatch_url = Some(url.to_string());
    }
    for row in all_runs(app, token).await {
        let id = row["id"].as_str().unwrap().to_string();
        let status = row["status"].as_str().unwrap().to_string();
        if !["completed", "failed", "cancelled"].contains(&status.as_str())
            || seen.inspected.contains(&id)
        {
            continue;
        }
        seen.inspected.insert(id.clone());
        let run = get(app, token, &format!("/api/runs/{id}")).await;
        seen.agents
            .insert(run["agent"].as_str().unwrap().to_string());
        if let Some(campaign) = run["campaignId"].as_str() {
            seen.campaigns.insert(campaign.to_string());
        }
        seen.statuses.insert(status.clone());
        let error = &run["error"];
        if status == "failed"
            && error["code"].as_str().is_some_and(|code| !code.is_empty())
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
            && error["details"].is_object()
        {
            seen.failed_with_error = Some(id.clone());
        }
        if status == "cancelled" && error.is_null() {
            seen.cancelled_by_owner = Some(id.clone());
        }

        let steps = get(app, token, &format!("/api/runs/{id}/steps")).await;
        let steps = steps["steps"].as_array().unwrap();
        let mut attempts: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
        for step in steps {
            attempts
                .entry(step["stepId"].as_str().unwrap())
                .or_default()
                .push((
                    step["attempt"].as_i64().unwrap(),
                    step["status"].as_str().unwrap(),
                ));
        }
        let retried = attempts
            .values()
            .any(|tries| tries.contains(&(1, "failed")) && tries.contains(&(2, "completed")));
        let cached = steps
            .iter()
            .any(|step| step["cacheHit"] == true && step["status"] == "completed");
        let skipped = steps.iter().any(|step| step["status"] == "skipped");
        if retried && cached && skipped {
            seen.retry_cache_skip = Some(id.clone());
        }

        let events = get(app, token, &format!("/api/runs/{id}/events?limit=1000")).await;
        let events = events["events"].as_array().unwrap();
        for event in events {
            seen.event_types
                .insert(event["eventType"].as_str().unwrap().to_string());
        }

        // How the run reached its runner, and proof that the runner worked on it.
        let executed = status == "completed" && !steps.is_empty() && !events.is_empty();
        match run["context"]["demo"]["runner"].as_str() {
            Some("claim") if executed && run["agent"] == "data-sync" => {
                seen.claimed = Some(id.clone())
            }
            Some("dispatch") if executed && run["agent"] == "design-builder" => {
                seen.dispatched = Some(id.clone())
            }
            _ => {}
        }

        let artifacts = get(app, token, &format!("/api/runs/{id}/artifacts")).await;
        for artifact in artifacts["artifacts"].as_array().unwrap() {
            let content = format!(
                "/api/runs/{id}/artifacts/{}/content",
                artifact["id"].as_str().unwrap()
            );
            let stored = artifact["stored"] == true;
            match (artifact["contentType"].as_str(), stored) {
                (Some("image/png"), true) if seen.png.is_none() => {
                    seen.png = Some(download(app, token, &content).await);
                }
                (Some("text/markdown"), true) if seen.markdown.is_none() => {
                    let text = String::from_utf8(download(app, token, &content).await).unwrap();
                    seen.markdown = Some(text);
                }
                (Some("application/json"), true) if seen.json_file.is_none() => {
                    let bytes = download(app, token, &content).await;
                    seen.json_file = Some(serde_json::from_slice(&bytes).unwrap());
                }
                (_, false) if artifact["url"].is_string() || artifact["inlineText"].is_string() => {
                    seen.registered = Some(artifact["artifactType"].to_string());
                }
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn the_demo_fleet_drives_every_kind_of_run_through_the_apis() {
    // Without the tests' allowance for 127.0.0.1: the fleet allows its own
    // receiver, and only that, for the dispatched runs to reach it.
    let app = spawn_app_with(|config| config.outbound_allow.clear()).await;
    let token = app.owner_token().await;
    let (stop, stopped) = watch::channel(false);
    let fleet = tokio::spawn(demo::run(
        app.base.clone(),
        app.db.clone(),
        DemoOptions {
            speed: 12.0,
            max_running: 6,
            seed: Some(7),
        },
        stopped,
    ));

    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.complete() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        observe(&app, &token, &mut seen).await;
    }
    let summary = format!(
        "agents {:?}, statuses {:?}, event types {:?}, {} runs inspected",
        seen.agents,
        seen.statuses,
        seen.event_types,
        seen.inspected.len()
    );

    assert!(seen.agents.len() >= 4, "runs of several agents: {summary}");
    assert!(
        seen.campaigns.len() >= 2,
        "runs in two campaigns: {summary}"
    );
    for status in ["completed", "failed", "cancelled"] {
        assert!(seen.statuses.contains(status), "a {status} run: {summary}");
    }
    assert!(
        seen.failed_with_error.is_some(),
        "a failed run with {{code, message, details}}: {summary}"
    );
    assert!(
        seen.cancelled_by_owner.is_some(),
        "a run cancelled by the owner: {summary}"
    );
    assert!(
        seen.retry_cache_skip.is_some(),
        "a run with a retried step, a cache hit and a skipped step: {summary}"
    );
    for event_type in EVENT_TYPES {
        assert!(
            seen.event_types.contains(event_type),
            "an {event_type} event: {summary}"
        );
    }
    let dispatch_url = seen.dispatch_url.clone().unwrap_or_default();
    assert!(
        dispatch_url.starts_with("http://127.0.0.1:") && dispatch_url.ends_with("/jobs"),
        "design-builder's dispatch URL is the fleet's receiver: {dispatch_url:?}"
    );
    assert!(
        seen.claimed.is_some(),
        "a claimed data-sync run, completed: {summary}"
    );
    assert!(
        seen.dispatched.is_some(),
        "a dispatched design-builder run, completed: {summary}"
    );

    let png = seen.png.clone().expect("an uploaded image/png artifact");
    assert!(png.starts_with(PNG_SIGNATURE), "PNG signature");
    let (width, height) = check_png(&png);
    assert_eq!(
        (width, height),
        (demo::SCREENSHOT_WIDTH, demo::SCREENSHOT_HEIGHT)
    );
    let markdown = seen.markdown.clone().expect("an uploaded markdown report");
    assert!(markdown.starts_with("# "), "{markdown}");
    let json_file = seen.json_file.clone().expect("an uploaded JSON file");
    assert!(json_file.is_object(), "{json_file}");
    assert!(
        seen.registered.is_some(),
        "an artifact registered by JSON (URL or inline text)"
    );

    // The fleet acted with minted JWTs: it left no stored API token behind.
    let tokens = get(&app, &token, "/api/tokens").await;
    assert_eq!(
        tokens["tokens"].as_array().map(Vec::len),
        Some(0),
        "{tokens}"
    );

    // Stopping: the fleet returns, ends the runs it had in flight and clears the URL.
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(15), fleet)
        .await
        .expect("the fleet stops within 15 s")
        .unwrap();
    let in_flight = get(&app, &token, "/api/runs?status=running,queued").await;
    assert_eq!(in_flight["total"], 0, "runs left in flight: {in_flight}");
    let agents = get(&app, &token, "/api/agents").await;
    let builder = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|agent| agent["slug"] == "design-builder")
        .cloned()
        .unwrap();
    assert!(builder["dispatchUrl"].is_null(), "{builder}");
}

/// Reads a PNG the way a decoder does: chunk CRCs, the header, and a zlib stream
/// of stored deflate blocks holding one filter byte and `3 * width` bytes per row.
fn check_png(png: &[u8]) -> (u32, u32) {
    let be = |bytes: &[u8]| u32::from_be_bytes(bytes.try_into().unwrap());
    let mut at = PNG_SIGNATURE.len();
    let (mut width, mut height) = (0, 0);
    let mut idat = Vec::new();
    let mut kinds = Vec::new();
    while at < png.len() {
        let len = be(&png[at..at + 4]) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        let crc = be(&png[at + 8 + len..at + 12 + len]);
        assert_eq!(crc, crc32(&png[at + 4..at + 8 + len]), "chunk CRC");
        kinds.push(String::from_utf8_lossy(kind).to_string());
        match kind {
            b"IHDR" => {
                width = be(&data[0..4]);
                height = be(&data[4..8]);
                assert_eq!(&data[8..13], &[8, 2, 0, 0, 0], "8-bit RGB");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    assert_eq!(kinds.first().map(String::as_str), Some("IHDR"));
    assert_eq!(kinds.last().map(String::as_str), Some("IEND"));
    assert_eq!((u16::from(idat[0]) << 8 | u16::from(idat[1])) % 31, 0);
    let mut raw = Vec::new();
    let mut at = 2;
    loop {
        let header = idat[at];
        assert_eq!(header & 0b110, 0, "a stored block");
        let len = u16::from_le_bytes([idat[at + 1], idat[at + 2]]);
        let nlen = u16::from_le_bytes([idat[at + 3], idat[at + 4]]);
        assert_eq!(len, !nlen);
        raw.extend_from_slice(&idat[at + 5..at + 5 + len as usize]);
        at += 5 + len as usize;
        if header & 1 == 1 {
            break;
        }
    }
    assert_eq!(be(&idat[at..at + 4]), adler32(&raw), "Adler-32");
    let row = 1 + 3 * width as usize;
    assert_eq!(raw.len(), row * height as usize);
    assert!(raw.chunks(row).all(|line| line[0] <= 4), "filter bytes");
    (width, height)
}

#[test]
fn every_demo_screenshot_is_a_png_of_the_stated_size() {
    for png in demo::LANDING_PAGES.iter().chain(&demo::CAREERS_PAGES) {
        assert!(png.starts_with(PNG_SIGNATURE), "PNG signature");
        assert_eq!(
            check_png(png),
            (demo::SCREENSHOT_WIDTH, demo::SCREENSHOT_HEIGHT)
        );
    }
}

#[test]
fn demo_mode_is_off_by_default_and_the_flag_takes_a_boolean() {
    assert!(!Config::for_database("sqlite::memory:").demo);
    let demo = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.config.demo);
    assert!(!demo(&["runboard"]).unwrap());
    assert!(demo(&["runboard", "--demo"]).unwrap());
    assert!(demo(&["runboard", "--demo=1"]).unwrap());
    assert!(demo(&["runboard", "--demo=true"]).unwrap());
    assert!(!demo(&["runboard", "--demo=0"]).unwrap());
    assert!(!demo(&["runboard", "--demo=false"]).unwrap());
    assert!(demo(&["runboard", "--demo=maybe"]).is_err());
    // `--demo serve`: the subcommand is not taken for the flag's value.
    let cli = Cli::try_parse_from(["runboard", "--demo", "serve"]).unwrap();
    assert!(cli.config.demo);
    assert!(matches!(
        cli.command,
        Some(runboard::config::Command::Serve)
    ));
}

fn binary(dir: &std::path::Path, demo: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runboard"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/runboard.db", dir.display()),
        )
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_SITE_ROOT", dir)
        .env("RUNBOARD_ARTIFACT_DIR", dir.join("artifacts"))
        .env("RUNBOARD_ADMIN_PASSWORD", OWNER_PASSWORD)
        .env("RUNBOARD_DEMO", demo)
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn runboard_demo_1_starts_the_fleet_in_the_binary_and_sigterm_stops_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = binary(dir.path(), "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let mut base = None;
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push(line.clone());
            if let Some(at) = line.find("listening on http://") {
                base = Some(line[at + "listening on ".len()..].trim().to_string());
            }
            if base.is_some()
                && printed
                    .iter()
                    .any(|line| line.contains(demo::START_MESSAGE))
            {
                return;
            }
        }
        panic!("the server exited early: {printed:?}");
    })
    .await
    .expect("the server and the fleet start within 30 s");
    let base = base.unwrap();
    // Keep reading the log so the server never blocks on a full pipe.
    let reader = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    });

    // The first run starts at once and its runner reports through the runner API.
    let client = new_client();
    let response = client
        .post(format!("{base}/api/auth/token"))
        .json(&serde_json::json!({"email": store::auth::DEFAULT_ADMIN_EMAIL, "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["data"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs: Value = client
            .get(format!("{base}/api/runs?status=running"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if runs["data"]["total"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no run is running: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let status = crate::helpers::terminate(&mut child, Duration::from_secs(20)).await;
    let rest = reader.await.unwrap();
    assert!(status.success(), "graceful exit, got {status}: {rest:?}");
    assert!(
        rest.iter()
            .any(|line| line.contains("demo mode: the simulated fleet stopped")),
        "{rest:?}"
    );

    // The fleet ended its runs and cleared its dispatch URL before the server stopped.
    let db = store::db::Db::connect(&format!("sqlite://{}/runboard.db", dir.path().display()))
        .await
        .unwrap();
    let in_flight: i64 = store::db::sql::query_scalar(
        "SELECT count(*) FROM runs WHERE status IN ('running', 'queued')",
    )
    .fetch_one(&db.read)
    .await
    .unwrap();
    assert_eq!(in_flight, 0);
    let dispatch_url: Option<String> = store::db::sql::query_scalar(
        "SELECT dispatch_url FROM agents WHERE slug = 'design-builder'",
    )
    .fetch_one(&db.read)
    .await
    .unwrap();
    assert_eq!(dispatch_url, None);
    db.close().await;
}

#[tokio::test]
async fn runboard_demo_takes_only_a_boolean() {
    let dir = tempfile::tempdir().unwrap();
    let output = binary(dir.path(), "maybe")
        .arg("serve")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--demo"), "{stderr}");
    assert!(stderr.contains("maybe"), "{stderr}");
}
