//! Several Runboard servers on one PostgreSQL database, as behind a load
//! balancer: two `runboard` processes share a database of the test cluster
//! (and an artifact directory). Runs are claimed once whichever server the
//! runners poll, a change made through one server reaches the live streams of
//! the other (and `Last-Event-ID` resumes there), a server killed during ingest
//! loses no acknowledged event, and the outbox delivers each webhook once.
//! These run in the PostgreSQL pass of the suite.

use crate::helpers::{
    new_postgres_database, postgres_only, Stream, TestApp, OWNER_EMAIL, OWNER_PASSWORD,
};
use axum::extract::State;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::db::view_cache::ViewKey;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

/// One `runboard` process and the test's helpers for it.
struct Server {
    app: TestApp,
    process: Child,
}

/// Starts a `runboard` process on `database_url`, with its files in `dir`.
async fn start_server(database_url: &str, dir: &Arc<TempDir>) -> Server {
    let mut process = Command::new(env!("CARGO_BIN_EXE_runboard"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("DATABASE_URL", database_url)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_SITE_ROOT", dir.path().join("site"))
        .env("RUNBOARD_ARTIFACT_DIR", dir.path().join("artifacts"))
        .env("RUNBOARD_ADMIN_EMAIL", OWNER_EMAIL)
        .env("RUNBOARD_ADMIN_PASSWORD", OWNER_PASSWORD)
        .env("RUNBOARD_OUTBOUND_ALLOW", "127.0.0.1")
        .env("RUNBOARD_RETRY_BASE_MS", "20")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("listening on http://") {
                return line[at + "listening on ".len()..].trim().to_string();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server starts within 60 s");
    // Whatever it prints later is read, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let app = TestApp::of_process(base, database_url.to_string(), dir.clone()).await;
    Server { app, process }
}

/// Two servers on a new database; `None` in the SQLite pass.
async fn two_servers() -> Option<(Server, Server)> {
    if postgres_only() {
        return None;
    }
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let database_url = new_postgres_database().await;
    // Started together: the first start (migrations, the first owner) is raced.
    let (a, b) = tokio::join!(
        start_server(&database_url, &dir),
        start_server(&database_url, &dir)
    );
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_created_through_one_server_are_claimed_once_by_runners_of_both() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let token = a.app.owner_token().await;
    const RUNS: usize = 1_000;
    const CREATORS: usize = 8;
    let a = Arc::new(a);
    let b = Arc::new(b);
    let creation_started = Instant::now();
    let mut creators = JoinSet::new();
    for _ in 0..CREATORS {
        let (a, token) = (a.clone(), token.clone());
        creators.spawn(async move {
            for _ in 0..RUNS / CREATORS {
                a.app.create_run(&token, json!({"agent": "worker"})).await;
            }
        });
    }
    creators.join_all().await;
    eprintln!("created {RUNS} runs in {:?}", creation_started.elapsed());
    let claims_started = Instant::now();

    // Four runners poll each server at once until neither has a run left.
    let mut claimers = JoinSet::new();
    for index in 0..8 {
        let server = if index % 2 == 0 { a.clone() } else { b.clone() };
        let token = token.clone();
        claimers.spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let (status, body) = server
                    .app
                    .call(
                        Method::POST,
                        "/api/runner/claim",
                        &token,
                        Some(json!({"agent": "worker"})),
                    )
                    .await;
                match status {
                    200 => claimed.push(body["data"]["run"]["id"].as_str().unwrap().to_string()),
                    204 => return (index % 2, claimed),
                    other => panic!("claim answered {other}: {body}"),
                }
            }
        });
    }
    let mut by_server = [0usize; 2];
    let mut all = Vec::new();
    for (server, claimed) in claimers.join_all().await {
        by_server[server] += claimed.len();
        all.extend(claimed);
    }
    eprintln!("claimed {RUNS} runs in {:?}", claims_started.elapsed());
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), RUNS, "every run claimed, none twice");
    assert_eq!(distinct.len(), RUNS);
    assert!(
        by_server.iter().all(|&count| count > 0),
        "runners of both servers claimed runs: {by_server:?}"
    );
    let queued: i64 =
        store::db::sql::query_scalar("SELECT count(*) FROM runs WHERE status = 'queued'")
            .fetch_one(&b.app.db.read)
            .await
            .unwrap();
    assert_eq!(queued, RUNS as i64, "each claimed run is queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_server_reaches_the_live_stream_of_the_other() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let token = a.app.owner_token().await;
    let mut on_b = Stream::open(&b.app, "", &token, None).await;

    let created_at = Instant::now();
    let (run, runner) = a.app.create_run(&token, json!({"agent": "writer"})).await;
    let created = on_b
        .next_within(Duration::from_secs(5))
        .await
        .expect("the run created through A reaches B's stream");
    let latency = created_at.elapsed();
    assert_eq!(created.event, "run.created");
    assert_eq!(created.data["runId"], json!(run));

    let (status, body) = a
        .app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{run}/status"),
            &runner,
            Some(json!({"status": "running", "progress": 0.5})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let updated = on_b
        .next_within(Duration::from_secs(5))
        .await
        .expect("the status change");
    assert_eq!(updated.event, "run.updated");
    assert_eq!(updated.data["data"]["progress"], json!(0.5));
    eprintln!("A's change reached B's stream {latency:?} after the request was sent");

    // A client that saw the creation on B resumes on A from there.
    let mut on_a = Stream::open(&a.app, "", &token, created.id).await;
    let replayed = on_a.next().await.expect("the change after Last-Event-ID");
    assert_eq!(replayed.id, updated.id);
    assert_eq!(replayed.data, updated.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_servers_commits_drop_the_others_kept_views_and_wake_its_stream() {
    if postgres_only() {
        return;
    }
    let database_url = new_postgres_database().await;
    let a = store::db::Db::connect(&database_url).await.unwrap();
    let b = store::db::Db::connect(&database_url).await.unwrap();
    let key = || ViewKey::new("test", model::AccountPk(1), "");
    let loads = AtomicUsize::new(0);
    let load = || async {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok::<_, ()>(1)
    };
    b.views().get_or_load(key(), load).await.unwrap();
    b.views().get_or_load(key(), load).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 1, "kept until a commit");

    let woken = tokio::spawn({
        let b = b.clone();
        async move { b.next_commit().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tx = a.begin_write().await.unwrap();
    tx.commit().await.unwrap();
    // B's live stream would also read the log once a second; only the
    // notification wakes it from waiting for a commit.
    tokio::time::timeout(Duration::from_secs(5), woken)
        .await
        .expect("B hears of A's commit")
        .unwrap();
    b.views().get_or_load(key(), load).await.unwrap();
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "B's kept view was dropped by A's commit"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_ingest_loses_no_acknowledged_event() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let token = a.app.owner_token().await;
    const RUNS: usize = 4;
    const BATCHES: usize = 40;
    const PER_BATCH: usize = 25;
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(a.app.create_run(&token, json!({"agent": "ingest"})).await);
    }
    let bases = Arc::new([a.app.base.clone(), b.app.base.clone()]);
    let acknowledged = Arc::new(Mutex::new(BTreeMap::<String, BTreeSet<String>>::new()));
    let batches_done = Arc::new(AtomicUsize::new(0));
    let mut runners = JoinSet::new();
    for (run, runner_token) in runs.clone() {
        let (bases, acknowledged, batches_done) =
            (bases.clone(), acknowledged.clone(), batches_done.clone());
        runners.spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            for batch in 0..BATCHES {
                let ids: Vec<String> = (0..PER_BATCH)
                    .map(|event| format!("{run}-{batch}-{event}"))
                    .collect();
                let body = json!({"events": ids.iter().map(|id| json!({
                    "id": id, "eventType": "log", "message": format!("event {id}")
                })).collect::<Vec<Value>>()});
                // Alternately through A and B; whatever fails is sent again to
                // B, as a load balancer would once A is gone.
                let mut server = batch % 2;
                let mut tries = 0;
                loop {
                    tries += 1;
                    let sent = client
                        .post(format!("{}/api/runner/runs/{run}/events", bases[server]))
                        .bearer_auth(&runner_token)
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == StatusCode::OK => break,
                        Ok(response) if response.status().is_server_error() => {}
                        Ok(response) => panic!(
                            "a batch answered {}: {}",
                            response.status(),
                            response.text().await.unwrap_or_default()
                        ),
                        Err(_) => {}
                    }
                    assert!(tries < 50, "the batch is taken within 50 tries");
                    server = 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                acknowledged
                    .lock()
                    .unwrap()
                    .entry(run.clone())
                    .or_default()
                    .extend(ids);
                batches_done.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    // A dies (SIGKILL: no shutdown) once a quarter of the batches are in.
    let mut a = a;
    while batches_done.load(Ordering::SeqCst) < RUNS * BATCHES / 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.process.start_kill().unwrap();
    a.process.wait().await.unwrap();
    runners.join_all().await;

    let acknowledged = acknowledged.lock().unwrap().clone();
    for (run, _) in &runs {
        let run_pk: i64 = store::db::sql::query_scalar("SELECT pk FROM runs WHERE id = ?")
            .bind(run.as_str())
            .fetch_one(&b.app.db.read)
            .await
            .unwrap();
        let stored: Vec<(i64, Option<String>)> = store::db::sql::query_as(
            "SELECT seq, client_id FROM events WHERE run_pk = ? ORDER BY seq",
        )
        .bind(run_pk)
        .fetch_all(&b.app.db.read)
        .await
        .unwrap();
        let seqs: Vec<i64> = stored.iter().map(|(seq, _)| *seq).collect();
        let expected: Vec<i64> = (1..=(BATCHES * PER_BATCH) as i64).collect();
        assert_eq!(seqs, expected, "every event once, numbered without gaps");
        let ids: BTreeSet<String> = stored.into_iter().filter_map(|(_, id)| id).collect();
        assert_eq!(
            &ids, &acknowledged[run],
            "every acknowledged event is stored"
        );
    }
}

/// A webhook receiver that takes its time, so that two servers' outbox
/// workers would both find the same deliveries due if they did not claim them.
#[derive(Clone, Default)]
struct SlowReceiver {
    runs: Arc<Mutex<Vec<String>>>,
}

async fn receive_slowly(State(receiver): State<SlowReceiver>, body: String) -> StatusCode {
    tokio::time::sleep(Duration::from_millis(50)).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let run = body["run"]["id"].as_str().unwrap().to_string();
    receiver.runs.lock().unwrap().push(run);
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_webhook_is_delivered_once_by_the_outboxes_of_both_servers() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let receiver = SlowReceiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive_slowly))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let token = a.app.owner_token().await;
    const RUNS: usize = 40;
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(
            a.app
                .create_run(&token, json!({"agent": "a", "webhookUrl": url}))
                .await,
        );
    }
    // Half end through each server: both outboxes have deliveries due.
    for (index, (run, runner)) in runs.iter().enumerate() {
        let server = if index % 2 == 0 { &a } else { &b };
        let (status, body) = server
            .app
            .call(
                Method::POST,
                &format!("/api/runner/runs/{run}/status"),
                runner,
                Some(json!({"status": "completed"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    crate::helpers::eventually("every webhook", async || {
        receiver.runs.lock().unwrap().len() >= RUNS
    })
    .await;
    // Time for a second delivery of any of them, were one to come.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = receiver.runs.lock().unwrap().clone();
    let distinct: BTreeSet<&String> = received.iter().collect();
    let expected: BTreeSet<&String> = runs.iter().map(|(run, _)| run).collect();
    assert_eq!(distinct, expected);
    assert_eq!(received.len(), RUNS, "no webhook was delivered twice");
}

#[tokio::test]
async fn a_lease_is_one_servers_until_given_up_or_run_out() {
    if postgres_only() {
        return;
    }
    let database_url = new_postgres_database().await;
    let a = store::db::Db::connect(&database_url).await.unwrap();
    let b = store::db::Db::connect(&database_url).await.unwrap();
    let lasts = Duration::from_millis(600);
    let mut on_a = store::db::leases::Lease::new("work", lasts);
    let mut on_b = store::db::leases::Lease::new("work", lasts);
    assert!(on_a.hold(&a).await.unwrap(), "a free lease is taken");
    assert!(!on_b.hold(&b).await.unwrap(), "not while A holds it");
    assert!(on_a.hold(&a).await.unwrap(), "its holder keeps it");
    on_a.release(&a).await.unwrap();
    assert!(on_b.hold(&b).await.unwrap(), "given up: B takes it");
    assert!(!on_a.hold(&a).await.unwrap());
    // B stops renewing (it died): the lease runs out and A takes it.
    tokio::time::sleep(lasts + Duration::from_millis(100)).await;
    assert!(on_a.hold(&a).await.unwrap(), "run out: A takes it");
    a.close().await;
    b.close().await;
}

/// An account with `count` open runs, made by the store's own functions.
async fn runs_of_a_new_account(
    db: &store::db::Db,
    count: usize,
) -> Vec<store::db::runs::StoredRun> {
    let mut tx = db.begin_write().await.unwrap();
    let account_pk = store::db::accounts::create_account(&mut tx, "Side by side")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let actor = store::db::audit::Actor::system(account_pk, model::Via::System);
    let mut runs = Vec::new();
    for _ in 0..count {
        let request = store::db::runs::CreateRun {
            agent: "writer".into(),
            ..store::db::runs::CreateRun::default()
        };
        runs.push(
            store::db::runs::create_run(db, &actor, request)
                .await
                .unwrap(),
        );
    }
    runs
}

#[tokio::test]
async fn writes_of_different_runs_go_side_by_side_and_exclusive_writes_wait_for_them() {
    if postgres_only() {
        return;
    }
    let database_url = new_postgres_database().await;
    let a = store::db::Db::connect(&database_url).await.unwrap();
    let b = store::db::Db::connect(&database_url).await.unwrap();
    let runs = runs_of_a_new_account(&a, 2).await;
    let first = a.begin_run_write(runs[0].pk).await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), b.begin_run_write(runs[1].pk))
        .await
        .expect("another run's write starts beside it")
        .unwrap();
    // Writes that must wait, each in a task of its own (a timed-out wait
    // would leave its transaction behind, holding what it had taken).
    let write = |db: &store::db::Db, run: Option<model::RunPk>| {
        let db = db.clone();
        tokio::spawn(async move {
            let tx = match run {
                Some(run_pk) => db.begin_run_write(run_pk).await.unwrap(),
                None => db.begin_write().await.unwrap(),
            };
            tx.commit().await.unwrap();
        })
    };
    let same_run = write(&b, Some(runs[0].pk));
    let everything = write(&b, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!same_run.is_finished(), "the same run's next write waits");
    assert!(
        !everything.is_finished(),
        "a write of everything waits for the runs' writes"
    );
    first.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), same_run)
        .await
        .expect("the run's next write goes once it ends")
        .unwrap();
    assert!(
        !everything.is_finished(),
        "a write of everything waits for the last run's write"
    );
    second.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), everything)
        .await
        .expect("a write of everything goes once the runs' writes end")
        .unwrap();
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_of_the_change_log_misses_nothing_while_runs_are_written_side_by_side() {
    if postgres_only() {
        return;
    }
    let database_url = new_postgres_database().await;
    let a = store::db::Db::connect(&database_url).await.unwrap();
    let b = store::db::Db::connect(&database_url).await.unwrap();
    const RUNS: usize = 8;
    const BATCHES: usize = 15;
    let runs = runs_of_a_new_account(&a, RUNS).await;
    let start = store::db::changes::head(&a.read).await.unwrap();
    let writing = Arc::new(AtomicUsize::new(RUNS));
    // The live stream's tail: everything after the last position read.
    let tail = {
        let (pool, writing) = (a.read.clone(), writing.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = start;
            loop {
                let done = writing.load(Ordering::SeqCst) == 0;
                let changes = store::db::changes::after(&pool, cursor, 1_000)
                    .await
                    .unwrap();
                if let Some(last) = changes.last() {
                    cursor = last.seq;
                }
                seen.extend(changes.iter().map(|change| change.seq));
                if done && changes.is_empty() {
                    return seen;
                }
            }
        })
    };
    let mut writers = JoinSet::new();
    for (index, run) in runs.into_iter().enumerate() {
        let db = if index % 2 == 0 { a.clone() } else { b.clone() };
        let writing = writing.clone();
        writers.spawn(async move {
            for batch in 0..BATCHES {
                let events: Vec<store::db::events::NewEvent> = (0..50)
                    .map(|event| store::db::events::NewEvent {
                        client_id: Some(format!("{batch}-{event}")),
                        event_type: "log".into(),
                        message: Some(format!("batch {batch} event {event}")),
                        metadata: None,
                    })
                    .collect();
                store::db::runner::ingest_events(&db, &run, &events, None, |_| Ok(json!({})))
                    .await
                    .unwrap();
            }
            writing.fetch_sub(1, Ordering::SeqCst);
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let seen = tail.await.unwrap();
    let stored: Vec<i64> =
        store::db::sql::query_scalar("SELECT seq FROM changes WHERE seq > ? ORDER BY seq")
            .bind(start)
            .fetch_all(&a.read)
            .await
            .unwrap();
    assert!(
        stored.len() >= RUNS * BATCHES,
        "every batch logged a change"
    );
    assert_eq!(seen, stored, "the tail read every change, in order");
    let provisional: i64 =
        store::db::sql::query_scalar("SELECT count(*) FROM changes WHERE seq < 0")
            .fetch_one(&a.read)
            .await
            .unwrap();
    assert_eq!(provisional, 0, "every change got its position at commit");
    a.close().await;
    b.close().await;
}
