//! What the generated database holds, decided before any row is written: for every
//! run its agent, subject company, campaign, creation time, wait, run time,
//! outcome, retry link and number of events. Pure functions of a seeded random
//! generator, so the same options always give the same database.
//!
//! The distributions are those of a busy installation, not uniform noise (the
//! planner's statistics and the indexes' selectivity depend on them): a few agents
//! make most runs; company names follow a Zipf law (one value of
//! `input.company_name` is in about one run in seven); runs arrive more on
//! weekdays and in working hours (UTC) and the fleet grows over the period; waits
//! and run times are log-normal with a long tail; most runs complete, some fail
//! (a third of those are retried, with `attempt + 1`) or are cancelled; runs whose
//! end would lie after "now" are still in flight; events per run grow with the
//! run time, with a long tail, and one run has a log of 100,000 events.

use model::RunStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;

pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// An agent of the generated fleet.
pub struct AgentSpec {
    pub slug: &'static str,
    /// Relative share of runs.
    pub weight: u32,
    /// Median run time, seconds.
    pub median_secs: f64,
    /// Its steps in order: (step id, skill).
    pub steps: &'static [(&'static str, &'static str)],
    /// Its runner sends its own event ids (for idempotent retries).
    pub event_ids: bool,
    /// Its runs can belong to a campaign.
    pub in_campaigns: bool,
}

/// Most runs first: the order is also the order of the agents' keys.
pub const AGENTS: [AgentSpec; 8] = [
    AgentSpec {
        slug: fixtures::JOBSEEK,
        weight: 30,
        median_secs: 40.0,
        steps: &[
            ("fetch-site", "web.fetch"),
            ("extract-jobs", "llm.extract"),
            ("enrich", "crm.lookup"),
            ("save", "db.write"),
        ],
        event_ids: true,
        in_campaigns: true,
    },
    AgentSpec {
        slug: fixtures::RESEARCH_ASSISTANT,
        weight: 20,
        median_secs: 180.0,
        steps: &[
            ("plan", "llm.plan"),
            ("search", "web.search"),
            ("read-sources", "web.fetch"),
            ("write-brief", "llm.write"),
        ],
        event_ids: false,
        in_campaigns: true,
    },
    AgentSpec {
        slug: fixtures::CODE_REVIEWER,
        weight: 18,
        median_secs: 90.0,
        steps: &[
            ("checkout", "git.clone"),
            ("lint", "ci.lint"),
            ("review", "llm.review"),
            ("comment", "github.comment"),
        ],
        event_ids: true,
        in_campaigns: false,
    },
    AgentSpec {
        slug: fixtures::DATA_SYNC,
        weight: 15,
        median_secs: 300.0,
        steps: &[
            ("connect", "db.connect"),
            ("extract", "db.read"),
            ("transform", "etl.map"),
            ("load", "warehouse.write"),
        ],
        event_ids: false,
        in_campaigns: false,
    },
    AgentSpec {
        slug: fixtures::DESIGN_BUILDER,
        weight: 8,
        median_secs: 240.0,
        steps: &[
            ("brief", "llm.plan"),
            ("layout", "design.layout"),
            ("render", "design.render"),
            ("screenshot", "browser.screenshot"),
            ("bundle", "build.bundle"),
        ],
        event_ids: false,
        in_campaigns: true,
    },
    AgentSpec {
        slug: "support-triage",
        weight: 5,
        median_secs: 15.0,
        steps: &[("classify", "llm.classify"), ("route", "helpdesk.assign")],
        event_ids: true,
        in_campaigns: false,
    },
    AgentSpec {
        slug: "invoice-parser",
        weight: 3,
        median_secs: 25.0,
        steps: &[
            ("ocr", "vision.ocr"),
            ("parse", "llm.extract"),
            ("validate", "rules.check"),
        ],
        event_ids: false,
        in_campaigns: false,
    },
    AgentSpec {
        slug: "nightly-report",
        weight: 1,
        median_secs: 600.0,
        steps: &[
            ("query", "warehouse.read"),
            ("chart", "charts.render"),
            ("email", "mail.send"),
        ],
        event_ids: false,
        in_campaigns: false,
    },
];

/// The agent of the run with the long log.
pub const LONG_RUN_AGENT: usize = 1;

/// Subject companies (most frequent first: drawn by a Zipf law) and campaign names.
pub use fixtures::{CAMPAIGNS, COMPANIES};

/// How big and how old the generated installation is.
#[derive(Clone, Debug)]
pub struct Shape {
    pub runs: usize,
    pub events: u64,
    pub long_run_events: u64,
    pub days: i64,
    /// "Now": the newest runs are created just before it.
    pub now: i64,
    pub seed: u64,
}

/// One run, decided.
#[derive(Clone, Debug)]
pub struct RunPlan {
    pub created_at: i64,
    pub agent: usize,
    pub company: usize,
    pub status: RunStatus,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub campaign: Option<usize>,
    /// The failed run (an index into the plan) this one retries.
    pub retry_of: Option<usize>,
    pub attempt: i64,
    /// Seed of the run's input and texts; a retry keeps its original's.
    pub content_seed: u64,
    /// Seed of the run's other rows (its id, steps, artifacts, events).
    pub seed: u64,
    pub events: u64,
}

pub struct Plan {
    pub runs: Vec<RunPlan>,
    /// When each of [`CAMPAIGNS`] was created.
    pub campaigns: Vec<i64>,
}

/// A discrete distribution given by relative weights.
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Weighted {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|weight| {
                total += weight;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    /// Weights `1 / (rank + 2)`: Zipf's law, a little flattened at the head.
    pub fn zipf(count: usize) -> Weighted {
        Weighted::new((0..count).map(|rank| 1.0 / (rank as f64 + 2.0)))
    }

    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let point = rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|&upto| upto <= point)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// A log-normal sample with the given median; `sigma` is the spread of its log.
pub fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * standard_normal(rng)).exp()
}

/// Box–Muller.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How busy the fleet is at `at` relative to its busiest (0–1]: weekdays over
/// weekends, working hours (UTC) over nights, and growth over the period.
pub fn activity(at: i64, start: i64, end: i64) -> f64 {
    let day = at.div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: Monday is 0.
    let weekday = (day + 3).rem_euclid(7);
    let week = if weekday >= 5 { 0.35 } else { 1.0 };
    let hour = at.rem_euclid(DAY_MS) / HOUR_MS;
    let daytime = if (7..19).contains(&hour) { 1.0 } else { 0.3 };
    let growth = 0.6 + 0.4 * (at - start) as f64 / (end - start).max(1) as f64;
    week * daytime * growth
}

/// Creation times of `count` runs over `days` days up to `now`, oldest first.
pub fn creation_times(rng: &mut impl Rng, count: usize, now: i64, days: i64) -> Vec<i64> {
    let start = now - days * DAY_MS;
    let mut times = Vec::with_capacity(count);
    while times.len() < count {
        let at = rng.gen_range(start..now);
        if rng.gen::<f64>() < activity(at, start, now) {
            times.push(at);
        }
    }
    times.sort_unstable();
    times
}

/// How a run's timing came out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    pub status: RunStatus,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
}

/// A run's wait, run time and outcome; what has not happened by `now` has not.
pub fn timing(rng: &mut impl Rng, agent: &AgentSpec, created_at: i64, now: i64) -> Timing {
    let wait = lognormal(rng, 1_500.0, 1.2).clamp(20.0, 600_000.0) as i64;
    let work = lognormal(rng, agent.median_secs * 1000.0, 0.9).clamp(1_000.0, 6.0 * 3.6e6);
    let started = created_at + wait;
    let (outcome, started_at, end) = match rng.gen_range(0..1000) {
        0..=799 => (RunStatus::Completed, Some(started), started + work as i64),
        800..=929 => (
            RunStatus::Failed,
            Some(started),
            started + (work * rng.gen_range(0.05..1.0)) as i64,
        ),
        // Cancelled while still queued.
        930..=939 => (
            RunStatus::Cancelled,
            None,
            created_at + (wait as f64 * rng.gen_range(0.1..1.0)) as i64,
        ),
        _ => (
            RunStatus::Cancelled,
            Some(started),
            started + (work * rng.gen_range(0.05..0.9)) as i64,
        ),
    };
    let not_started = |status| Timing {
        status,
        started_at: None,
        completed_at: None,
    };
    match started_at {
        Some(started) if started > now => not_started(pick_waiting(rng)),
        None if end > now => not_started(pick_waiting(rng)),
        Some(started) if end > now => Timing {
            status: RunStatus::Running,
            started_at: Some(started),
            completed_at: None,
        },
        _ => Timing {
            status: outcome,
            started_at,
            completed_at: Some(end.max(started_at.unwrap_or(created_at))),
        },
    }
}

fn pick_waiting(rng: &mut impl Rng) -> RunStatus {
    if rng.gen_bool(0.5) {
        RunStatus::Requested
    } else {
        RunStatus::Queued
    }
}

/// Share of failed runs that someone retries.
const RETRIED: f64 = 0.35;
/// A retry comes at least this long after the failure.
const RETRY_AFTER_MS: i64 = 30_000;

/// Plans every run of the installation.
pub fn plan(shape: &Shape) -> Plan {
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let times = creation_times(&mut rng, shape.runs, shape.now, shape.days);
    let start = shape.now - shape.days * DAY_MS;
    let long_run = long_run_index(&times, shape.now, start);
    let campaigns: Vec<i64> = (0..CAMPAIGNS.len() as i64)
        .map(|index| start + index * (shape.now - start) * 2 / 3 / CAMPAIGNS.len() as i64)
        .collect();
    let agents = Weighted::new(AGENTS.iter().map(|agent| f64::from(agent.weight)));
    let companies = Weighted::zipf(COMPANIES.len());
    // Failed runs waiting for someone to retry them: (index, failed at).
    let mut failed: VecDeque<(usize, i64)> = VecDeque::new();
    let retry_share = 0.13 * RETRIED;
    let mut runs: Vec<RunPlan> = Vec::with_capacity(shape.runs);
    for (index, &created_at) in times.iter().enumerate() {
        let retry = failed
            .front()
            .filter(|(_, at)| at + RETRY_AFTER_MS < created_at)
            .map(|(original, _)| *original)
            .filter(|_| index != long_run && rng.gen_bool(retry_share));
        let run = match retry {
            Some(original) => {
                failed.pop_front();
                retry_plan(&mut rng, &runs[original], original, created_at, shape.now)
            }
            None if index == long_run => long_plan(&mut rng, created_at, shape),
            None => {
                let agent = agents.pick(&mut rng);
                let company = companies.pick(&mut rng);
                let campaign = AGENTS[agent]
                    .in_campaigns
                    .then(|| pick_campaign(&mut rng, &campaigns, created_at))
                    .flatten();
                fresh_plan(&mut rng, agent, company, campaign, created_at, shape.now)
            }
        };
        if run.status == RunStatus::Failed && index != long_run && rng.gen_bool(RETRIED) {
            failed.push_back((index, run.completed_at.unwrap_or(created_at)));
            if failed.len() > 10_000 {
                failed.pop_front();
            }
        }
        runs.push(run);
    }
    assign_events(&mut rng, &mut runs, long_run, shape);
    Plan { runs, campaigns }
}

/// The run created closest to three days ago (or mid-period when it is shorter).
fn long_run_index(times: &[i64], now: i64, start: i64) -> usize {
    let wanted = (now - 3 * DAY_MS).max((start + now) / 2);
    times
        .partition_point(|&at| at < wanted)
        .min(times.len().saturating_sub(1))
}

/// A campaign that existed when the run was created, recent ones more likely.
fn pick_campaign(rng: &mut impl Rng, campaigns: &[i64], created_at: i64) -> Option<usize> {
    let existing = campaigns.partition_point(|&at| at < created_at);
    if existing == 0 || !rng.gen_bool(0.3) {
        return None;
    }
    let mut back = 0;
    while back + 1 < existing && rng.gen_bool(0.5) {
        back += 1;
    }
    Some(existing - 1 - back)
}

fn fresh_plan(
    rng: &mut StdRng,
    agent: usize,
    company: usize,
    campaign: Option<usize>,
    created_at: i64,
    now: i64,
) -> RunPlan {
    let timing = timing(rng, &AGENTS[agent], created_at, now);
    RunPlan {
        created_at,
        agent,
        company,
        status: timing.status,
        started_at: timing.started_at,
        completed_at: timing.completed_at,
        campaign,
        retry_of: None,
        attempt: 1,
        content_seed: rng.gen(),
        seed: rng.gen(),
        events: 0,
    }
}

fn retry_plan(
    rng: &mut StdRng,
    original: &RunPlan,
    original_index: usize,
    created_at: i64,
    now: i64,
) -> RunPlan {
    let timing = timing(rng, &AGENTS[original.agent], created_at, now);
    RunPlan {
        created_at,
        status: timing.status,
        started_at: timing.started_at,
        completed_at: timing.completed_at,
        retry_of: Some(original_index),
        attempt: original.attempt + 1,
        seed: rng.gen(),
        events: 0,
        ..original.clone()
    }
}

/// The run with the long log: a six-hour research run.
fn long_plan(rng: &mut StdRng, created_at: i64, shape: &Shape) -> RunPlan {
    let started = created_at + 2_000;
    let end = started + 6 * HOUR_MS;
    let (status, completed_at) = if end <= shape.now {
        (RunStatus::Completed, Some(end))
    } else {
        (RunStatus::Running, None)
    };
    RunPlan {
        created_at,
        agent: LONG_RUN_AGENT,
        company: 0,
        status,
        started_at: Some(started),
        completed_at,
        campaign: None,
        retry_of: None,
        attempt: 1,
        content_seed: rng.gen(),
        seed: rng.gen(),
        events: 0,
    }
}

/// How much a run logs relative to others: more the longer it ran (sublinearly),
/// with a log-normal spread; nothing before it started.
fn event_weight(rng: &mut impl Rng, run: &RunPlan, now: i64) -> f64 {
    let Some(started) = run.started_at else {
        return 0.0;
    };
    let ran_secs = (run.completed_at.unwrap_or(now) - started).max(1_000) as f64 / 1000.0;
    ran_secs.powf(0.6) * lognormal(rng, 1.0, 0.6)
}

/// Shares `shape.events` among the runs: exactly `long_run_events` (or all of
/// them, when fewer) to the long run, the rest by [`event_weight`], no other run
/// above half the long log.
pub fn assign_events(rng: &mut impl Rng, runs: &mut [RunPlan], long_run: usize, shape: &Shape) {
    let long = shape.long_run_events.min(shape.events);
    let rest = shape.events - long;
    let cap = (long / 2).max(1_000);
    let weights: Vec<f64> = runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            if index == long_run {
                0.0
            } else {
                event_weight(rng, run, shape.now)
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut given = 0;
    for (run, weight) in runs.iter_mut().zip(&weights) {
        run.events = if total > 0.0 {
            ((weight / total * rest as f64) as u64).min(cap)
        } else {
            0
        };
        given += run.events;
    }
    // The rounding remainder, one more each to runs that log at all.
    let mut missing = rest - given;
    while missing > 0 {
        let before = missing;
        for (run, weight) in runs.iter_mut().zip(&weights) {
            if missing == 0 {
                break;
            }
            if *weight > 0.0 && run.events < cap {
                run.events += 1;
                missing -= 1;
            }
        }
        if missing == before {
            break;
        }
    }
    if let Some(run) = runs.get_mut(long_run) {
        run.events = long + missing;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_796_000_000_000;

    fn shape(runs: usize, events: u64) -> Shape {
        Shape {
            runs,
            events,
            long_run_events: 1_000,
            days: 30,
            now: NOW,
            seed: 1,
        }
    }

    #[test]
    fn every_event_is_given_to_a_run_and_the_long_run_has_its_log() {
        let plan = plan(&shape(5_000, 60_000));
        let total: u64 = plan.runs.iter().map(|run| run.events).sum();
        assert_eq!(total, 60_000);
        let long: Vec<&RunPlan> = plan.runs.iter().filter(|run| run.events >= 1_000).collect();
        assert_eq!(long.len(), 1);
        assert_eq!(long[0].events, 1_000);
        assert_eq!(long[0].agent, LONG_RUN_AGENT);
        // Runs that never started logged nothing.
        assert!(plan
            .runs
            .iter()
            .filter(|run| run.started_at.is_none())
            .all(|run| run.events == 0));
    }

    #[test]
    fn runs_are_in_creation_order_and_consistent_in_time() {
        let plan = plan(&shape(5_000, 10_000));
        assert!(plan
            .runs
            .windows(2)
            .all(|pair| pair[0].created_at <= pair[1].created_at));
        for run in &plan.runs {
            assert!(run.created_at < NOW && run.created_at >= NOW - 30 * DAY_MS);
            if let Some(started) = run.started_at {
                assert!(started >= run.created_at && started <= NOW);
            }
            if let Some(completed) = run.completed_at {
                assert!(completed >= run.started_at.unwrap_or(run.created_at));
                assert!(completed <= NOW);
                assert!(run.status.is_terminal());
            } else {
                assert!(!run.status.is_terminal());
            }
        }
    }

    #[test]
    fn most_runs_complete_some_fail_and_some_failures_are_retried() {
        let plan = plan(&shape(20_000, 0));
        let share = |status| {
            plan.runs.iter().filter(|run| run.status == status).count() as f64
                / plan.runs.len() as f64
        };
        assert!((0.75..0.85).contains(&share(RunStatus::Completed)));
        assert!((0.10..0.16).contains(&share(RunStatus::Failed)));
        let retries: Vec<&RunPlan> = plan
            .runs
            .iter()
            .filter(|run| run.retry_of.is_some())
            .collect();
        assert!(!retries.is_empty());
        for retry in retries {
            let original = &plan.runs[retry.retry_of.unwrap()];
            assert_eq!(original.status, RunStatus::Failed);
            assert_eq!(retry.attempt, original.attempt + 1);
            assert_eq!(retry.content_seed, original.content_seed);
            assert!(original.completed_at.unwrap() < retry.created_at);
        }
    }

    #[test]
    fn company_names_follow_zipf() {
        let companies = Weighted::zipf(COMPANIES.len());
        let mut rng = StdRng::seed_from_u64(3);
        let mut counts = [0u32; COMPANIES.len()];
        for _ in 0..100_000 {
            counts[companies.pick(&mut rng)] += 1;
        }
        // 1/2 of the harmonic sum from 2 to 49: about 14 %.
        assert!((12_000..16_000).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[47]);
    }

    #[test]
    fn weekdays_and_working_hours_are_busier() {
        let start = NOW - 30 * DAY_MS;
        // 2026-11-23 was a Monday.
        let monday_noon = 1_795_435_200_000;
        let sunday_noon = monday_noon - DAY_MS;
        let monday_night = monday_noon - 10 * HOUR_MS;
        assert!(activity(monday_noon, start, NOW) > activity(sunday_noon, start, NOW));
        assert!(activity(monday_noon, start, NOW) > activity(monday_night, start, NOW));
        assert!(activity(NOW, start, NOW) <= 1.0);
    }

    #[test]
    fn lognormal_has_the_given_median() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut sample: Vec<f64> = (0..20_001)
            .map(|_| lognormal(&mut rng, 40.0, 0.9))
            .collect();
        sample.sort_by(f64::total_cmp);
        let median = sample[10_000];
        assert!((36.0..44.0).contains(&median), "{median}");
    }
}
