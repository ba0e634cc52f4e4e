//! A real Runboard server on 127.0.0.1:0 with a fresh database per test: a
//! SQLite file in the test's directory, or with `RUNBOARD_TEST_DATABASE=postgres`
//! a new database on the test cluster (`scripts/dev test` runs the suite both ways).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::redirect::Policy;
use runboard::config::Config;
use runboard::startup::Application;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const OWNER_PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub base: String,
    /// A client that keeps cookies and does not follow redirects, so tests see them.
    pub client: reqwest::Client,
    /// A client without cookies, for bearer-token calls; one per server, since
    /// building a client reads the system's root certificates.
    bearer_client: reqwest::Client,
    pub db: store::db::Db,
    /// The configuration the server was built with.
    pub config: Config,
    dir: Arc<TempDir>,
    /// The database the server runs on (kept across restarts).
    database_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let database_url = if on_postgres() {
        new_postgres_database().await
    } else {
        format!("sqlite://{}/runboard.db", dir.path().display())
    };
    spawn_in(dir, database_url, configure).await
}

/// Whether this run of the suite is the PostgreSQL one (`RUNBOARD_TEST_DATABASE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("RUNBOARD_TEST_DATABASE").is_ok_and(|backend| backend == "postgres")
}

/// For a test of something only SQLite has (its files, pragmas, FTS5): whether
/// to skip it, which the PostgreSQL run does, saying so.
pub fn sqlite_only() -> bool {
    let skip = on_postgres();
    if skip {
        eprintln!("skipped on PostgreSQL: this test is about SQLite");
    }
    skip
}

/// For a test of several servers on one PostgreSQL database: whether to skip
/// it, which the SQLite run does, saying so (the PostgreSQL run has it).
pub fn postgres_only() -> bool {
    let skip = !on_postgres();
    if skip {
        eprintln!("skipped on SQLite: this test is about servers sharing PostgreSQL");
    }
    skip
}

/// A new database on the test cluster (`RUNBOARD_TEST_POSTGRES_URL`), with the
/// schema in place: a copy of one migrated template per set of migrations, so
/// that each test does not run them again. The cluster is thrown away after the
/// run, with every database on it.
pub async fn new_postgres_database() -> String {
    use sqlx::Executor;
    let cluster = std::env::var("RUNBOARD_TEST_POSTGRES_URL")
        .expect("RUNBOARD_TEST_POSTGRES_URL: scripts/dev test starts PostgreSQL");
    let (base, _) = cluster.rsplit_once('/').unwrap();
    let server = sqlx::PgPool::connect(&cluster)
        .await
        .expect("the test cluster");
    let checksums: Vec<u8> = store::db::postgres::MIGRATOR
        .iter()
        .flat_map(|migration| migration.checksum.iter().copied())
        .collect();
    let template = format!("runboard_template_{:016x}", fnv1a(&checksums));
    // One test process makes the template; the others wait for it.
    let mut admin = server.acquire().await.unwrap();
    admin.execute("SELECT pg_advisory_lock(17)").await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    if !exists {
        let building = format!("{template}_building");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {building}").as_str())
            .await
            .unwrap();
        admin
            .execute(format!("CREATE DATABASE {building}").as_str())
            .await
            .unwrap();
        let pool = sqlx::PgPool::connect(&format!("{base}/{building}"))
            .await
            .unwrap();
        store::db::postgres::MIGRATOR.run(&pool).await.unwrap();
        pool.close().await;
        admin
            .execute(format!("ALTER DATABASE {building} RENAME TO {template}").as_str())
            .await
            .unwrap();
    }
    admin
        .execute("SELECT pg_advisory_unlock(17)")
        .await
        .unwrap();
    let name = format!("runboard_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name} TEMPLATE {template}").as_str())
        .await
        .unwrap();
    drop(admin);
    server.close().await;
    format!("{base}/{name}")
}

/// A 64-bit FNV-1a hash (names the template by its migrations).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn spawn_in(
    dir: Arc<TempDir>,
    database_url: String,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    // The server's warnings and errors (a database error behind a 500, say) in
    // the output of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let mut config = Config::for_database(&database_url);
    config.site_addr = "127.0.0.1:0".parse().unwrap();
    config.admin_email = Some(OWNER_EMAIL.to_string());
    config.admin_password = Some(OWNER_PASSWORD.to_string());
    config.site_root = dir.path().join("site").display().to_string();
    config.artifact_dir = dir.path().join("artifacts").display().to_string();
    config.retry_base_ms = 20;
    // Webhook and dispatch receivers of the tests listen on 127.0.0.1, which the
    // outbound policy refuses unless allowed (the `outbound` tests clear this).
    config.outbound_allow = vec!["127.0.0.1".parse().unwrap()];
    configure(&mut config);
    let app = Application::build(config.clone())
        .await
        .expect("server builds");
    let base = format!("http://{}", app.addr());
    let db = app.db();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        client: new_client(),
        bearer_client: bearer_client(),
        db,
        config,
        dir,
        database_url,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// The helpers of a test server for a `runboard` process serving at `base`
    /// from `database_url` (its own handle on the database, for checks).
    pub async fn of_process(base: String, database_url: String, dir: Arc<TempDir>) -> TestApp {
        TestApp {
            base,
            client: new_client(),
            bearer_client: bearer_client(),
            db: store::db::Db::connect(&database_url).await.unwrap(),
            config: Config::for_database(&database_url),
            dir,
            database_url,
            stop: None,
            server: None,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    /// The directory the server stores uploaded artifact files in.
    pub fn artifact_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("artifacts")
    }

    /// One prune pass by every account's policy, as if it were `days` days from
    /// now (the runs of a test are then that old), without pauses; the census of
    /// the storage page is taken too.
    pub async fn prune_in(&self, days: i64) -> store::prune::PassReport {
        let store = store::storage::Store::local(self.artifact_dir()).unwrap();
        let mut options = store::prune::PruneOptions::new("server");
        options.now = store::db::now_ms() + days * model::DAY_MS;
        options.pause_ratio = 0.0;
        options.census = store::prune::CensusWhen::Always;
        store::prune::run(&self.db, &store, options).await.unwrap()
    }

    /// Stops this server gracefully and starts a new one on the same database.
    pub async fn restart(mut self, configure: impl FnOnce(&mut Config)) -> TestApp {
        self.stop().await;
        self.start_again(configure).await
    }

    /// Stops this server gracefully (its files stay, for [`TestApp::start_again`]).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        self.db.close().await;
    }

    /// A new server on the files of this stopped one.
    pub async fn start_again(self, configure: impl FnOnce(&mut Config)) -> TestApp {
        spawn_in(self.dir.clone(), self.database_url.clone(), configure).await
    }

    /// The test's own directory (database, artifacts), for files beside them.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A client that keeps no cookies and does not follow redirects.
fn bearer_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Posts an artifact upload (a multipart form) to `run` with its runner token.
    pub async fn upload_form(
        &self,
        run: &str,
        runner: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        new_client()
            .post(self.url(&format!("/api/runner/runs/{run}/artifacts")))
            .bearer_auth(runner)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads one file of `artifact_type` to `run`, as a runner does.
    pub async fn upload_file(
        &self,
        run: &str,
        runner: &str,
        artifact_type: &str,
        (name, mime, bytes): (&str, &str, Vec<u8>),
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("artifactType", artifact_type.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(name.to_string())
                    .mime_str(mime)
                    .unwrap(),
            );
        self.upload_form(run, runner, form).await
    }

    /// A stored artifact's content, read through the owner API with `token`.
    pub async fn artifact_content(
        &self,
        token: &str,
        run: &str,
        artifact: &str,
    ) -> reqwest::Response {
        new_client()
            .get(self.url(&format!("/api/runs/{run}/artifacts/{artifact}/content")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Posts the login form the way a browser without JavaScript does.
    pub async fn login_form(&self, email: &str, password: &str, next: &str) -> reqwest::Response {
        self.login_form_in(&self.client, email, password, next)
            .await
    }

    /// [`TestApp::login_form`] with another browser's cookie jar.
    pub async fn login_form_in(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
        next: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/fn/login"))
            .header(ACCEPT, "text/html")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[
                ("email", email),
                ("password", password),
                ("next", next),
            ]))
            .send()
            .await
            .unwrap()
    }

    /// A browser of its own (a fresh cookie jar), signed in through the form.
    pub async fn signed_in_client(&self, email: &str, password: &str) -> reqwest::Client {
        let client = new_client();
        let response = self.login_form_in(&client, email, password, "/").await;
        assert_eq!(response.status(), 302, "{email} logs in");
        client
    }

    pub async fn login_owner(&self) {
        let response = self.login_form(OWNER_EMAIL, OWNER_PASSWORD, "/").await;
        assert_eq!(response.status(), 302, "owner login should redirect");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn owner_account(&self) -> model::AccountPk {
        store::db::sql::query_scalar("SELECT account_pk FROM users WHERE email = ?")
            .bind(OWNER_EMAIL)
            .fetch_one(&self.db.read)
            .await
            .unwrap()
    }
}

impl TestApp {
    /// Runs one statement straight on the database (text parameters), as a row
    /// written before a check existed would have been.
    pub async fn execute(&self, statement: &str, params: &[&str]) {
        let mut tx = self.db.begin_write().await.unwrap();
        let mut query = store::db::sql::query(statement.to_string());
        for param in params {
            // Numbers as numbers: PostgreSQL checks a parameter's type.
            query = match param.parse::<i64>() {
                Ok(number) => query.bind(number),
                Err(_) => query.bind(*param),
            };
        }
        let done = query.execute(&mut *tx).await.unwrap();
        assert!(done.rows_affected() > 0, "{statement} changed nothing");
        tx.commit().await.unwrap();
    }
}

/// Every `href` and `src` value in the tags of a page's markup (escaped text holds
/// no `<`), unescaped enough to read the scheme as a browser would (lower case,
/// without whitespace or control characters).
pub fn link_targets(html: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let tags = html
        .split('<')
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap_or(rest.len())]);
    for tag in tags {
        for attribute in [" href=\"", " src=\""] {
            let Some(at) = tag.find(attribute) else {
                continue;
            };
            let rest = &tag[at + attribute.len()..];
            let value = &rest[..rest.find('"').unwrap_or(rest.len())];
            targets.push(
                value
                    .replace("&amp;", "&")
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase(),
            );
        }
    }
    targets
}

/// Fails when a link or image of the page points at a script or data URL.
pub fn assert_no_script_links(html: &str) {
    for target in link_targets(html) {
        for scheme in ["javascript:", "data:", "vbscript:"] {
            assert!(!target.starts_with(scheme), "a {scheme} link: {target}");
        }
    }
}

pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(key, value)| format!("{key}={}", urlencode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A JSON API client for the owner of the test server's first account.
impl TestApp {
    /// An API JWT for email/password, from `POST /api/auth/token`.
    pub async fn api_token_for(&self, email: &str, password: &str) -> String {
        runboard_client::Client::new(self.client.clone(), &self.base)
            .api_token(email, password)
            .await
            .unwrap()
    }

    /// The typed API client of this server (without the cookies of [`TestApp::client`]).
    pub fn api(&self) -> runboard_client::Client {
        runboard_client::Client::new(self.bearer_client.clone(), &self.base)
    }

    pub async fn owner_token(&self) -> String {
        self.api_token_for(OWNER_EMAIL, OWNER_PASSWORD).await
    }

    /// Sends a request with a bearer token and returns (status, JSON body).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .bearer_client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    pub async fn create_run(&self, token: &str, body: serde_json::Value) -> (String, String) {
        let created = self
            .api()
            .owner(token)
            .create_run(&body)
            .await
            .unwrap_or_else(|error| panic!("POST /api/runs: {error}"));
        (created.run.id.to_string(), created.runner_token)
    }

    /// A second account with its own owner; returns that owner's API JWT.
    pub async fn other_account_token(&self) -> String {
        let mut tx = self.db.begin_write().await.unwrap();
        let account = store::db::accounts::create_account(&mut tx, "Other")
            .await
            .unwrap();
        let hash = store::auth::hash_password("other-password").unwrap();
        store::db::users::create_user(
            &mut tx,
            account,
            "other@example.com",
            &hash,
            model::Role::Owner,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.api_token_for("other@example.com", "other-password")
            .await
    }
}

/// Sends SIGTERM to a started `runboard` and waits (at most `within`) for it to exit.
pub async fn terminate(
    child: &mut tokio::process::Child,
    within: std::time::Duration,
) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    tokio::time::timeout(within, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the server did not stop within {within:?} of SIGTERM"))
        .unwrap()
}

/// One message of the live stream, its data read as JSON.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: Option<i64>,
    pub event: String,
    pub data: serde_json::Value,
}

/// An open live stream (`GET /api/events/stream`), read by the client crate's reader.
pub struct Stream {
    reader: runboard_client::sse::EventStream,
    /// Comment lines seen so far (heartbeats).
    pub comments: Vec<String>,
}

impl Stream {
    /// Opens the stream with a bearer token (and a position to resume from) and
    /// reads its first message, which must be `ready` without an id.
    pub async fn open(
        app: &TestApp,
        query: &str,
        token: &str,
        last_event_id: Option<i64>,
    ) -> Stream {
        let mut request = app
            .bearer_client
            .get(app.url(&format!("/api/events/stream{query}")))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut stream = Stream {
            reader: runboard_client::sse::EventStream::with_comments(response),
            comments: Vec::new(),
        };
        let ready = stream.next().await.expect("a ready message");
        assert_eq!(ready.event, "ready");
        assert_eq!(ready.id, None, "ready must not move the client's position");
        stream
    }

    /// The next message, or `None` if none comes within two seconds.
    pub async fn next(&mut self) -> Option<Message> {
        self.next_within(std::time::Duration::from_secs(2)).await
    }

    /// The next message, or `None` if none comes within `wait` (or the stream ended).
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<Message> {
        let next = tokio::time::timeout(wait, self.reader.next()).await;
        self.comments = self.reader.comments();
        let message = next.ok()?.ok()??;
        Some(Message {
            id: message.seq(),
            data: message.json(),
            event: message.event,
        })
    }

    /// Whether the server ends the stream within `within` (messages before the end
    /// are read and dropped).
    pub async fn ends_within(&mut self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, async {
            while let Ok(Some(_)) = self.reader.next().await {}
        })
        .await
        .is_ok()
    }

    /// Messages until `count` have come (panics on a timeout).
    pub async fn take(&mut self, count: usize) -> Vec<Message> {
        let mut messages = Vec::new();
        while messages.len() < count {
            let message = self.next().await.unwrap_or_else(|| {
                panic!("expected {count} messages, got {messages:?}");
            });
            messages.push(message);
        }
        messages
    }
}

/// An HTTP endpoint that records what it receives and answers from a script.
#[derive(Clone, Default)]
pub struct Receiver {
    pub received: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Status codes to answer, in order; 200 once they run out (or always `fallback`).
    script: Arc<Mutex<Vec<u16>>>,
    fallback: u16,
}

impl Receiver {
    pub fn new(script: Vec<u16>, fallback: u16) -> Receiver {
        Receiver {
            received: Arc::default(),
            script: Arc::new(Mutex::new(script)),
            fallback,
        }
    }

    pub async fn serve_on(&self, listener: tokio::net::TcpListener) {
        let router = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    }

    pub async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        self.serve_on(listener).await;
        url
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn last(&self) -> (HeaderMap, Value) {
        let received = self.received.lock().unwrap();
        let (headers, body) = received.last().unwrap().clone();
        (headers, serde_json::from_str(&body).unwrap())
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    receiver.received.lock().unwrap().push((headers, body));
    let mut script = receiver.script.lock().unwrap();
    let code = if script.is_empty() {
        receiver.fallback
    } else {
        script.remove(0)
    };
    StatusCode::from_u16(code).unwrap()
}

/// Polls until `check` holds (the outbox works in the background).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
