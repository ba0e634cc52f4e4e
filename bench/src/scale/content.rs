//! The rows of a planned run as the server would have stored them: its input
//! (nested, per agent), summary, initiator, context, error, webhook, its steps
//! (retried attempts, cache hits, skipped steps, the failing step of a failed run),
//! its artifacts (uploads, links, inline notes) and its events, in sequence, with
//! the messages and metadata an agent logs. Texts come from the run's own seeds,
//! so each run's rows are the same however the generator interleaves them.

use super::plan::{RunPlan, AGENTS, COMPANIES};
use fixtures::{
    CITIES, CODE_REVIEWER, DATA_SYNC, DESIGN_BUILDER, JOBSEEK, REPOS, RESEARCH_ASSISTANT,
};
use model::{RunStatus, StepStatus};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

const TAGS: [&str; 6] = ["fintech", "b2b", "saas", "devtools", "ai", "marketplace"];
const TOPICS: [&str; 5] = [
    "pricing",
    "hiring",
    "funding",
    "product launches",
    "competitors",
];
const SOURCES: [&str; 4] = ["web", "news", "filings", "linkedin"];
const AUTHORS: [&str; 6] = ["ana", "ben", "chen", "dara", "eli", "farah"];
const TABLES: [&str; 5] = ["contacts", "deals", "invoices", "events", "accounts"];
const SYNC_SOURCES: [&str; 4] = ["postgres", "salesforce", "hubspot", "stripe"];
const TONES: [&str; 4] = ["playful", "corporate", "minimal", "bold"];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];
const REPORTS: [&str; 3] = ["weekly-kpis", "churn", "pipeline"];
const INITIATORS: [(&str, u32); 4] = [("api", 45), ("owner", 25), ("schedule", 20), ("ci", 10)];
const ERRORS: [(&str, &str); 5] = [
    ("upstream_error", "upstream returned 502 after 3 attempts"),
    ("timeout", "gave up after 10 min"),
    ("rate_limited", "rate limited; retry after 60 s"),
    ("invalid_input", "the input is missing a required field"),
    ("tool_failed", "tool call failed: connection reset"),
];

/// A run's own columns, beside what its plan already says.
pub struct RunRow {
    pub id: Uuid,
    pub input: Value,
    pub summary: String,
    pub initiator: &'static str,
    pub context: Value,
    pub progress: f64,
    pub error: Option<RunErrorRow>,
    pub webhook: Option<(String, &'static str)>,
}

pub struct RunErrorRow {
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

#[derive(Clone)]
pub struct StepRow {
    pub step_id: &'static str,
    pub attempt: i64,
    pub idx: i64,
    pub name: String,
    pub skill_id: &'static str,
    pub status: StepStatus,
    pub cache_hit: bool,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub output_preview: Option<String>,
    pub error: Option<Value>,
    pub output_artifact_ids: Option<Value>,
}

pub struct ArtifactRow {
    pub id: Uuid,
    /// The step (id) that produced it, if any.
    pub step_id: Option<&'static str>,
    pub name: String,
    pub artifact_type: &'static str,
    pub content_type: &'static str,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    pub stored: bool,
    pub url: Option<String>,
    pub inline_text: Option<String>,
    pub metadata: Option<Value>,
    pub created_at: i64,
}

pub struct EventRow {
    pub seq: i64,
    pub created_at: i64,
    pub id: Uuid,
    pub client_id: Option<String>,
    pub event_type: &'static str,
    pub message: String,
    pub metadata: Option<String>,
}

/// A UUID v7 for a time, with random bits from `rng` (the server uses the clock).
pub fn uuid_at(rng: &mut impl Rng, at: i64) -> Uuid {
    let random: [u8; 10] = rng.gen();
    uuid::Builder::from_unix_timestamp_millis(at.max(0) as u64, &random).into_uuid()
}

fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    *items.choose(rng).unwrap_or(&items[0])
}

fn domain(company: &str) -> String {
    format!("{}.com", company.to_lowercase())
}

/// The input and summary of a run of `agent` about `company`.
pub fn input_and_summary(rng: &mut impl Rng, agent: usize, company: &str) -> (Value, String) {
    match AGENTS[agent].slug {
        JOBSEEK => {
            let (city, country) = pick(rng, &CITIES);
            let input = json!({
                "company_name": company,
                "url": format!("https://{}", domain(company)),
                "address": {"city": city, "country": country},
                "options": {"depth": rng.gen_range(1..4), "dryRun": rng.gen_bool(0.2)},
                "tags": [pick(rng, &TAGS), pick(rng, &TAGS)],
            });
            (input, format!("Add {company} to jobseek"))
        }
        RESEARCH_ASSISTANT => {
            let topic = pick(rng, &TOPICS);
            let how_many = rng.gen_range(1..4);
            let sources: Vec<&str> = SOURCES.choose_multiple(rng, how_many).copied().collect();
            let input = json!({
                "company_name": company,
                "topic": topic,
                "sources": sources,
                "depth": rng.gen_range(1..6),
            });
            (input, format!("Market brief: {company} ({topic})"))
        }
        CODE_REVIEWER => {
            let repo = pick(rng, &REPOS);
            let number = rng.gen_range(100..5000);
            let input = json!({
                "repo": repo,
                "pr": {"number": number, "author": pick(rng, &AUTHORS)},
                "checks": ["lint", "test"],
            });
            (input, format!("Review pull request #{number} in {repo}"))
        }
        DATA_SYNC => {
            let table = pick(rng, &TABLES);
            let input = json!({
                "company_name": company,
                "source": {"kind": pick(rng, &SYNC_SOURCES), "table": table},
                "destination": {"kind": "bigquery", "dataset": "analytics"},
                "batch_size": pick(rng, &[500, 1000, 5000]),
            });
            (input, format!("Sync {company} {table} to BigQuery"))
        }
        DESIGN_BUILDER => {
            let input = json!({
                "company_name": company,
                "brief": {"tone": pick(rng, &TONES), "pages": rng.gen_range(1..8)},
                "palette": {"primary": format!("#{:06x}", rng.gen_range(0..0x100_0000))},
            });
            (input, format!("Landing page for {company}"))
        }
        "support-triage" => {
            let ticket = rng.gen_range(10_000..1_000_000);
            let input = json!({
                "ticket": {"id": ticket, "priority": pick(rng, &PRIORITIES), "customer": company},
            });
            (input, format!("Triage ticket #{ticket} from {company}"))
        }
        "invoice-parser" => {
            let number = format!("INV-{:06}", rng.gen_range(1..1_000_000));
            let input = json!({
                "invoice": {
                    "number": number,
                    "vendor": company,
                    "amount": f64::from(rng.gen_range(1_000..5_000_000)) / 100.0,
                    "currency": pick(rng, &CURRENCIES),
                },
            });
            (input, format!("Parse invoice {number} from {company}"))
        }
        _ => {
            let report = pick(rng, &REPORTS);
            let input = json!({
                "report": report,
                "recipients": ["ops@example.com", "founders@example.com"],
            });
            (input, format!("Nightly report: {report}"))
        }
    }
}

fn initiator(rng: &mut impl Rng, agent: usize) -> &'static str {
    if AGENTS[agent].slug == CODE_REVIEWER && rng.gen_bool(0.8) {
        return "ci";
    }
    let total: u32 = INITIATORS.iter().map(|(_, weight)| weight).sum();
    let mut point = rng.gen_range(0..total);
    for (name, weight) in INITIATORS {
        if point < weight {
            return name;
        }
        point -= weight;
    }
    "api"
}

/// The run's columns. Retries share their original's input, summary and initiator.
pub fn run_row(plan: &RunPlan) -> RunRow {
    let mut texts = StdRng::seed_from_u64(plan.content_seed);
    let company = COMPANIES[plan.company];
    let (input, summary) = input_and_summary(&mut texts, plan.agent, company);
    let initiator = initiator(&mut texts, plan.agent);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let id = uuid_at(&mut rng, plan.created_at);
    let runner = pick(
        &mut rng,
        &["direct", "direct", "direct", "claim", "dispatch"],
    );
    let context = json!({
        "runner": runner,
        "host": format!("runner-{}", rng.gen_range(1..13)),
        "version": format!("1.{}.{}", rng.gen_range(2..6), rng.gen_range(0..10)),
    });
    let progress = match plan.status {
        RunStatus::Completed => 1.0,
        RunStatus::Failed | RunStatus::Cancelled | RunStatus::Running => {
            (rng.gen_range(0.05..0.95_f64) * 100.0).round() / 100.0
        }
        RunStatus::Requested | RunStatus::Queued => 0.0,
    };
    let error = (plan.status == RunStatus::Failed).then(|| {
        let (code, message) = pick(&mut rng, &ERRORS);
        RunErrorRow {
            code,
            message: format!("{company}: {message}"),
            details: json!({"attempts": rng.gen_range(1..4), "host": domain(company)}),
        }
    });
    let webhook = rng.gen_bool(0.12).then(|| {
        let status = match plan.status {
            status if !status.is_terminal() => "pending",
            _ if rng.gen_bool(0.97) => "delivered",
            _ => "failed",
        };
        (
            format!(
                "https://hooks.example.com/runboard/{}",
                rng.gen_range(1..40)
            ),
            status,
        )
    });
    RunRow {
        id,
        input,
        summary,
        initiator,
        context,
        progress,
        error,
        webhook,
    }
}

/// Title-cased step name: `extract-jobs` → `Extract jobs`.
fn step_name(step_id: &str) -> String {
    let text = step_id.replace('-', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// How far a run got through its steps, and how its last step ended.
fn steps_reached(rng: &mut impl Rng, plan: &RunPlan, count: usize) -> (usize, Option<StepStatus>) {
    match plan.status {
        RunStatus::Requested | RunStatus::Queued => (0, None),
        RunStatus::Completed => (count, None),
        RunStatus::Failed => (rng.gen_range(1..=count), Some(StepStatus::Failed)),
        RunStatus::Cancelled if plan.started_at.is_none() => (0, None),
        RunStatus::Cancelled | RunStatus::Running => {
            (rng.gen_range(1..=count), Some(StepStatus::Running))
        }
    }
}

/// The run's steps, every attempt, in order. `artifacts` says which step
/// produced which artifact ids.
pub fn step_rows(plan: &RunPlan, now: i64, artifacts: &[ArtifactRow]) -> Vec<StepRow> {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x5354_4550);
    let spec = &AGENTS[plan.agent];
    let (reached, last_status) = steps_reached(&mut rng, plan, spec.steps.len());
    let Some(started) = plan.started_at else {
        return Vec::new();
    };
    let end = plan.completed_at.unwrap_or(now);
    let slice = ((end - started) / spec.steps.len() as i64).max(1);
    let mut rows = Vec::new();
    for (idx, &(step_id, skill_id)) in spec.steps.iter().enumerate().take(reached) {
        let from = started + slice * idx as i64;
        let produced: Vec<String> = artifacts
            .iter()
            .filter(|artifact| artifact.step_id == Some(step_id))
            .map(|artifact| artifact.id.to_string())
            .collect();
        let step = StepRow {
            step_id,
            attempt: 1,
            idx: idx as i64,
            name: step_name(step_id),
            skill_id,
            status: StepStatus::Completed,
            cache_hit: false,
            started_at: Some(from),
            ended_at: Some(from + slice),
            output_preview: Some(format!(
                "{} done: {} items",
                step_name(step_id),
                rng.gen_range(1..200)
            )),
            error: None,
            output_artifact_ids: (!produced.is_empty()).then(|| json!(produced)),
        };
        rows.extend(match (idx + 1 == reached, last_status) {
            (true, Some(StepStatus::Failed)) => failed_attempts(&mut rng, step, slice),
            (true, Some(_)) => vec![still_running(step)],
            _ => finished_attempts(&mut rng, step, slice),
        });
    }
    rows
}

/// The step a failed run failed at: one or two failed attempts.
fn failed_attempts(rng: &mut impl Rng, step: StepRow, slice: i64) -> Vec<StepRow> {
    let from = step.started_at.unwrap_or_default();
    let error = json!({"code": "step_failed", "message": format!("{} failed", step.skill_id)});
    let attempts = if rng.gen_bool(0.5) { 2 } else { 1 };
    (1..=attempts)
        .map(|attempt| StepRow {
            attempt,
            status: StepStatus::Failed,
            output_preview: None,
            error: Some(error.clone()),
            output_artifact_ids: None,
            started_at: Some(from + (attempt - 1) * slice / 2),
            ended_at: Some(from + attempt * slice / 2),
            ..step.clone()
        })
        .collect()
}

/// The step a run in flight (or cancelled) is at: started, never ended.
fn still_running(step: StepRow) -> StepRow {
    StepRow {
        status: StepStatus::Running,
        ended_at: None,
        output_preview: None,
        output_artifact_ids: None,
        ..step
    }
}

/// A step that finished: usually at once, sometimes after a failed first
/// attempt, from the cache, or skipped.
fn finished_attempts(rng: &mut impl Rng, mut step: StepRow, slice: i64) -> Vec<StepRow> {
    let from = step.started_at.unwrap_or_default();
    match rng.gen_range(0..100) {
        0..=7 => {
            let first = StepRow {
                status: StepStatus::Failed,
                output_preview: None,
                output_artifact_ids: None,
                ended_at: Some(from + slice / 3),
                error: Some(json!({"code": "transient", "message": "connection reset; retrying"})),
                ..step.clone()
            };
            step.attempt = 2;
            step.started_at = Some(from + slice / 3);
            vec![first, step]
        }
        8..=17 => {
            step.cache_hit = true;
            step.ended_at = Some(from + (slice / 50).max(1));
            vec![step]
        }
        18..=21 if step.idx > 0 && step.output_artifact_ids.is_none() => {
            step.status = StepStatus::Skipped;
            step.output_preview = None;
            step.ended_at = step.started_at;
            vec![step]
        }
        _ => vec![step],
    }
}

fn sha256_hex(rng: &mut impl Rng) -> String {
    (0..32)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

/// An artifact uploaded into Runboard's own store (`stored`, a generated key).
fn upload(
    rng: &mut impl Rng,
    run_id: Uuid,
    at: i64,
    step_id: &'static str,
    name: &str,
    artifact_type: &'static str,
    content_type: &'static str,
) -> ArtifactRow {
    let id = uuid_at(rng, at);
    ArtifactRow {
        id,
        step_id: Some(step_id),
        name: name.to_string(),
        artifact_type,
        content_type,
        size_bytes: Some(rng.gen_range(2_000..400_000)),
        sha256: Some(sha256_hex(rng)),
        storage_key: Some(format!("runs/{run_id}/{id}")),
        stored: true,
        url: None,
        inline_text: None,
        metadata: None,
        created_at: at,
    }
}

/// A run's artifacts: finished runs of most agents leave one or two.
pub fn artifact_rows(plan: &RunPlan, run_id: Uuid) -> Vec<ArtifactRow> {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x4152_5449);
    let Some(at) = plan
        .completed_at
        .filter(|_| plan.status == RunStatus::Completed)
    else {
        return Vec::new();
    };
    let company = COMPANIES[plan.company];
    match AGENTS[plan.agent].slug {
        DESIGN_BUILDER => {
            let bundle_id = uuid_at(&mut rng, at);
            vec![
                upload(
                    &mut rng,
                    run_id,
                    at,
                    "screenshot",
                    "home.png",
                    "screenshot",
                    "image/png",
                ),
                ArtifactRow {
                    id: bundle_id,
                    step_id: Some("bundle"),
                    name: "bundle".to_string(),
                    artifact_type: "bundle",
                    content_type: "application/zip",
                    size_bytes: Some(rng.gen_range(200_000..3_000_000)),
                    sha256: None,
                    storage_key: None,
                    stored: false,
                    url: Some(bundle_url(run_id)),
                    inline_text: None,
                    metadata: Some(json!({"pages": rng.gen_range(1..8)})),
                    created_at: at,
                },
            ]
        }
        RESEARCH_ASSISTANT => {
            let mut rows = vec![upload(
                &mut rng,
                run_id,
                at,
                "write-brief",
                "brief.md",
                "report",
                "text/markdown",
            )];
            if rng.gen_bool(0.5) {
                rows.push(ArtifactRow {
                    id: uuid_at(&mut rng, at),
                    step_id: None,
                    name: format!("{company} newsroom"),
                    artifact_type: "link",
                    content_type: "text/html",
                    size_bytes: None,
                    sha256: None,
                    storage_key: None,
                    stored: false,
                    url: Some(format!("https://{}/newsroom", domain(company))),
                    inline_text: None,
                    metadata: None,
                    created_at: at,
                });
            }
            rows
        }
        JOBSEEK if rng.gen_bool(0.4) => {
            vec![upload(
                &mut rng,
                run_id,
                at,
                "extract-jobs",
                "jobs.json",
                "data",
                "application/json",
            )]
        }
        CODE_REVIEWER if rng.gen_bool(0.5) => vec![ArtifactRow {
            id: uuid_at(&mut rng, at),
            step_id: Some("review"),
            name: "review.md".to_string(),
            artifact_type: "review",
            content_type: "text/markdown",
            size_bytes: None,
            sha256: None,
            storage_key: None,
            stored: false,
            url: None,
            inline_text: Some(format!(
                "LGTM with {} comments; consider a test for the error path.",
                rng.gen_range(1..6)
            )),
            metadata: None,
            created_at: at,
        }],
        _ => Vec::new(),
    }
}

/// Where a design-builder run's bundle lives (the campaign's bundle URL).
pub fn bundle_url(run_id: Uuid) -> String {
    format!("https://cdn.example.com/bundles/{run_id}.zip")
}

/// One event's type, message and metadata: what an agent logs in the middle of a
/// run (progress, tool calls mentioning its subject, the odd warning or error).
pub fn middle_event(rng: &mut impl Rng, company: &str) -> (&'static str, String, Option<Value>) {
    match rng.gen_range(0..100) {
        0..=54 => {
            let progress = (rng.gen_range(0.0..1.0_f64) * 100.0).round() / 100.0;
            let message = if rng.gen_bool(0.5) {
                format!("processed {} records", rng.gen_range(1..500))
            } else {
                format!(
                    "step {} of {}: {} items so far",
                    rng.gen_range(1..5),
                    4,
                    rng.gen_range(1..900)
                )
            };
            (
                "agent.progress",
                message,
                Some(json!({ "progress": progress })),
            )
        }
        55..=96 => {
            let (tool, message) = match rng.gen_range(0..5) {
                0 => ("web.search", format!("search: {company} careers")),
                1 => (
                    "web.fetch",
                    format!(
                        "fetch https://{}/jobs?page={}",
                        domain(company),
                        rng.gen_range(1..20)
                    ),
                ),
                2 => (
                    "llm.call",
                    format!("llm: summarise {} paragraphs", rng.gen_range(2..40)),
                ),
                3 => ("db.read", format!("read {} rows", rng.gen_range(10..5000))),
                _ => ("crm.lookup", "crm lookup by domain".to_string()),
            };
            let metadata = json!({"tool": tool, "ms": rng.gen_range(20..3000), "ok": true});
            ("agent.tool_use", message, Some(metadata))
        }
        97..=98 => {
            let ms = rng.gen_range(900..8000);
            (
                "warning",
                format!("slow response from upstream ({ms} ms)"),
                Some(json!({ "ms": ms })),
            )
        }
        _ => (
            "error",
            "tool call failed: timeout after 30 s".to_string(),
            Some(json!({"code": "timeout"})),
        ),
    }
}

/// A run's events, produced one at a time in sequence order: the generator
/// interleaves the logs of runs that ran at the same time, as they arrived.
pub struct EventSource {
    pub run_pk: i64,
    count: i64,
    next: i64,
    started: i64,
    span: i64,
    company: &'static str,
    agent: usize,
    status: RunStatus,
    rng: StdRng,
}

impl EventSource {
    pub fn new(run_pk: i64, plan: &RunPlan, now: i64) -> Option<EventSource> {
        let started = plan.started_at?;
        (plan.events > 0).then(|| EventSource {
            run_pk,
            count: plan.events as i64,
            next: 1,
            started,
            span: (plan.completed_at.unwrap_or(now) - started).max(1),
            company: COMPANIES[plan.company],
            agent: plan.agent,
            status: plan.status,
            rng: StdRng::seed_from_u64(plan.seed ^ 0x4556_4e54),
        })
    }

    /// When event `seq` (1-based) was logged: evenly over the run.
    pub fn time_of(&self, seq: i64) -> i64 {
        let offset = i128::from(self.span) * i128::from(2 * seq - 1) / i128::from(2 * self.count);
        self.started + offset as i64
    }

    /// The time of the next event, if any is left.
    pub fn next_time(&self) -> Option<i64> {
        (self.next <= self.count).then(|| self.time_of(self.next))
    }

    pub fn last_time(&self) -> i64 {
        self.time_of(self.count)
    }

    pub fn next_event(&mut self) -> Option<EventRow> {
        if self.next > self.count {
            return None;
        }
        let seq = self.next;
        self.next += 1;
        let created_at = self.time_of(seq);
        let agent = AGENTS[self.agent].slug;
        let (event_type, message, metadata) = if seq == 1 {
            (
                "agent.start",
                format!("Starting {agent} for {}", self.company),
                None,
            )
        } else if seq == self.count && self.status.is_terminal() {
            match self.status {
                RunStatus::Completed => (
                    "agent.complete",
                    format!("Done in {} s", self.span / 1000),
                    None,
                ),
                RunStatus::Failed => (
                    "error",
                    format!("{}: giving up", self.company),
                    Some(json!({"fatal": true})),
                ),
                _ => (
                    "warning",
                    "cancelled by the owner; stopping".to_string(),
                    None,
                ),
            }
        } else {
            middle_event(&mut self.rng, self.company)
        };
        Some(EventRow {
            seq,
            created_at,
            id: uuid_at(&mut self.rng, created_at),
            client_id: AGENTS[self.agent].event_ids.then(|| format!("evt-{seq}")),
            event_type,
            message,
            metadata: metadata.map(|metadata| metadata.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scale::plan::{plan, Shape};

    fn sample_plan() -> Vec<RunPlan> {
        plan(&Shape {
            runs: 3_000,
            events: 30_000,
            long_run_events: 2_000,
            days: 10,
            now: 1_796_000_000_000,
            seed: 9,
        })
        .runs
    }

    #[test]
    fn a_runs_events_are_numbered_and_timed_in_order() {
        let runs = sample_plan();
        let run = runs
            .iter()
            .find(|run| run.events > 10 && run.status.is_terminal())
            .unwrap();
        let mut source = EventSource::new(7, run, 1_796_000_000_000).unwrap();
        let mut events = Vec::new();
        while let Some(event) = source.next_event() {
            events.push(event);
        }
        assert_eq!(events.len() as u64, run.events);
        assert!(events
            .iter()
            .enumerate()
            .all(|(index, event)| event.seq == index as i64 + 1));
        assert!(events
            .windows(2)
            .all(|pair| pair[0].created_at <= pair[1].created_at));
        assert!(events.first().unwrap().created_at >= run.started_at.unwrap());
        assert!(events.last().unwrap().created_at <= run.completed_at.unwrap());
        assert_eq!(events[0].event_type, "agent.start");
    }

    #[test]
    fn a_retry_has_its_originals_input() {
        let runs = sample_plan();
        let retry = runs.iter().find(|run| run.retry_of.is_some()).unwrap();
        let original = &runs[retry.retry_of.unwrap()];
        let (retry_row, original_row) = (run_row(retry), run_row(original));
        assert_eq!(retry_row.input, original_row.input);
        assert_eq!(retry_row.summary, original_row.summary);
        assert_ne!(retry_row.id, original_row.id);
    }

    #[test]
    fn failed_runs_end_on_a_failed_step_and_completed_ones_finish_every_step() {
        let runs = sample_plan();
        for run in runs
            .iter()
            .filter(|run| run.status == RunStatus::Failed)
            .take(50)
        {
            let steps = step_rows(run, 0, &[]);
            assert_eq!(steps.last().unwrap().status, StepStatus::Failed);
        }
        for run in runs
            .iter()
            .filter(|run| run.status == RunStatus::Completed)
            .take(50)
        {
            let artifacts = artifact_rows(run, run_row(run).id);
            let steps = step_rows(run, 0, &artifacts);
            let last_attempts: Vec<&StepRow> = steps
                .iter()
                .filter(|step| {
                    !steps
                        .iter()
                        .any(|other| other.step_id == step.step_id && other.attempt > step.attempt)
                })
                .collect();
            assert_eq!(last_attempts.len(), AGENTS[run.agent].steps.len());
            assert!(last_attempts
                .iter()
                .all(|step| step.status != StepStatus::Failed));
            for artifact in artifacts
                .iter()
                .filter(|artifact| artifact.step_id.is_some())
            {
                let step = steps
                    .iter()
                    .rev()
                    .find(|step| Some(step.step_id) == artifact.step_id)
                    .unwrap();
                assert!(step
                    .output_artifact_ids
                    .as_ref()
                    .unwrap()
                    .to_string()
                    .contains(&artifact.id.to_string()));
            }
        }
    }

    #[test]
    fn inputs_are_nested_and_flatten_to_several_fields() {
        let mut rng = StdRng::seed_from_u64(1);
        for agent in 0..AGENTS.len() {
            let (input, summary) = input_and_summary(&mut rng, agent, "Stripe");
            let fields = store::db::runs::flatten_input(&input);
            assert!(fields.len() >= 3, "{input}");
            assert!(fields.iter().any(|(path, _)| path.contains('.')), "{input}");
            assert!(!summary.is_empty());
        }
    }
}
