//! What the fleet plays: its agents (their steps, tools and the artifacts each step
//! leaves), the showcase that opens every demo, and the inputs of new runs. Names of
//! companies, campaigns and repositories come from the shared sample data
//! (`fixtures`).

use fixtures::{CODE_REVIEWER, JOBSEEK, RESEARCH_ASSISTANT};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

/// How a run reaches its runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Direct,
    Claim,
    Dispatch,
}

impl Mode {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Claim => "claim",
            Mode::Dispatch => "dispatch",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Mode> {
        [Mode::Direct, Mode::Claim, Mode::Dispatch]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

/// How a run is scripted to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scenario {
    Complete,
    Fail,
    Cancel,
}

impl Scenario {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Scenario::Complete => "complete",
            Scenario::Fail => "fail",
            Scenario::Cancel => "cancel",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Scenario> {
        [Scenario::Complete, Scenario::Fail, Scenario::Cancel]
            .into_iter()
            .find(|scenario| scenario.as_str() == text)
    }
}

/// The agent whose runs the server pushes to the fleet's job receiver.
pub(super) const DISPATCH_AGENT: &str = fixtures::DESIGN_BUILDER;
/// The agent whose runs a polling worker claims.
pub(super) const CLAIM_AGENT: &str = fixtures::DATA_SYNC;

/// What a step of an agent is like.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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
pub(super) enum Output {
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

pub(super) struct StepTemplate {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) skill: &'static str,
    pub(super) weight: f64,
    pub(super) role: Role,
    pub(super) outputs: &'static [Output],
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

pub(super) struct Profile {
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
    pub(super) description: &'static str,
    pub(super) mode: Mode,
    pub(super) campaign: Option<&'static str>,
    pub(super) initiators: &'static [&'static str],
    pub(super) tools: &'static [&'static str],
    pub(super) steps: &'static [StepTemplate],
}

/// The campaigns the fleet's runs belong to.
pub(super) const CAMPAIGNS: &[&str] = fixtures::CAMPAIGNS.split_at(3).0;

pub(super) const PROFILES: [Profile; 5] = [
    Profile {
        slug: RESEARCH_ASSISTANT,
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
        slug: CODE_REVIEWER,
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
        slug: JOBSEEK,
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

pub(super) fn profile(slug: &str) -> &'static Profile {
    PROFILES
        .iter()
        .find(|profile| profile.slug == slug)
        .unwrap_or(&PROFILES[0])
}

/// The first runs show every kind of run once, so a new dashboard (and the
/// test) has all of them within a minute; after that it is random.
pub(super) const SHOWCASE: [(&str, Scenario); 8] = [
    (RESEARCH_ASSISTANT, Scenario::Complete),
    (DISPATCH_AGENT, Scenario::Complete),
    (CLAIM_AGENT, Scenario::Complete),
    (JOBSEEK, Scenario::Complete),
    (CODE_REVIEWER, Scenario::Fail),
    (RESEARCH_ASSISTANT, Scenario::Cancel),
    (CLAIM_AGENT, Scenario::Cancel),
    (DISPATCH_AGENT, Scenario::Fail),
];

/// The companies, research topics, repositories and CRM objects of sample inputs.
const COMPANIES: &[&str] = fixtures::COMPANIES.split_at(12).0;
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
const REPOS: &[&str] = fixtures::REPOS.split_at(4).0;
const CRM_OBJECTS: [&str; 4] = ["companies", "contacts", "deals", "tickets"];

pub(super) fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    // Every list here is a non-empty constant.
    items.choose(rng).unwrap_or(&items[0])
}

/// Input and summary of a new run.
pub(super) fn sample_input(slug: &str, rng: &mut StdRng) -> (Value, String) {
    let company = *pick(rng, COMPANIES);
    match slug {
        RESEARCH_ASSISTANT => {
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
        CODE_REVIEWER => {
            let repo = *pick(rng, REPOS);
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
