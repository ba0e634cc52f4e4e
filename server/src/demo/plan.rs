//! A run's script: which steps it works through, which hit the cache, are
//! skipped, retried or fail, and how long each takes. It follows from the agent,
//! the scenario and the seed alone, so a run unfolds the same way whichever runner
//! (direct, claim or dispatch) picks it up.

use super::catalogue::{profile, Profile, Role, Scenario, StepTemplate};
use super::fleet::Job;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// What one step does in this run.
#[derive(Clone)]
pub(super) enum StepKind {
    Work,
    CacheHit,
    Skipped(&'static str),
    /// Attempt 1 fails after this share of the step, attempt 2 completes.
    Retried(f64),
    /// The run fails in this step, after this share of it.
    Fails(f64),
}

pub(super) struct PlannedStep {
    pub(super) template: &'static StepTemplate,
    pub(super) kind: StepKind,
    /// Simulated seconds of work.
    pub(super) secs: f64,
}

/// A run's script, derived from (agent, scenario, seed) alone.
pub(super) struct Plan {
    pub(super) profile: &'static Profile,
    pub(super) steps: Vec<PlannedStep>,
    pub(super) total_secs: f64,
    pub(super) seed: u64,
}

impl Plan {
    pub(super) fn new(
        profile: &'static Profile,
        scenario: Scenario,
        seed: u64,
        showcase: bool,
    ) -> Plan {
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
    pub(super) fn for_job(job: &Job) -> Plan {
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
