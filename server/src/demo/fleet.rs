//! The fleet: the owner's side of the demo. It prepares the agents and campaigns,
//! starts runs at the configured pace and hands each to a runner: at once
//! (direct), through a polling worker (claim) or through the job receiver the
//! server's outbox posts to (dispatch).

use super::catalogue::{
    pick, profile, sample_input, Mode, Profile, Scenario, CAMPAIGNS, CLAIM_AGENT, PROFILES,
    SHOWCASE,
};
use super::plan::Plan;
use super::runner::execute;
use super::{pause, DemoOptions};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use runboard_client::{Client, Owner, RunCreated};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::db::{settings, users, Db};
use store::keys::Keys;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// Mints owner API JWTs for the first owner (see the module documentation).
pub(super) struct OwnerKey {
    keys: Keys,
    user_id: String,
    /// To read the owner's current epoch: a JWT minted under an old one is refused.
    db: Db,
}

impl OwnerKey {
    pub(super) async fn load(db: &Db) -> anyhow::Result<OwnerKey> {
        // The setting start-up signs owner JWTs with (server/src/startup.rs).
        let api_secret = settings::secret(db, settings::API_JWT_SECRET).await?;
        let user_id = users::first_owner_id(&db.read)
            .await?
            .ok_or_else(|| anyhow::anyhow!("there is no owner yet"))?;
        // Only the API half of these keys is used; the runner key is a throwaway.
        let keys = Keys::new(&Uuid::new_v4().to_string(), &api_secret, None);
        Ok(OwnerKey {
            keys,
            user_id,
            db: db.clone(),
        })
    }

    async fn token(&self) -> Result<String, String> {
        let fail = |error: &dyn std::fmt::Display| format!("cannot mint an owner token: {error}");
        let owner = users::find_by_public_id(&self.db.read, &self.user_id)
            .await
            .map_err(|error| fail(&error))?
            .ok_or_else(|| fail(&"the first owner is gone"))?;
        self.keys
            .api_token(&self.user_id, owner.auth_epoch)
            .map_err(|error| fail(&error))
    }
}

/// The fleet's shared state.
pub(super) struct Fleet {
    pub(super) api: Client,
    owner: OwnerKey,
    pub(super) options: DemoOptions,
    pub(super) stop: watch::Receiver<bool>,
    /// One permit per run in flight (the pace limit).
    slots: Arc<Semaphore>,
    /// Permits of claim and dispatch runs not yet picked up, by run id.
    waiting: Mutex<HashMap<Uuid, (Instant, OwnedSemaphorePermit)>>,
    /// Runners executing now.
    active: Arc<AtomicUsize>,
    hosts: AtomicUsize,
}

/// Counts a runner as active while it lives.
pub(super) struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Fleet {
    pub(super) fn new(
        api: Client,
        owner: OwnerKey,
        options: DemoOptions,
        stop: watch::Receiver<bool>,
    ) -> Fleet {
        Fleet {
            api,
            owner,
            slots: Arc::new(Semaphore::new(options.max_running.max(1))),
            options,
            stop,
            waiting: Mutex::new(HashMap::new()),
            active: Arc::new(AtomicUsize::new(0)),
            hosts: AtomicUsize::new(0),
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runners executing now.
    pub(super) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    pub(super) fn enter(&self) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(self.active.clone())
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, OwnedSemaphorePermit)>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take_waiting(&self, run_id: Uuid) -> Option<OwnedSemaphorePermit> {
        self.waiting().remove(&run_id).map(|(_, permit)| permit)
    }

    fn park(&self, run_id: Uuid, permit: OwnedSemaphorePermit) {
        let mut waiting = self.waiting();
        // A run nobody picked up in two minutes (dispatch failing, say) frees its slot.
        waiting.retain(|_, (since, _)| since.elapsed() < Duration::from_secs(120));
        waiting.insert(run_id, (Instant::now(), permit));
    }

    /// Frees the slots of runs nobody picked up (the fleet is stopping).
    pub(super) fn forget_waiting(&self) {
        self.waiting().clear();
    }

    /// The owner API, as the first owner with a freshly minted JWT.
    pub(super) async fn owner(&self) -> Result<Owner<'_>, String> {
        Ok(self.api.owner(self.owner.token().await?))
    }

    /// Waits for the server, registers the agents (and the dispatch URL) and finds
    /// or creates the campaigns; retried until it works or the fleet stops.
    pub(super) async fn prepare(
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
        self.api.health().await.map_err(|error| match error {
            runboard_client::Error::Status { status, .. } => format!("/healthz answered {status}"),
            error => format!("the server does not answer yet: {error}"),
        })?;

        let owner = self.owner().await?;
        let known = owner
            .agents()
            .await
            .map_err(|error| format!("GET /api/agents {error}"))?;
        for profile in &PROFILES {
            let mut update = serde_json::Map::new();
            // An agent someone already has keeps its name and description.
            if !known.iter().any(|agent| agent.slug == profile.slug) {
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
            owner
                .put_agent(profile.slug, &Value::Object(update))
                .await
                .map_err(|error| format!("PUT /api/agents/{} {error}", profile.slug))?;
        }

        let mut campaigns = HashMap::new();
        let mut offset = 0;
        loop {
            let page = owner
                .campaigns(100, offset)
                .await
                .map_err(|error| format!("GET /api/campaigns {error}"))?;
            for campaign in &page.campaigns {
                if let Some(wanted) = CAMPAIGNS.iter().find(|name| **name == campaign.name) {
                    campaigns.entry(*wanted).or_insert(campaign.id);
                }
            }
            offset += page.campaigns.len() as u64;
            if page.campaigns.is_empty() || offset >= page.total {
                break;
            }
        }
        for name in CAMPAIGNS {
            if campaigns.contains_key(name) {
                continue;
            }
            let campaign = owner
                .create_campaign(name)
                .await
                .map_err(|error| format!("POST /api/campaigns {error}"))?;
            campaigns.insert(*name, campaign.id);
        }
        Ok(campaigns)
    }

    /// Starts runs at the configured pace until the fleet stops.
    pub(super) async fn schedule(
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
            let run = Launch {
                profile,
                scenario,
                seed: run_seed,
                showcase,
            };
            self.launch(run, campaigns, &mut rng, permit).await;
            let wait = self.options.scaled(rng.gen_range(2.0..5.0));
            if !pause(stop, wait).await {
                return;
            }
        }
    }

    /// Creates one run and hands it to its runner (now, or through claim or dispatch).
    async fn launch(
        self: &Arc<Self>,
        run: Launch,
        campaigns: &HashMap<&'static str, Uuid>,
        rng: &mut StdRng,
        permit: OwnedSemaphorePermit,
    ) {
        let Launch {
            profile,
            scenario,
            seed,
            showcase,
        } = run;
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
        let created = match self.owner().await {
            Ok(owner) => owner
                .create_run(&body)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error),
        };
        let created = match created {
            Ok(created) => created,
            Err(error) => {
                tracing::warn!(%error, agent = profile.slug, "demo mode: creating a run failed");
                return;
            }
        };
        let run_id = created.run.id;
        tracing::debug!(
            %run_id, agent = profile.slug, mode = profile.mode.as_str(),
            "demo mode: run created"
        );
        match profile.mode {
            Mode::Direct => {
                let job = Job {
                    run_id,
                    token: created.runner_token,
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
        let cancelled = match self.owner().await {
            Ok(owner) => owner.cancel_run(run_id).await.map_err(|error| {
                // It ended before the owner got to it.
                if error.status() == Some(409) {
                    None
                } else {
                    Some(error.to_string())
                }
            }),
            Err(error) => Err(Some(error)),
        };
        match cancelled {
            Ok(()) => tracing::debug!(%run_id, "demo mode: the owner cancelled a run"),
            Err(None) => {}
            Err(Some(error)) => {
                tracing::warn!(%run_id, %error, "demo mode: cancelling a run failed")
            }
        }
    }

    pub(super) fn host_name(&self, mode: Mode) -> String {
        let number = self.hosts.fetch_add(1, Ordering::Relaxed) % 4 + 1;
        match mode {
            Mode::Direct => format!("sandbox-{number}"),
            Mode::Claim => format!("worker-{number}"),
            Mode::Dispatch => format!("builder-{number}"),
        }
    }
}

/// What the scheduler decided about a new run.
struct Launch {
    profile: &'static Profile,
    scenario: Scenario,
    seed: u64,
    showcase: bool,
}

/// The pull model: claims requested runs of the claim agent and executes them.
pub(super) async fn claim_worker(fleet: Arc<Fleet>) {
    let mut stop = fleet.stop.clone();
    loop {
        if fleet.stopping() {
            return;
        }
        let claimed = match fleet.owner().await {
            Ok(owner) => owner
                .claim(CLAIM_AGENT)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error),
        };
        let wait = match claimed {
            Ok(Some(RunCreated { run, runner_token })) => {
                let job = Job {
                    run_id: run.id,
                    token: runner_token,
                    agent: CLAIM_AGENT.to_string(),
                    input: run.input,
                    context: run.context,
                    mode: Mode::Claim,
                    callback: None,
                };
                let permit = fleet.take_waiting(run.id);
                tokio::spawn(execute(fleet.clone(), job, permit));
                // There may be more: ask again right away.
                continue;
            }
            Ok(None) => fleet.options.scaled(1.0),
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

/// A job request, as the server's outbox posts it to a dispatch URL.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobRequest {
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
pub(super) async fn receive_job(
    State(fleet): State<Arc<Fleet>>,
    Json(job): Json<JobRequest>,
) -> StatusCode {
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
pub(super) struct Job {
    pub(super) run_id: Uuid,
    pub(super) token: String,
    pub(super) agent: String,
    pub(super) input: Value,
    pub(super) context: Value,
    pub(super) mode: Mode,
    /// The job request's callbackUrl, for dispatched runs.
    pub(super) callback: Option<String>,
}
