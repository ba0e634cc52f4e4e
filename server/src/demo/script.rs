//! What a runner reports while it works through its script: the run's status and
//! progress, each step's attempts, batches of events (tool calls, progress,
//! warnings, errors) and, at the end, how the run went.

use super::catalogue::{pick, Profile, Role, StepTemplate, CLAIM_AGENT, DISPATCH_AGENT};
use super::plan::{Plan, StepKind};
use super::runner::{Halt, Runner};
use fixtures::CODE_REVIEWER;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

impl Runner {
    /// Runs the whole script.
    pub(super) async fn drive(&mut self, plan: &Plan) -> Result<(), Halt> {
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
        (CODE_REVIEWER, _) => (
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
