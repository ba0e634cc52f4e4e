//! Demo mode (`--demo`, `RUNBOARD_DEMO=1`): a simulated fleet of runners that keeps
//! a fresh dashboard busy with realistic runs, so a newcomer sees Runboard working
//! in one command.
//!
//! # Only through the real APIs
//!
//! The fleet is an HTTP client of the server it runs in, on the server's own
//! listening address. Everything a run shows — its creation, status, progress,
//! steps (with retried attempts, cache hits and skipped steps), batched events and
//! artifacts — arrives through the owner JSON API and the runner callback API,
//! exactly as from an outside agent. Nothing is written to the database here.
//! Runs reach their runner three ways, as in a real deployment:
//!
//! - **direct**: the fleet creates the run (`POST /api/runs`) and executes it with
//!   the `runnerToken` of the answer;
//! - **claim** (pull model): runs of `data-sync` are left `requested`; a polling
//!   worker claims them (`POST /api/runner/claim`) and executes what it gets;
//! - **dispatch** (push model): the fleet serves a small job receiver on
//!   `127.0.0.1:0` and makes it `design-builder`'s dispatch URL (`PUT
//!   /api/agents/design-builder`); the server's outbox posts each new run's job
//!   request there and the receiver executes it with the job's runner token. The
//!   URL is cleared again when the fleet stops.
//!
//! Every run's `context.demo` says how it was run (`runner`: `direct`, `claim` or
//! `dispatch`), which script it follows (`scenario`: `complete`, `fail` or
//! `cancel`) and the `seed` its details are drawn from, so a claimed or
//! dispatched run unfolds the same way whoever picks it up. Runs that the fleet
//! did not create (a `data-sync` run started from the dashboard, say) are
//! executed too. Runs meant to be cancelled are cancelled by the owner
//! (`POST /api/runs/:id/cancel`) part-way; their runner learns it from the next
//! callback's `409 run_finished` and stops.
//!
//! # The owner credential
//!
//! The fleet acts as the first owner. For the owner API it mints a short-lived
//! owner JWT in-process for each call — the same kind of token the server's own
//! `POST /api/auth/token` issues (`store::keys::Keys::api_token`, signed with the
//! `api_jwt_secret` setting that start-up loads). The alternatives were worse: a
//! stored API token (`rb_…`) would add a long-lived credential nobody asked for
//! to the owner's token list at every start (or need cleaning up, which a killed
//! process never does), and logging in needs the owner's password, which Runboard
//! only keeps hashed. A JWT lives an hour, is never stored, and minting one per
//! call means a fleet that runs for days never holds an expired one.
//!
//! # Pace and failure
//!
//! At [`DemoOptions::default`] a new run starts every 2–5 s, at most six run at
//! once, each takes 10–60 s and reports every few hundred milliseconds; `speed`
//! scales all of it. A failed call is logged at `warn` and the fleet carries on;
//! a runner whose calls keep failing gives its run up. When the stop signal comes
//! the fleet stops starting runs, marks the runs still in flight `cancelled`
//! (error code `demo_stopped`), clears the dispatch URL and returns.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::db::{settings, Db};
use store::keys::Keys;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// The line logged when the fleet starts.
pub const START_MESSAGE: &str =
    "demo mode: a simulated fleet is driving runs (RUNBOARD_DEMO=0 to switch off)";

/// How the fleet behaves.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// 1.0 is real time (a run every 2–5 s, each 10–60 s); 10.0 is ten times faster.
    pub speed: f64,
    /// Most runs in flight at once.
    pub max_running: usize,
    /// Seed of the fleet's random choices; `None` draws one.
    pub seed: Option<u64>,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            speed: 1.0,
            max_running: 6,
            seed: None,
        }
    }
}

impl DemoOptions {
    fn speed(&self) -> f64 {
        if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        }
    }

    /// `seconds` of simulated time as a real wait.
    fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds / self.speed()).max(0.002))
    }
}

/// The base URL of a server listening on `addr`, as seen from this machine
/// (`0.0.0.0` and `::` become the loopback address).
pub fn local_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Runs the fleet against the server at `base_url` (the same server whose
/// database `db` is; it is only read, for the owner credential) until `stop`
/// turns true or its sender is dropped.
pub async fn run(base_url: String, db: Db, options: DemoOptions, stop: watch::Receiver<bool>) {
    tracing::info!("{START_MESSAGE}");
    let owner = match OwnerKey::load(&db).await {
        Ok(owner) => owner,
        Err(error) => {
            tracing::warn!(%error, "demo mode: no owner to act for; the simulated fleet is off");
            return;
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Runboard-demo/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(
                %error,
                "demo mode: cannot build an HTTP client; the simulated fleet is off"
            );
            return;
        }
    };
    let seed = options.seed.unwrap_or_else(rand::random);
    let fleet = Arc::new(Fleet {
        client,
        base: base_url.trim_end_matches('/').to_string(),
        owner,
        slots: Arc::new(Semaphore::new(options.max_running.max(1))),
        options,
        stop: stop.clone(),
        waiting: Mutex::new(HashMap::new()),
        active: Arc::new(AtomicUsize::new(0)),
        hosts: AtomicUsize::new(0),
    });

    // The job receiver for push dispatch.
    let receiver = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(
                %error,
                "demo mode: cannot open the job receiver; no runs are dispatched"
            );
            None
        }
    };
    let dispatch_url = receiver
        .as_ref()
        .and_then(|listener| listener.local_addr().ok())
        .map(|addr| format!("http://{addr}/jobs"));
    let receiver_task = receiver.map(|listener| {
        let router = Router::new()
            .route("/jobs", post(receive_job))
            .with_state(fleet.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "demo mode: the job receiver stopped");
            }
        })
    });

    let mut stop_here = stop.clone();
    let Some(campaigns) = fleet.prepare(dispatch_url.as_deref(), &mut stop_here).await else {
        finish(&fleet, receiver_task, None, dispatch_url.is_some()).await;
        return;
    };
    let claimer = tokio::spawn(claim_worker(fleet.clone()));
    fleet.schedule(&campaigns, seed, &mut stop_here).await;
    finish(&fleet, receiver_task, Some(claimer), dispatch_url.is_some()).await;
}

/// Winds the fleet down after the stop signal.
async fn finish(
    fleet: &Arc<Fleet>,
    receiver: Option<tokio::task::JoinHandle<()>>,
    claimer: Option<tokio::task::JoinHandle<()>>,
    clear_dispatch: bool,
) {
    for task in [receiver, claimer].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if clear_dispatch {
        match fleet
            .owner_call(
                Method::PUT,
                &format!("/api/agents/{}", DISPATCH_AGENT),
                Some(&json!({"dispatchUrl": ""})),
            )
            .await
        {
            Ok((200, _)) => {}
            other => tracing::warn!(
                ?other,
                "demo mode: could not clear {DISPATCH_AGENT}'s dispatch URL"
            ),
        }
    }
    fleet
        .waiting
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();
    let deadline = Instant::now() + Duration::from_secs(5);
    while fleet.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!("demo mode: the simulated fleet stopped");
}

/// Waits `duration`; false when the stop signal came first (or had come).
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}

/// Mints owner API JWTs for the first owner (see the module documentation).
struct OwnerKey {
    keys: Keys,
    user_id: String,
}

impl OwnerKey {
    async fn load(db: &Db) -> anyhow::Result<OwnerKey> {
        // The setting start-up signs owner JWTs with (server/src/startup.rs).
        let api_secret = settings::secret(db, settings::API_JWT_SECRET).await?;
        let user_id: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE role = 'owner' ORDER BY pk LIMIT 1")
                .fetch_optional(&db.read)
                .await?;
        let user_id = user_id.ok_or_else(|| anyhow::anyhow!("there is no owner yet"))?;
        // Only the API half of these keys is used; the runner key is a throwaway.
        let keys = Keys::new(&Uuid::new_v4().to_string(), &api_secret, None);
        Ok(OwnerKey { keys, user_id })
    }

    fn token(&self) -> Result<String, String> {
        self.keys
            .api_token(&self.user_id)
            .map_err(|error| format!("cannot mint an owner token: {error}"))
    }
}

/// How a run reaches its runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Direct,
    Claim,
    Dispatch,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Claim => "claim",
            Mode::Dispatch => "dispatch",
        }
    }

    fn parse(text: &str) -> Option<Mode> {
        [Mode::Direct, Mode::Claim, Mode::Dispatch]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

/// How a run is scripted to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Complete,
    Fail,
    Cancel,
}

impl Scenario {
    fn as_str(self) -> &'static str {
        match self {
            Scenario::Complete => "complete",
            Scenario::Fail => "fail",
            Scenario::Cancel => "cancel",
        }
    }

    fn parse(text: &str) -> Option<Scenario> {
        [Scenario::Complete, Scenario::Fail, Scenario::Cancel]
            .into_iter()
            .find(|scenario| scenario.as_str() == text)
    }
}

const DISPATCH_AGENT: &str = "design-builder";
const CLAIM_AGENT: &str = "data-sync";

/// What a step of an agent is like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Plain work, reported with progress events.
    Work,
    /// Work that is mostly tool calls.
    Tools,
    /// Usually a cache hit.
    Cached,
    /// Often skipped, for the given reason.
    Optional(&'static str),
    /// Sometimes fails on its first attempt and succeeds on the second.
    Flaky,
}

/// What a step leaves behind.
#[derive(Clone, Copy)]
enum Output {
    /// An uploaded PNG screenshot.
    Screenshot(&'static str),
    /// An uploaded markdown report.
    Markdown(&'static str),
    /// An uploaded JSON file, with its artifact type.
    JsonFile(&'static str, &'static str),
    /// A site bundle registered by URL (it makes a campaign live).
    Bundle,
    /// A plain-text note registered by JSON with inline text.
    Note(&'static str),
    /// A pull request registered by URL.
    PullRequest,
}

struct StepTemplate {
    id: &'static str,
    name: &'static str,
    skill: &'static str,
    weight: f64,
    role: Role,
    outputs: &'static [Output],
}

const fn step(
    id: &'static str,
    name: &'static str,
    skill: &'static str,
    weight: f64,
    role: Role,
    outputs: &'static [Output],
) -> StepTemplate {
    StepTemplate {
        id,
        name,
        skill,
        weight,
        role,
        outputs,
    }
}

struct Profile {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    mode: Mode,
    campaign: Option<&'static str>,
    initiators: &'static [&'static str],
    tools: &'static [&'static str],
    steps: &'static [StepTemplate],
}

const CAMPAIGNS: [&str; 3] = ["Spring launch", "Competitor watch", "Fintech hiring push"];

const PROFILES: [Profile; 5] = [
    Profile {
        slug: "research-assistant",
        name: "Research assistant",
        description: "Searches, reads and writes a cited market brief",
        mode: Mode::Direct,
        campaign: Some("Competitor watch"),
        initiators: &["schedule", "api", "owner"],
        tools: &["web.search", "web.fetch", "llm.summarize", "pdf.extract"],
        steps: &[
            step(
                "plan",
                "Plan the research",
                "llm.plan",
                1.0,
                Role::Work,
                &[],
            ),
            step(
                "search",
                "Search the web",
                "web.search",
                2.0,
                Role::Tools,
                &[],
            ),
            step(
                "read",
                "Read the sources",
                "web.fetch",
                3.0,
                Role::Flaky,
                &[],
            ),
            step(
                "index",
                "Index the sources",
                "vector.index",
                1.0,
                Role::Cached,
                &[],
            ),
            step(
                "fact-check",
                "Cross-check contested claims",
                "llm.verify",
                1.5,
                Role::Optional("no contested claims found"),
                &[],
            ),
            step(
                "write",
                "Write the brief",
                "llm.write",
                2.5,
                Role::Work,
                &[
                    Output::Markdown("brief.md"),
                    Output::JsonFile("sources.json", "data"),
                    Output::Note("summary.txt"),
                ],
            ),
        ],
    },
    Profile {
        slug: DISPATCH_AGENT,
        name: "Design builder",
        description: "Builds and previews landing pages (runs pushed to the demo's job receiver)",
        mode: Mode::Dispatch,
        campaign: Some("Spring launch"),
        initiators: &["owner", "api"],
        tools: &["figma.read", "llm.generate", "fs.write", "npm.run"],
        steps: &[
            step("brief", "Read the brief", "llm.read", 1.0, Role::Work, &[]),
            step(
                "brand",
                "Load the brand kit",
                "assets.brand",
                1.0,
                Role::Cached,
                &[Output::JsonFile("tokens.json", "design_system")],
            ),
            step(
                "layout",
                "Generate the layout",
                "llm.design",
                2.5,
                Role::Tools,
                &[],
            ),
            step(
                "build",
                "Build the site",
                "build.vite",
                2.0,
                Role::Flaky,
                &[],
            ),
            step(
                "a11y",
                "Accessibility audit",
                "audit.axe",
                1.5,
                Role::Optional("this template passed an audit in the last 24 h"),
                &[],
            ),
            step(
                "screenshot",
                "Take screenshots",
                "browser.screenshot",
                1.0,
                Role::Work,
                &[Output::Screenshot("home.png")],
            ),
            step(
                "deploy",
                "Deploy the preview",
                "deploy.cdn",
                1.0,
                Role::Work,
                &[Output::Bundle],
            ),
        ],
    },
    Profile {
        slug: "code-reviewer",
        name: "Code reviewer",
        description: "Reviews pull requests: lint, tests, then a written review",
        mode: Mode::Direct,
        campaign: None,
        initiators: &["api", "webhook:github"],
        tools: &["git.diff", "cargo.clippy", "cargo.test", "llm.review"],
        steps: &[
            step(
                "checkout",
                "Check out the pull request",
                "git.checkout",
                1.0,
                Role::Work,
                &[],
            ),
            step(
                "deps",
                "Install dependencies",
                "build.deps",
                1.0,
                Role::Cached,
                &[],
            ),
            step("lint", "Lint", "lint.clippy", 1.5, Role::Tools, &[]),
            step("tests", "Run the tests", "test.run", 3.0, Role::Flaky, &[]),
            step(
                "bench",
                "Benchmarks",
                "bench.run",
                2.0,
                Role::Optional("no performance-sensitive files changed"),
                &[],
            ),
            step(
                "review",
                "Review the diff",
                "llm.review",
                2.5,
                Role::Tools,
                &[Output::Markdown("review.md"), Output::PullRequest],
            ),
        ],
    },
    Profile {
        slug: CLAIM_AGENT,
        name: "Data sync",
        description: "Syncs CRM records to the warehouse (runs claimed by a polling worker)",
        mode: Mode::Claim,
        campaign: None,
        initiators: &["schedule"],
        tools: &["crm.query", "etl.map", "warehouse.upsert"],
        steps: &[
            step(
                "connect",
                "Connect to the CRM",
                "crm.connect",
                0.5,
                Role::Work,
                &[],
            ),
            step(
                "schema",
                "Load the schema",
                "crm.schema",
                1.0,
                Role::Cached,
                &[],
            ),
            step(
                "fetch",
                "Fetch changed records",
                "crm.fetch",
                3.0,
                Role::Flaky,
                &[],
            ),
            step(
                "transform",
                "Transform records",
                "etl.transform",
                2.0,
                Role::Work,
                &[],
            ),
            step(
                "dedupe",
                "Deduplicate",
                "etl.dedupe",
                1.0,
                Role::Optional("no duplicates since the last sync"),
                &[],
            ),
            step(
                "write",
                "Write to the warehouse",
                "warehouse.write",
                2.0,
                Role::Tools,
                &[
                    Output::JsonFile("sync-report.json", "report"),
                    Output::Note("sync-summary.txt"),
                ],
            ),
        ],
    },
    Profile {
        slug: "jobseek-add-company",
        name: "Jobseek: add company",
        description: "Finds a company's careers page and adds its open roles",
        mode: Mode::Direct,
        campaign: Some("Fintech hiring push"),
        initiators: &["owner", "api", "schedule"],
        tools: &["web.search", "browser.open", "llm.extract"],
        steps: &[
            step(
                "lookup",
                "Find the company",
                "web.search",
                1.0,
                Role::Tools,
                &[],
            ),
            step(
                "careers",
                "Open the careers page",
                "browser.open",
                2.0,
                Role::Flaky,
                &[Output::Screenshot("careers.png")],
            ),
            step(
                "extract",
                "Extract open roles",
                "llm.extract",
                2.5,
                Role::Tools,
                &[],
            ),
            step(
                "enrich",
                "Enrich with funding data",
                "data.funding",
                1.0,
                Role::Cached,
                &[],
            ),
            step(
                "notify",
                "Notify subscribers",
                "notify.email",
                0.5,
                Role::Optional("dry run: nobody is notified"),
                &[],
            ),
            step(
                "save",
                "Save to jobseek",
                "jobseek.save",
                1.0,
                Role::Work,
                &[Output::JsonFile("roles.json", "data")],
            ),
        ],
    },
];

fn profile(slug: &str) -> &'static Profile {
    PROFILES
        .iter()
        .find(|profile| profile.slug == slug)
        .unwrap_or(&PROFILES[0])
}

/// The first runs show every kind of run once, so a new dashboard (and the
/// test) has all of them within a minute; after that it is random.
const SHOWCASE: [(&str, Scenario); 8] = [
    ("research-assistant", Scenario::Complete),
    (DISPATCH_AGENT, Scenario::Complete),
    (CLAIM_AGENT, Scenario::Complete),
    ("jobseek-add-company", Scenario::Complete),
    ("code-reviewer", Scenario::Fail),
    ("research-assistant", Scenario::Cancel),
    (CLAIM_AGENT, Scenario::Cancel),
    (DISPATCH_AGENT, Scenario::Fail),
];

const COMPANIES: [&str; 12] = [
    "Stripe", "Linear", "Vercel", "Figma", "Notion", "Datadog", "Ramp", "Plaid", "Mercury", "Brex",
    "Wise", "Monzo",
];
const TOPICS: [&str; 8] = [
    "usage-based pricing pages",
    "EU AI Act duties for agent vendors",
    "self-hosted observability tools",
    "developer onboarding flows",
    "open-source vector databases",
    "B2B payment APIs in Europe",
    "AI code review products",
    "workflow orchestration engines",
];
const REPOS: [&str; 4] = ["acme/web", "acme/api", "acme/mobile", "acme/infra"];
const CRM_OBJECTS: [&str; 4] = ["companies", "contacts", "deals", "tickets"];
const BRANDS: [[u8; 3]; 6] = [
    [99, 91, 255],
    [14, 165, 233],
    [16, 185, 129],
    [244, 63, 94],
    [245, 158, 11],
    [139, 92, 246],
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    // Every list here is a non-empty constant.
    items.choose(rng).unwrap_or(&items[0])
}

/// The fleet's shared state.
struct Fleet {
    client: reqwest::Client,
    base: String,
    owner: OwnerKey,
    options: DemoOptions,
    stop: watch::Receiver<bool>,
    /// One permit per run in flight (the pace limit).
    slots: Arc<Semaphore>,
    /// Permits of claim and dispatch runs not yet picked up, by run id.
    waiting: Mutex<HashMap<Uuid, (Instant, OwnedSemaphorePermit)>>,
    /// Runners executing now.
    active: Arc<AtomicUsize>,
    hosts: AtomicUsize,
}

/// Counts a runner as active while it lives.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Fleet {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn enter(&self) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(self.active.clone())
    }

    fn take_waiting(&self, run_id: Uuid) -> Option<OwnedSemaphorePermit> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&run_id)
            .map(|(_, permit)| permit)
    }

    fn park(&self, run_id: Uuid, permit: OwnedSemaphorePermit) {
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A run nobody picked up in two minutes (dispatch failing, say) frees its slot.
        waiting.retain(|_, (since, _)| since.elapsed() < Duration::from_secs(120));
        waiting.insert(run_id, (Instant::now(), permit));
    }

    /// Calls the owner API as the first owner: (status, JSON body or Null).
    async fn owner_call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let token = self.owner.token()?;
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|error| error.to_string())?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body))
    }

    /// Waits for the server, registers the agents (and the dispatch URL) and finds
    /// or creates the campaigns; retried until it works or the fleet stops.
    async fn prepare(
        &self,
        dispatch_url: Option<&str>,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<HashMap<&'static str, Uuid>> {
        let mut attempt = 0u32;
        loop {
            match self.try_prepare(dispatch_url).await {
                Ok(campaigns) => return Some(campaigns),
                Err(error) => {
                    attempt += 1;
                    // The first attempts may simply be early: the server is starting.
                    if attempt > 3 {
                        tracing::warn!(%error, "demo mode: setting up the fleet failed; retrying");
                    }
                }
            }
            let wait = Duration::from_millis(200 * u64::from(attempt.min(25)));
            if !pause(stop, wait).await {
                return None;
            }
        }
    }

    async fn try_prepare(
        &self,
        dispatch_url: Option<&str>,
    ) -> Result<HashMap<&'static str, Uuid>, String> {
        let health = self
            .client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .map_err(|error| format!("the server does not answer yet: {error}"))?;
        if !health.status().is_success() {
            return Err(format!("/healthz answered {}", health.status()));
        }

        let (status, body) = self.owner_call(Method::GET, "/api/agents", None).await?;
        if status != 200 {
            return Err(format!("GET /api/agents answered {status}: {body}"));
        }
        let known: Vec<String> = body["data"]["agents"]
            .as_array()
            .map(|agents| {
                agents
                    .iter()
                    .filter_map(|agent| agent["slug"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for profile in &PROFILES {
            let mut update = serde_json::Map::new();
            // An agent someone already has keeps its name and description.
            if !known.iter().any(|slug| slug == profile.slug) {
                update.insert("name".into(), profile.name.into());
                update.insert("description".into(), profile.description.into());
            }
            if profile.mode == Mode::Dispatch {
                if let Some(url) = dispatch_url {
                    update.insert("dispatchUrl".into(), url.into());
                }
            }
            if update.is_empty() {
                continue;
            }
            let path = format!("/api/agents/{}", profile.slug);
            let (status, body) = self
                .owner_call(Method::PUT, &path, Some(&Value::Object(update)))
                .await?;
            if status != 200 {
                return Err(format!("PUT {path} answered {status}: {body}"));
            }
        }

        let mut campaigns = HashMap::new();
        let mut offset = 0;
        loop {
            let path = format!("/api/campaigns?limit=100&offset={offset}");
            let (status, body) = self.owner_call(Method::GET, &path, None).await?;
            if status != 200 {
                return Err(format!("GET /api/campaigns answered {status}: {body}"));
            }
            let page = body["data"]["campaigns"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for campaign in &page {
                let name = campaign["name"].as_str().unwrap_or_default();
                let id = campaign["id"]
                    .as_str()
                    .and_then(|id| id.parse::<Uuid>().ok());
                if let (Some(wanted), Some(id)) = (CAMPAIGNS.iter().find(|c| **c == name), id) {
                    campaigns.entry(*wanted).or_insert(id);
                }
            }
            offset += page.len();
            let total = body["data"]["total"].as_u64().unwrap_or(0);
            if page.is_empty() || offset as u64 >= total {
                break;
            }
        }
        for name in CAMPAIGNS {
            if campaigns.contains_key(name) {
                continue;
            }
            let (status, body) = self
                .owner_call(Method::POST, "/api/campaigns", Some(&json!({"name": name})))
                .await?;
            let id = body["data"]["id"].as_str().and_then(|id| id.parse().ok());
            match (status, id) {
                (201, Some(id)) => {
                    campaigns.insert(name, id);
                }
                _ => return Err(format!("POST /api/campaigns answered {status}: {body}")),
            }
        }
        Ok(campaigns)
    }

    /// Starts runs at the configured pace until the fleet stops.
    async fn schedule(
        self: &Arc<Self>,
        campaigns: &HashMap<&'static str, Uuid>,
        seed: u64,
        stop: &mut watch::Receiver<bool>,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        for index in 0usize.. {
            let permit = tokio::select! {
                permit = self.slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            if self.stopping() {
                return;
            }
            let (profile, scenario, showcase) = match SHOWCASE.get(index) {
                Some((slug, scenario)) => (profile(slug), *scenario, true),
                None => {
                    let scenario = match rng.gen_range(0..100) {
                        0..=12 => Scenario::Fail,
                        13..=24 => Scenario::Cancel,
                        _ => Scenario::Complete,
                    };
                    (pick(&mut rng, &PROFILES), scenario, false)
                }
            };
            // Small enough to survive any JSON reader (and SQLite's json_extract) exactly.
            let run_seed = u64::from(rng.gen::<u32>());
            self.launch(
                profile, scenario, run_seed, showcase, campaigns, &mut rng, permit,
            )
            .await;
            let wait = self.options.scaled(rng.gen_range(2.0..5.0));
            if !pause(stop, wait).await {
                return;
            }
        }
    }

    /// Creates one run and hands it to its runner (now, or through claim or dispatch).
    #[allow(clippy::too_many_arguments)]
    async fn launch(
        self: &Arc<Self>,
        profile: &'static Profile,
        scenario: Scenario,
        seed: u64,
        showcase: bool,
        campaigns: &HashMap<&'static str, Uuid>,
        rng: &mut StdRng,
        permit: OwnedSemaphorePermit,
    ) {
        let (input, summary) = sample_input(profile.slug, rng);
        let context = json!({
            "demo": {
                "runner": profile.mode.as_str(),
                "scenario": scenario.as_str(),
                "seed": seed,
                "showcase": showcase,
            },
            "priority": *pick(rng, &["normal", "normal", "high", "low"]),
            "region": *pick(rng, &["eu-west-1", "us-east-1"]),
        });
        let mut body = json!({
            "agent": profile.slug,
            "input": input,
            "summary": summary,
            "initiator": *pick(rng, profile.initiators),
            "context": context,
        });
        if let Some(id) = profile.campaign.and_then(|name| campaigns.get(name)) {
            body["campaignId"] = json!(id);
        }
        let created = match self
            .owner_call(Method::POST, "/api/runs", Some(&body))
            .await
        {
            Ok((201, created)) => created,
            Ok((status, answer)) => {
                tracing::warn!(
                    status, %answer, agent = profile.slug,
                    "demo mode: creating a run failed"
                );
                return;
            }
            Err(error) => {
                tracing::warn!(%error, agent = profile.slug, "demo mode: creating a run failed");
                return;
            }
        };
        let data = &created["data"];
        let Some(run_id) = data["run"]["id"]
            .as_str()
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            tracing::warn!(%created, "demo mode: the created run has no id");
            return;
        };
        tracing::debug!(
            %run_id, agent = profile.slug, mode = profile.mode.as_str(),
            "demo mode: run created"
        );
        match profile.mode {
            Mode::Direct => {
                let Some(token) = data["runnerToken"].as_str() else {
                    tracing::warn!(%run_id, "demo mode: the created run has no runner token");
                    return;
                };
                let job = Job {
                    run_id,
                    token: token.to_string(),
                    agent: profile.slug.to_string(),
                    input: body["input"].clone(),
                    context: body["context"].clone(),
                    mode: Mode::Direct,
                    callback: None,
                };
                tokio::spawn(execute(self.clone(), job, Some(permit)));
            }
            Mode::Claim | Mode::Dispatch => self.park(run_id, permit),
        }
        if scenario == Scenario::Cancel {
            let plan = Plan::new(profile, scenario, seed, showcase);
            let delay = plan.total_secs * rng.gen_range(0.35..0.65) + 0.5;
            let fleet = self.clone();
            tokio::spawn(async move { fleet.cancel_later(run_id, delay).await });
        }
    }

    /// The owner changes their mind part-way through a run.
    async fn cancel_later(&self, run_id: Uuid, delay_secs: f64) {
        let mut stop = self.stop.clone();
        if !pause(&mut stop, self.options.scaled(delay_secs)).await {
            return;
        }
        match self
            .owner_call(Method::POST, &format!("/api/runs/{run_id}/cancel"), None)
            .await
        {
            Ok((200, _)) => tracing::debug!(%run_id, "demo mode: the owner cancelled a run"),
            // It ended before the owner got to it.
            Ok((409, _)) => {}
            Ok((status, answer)) => {
                tracing::warn!(%run_id, status, %answer, "demo mode: cancelling a run failed")
            }
            Err(error) => tracing::warn!(%run_id, %error, "demo mode: cancelling a run failed"),
        }
    }

    fn host_name(&self, mode: Mode) -> String {
        let number = self.hosts.fetch_add(1, Ordering::Relaxed) % 4 + 1;
        match mode {
            Mode::Direct => format!("sandbox-{number}"),
            Mode::Claim => format!("worker-{number}"),
            Mode::Dispatch => format!("builder-{number}"),
        }
    }
}

/// The pull model: claims requested runs of the claim agent and executes them.
async fn claim_worker(fleet: Arc<Fleet>) {
    let mut stop = fleet.stop.clone();
    let body = json!({"agent": CLAIM_AGENT});
    loop {
        if fleet.stopping() {
            return;
        }
        let wait = match fleet
            .owner_call(Method::POST, "/api/runner/claim", Some(&body))
            .await
        {
            Ok((200, claimed)) => {
                let data = &claimed["data"];
                let run_id = data["run"]["id"].as_str().and_then(|id| id.parse().ok());
                match (run_id, data["runnerToken"].as_str()) {
                    (Some(run_id), Some(token)) => {
                        let job = Job {
                            run_id,
                            token: token.to_string(),
                            agent: CLAIM_AGENT.to_string(),
                            input: data["run"]["input"].clone(),
                            context: data["run"]["context"].clone(),
                            mode: Mode::Claim,
                            callback: None,
                        };
                        let permit = fleet.take_waiting(run_id);
                        tokio::spawn(execute(fleet.clone(), job, permit));
                        // There may be more: ask again right away.
                        continue;
                    }
                    _ => {
                        tracing::warn!(%claimed, "demo mode: a claim answer without run or token");
                        fleet.options.scaled(5.0)
                    }
                }
            }
            Ok((204, _)) => fleet.options.scaled(1.0),
            Ok((status, answer)) => {
                tracing::warn!(status, %answer, "demo mode: claiming a run failed");
                fleet.options.scaled(5.0)
            }
            Err(error) => {
                tracing::warn!(%error, "demo mode: claiming a run failed");
                fleet.options.scaled(5.0)
            }
        };
        if !pause(&mut stop, wait).await {
            return;
        }
    }
}

/// Seed 003's job request, as the server's outbox posts it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobRequest {
    run_id: Uuid,
    agent: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    config: Value,
    callback_url: Option<String>,
    runner_token: String,
}

/// The push model's receiver: accepts the job and executes it in the background.
async fn receive_job(State(fleet): State<Arc<Fleet>>, Json(job): Json<JobRequest>) -> StatusCode {
    if fleet.stopping() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let permit = fleet.take_waiting(job.run_id);
    let job = Job {
        run_id: job.run_id,
        token: job.runner_token,
        agent: job.agent,
        input: job.input,
        context: job.config,
        mode: Mode::Dispatch,
        callback: job.callback_url,
    };
    tokio::spawn(execute(fleet.clone(), job, permit));
    StatusCode::ACCEPTED
}

/// A run handed to a runner.
struct Job {
    run_id: Uuid,
    token: String,
    agent: String,
    input: Value,
    context: Value,
    mode: Mode,
    /// The job request's callbackUrl, for dispatched runs.
    callback: Option<String>,
}

/// Why a runner stopped before finishing its script.
#[derive(Debug)]
enum Halt {
    /// The server answered 409 `run_finished`: cancelled (or ended) elsewhere.
    Finished,
    /// The server answered 404: the run was deleted.
    Gone,
    /// The fleet is stopping.
    Shutdown,
    /// Too many calls in a row failed.
    Broken,
}

/// What one step does in this run.
#[derive(Clone)]
enum StepKind {
    Work,
    CacheHit,
    Skipped(&'static str),
    /// Attempt 1 fails after this share of the step, attempt 2 completes.
    Retried(f64),
    /// The run fails in this step, after this share of it.
    Fails(f64),
}

struct PlannedStep {
    template: &'static StepTemplate,
    kind: StepKind,
    /// Simulated seconds of work.
    secs: f64,
}

/// A run's script, derived from (agent, scenario, seed) alone.
struct Plan {
    profile: &'static Profile,
    steps: Vec<PlannedStep>,
    total_secs: f64,
    seed: u64,
}

impl Plan {
    fn new(profile: &'static Profile, scenario: Scenario, seed: u64, showcase: bool) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed);
        let total_secs = rng.gen_range(10.0..60.0);
        let mut steps: Vec<PlannedStep> = profile
            .steps
            .iter()
            .map(|template| {
                let kind = match template.role {
                    Role::Cached if showcase || rng.gen_bool(0.75) => StepKind::CacheHit,
                    Role::Optional(reason) if showcase || rng.gen_bool(0.6) => {
                        StepKind::Skipped(reason)
                    }
                    Role::Flaky if showcase || rng.gen_bool(0.35) => {
                        StepKind::Retried(rng.gen_range(0.3..0.7))
                    }
                    _ => StepKind::Work,
                };
                PlannedStep {
                    template,
                    kind,
                    secs: 0.0,
                }
            })
            .collect();
        if scenario == Scenario::Fail {
            let candidates: Vec<usize> = steps
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(_, step)| matches!(step.kind, StepKind::Work | StepKind::Retried(_)))
                .map(|(index, _)| index)
                .collect();
            if let Some(step) = candidates
                .choose(&mut rng)
                .and_then(|at| steps.get_mut(*at))
            {
                step.kind = StepKind::Fails(rng.gen_range(0.3..0.8));
            }
        }
        let weight: f64 = steps
            .iter()
            .map(|step| match step.kind {
                StepKind::Work | StepKind::Retried(_) | StepKind::Fails(_) => step.template.weight,
                StepKind::CacheHit | StepKind::Skipped(_) => 0.0,
            })
            .sum::<f64>()
            .max(0.1);
        for step in &mut steps {
            step.secs = match step.kind {
                StepKind::CacheHit => rng.gen_range(0.2..0.6),
                StepKind::Skipped(_) => 0.0,
                _ => total_secs * step.template.weight / weight,
            };
        }
        Plan {
            profile,
            steps,
            total_secs,
            seed,
        }
    }

    /// The plan for a job: from its `context.demo`, or from its id when it was
    /// not started by the fleet.
    fn for_job(job: &Job) -> Plan {
        let demo = &job.context["demo"];
        let scenario = demo["scenario"]
            .as_str()
            .and_then(Scenario::parse)
            .unwrap_or(Scenario::Complete);
        let seed = demo["seed"]
            .as_u64()
            .unwrap_or_else(|| job.run_id.as_u128() as u64);
        let showcase = demo["showcase"].as_bool().unwrap_or(false);
        Plan::new(profile(&job.agent), scenario, seed, showcase)
    }
}

/// Executes one run through the runner API, then reports how it ended.
async fn execute(fleet: Arc<Fleet>, job: Job, permit: Option<OwnedSemaphorePermit>) {
    let _active = fleet.enter();
    let _permit = permit;
    let mode = job
        .context
        .pointer("/demo/runner")
        .and_then(Value::as_str)
        .and_then(Mode::parse)
        .unwrap_or(job.mode);
    let callback = match &job.callback {
        // The callback URL is built from RUNBOARD_PUBLIC_URL, which may be a proxy
        // this process cannot reach; the fleet always talks to the local address.
        Some(url) if url.starts_with(&fleet.base) => url.trim_end_matches('/').to_string(),
        _ => format!("{}/api/runner/runs/{}", fleet.base, job.run_id),
    };
    let plan = Plan::for_job(&job);
    let mut runner = Runner {
        host: fleet.host_name(mode),
        stop: fleet.stop.clone(),
        fleet: fleet.clone(),
        callback,
        rng: StdRng::seed_from_u64(plan.seed ^ 0x5eed),
        mode,
        job,
        failures: 0,
        next_event: 0,
        pending: Vec::new(),
        progress: 0.0,
    };
    let run_id = runner.job.run_id;
    match runner.drive(&plan).await {
        Ok(()) => tracing::debug!(%run_id, "demo mode: run finished"),
        Err(Halt::Finished) => {
            tracing::info!(%run_id, "demo mode: the run was cancelled; its runner stops")
        }
        Err(Halt::Gone) => {
            tracing::info!(%run_id, "demo mode: the run was deleted; its runner stops")
        }
        Err(Halt::Shutdown) => {
            runner
                .abandon(
                    "cancelled",
                    "demo_stopped",
                    "the demo fleet stopped with the server",
                )
                .await
        }
        Err(Halt::Broken) => {
            tracing::warn!(
                %run_id,
                "demo mode: too many failed calls; the runner gives the run up"
            );
            runner
                .abandon(
                    "failed",
                    "runner_lost",
                    "the simulated runner lost contact with the server",
                )
                .await;
        }
    }
}

/// One simulated runner executing one run.
struct Runner {
    fleet: Arc<Fleet>,
    job: Job,
    host: String,
    mode: Mode,
    /// `…/api/runner/runs/<id>`.
    callback: String,
    stop: watch::Receiver<bool>,
    rng: StdRng,
    failures: u32,
    next_event: u64,
    /// Events not yet accepted by the server (sent again with their ids on failure).
    pending: Vec<Value>,
    progress: f64,
}

/// Most events kept while the server does not take them.
const MAX_PENDING_EVENTS: usize = 500;

impl Runner {
    /// Sends one runner call. `Ok(None)` is a failure worth only a warning.
    async fn call(
        &mut self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<Value>, Halt> {
        if *self.stop.borrow() {
            return Err(Halt::Shutdown);
        }
        let run_id = self.job.run_id;
        match request.bearer_auth(&self.job.token).send().await {
            Ok(response) => {
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status.is_success() {
                    self.failures = 0;
                    return Ok(Some(body));
                }
                if status == reqwest::StatusCode::CONFLICT
                    && body["error"]["code"] == "run_finished"
                {
                    return Err(Halt::Finished);
                }
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Err(Halt::Gone);
                }
                tracing::warn!(
                    %run_id, what, %status, error = %body["error"],
                    "demo mode: a runner call failed"
                );
            }
            Err(error) => {
                tracing::warn!(%run_id, what, %error, "demo mode: a runner call failed")
            }
        }
        self.failures += 1;
        if self.failures >= 5 {
            Err(Halt::Broken)
        } else {
            Ok(None)
        }
    }

    async fn post(&mut self, what: &str, path: &str, body: Value) -> Result<Option<Value>, Halt> {
        let request = self
            .fleet
            .client
            .post(format!("{}/{path}", self.callback))
            .json(&body);
        self.call(what, request).await
    }

    async fn status(&mut self, body: Value) -> Result<(), Halt> {
        self.post("status", "status", body).await.map(|_| ())
    }

    async fn step(&mut self, body: Value) -> Result<(), Halt> {
        self.post("step", "steps", body).await.map(|_| ())
    }

    /// Queues an event; [`Runner::flush`] sends the queue as one batch.
    fn event(&mut self, event_type: &str, message: String, metadata: Value) {
        self.next_event += 1;
        if self.pending.len() >= MAX_PENDING_EVENTS {
            self.pending.remove(0);
        }
        self.pending.push(json!({
            // The runner's own id: a batch sent again stores nothing twice.
            "id": format!("demo-{:05}", self.next_event),
            "eventType": event_type,
            "message": message,
            "metadata": metadata,
        }));
    }

    async fn flush(&mut self) -> Result<(), Halt> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let body = json!({"events": self.pending});
        if self.post("events", "events", body).await?.is_some() {
            self.pending.clear();
        }
        Ok(())
    }

    async fn sleep(&mut self, secs: f64) -> Result<(), Halt> {
        let wait = self.fleet.options.scaled(secs);
        if pause(&mut self.stop, wait).await {
            Ok(())
        } else {
            Err(Halt::Shutdown)
        }
    }

    /// Uploads a file as multipart `file`; returns the artifact id.
    async fn upload(
        &mut self,
        step_id: &str,
        artifact_type: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        metadata: Value,
    ) -> Result<Option<String>, Halt> {
        let part = match Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(content_type)
        {
            Ok(part) => part,
            Err(error) => {
                tracing::warn!(%error, content_type, "demo mode: a bad content type");
                return Ok(None);
            }
        };
        let form = Form::new()
            .text("artifactType", artifact_type.to_string())
            .text("stepId", step_id.to_string())
            .text("metadata", metadata.to_string())
            .part("file", part);
        let request = self
            .fleet
            .client
            .post(format!("{}/artifacts", self.callback))
            .multipart(form);
        Ok(self
            .call("artifact upload", request)
            .await?
            .and_then(|ack| ack["artifactId"].as_str().map(str::to_string)))
    }

    /// Registers an artifact stored elsewhere (JSON); returns its id.
    async fn register(&mut self, body: Value) -> Result<Option<String>, Halt> {
        Ok(self
            .post("artifact registration", "artifacts", body)
            .await?
            .and_then(|ack| ack["artifactId"].as_str().map(str::to_string)))
    }

    fn subject(&self) -> String {
        let input = &self.job.input;
        ["company_name", "topic", "repo", "object"]
            .iter()
            .find_map(|key| input[*key].as_str())
            .unwrap_or("the task")
            .to_string()
    }

    /// Runs the whole script.
    async fn drive(&mut self, plan: &Plan) -> Result<(), Halt> {
        self.status(json!({"status": "running", "progress": 0.0}))
            .await?;
        let subject = self.subject();
        let model = *pick(
            &mut self.rng,
            &["claude-sonnet", "claude-haiku", "gpt-4.1-mini"],
        );
        let message = format!(
            "{} started on {} for {subject}",
            plan.profile.slug, self.host
        );
        let metadata = json!({"runner": self.mode.as_str(), "host": self.host,
            "steps": plan.steps.len(), "model": model});
        self.event("agent.start", message, metadata);
        self.flush().await?;
        let work_total: f64 = plan
            .steps
            .iter()
            .map(|step| step.secs)
            .sum::<f64>()
            .max(0.1);
        let mut done = 0.0;
        let mut artifacts = 0usize;
        for (idx, planned) in plan.steps.iter().enumerate() {
            let template = planned.template;
            let base = json!({
                "stepId": template.id,
                "idx": idx,
                "name": template.name,
                "skillId": template.skill,
            });
            let with = |extra: Value| {
                let mut body = base.clone();
                if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                    body.extend(extra.clone());
                }
                body
            };
            match planned.kind.clone() {
                StepKind::Skipped(reason) => {
                    self.step(with(json!({"status": "skipped", "outputPreview": reason})))
                        .await?;
                    self.event(
                        "agent.progress",
                        format!("Skipped “{}”: {reason}", template.name),
                        json!({"step": template.id, "skipped": true}),
                    );
                    self.flush().await?;
                    self.sleep(0.15).await?;
                }
                StepKind::CacheHit => {
                    self.step(with(json!({"status": "running", "cacheHit": true})))
                        .await?;
                    let key = format!("{}:{:08x}", template.skill, self.rng.gen::<u32>());
                    self.event(
                        "agent.tool_use",
                        format!("cache hit for {key}"),
                        json!({"tool": "cache.get", "key": key, "hit": true}),
                    );
                    self.flush().await?;
                    self.sleep(planned.secs).await?;
                    let ids = self.outputs(plan, template).await?;
                    artifacts += ids.len();
                    self.step(with(json!({"status": "completed", "cacheHit": true,
                        "outputPreview": format!("reused the cached result ({key})"),
                        "outputArtifactIds": ids})))
                        .await?;
                    done += planned.secs;
                }
                StepKind::Work => {
                    self.step(with(json!({"status": "running"}))).await?;
                    self.work(plan, template, planned.secs, done, work_total)
                        .await?;
                    let ids = self.outputs(plan, template).await?;
                    artifacts += ids.len();
                    let preview = self.preview(template);
                    self.step(with(
                        json!({"status": "completed", "outputPreview": preview,
                        "outputArtifactIds": ids}),
                    ))
                    .await?;
                    done += planned.secs;
                }
                StepKind::Retried(share) => {
                    self.step(with(json!({"status": "running", "attempt": 1})))
                        .await?;
                    self.work(plan, template, planned.secs * share, done, work_total)
                        .await?;
                    let problem = transient_problem(template, &mut self.rng);
                    self.event(
                        "error",
                        format!(
                            "{} failed: {}",
                            template.name,
                            problem["message"].as_str().unwrap_or("error")
                        ),
                        json!({"step": template.id, "attempt": 1, "error": problem}),
                    );
                    self.event(
                        "warning",
                        format!("Retrying “{}” in 2 s (attempt 2 of 3)", template.name),
                        json!({"step": template.id, "attempt": 2, "backoffMs": 2000}),
                    );
                    self.flush().await?;
                    self.step(with(
                        json!({"status": "failed", "attempt": 1, "error": problem}),
                    ))
                    .await?;
                    self.sleep(2.0).await?;
                    self.step(with(json!({"status": "running", "attempt": 2})))
                        .await?;
                    self.work(plan, template, planned.secs, done, work_total)
                        .await?;
                    let ids = self.outputs(plan, template).await?;
                    artifacts += ids.len();
                    let preview = self.preview(template);
                    self.step(with(json!({"status": "completed", "attempt": 2,
                        "outputPreview": preview, "outputArtifactIds": ids})))
                        .await?;
                    done += planned.secs;
                }
                StepKind::Fails(share) => {
                    self.step(with(json!({"status": "running"}))).await?;
                    self.work(plan, template, planned.secs * share, done, work_total)
                        .await?;
                    let error = fatal_error(plan.profile, template, &subject, &mut self.rng);
                    self.event(
                        "error",
                        format!(
                            "{}: {}",
                            template.name,
                            error["message"].as_str().unwrap_or("failed")
                        ),
                        json!({"step": template.id, "error": error}),
                    );
                    self.flush().await?;
                    self.step(with(json!({"status": "failed", "error": error})))
                        .await?;
                    self.status(
                        json!({"status": "failed", "progress": self.progress, "error": error}),
                    )
                    .await?;
                    return Ok(());
                }
            }
        }
        let tokens = self.rng.gen_range(4_000..90_000);
        let cost = self.rng.gen_range(2.0..120.0_f64).round() / 100.0;
        self.event(
            "agent.complete",
            format!(
                "{} finished {subject}: {} steps, {artifacts} artifacts",
                plan.profile.slug,
                plan.steps.len()
            ),
            json!({"steps": plan.steps.len(), "artifacts": artifacts,
                   "tokens": tokens, "costUsd": cost}),
        );
        self.flush().await?;
        self.status(json!({"status": "completed", "progress": 1.0}))
            .await
    }

    /// `secs` of simulated work in a step: events every few hundred
    /// milliseconds, sent in batches, and progress now and then.
    async fn work(
        &mut self,
        plan: &Plan,
        template: &StepTemplate,
        secs: f64,
        done: f64,
        total: f64,
    ) -> Result<(), Halt> {
        let mut elapsed = 0.0;
        let mut tick = 0u32;
        while elapsed < secs {
            let wait = self
                .rng
                .gen_range(0.25..0.9_f64)
                .min(secs - elapsed)
                .max(0.05);
            self.sleep(wait).await?;
            elapsed += wait;
            tick += 1;
            let share = (elapsed / secs.max(0.001)).min(1.0);
            for _ in 0..self.rng.gen_range(1..=2) {
                self.tick_event(plan, template, share);
            }
            if self.rng.gen_bool(0.04) {
                let warning = *pick(&mut self.rng, &WARNINGS);
                self.event("warning", warning.to_string(), json!({"step": template.id}));
            }
            self.flush().await?;
            if tick.is_multiple_of(3) || elapsed >= secs {
                let progress = ((done + elapsed) / total).min(0.99);
                if progress > self.progress + 0.005 {
                    self.progress = (progress * 1000.0).round() / 1000.0;
                    self.status(json!({"progress": self.progress})).await?;
                }
            }
        }
        Ok(())
    }

    fn tick_event(&mut self, plan: &Plan, template: &StepTemplate, share: f64) {
        let tool_heavy = template.role == Role::Tools;
        if self.rng.gen_bool(if tool_heavy { 0.7 } else { 0.35 }) {
            let tool = if tool_heavy {
                template.skill
            } else {
                *pick(&mut self.rng, plan.profile.tools)
            };
            let latency = self.rng.gen_range(40..1800);
            let subject = self.subject();
            let (message, args) = tool_call(tool, &subject, &mut self.rng);
            self.event(
                "agent.tool_use",
                message,
                json!({"tool": tool, "args": args, "latencyMs": latency, "step": template.id}),
            );
        } else {
            let total = self.rng.gen_range(8..60);
            let count = ((share * f64::from(total)).round() as i64).max(1);
            self.event(
                "agent.progress",
                format!("{}: {count}/{total}", template.name),
                json!({"step": template.id, "done": count, "of": total}),
            );
        }
    }

    fn preview(&mut self, template: &StepTemplate) -> String {
        let count = self.rng.gen_range(3..40);
        match template.role {
            Role::Tools => format!("{count} tool calls, all succeeded"),
            Role::Flaky => format!("{count} items processed after a retry"),
            _ => format!("{} done ({count} items)", template.name),
        }
    }

    /// The step's artifacts; returns their ids.
    async fn outputs(&mut self, plan: &Plan, template: &StepTemplate) -> Result<Vec<String>, Halt> {
        let mut ids = Vec::new();
        let subject = self.subject();
        let run_id = self.job.run_id;
        for output in template.outputs {
            let id = match *output {
                Output::Screenshot(name) => {
                    let brand = *pick(&mut self.rng, &BRANDS);
                    let layout = if plan.profile.slug == DISPATCH_AGENT {
                        Layout::Landing
                    } else {
                        Layout::List
                    };
                    let png = mock_screenshot(brand, layout);
                    let metadata = json!({"width": SCREENSHOT_WIDTH, "height": SCREENSHOT_HEIGHT,
                        "page": if layout == Layout::Landing { "/" } else { "/careers" }});
                    self.upload(template.id, "screenshot", name, "image/png", png, metadata)
                        .await?
                }
                Output::Markdown(name) => {
                    let text = markdown_report(plan.profile, &subject, run_id, &mut self.rng);
                    self.upload(
                        template.id,
                        "report",
                        name,
                        "text/markdown",
                        text.into_bytes(),
                        json!({"words": 180}),
                    )
                    .await?
                }
                Output::JsonFile(name, artifact_type) => {
                    let value = json_file(name, &subject, run_id, &mut self.rng);
                    let bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
                    self.upload(
                        template.id,
                        artifact_type,
                        name,
                        "application/json",
                        bytes,
                        json!({}),
                    )
                    .await?
                }
                Output::Bundle => {
                    let size = self.rng.gen_range(80_000..400_000);
                    let files = self.rng.gen_range(12..60);
                    self.register(json!({
                        "artifactType": "bundle",
                        "name": "site bundle",
                        "url": format!("https://preview.example.com/{run_id}/index.html"),
                        "contentType": "text/html",
                        "sizeBytes": size,
                        "stepId": template.id,
                        "metadata": {"cdn": "example", "files": files},
                    }))
                    .await?
                }
                Output::Note(name) => {
                    let text = format!(
                        "{subject}: done by {} on {}.\nSteps: {}. See the attached files for details.\n",
                        plan.profile.slug,
                        self.host,
                        plan.steps.len()
                    );
                    self.register(json!({
                        "artifactType": "report",
                        "name": name,
                        "contentType": "text/plain",
                        "inlineText": text,
                        "stepId": template.id,
                    }))
                    .await?
                }
                Output::PullRequest => {
                    let number = self.job.input["pullRequest"].as_u64().unwrap_or(1);
                    self.register(json!({
                        "artifactType": "source_code",
                        "name": format!("{subject}#{number}"),
                        "url": format!("https://git.example.com/{subject}/pull/{number}"),
                        "stepId": template.id,
                    }))
                    .await?
                }
            };
            ids.extend(id);
        }
        Ok(ids)
    }

    /// Ends a run the script could not finish. Best effort, past the stop signal.
    async fn abandon(&mut self, status: &str, code: &str, message: &str) {
        let body = json!({"status": status, "progress": self.progress,
            "error": {"code": code, "message": message, "details": {"host": self.host}}});
        let result = self
            .fleet
            .client
            .post(format!("{}/status", self.callback))
            .bearer_auth(&self.job.token)
            .json(&body)
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => {}
            // Already over: nothing to do.
            Ok(response) if response.status() == reqwest::StatusCode::CONFLICT => {}
            Ok(response) => {
                tracing::warn!(
                    run_id = %self.job.run_id, status = %response.status(),
                    "demo mode: could not end an abandoned run"
                )
            }
            Err(error) => {
                tracing::warn!(
                    run_id = %self.job.run_id, %error,
                    "demo mode: could not end an abandoned run"
                )
            }
        }
    }
}

const WARNINGS: [&str; 5] = [
    "Rate limited (429); backing off for 1.5 s",
    "Response took 8.2 s, above the 5 s budget",
    "Context is 91% full; summarising older turns",
    "Skipped 2 items with invalid encoding",
    "Retrying a request after a connection reset",
];

fn tool_call(tool: &str, subject: &str, rng: &mut StdRng) -> (String, Value) {
    let count = rng.gen_range(2..25);
    match tool {
        "web.search" => (
            format!("web.search “{subject}” → {count} results"),
            json!({"query": subject, "limit": 10}),
        ),
        "web.fetch" | "browser.open" => {
            let host = subject.to_lowercase().replace(' ', "-");
            (
                format!("{tool} https://{host}.example.com/ → 200 ({count} kB)"),
                json!({"url": format!("https://{host}.example.com/")}),
            )
        }
        "git.diff" | "git.checkout" => (
            format!("{tool}: {count} files changed"),
            json!({"repo": subject}),
        ),
        "crm.query" | "crm.fetch" => (
            format!("{tool}: {} records", count * 40),
            json!({"object": subject, "page": rng.gen_range(1..9)}),
        ),
        _ => (
            format!("{tool} → ok ({count} items)"),
            json!({"subject": subject}),
        ),
    }
}

/// The error of a first attempt that a retry gets past.
fn transient_problem(template: &StepTemplate, rng: &mut StdRng) -> Value {
    let (code, message) = *pick(
        rng,
        &[
            (
                "upstream_timeout",
                "the upstream did not answer within 30 s",
            ),
            ("rate_limited", "429 Too Many Requests"),
            ("connection_reset", "connection reset by peer"),
        ],
    );
    json!({"code": code, "message": format!("{}: {message}", template.skill)})
}

/// The error a failing run ends with: `{code, message, details}`.
fn fatal_error(
    profile: &Profile,
    template: &StepTemplate,
    subject: &str,
    rng: &mut StdRng,
) -> Value {
    let (code, message) = match (profile.slug, template.role) {
        ("code-reviewer", _) => (
            "tests_failed",
            format!(
                "{} of {} tests failed in {subject}",
                rng.gen_range(1..6),
                rng.gen_range(120..900)
            ),
        ),
        (DISPATCH_AGENT, _) => (
            "build_failed",
            format!("the build of {subject}'s page failed: module not found: ./hero.css"),
        ),
        (CLAIM_AGENT, _) => (
            "schema_mismatch",
            format!("{subject}: field `annual_revenue` changed type from number to string"),
        ),
        (_, Role::Flaky) => (
            "upstream_timeout",
            format!("{subject}: the upstream gave up after 3 attempts (504)"),
        ),
        _ => (
            "agent_error",
            format!(
                "{}: the model refused the output format twice",
                template.name
            ),
        ),
    };
    json!({
        "code": code,
        "message": message,
        "details": {"step": template.id, "skill": template.skill, "attempts": rng.gen_range(1..4)},
    })
}

/// Input and summary of a new run.
fn sample_input(slug: &str, rng: &mut StdRng) -> (Value, String) {
    let company = *pick(rng, &COMPANIES);
    match slug {
        "research-assistant" => {
            let topic = *pick(rng, &TOPICS);
            (
                json!({"topic": topic, "depth": rng.gen_range(1..4),
                       "maxSources": rng.gen_range(8..30)}),
                format!("Market brief: {topic}"),
            )
        }
        DISPATCH_AGENT => (
            json!({"company_name": company, "page": "landing",
                   "theme": *pick(rng, &["light", "dark"]), "sections": ["hero", "features", "pricing"]}),
            format!("Landing page for {company}"),
        ),
        "code-reviewer" => {
            let repo = *pick(rng, &REPOS);
            let number = rng.gen_range(100..2000);
            (
                json!({"repo": repo, "pullRequest": number, "base": "main"}),
                format!("Review {repo}#{number}"),
            )
        }
        CLAIM_AGENT => {
            let object = *pick(rng, &CRM_OBJECTS);
            (
                json!({"source": "hubspot", "object": object,
                       "destination": format!("warehouse.crm_{object}")}),
                format!("Sync {object} from HubSpot"),
            )
        }
        _ => (
            json!({"company_name": company, "url": format!("https://{}.com", company.to_lowercase()),
                   "options": {"dryRun": rng.gen_bool(0.5)}}),
            format!("Add {company} to jobseek"),
        ),
    }
}

fn markdown_report(profile: &Profile, subject: &str, run_id: Uuid, rng: &mut StdRng) -> String {
    let date = chrono::Utc::now().format("%Y-%m-%d");
    if profile.slug == "code-reviewer" {
        let files = rng.gen_range(2..12);
        format!(
            "# Review of {subject}\n\n_Run `{run_id}` · {date}_\n\n**Verdict:** approve with comments\n\n\
             ## Summary\n\n{files} files changed. The change is well tested; two small points below.\n\n\
             ## Comments\n\n\
             - `src/handlers.rs:{}` — this error is swallowed; log it or return it.\n\
             - `src/db.rs:{}` — the query runs once per item; batch it.\n\n\
             | check | result |\n| --- | --- |\n| lint | ✅ clean |\n| tests | ✅ {} passed |\n| coverage | {}% |\n",
            rng.gen_range(10..400),
            rng.gen_range(10..400),
            rng.gen_range(120..900),
            rng.gen_range(70..95),
        )
    } else {
        let sources = rng.gen_range(6..20);
        format!(
            "# Market brief: {subject}\n\n_Run `{run_id}` · {date} · {sources} sources_\n\n\
             ## Key findings\n\n\
             1. Most vendors price per seat plus usage; {}% publish their prices.\n\
             2. Self-serve trials are now the norm; enterprise plans hide prices.\n\
             3. Two new entrants this quarter, both open source.\n\n\
             ## Comparison\n\n| vendor | model | free tier |\n| --- | --- | --- |\n\
             | Alpha | per seat | yes |\n| Beta | usage | 14-day trial |\n| Gamma | flat | no |\n\n\
             ## Next steps\n\n- Watch Beta's pricing page weekly.\n- Interview three customers.\n",
            rng.gen_range(40..90),
        )
    }
}

fn json_file(name: &str, subject: &str, run_id: Uuid, rng: &mut StdRng) -> Value {
    match name {
        "sources.json" => {
            let count = rng.gen_range(4..9);
            let sources: Vec<Value> = (1..=count)
                .map(|n| {
                    json!({
                        "n": n,
                        "url": format!("https://news.example.com/article/{}", rng.gen_range(1000..9999)),
                        "relevance": f64::from(rng.gen_range(50..100)) / 100.0,
                    })
                })
                .collect();
            json!({"run": run_id, "topic": subject, "sources": sources})
        }
        "tokens.json" => json!({
            "brand": subject,
            "color": {"primary": format!("#{:06x}", rng.gen_range(0..0xffffff)),
                      "surface": "#f7f7fb", "text": "#1f2430"},
            "font": {"heading": "Inter", "body": "Inter"},
            "radius": rng.gen_range(4..16),
        }),
        "roles.json" => {
            let mut roles = Vec::new();
            for title in [
                "Backend Engineer",
                "Product Designer",
                "Data Scientist",
                "Support Lead",
            ] {
                if rng.gen_bool(0.7) {
                    let location = *pick(rng, &["Remote", "London", "New York", "Berlin"]);
                    roles.push(json!({"title": title, "location": location}));
                }
            }
            json!({"company": subject, "roles": roles})
        }
        _ => json!({
            "run": run_id,
            "object": subject,
            "fetched": rng.gen_range(200..5000),
            "inserted": rng.gen_range(0..200),
            "updated": rng.gen_range(0..800),
            "skipped": rng.gen_range(0..20),
        }),
    }
}

/// Size of the generated screenshots.
pub const SCREENSHOT_WIDTH: u32 = 160;
pub const SCREENSHOT_HEIGHT: u32 = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Navigation, a hero with a button, three cards.
    Landing,
    /// Navigation, a title, a list of rows (a careers page).
    List,
}

/// A small made-up page in the brand colour, as a PNG.
fn mock_screenshot(brand: [u8; 3], layout: Layout) -> Vec<u8> {
    const BACKGROUND: [u8; 3] = [246, 247, 251];
    const INK: [u8; 3] = [31, 36, 48];
    const LINE: [u8; 3] = [214, 218, 228];
    const WHITE: [u8; 3] = [255, 255, 255];
    let (width, height) = (SCREENSHOT_WIDTH, SCREENSHOT_HEIGHT);
    let light = brand.map(|channel| channel / 2 + 128);
    let inside =
        |x: u32, y: u32, x0: u32, y0: u32, x1: u32, y1: u32| x >= x0 && x < x1 && y >= y0 && y < y1;
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let pixel = if y < 12 {
                // Navigation bar: a logo and three links.
                if inside(x, y, 6, 3, 18, 9) {
                    brand
                } else if (0..3).any(|n| inside(x, y, 100 + n * 20, 5, 114 + n * 20, 7)) {
                    LINE
                } else {
                    INK
                }
            } else {
                match layout {
                    Layout::Landing if (18..52).contains(&y) => {
                        if inside(x, y, 12, 24, 96, 29) || inside(x, y, 12, 32, 72, 35) {
                            WHITE
                        } else if inside(x, y, 12, 40, 40, 47) {
                            INK
                        } else {
                            // A left-to-right gradient from the brand colour.
                            let t = x as f32 / width as f32;
                            let mix = |a: u8, b: u8| (a as f32 * (1.0 - t) + b as f32 * t) as u8;
                            [
                                mix(brand[0], light[0]),
                                mix(brand[1], light[1]),
                                mix(brand[2], light[2]),
                            ]
                        }
                    }
                    Layout::Landing if (58..92).contains(&y) => {
                        match (0..3).find(|n| inside(x, y, 8 + n * 50, 58, 52 + n * 50, 92)) {
                            Some(n) => {
                                let x0 = 8 + n * 50;
                                if x == x0 || x == x0 + 43 || y == 58 || y == 91 {
                                    LINE
                                } else if inside(x, y, x0 + 4, 62, x0 + 12, 70) {
                                    light
                                } else if inside(x, y, x0 + 4, 74, x0 + 36, 76)
                                    || inside(x, y, x0 + 4, 79, x0 + 30, 81)
                                {
                                    LINE
                                } else {
                                    WHITE
                                }
                            }
                            None => BACKGROUND,
                        }
                    }
                    Layout::List if (18..26).contains(&y) => {
                        if inside(x, y, 10, 19, 80, 24) {
                            INK
                        } else {
                            BACKGROUND
                        }
                    }
                    Layout::List if (30..96).contains(&y) => {
                        let row = (y - 30) / 13;
                        let y0 = 30 + row * 13;
                        if !inside(x, y, 10, y0, 150, y0 + 11) {
                            BACKGROUND
                        } else if y == y0 || y == y0 + 10 || x == 10 || x == 149 {
                            LINE
                        } else if inside(x, y, 14, y0 + 4, 70 + (row * 7) % 30, y0 + 7) {
                            INK
                        } else if inside(x, y, 126, y0 + 3, 146, y0 + 8) {
                            brand
                        } else {
                            WHITE
                        }
                    }
                    _ => BACKGROUND,
                }
            };
            rgb.extend_from_slice(&pixel);
        }
    }
    encode_png(width, height, &rgb)
}

/// Encodes 8-bit RGB pixels (`width * height * 3` bytes, row by row) as a PNG.
///
/// Hand-made rather than a crate: the demo needs a few small images, and a PNG
/// whose zlib stream uses stored (uncompressed) deflate blocks is valid in every
/// decoder and takes only CRC-32 and Adler-32 to write.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for y in 0..height as usize {
        raw.push(0); // filter: none
        let start = (y * row).min(rgb.len());
        let end = (start + row).min(rgb.len());
        raw.extend_from_slice(&rgb[start..end]);
        raw.resize(raw.len() + row - (end - start), 0);
    }
    // zlib: CMF 0x78 (deflate, 32 KiB window), FLG 0x01 (no dictionary; check bits).
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(0xffff).collect();
    if blocks.is_empty() {
        zlib.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    for (index, block) in blocks.iter().enumerate() {
        let last = index + 1 == blocks.len();
        zlib.push(u8::from(last)); // BFINAL, BTYPE 00 (stored)
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &header[..]),
        (b"IDAT", &zlib[..]),
        (b"IEND", &[][..]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

/// CRC-32 (IEEE, as PNG chunks use it).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Adler-32 (the zlib stream's checksum).
pub fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}
