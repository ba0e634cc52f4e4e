//! The runs query language (`q`, docs/query.md) through `GET /api/runs` and
//! `GET /runs`: each qualifier, full text and phrases, negation, `OR` and
//! parentheses, relative times, combination with the separate parameters, the
//! 400 that names `q` and the position, and account scoping — each against the
//! exact set of runs it must list.

use crate::helpers::*;
use model::{AccountPk, CampaignPk, RunPk, RunStatus};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use store::db::events::{self, NewEvent};
use store::db::now_ms;
use store::db::runs::{self, NewRun};
use uuid::Uuid;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// One run of the fixture, described by what the queries look at.
struct Spec {
    name: &'static str,
    agent: &'static str,
    status: RunStatus,
    company: &'static str,
    summary: &'static str,
    created_at: i64,
    /// Milliseconds from start to completion (finished runs only).
    duration: Option<i64>,
    progress: f64,
    initiator: Option<&'static str>,
    error_code: Option<&'static str>,
    tags: &'static [&'static str],
    in_campaign: bool,
    retry_of: Option<&'static str>,
    log: &'static [&'static str],
}

fn spec(name: &'static str, agent: &'static str, status: RunStatus, created_at: i64) -> Spec {
    Spec {
        name,
        agent,
        status,
        company: "Nobody",
        summary: "",
        created_at,
        duration: None,
        progress: 0.0,
        initiator: None,
        error_code: None,
        tags: &[],
        in_campaign: false,
        retry_of: None,
        log: &[],
    }
}

/// The owner's runs: each differs from the others in what some query asks.
fn owner_specs(now: i64) -> Vec<Spec> {
    let day = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    };
    vec![
        Spec {
            company: "Stripe",
            summary: "Crawl Stripe careers page",
            duration: Some(90_000),
            progress: 0.3,
            initiator: Some("schedule"),
            error_code: Some("timeout"),
            tags: &["nightly"],
            in_campaign: true,
            ..spec("stripe", "crawler", RunStatus::Failed, now - 2 * HOUR)
        },
        Spec {
            company: "Acme Corp",
            summary: "Crawl Acme pricing",
            duration: Some(5_000),
            progress: 1.0,
            initiator: Some("api"),
            tags: &["nightly", "big"],
            log: &["limit rate exceeded, waiting", "done"],
            ..spec("acme", "crawler", RunStatus::Completed, now - 10 * DAY)
        },
        Spec {
            company: "Linear",
            summary: "Review rate limit handling",
            progress: 0.5,
            initiator: Some("schedule"),
            ..spec("linear", "reviewer", RunStatus::Running, now - 30 * MINUTE)
        },
        Spec {
            company: "Stripe",
            summary: "Crawl Stripe careers page again",
            retry_of: Some("stripe"),
            initiator: Some("retry"),
            ..spec("retry", "crawler", RunStatus::Requested, now - HOUR)
        },
        Spec {
            summary: "Review invoice export",
            duration: Some(600_000),
            progress: 0.9,
            error_code: Some("cancelled_by_user"),
            in_campaign: true,
            ..spec(
                "november",
                "reviewer",
                RunStatus::Cancelled,
                day("2026-11-01T10:00:00Z"),
            )
        },
        Spec {
            summary: "Review invoice import",
            duration: Some(60_000),
            progress: 1.0,
            ..spec(
                "october",
                "reviewer",
                RunStatus::Completed,
                day("2026-10-31T23:00:00Z"),
            )
        },
    ]
}

/// Names by run id, and the campaign's id.
struct Fixture {
    names: HashMap<String, &'static str>,
    campaign: Uuid,
    stripe_id: Uuid,
}

async fn insert(
    tx: &mut store::db::sql::Conn,
    account: AccountPk,
    spec: &Spec,
    campaign: Option<CampaignPk>,
    pks: &HashMap<&'static str, RunPk>,
) -> (RunPk, Uuid) {
    let mut run = NewRun::requested(
        spec.agent,
        json!({"company": {"name": spec.company}, "depth": 2}),
    );
    run.status = spec.status;
    run.progress = spec.progress;
    run.summary = Some(spec.summary.to_string()).filter(|summary| !summary.is_empty());
    run.created_at = spec.created_at;
    run.initiator = spec.initiator.map(str::to_string);
    if let Some(duration) = spec.duration {
        run.started_at = Some(spec.created_at + 1_000);
        run.completed_at = Some(spec.created_at + 1_000 + duration);
    }
    run.campaign_pk = campaign.filter(|_| spec.in_campaign);
    run.retry_of_pk = spec.retry_of.map(|name| pks[name]);
    let (pk, id) = runs::insert_run(&mut *tx, account, &run).await.unwrap();
    if let Some(code) = spec.error_code {
        store::db::sql::query(
            "UPDATE runs SET error_code = ?, error_message = 'gave up' WHERE pk = ?",
        )
        .bind(code)
        .bind(pk)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for tag in spec.tags {
        store::db::sql::query(
            "INSERT INTO run_tags (run_pk, account_pk, tag, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(pk)
        .bind(account)
        .bind(tag)
        .bind(spec.created_at)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    if !spec.log.is_empty() {
        let log: Vec<NewEvent> = spec
            .log
            .iter()
            .map(|message| NewEvent {
                client_id: None,
                event_type: "log".into(),
                message: Some(message.to_string()),
                metadata: None,
            })
            .collect();
        events::append_events(&mut *tx, pk, &log).await.unwrap();
    }
    (pk, id)
}

/// The owner's runs, and in another account a copy of every one of them (same
/// agents, inputs, words, tags, codes and a campaign of the same name) that no
/// query of the owner may ever list.
async fn fill(app: &TestApp) -> Fixture {
    let owner = app.owner_account().await;
    let actor = store::db::audit::Actor::system(owner, model::Via::System);
    let campaign = store::db::campaigns::create_campaign(&app.db, &actor, "Spring launch")
        .await
        .unwrap();
    let mut tx = app.db.begin_write().await.unwrap();
    let campaign_pk = store::db::campaigns::find_campaign_pk(&mut tx, owner, campaign.id)
        .await
        .unwrap();
    let other = store::db::accounts::create_account(&mut tx, "Other")
        .await
        .unwrap();
    let now = now_ms();
    let mut names = HashMap::new();
    let mut stripe_id = Uuid::nil();
    for (account, campaign_pk) in [(owner, campaign_pk), (other, None)] {
        let mut pks = HashMap::new();
        for spec in owner_specs(now) {
            let (pk, id) = insert(&mut tx, account, &spec, campaign_pk, &pks).await;
            pks.insert(spec.name, pk);
            if account == owner {
                names.insert(id.to_string(), spec.name);
                if spec.name == "stripe" {
                    stripe_id = id;
                }
            }
        }
    }
    tx.commit().await.unwrap();
    // The other account's campaign has the same name.
    let other_actor = store::db::audit::Actor::system(other, model::Via::System);
    store::db::campaigns::create_campaign(&app.db, &other_actor, "Spring launch")
        .await
        .unwrap();
    Fixture {
        names,
        campaign: campaign.id,
        stripe_id,
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

struct Client<'a> {
    app: &'a TestApp,
    token: String,
    fx: &'a Fixture,
}

impl Client<'_> {
    async fn get(&self, path: &str) -> (u16, Value) {
        self.app.call(Method::GET, path, &self.token, None).await
    }

    /// The names of the runs `GET /api/runs?q=…` lists (with `extra` parameters),
    /// checked against the total it answers.
    async fn names(&self, q: &str, extra: &str) -> BTreeSet<&'static str> {
        let (status, body) = self
            .get(&format!("/api/runs?limit=100&q={}{extra}", encode(q)))
            .await;
        assert_eq!(status, 200, "q={q}{extra}: {body}");
        let listed: BTreeSet<&'static str> = body["data"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| {
                let id = run["id"].as_str().unwrap();
                *self
                    .fx
                    .names
                    .get(id)
                    .unwrap_or_else(|| panic!("q={q}{extra}: {id} is another account's run"))
            })
            .collect();
        assert_eq!(
            body["data"]["total"].as_i64().unwrap() as usize,
            listed.len(),
            "q={q}{extra}: total"
        );
        listed
    }

    async fn expect(&self, q: &str, expected: &[&str]) {
        self.expect_with(q, "", expected).await;
    }

    async fn expect_with(&self, q: &str, extra: &str, expected: &[&str]) {
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(self.names(q, extra).await, expected, "q={q}{extra}");
    }
}

const ALL: &[&str] = &["stripe", "acme", "linear", "retry", "november", "october"];

fn all_but(excluded: &[&str]) -> Vec<&'static str> {
    ALL.iter()
        .copied()
        .filter(|name| !excluded.contains(name))
        .collect()
}

#[tokio::test]
async fn every_qualifier_lists_exactly_its_runs() {
    let app = spawn_app().await;
    let fx = fill(&app).await;
    let client = Client {
        app: &app,
        token: app.owner_token().await,
        fx: &fx,
    };
    let campaign = fx.campaign;
    let stripe = fx.stripe_id;
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("status:failed".into(), vec!["stripe"]),
        ("status:failed,cancelled".into(), vec!["stripe", "november"]),
        ("status:RUNNING".into(), vec!["linear"]),
        ("agent:crawler".into(), vec!["stripe", "acme", "retry"]),
        ("agent:nobody".into(), vec![]),
        (format!("campaign:{campaign}"), vec!["stripe", "november"]),
        (
            "campaign:\"Spring launch\"".into(),
            vec!["stripe", "november"],
        ),
        (
            "campaign:\"spring LAUNCH\"".into(),
            vec!["stripe", "november"],
        ),
        ("campaign:Autumn".into(), vec![]),
        ("initiator:schedule".into(), vec!["stripe", "linear"]),
        ("tag:nightly".into(), vec!["stripe", "acme"]),
        ("tag:big".into(), vec!["acme"]),
        ("input.company.name:Stripe".into(), vec!["stripe", "retry"]),
        ("input.company.name:\"Acme Corp\"".into(), vec!["acme"]),
        ("input.company.name=Linear".into(), vec!["linear"]),
        ("initial_input.depth=2".into(), ALL.to_vec()),
        ("created:2026-11-01".into(), vec!["november"]),
        ("created:2026-10-31".into(), vec!["october"]),
        ("created:<2026-11-01".into(), vec!["october"]),
        ("created:<=2026-11-01".into(), vec!["october", "november"]),
        (
            "created:>2026-11-01".into(),
            vec!["stripe", "acme", "linear", "retry"],
        ),
        (
            "created:>=2026-11-01T10:00:00Z".into(),
            vec!["november", "stripe", "acme", "linear", "retry"],
        ),
        ("created:>-90m".into(), vec!["linear", "retry"]),
        ("created:-3h".into(), vec!["linear", "retry", "stripe"]),
        ("created:<-7d".into(), vec!["acme", "november", "october"]),
        ("created:>-1w".into(), vec!["stripe", "linear", "retry"]),
        ("duration:>60s".into(), vec!["stripe", "november"]),
        (
            "duration:>=60s".into(),
            vec!["stripe", "november", "october"],
        ),
        ("duration:<1m".into(), vec!["acme"]),
        ("duration:5000ms".into(), vec!["acme"]),
        (
            "duration:<=1h".into(),
            vec!["stripe", "acme", "november", "october"],
        ),
        ("progress:<0.5".into(), vec!["stripe", "retry"]),
        (
            "progress:>=0.5".into(),
            vec!["acme", "linear", "november", "october"],
        ),
        ("progress:1".into(), vec!["acme", "october"]),
        ("error:timeout".into(), vec!["stripe"]),
        ("has:error".into(), vec!["stripe", "november"]),
        ("has:campaign".into(), vec!["stripe", "november"]),
        ("retryOf:*".into(), vec!["retry"]),
        (format!("retryOf:{stripe}"), vec!["retry"]),
        (format!("retryOf:{}", Uuid::now_v7()), vec![]),
    ];
    for (q, expected) in &cases {
        client.expect(q, expected).await;
    }
}

#[tokio::test]
async fn text_phrases_negation_or_and_parentheses_combine() {
    let app = spawn_app().await;
    let fx = fill(&app).await;
    let client = Client {
        app: &app,
        token: app.owner_token().await,
        fx: &fx,
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // Full text: summaries, inputs, error messages and log messages.
        ("stripe", vec!["stripe", "retry"]),
        ("careers again", vec!["retry"]),
        ("rate limit", vec!["linear", "acme"]),
        ("\"rate limit\"", vec!["linear"]),
        ("\"limit rate\"", vec!["acme"]),
        ("\"gave up\"", vec!["stripe", "november"]),
        ("invoice", vec!["november", "october"]),
        ("nothing-like-this", vec![]),
        // Negation, both spellings, of a qualifier, of text and of a group.
        ("-status:completed", all_but(&["acme", "october"])),
        ("NOT status:completed", all_but(&["acme", "october"])),
        ("-agent:crawler", vec!["linear", "november", "october"]),
        ("-tag:nightly", all_but(&["stripe", "acme"])),
        ("-has:error", all_but(&["stripe", "november"])),
        // Runs without a duration, campaign or initiator are not longer than a
        // minute, in no campaign, not started by schedule.
        ("-duration:>60s", all_but(&["stripe", "november"])),
        (
            "-campaign:\"Spring launch\"",
            all_but(&["stripe", "november"]),
        ),
        ("-initiator:schedule", all_but(&["stripe", "linear"])),
        ("-stripe", all_but(&["stripe", "retry"])),
        ("-\"rate limit\"", all_but(&["linear"])),
        (
            "-(agent:crawler OR status:running)",
            vec!["november", "october"],
        ),
        ("NOT NOT tag:big", vec!["acme"]),
        // AND by juxtaposition or spelled out; OR; precedence; parentheses.
        ("agent:crawler status:failed", vec!["stripe"]),
        ("agent:crawler AND tag:nightly", vec!["stripe", "acme"]),
        ("status:failed OR status:running", vec!["stripe", "linear"]),
        (
            "tag:big OR input.company.name:Linear",
            vec!["acme", "linear"],
        ),
        (
            "agent:reviewer status:cancelled OR tag:big",
            vec!["november", "acme"],
        ),
        (
            "agent:reviewer (status:cancelled OR tag:big)",
            vec!["november"],
        ),
        (
            "stripe OR invoice",
            vec!["stripe", "retry", "november", "october"],
        ),
        ("stripe -retryOf:*", vec!["stripe"]),
        (
            "(stripe OR \"rate limit\") -status:running",
            vec!["stripe", "retry"],
        ),
        ("invoice (import OR export)", vec!["november", "october"]),
        ("(invoice export) OR tag:big", vec!["november", "acme"]),
        ("crawl -careers", vec!["acme"]),
        ("stripe agent:crawler created:>-3h", vec!["stripe", "retry"]),
    ];
    for (q, expected) in &cases {
        client.expect(q, expected).await;
    }
}

#[tokio::test]
async fn the_query_ands_with_the_separate_parameters() {
    let app = spawn_app().await;
    let fx = fill(&app).await;
    let client = Client {
        app: &app,
        token: app.owner_token().await,
        fx: &fx,
    };
    client
        .expect_with(
            "agent:crawler",
            "&status=failed,requested",
            &["stripe", "retry"],
        )
        .await;
    client
        .expect_with("status:failed", "&status=completed", &[])
        .await;
    client
        .expect_with(
            "status:failed OR status:running",
            "&agent=reviewer",
            &["linear"],
        )
        .await;
    client
        .expect_with("stripe", "&status=failed", &["stripe"])
        .await;
    client
        .expect_with("-stripe", "&agent=crawler", &["acme"])
        .await;
    client
        .expect_with(
            "created:<-1d",
            "&createdAfter=2026-11-01",
            &["november", "acme"],
        )
        .await;
    client
        .expect_with(
            "input.company.name:stripe",
            "&ci=true",
            &["stripe", "retry"],
        )
        .await;
    client
        .expect_with("tag:nightly", "&input.company.name=Acme%20Corp", &["acme"])
        .await;
    client
        .expect_with("duration:>1s", "&maxDurationMs=60000", &["acme", "october"])
        .await;
    // The legacy path reads the same query.
    let (status, body) = client
        .get(&format!("/runs?q={}", encode("tag:nightly -status:failed")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["runs"].as_array().unwrap().len(), 1);
    // Keyset pages of a query continue one another.
    let (_, first) = client
        .get(&format!(
            "/api/runs?limit=2&q={}",
            encode("-status:running")
        ))
        .await;
    let cursor = first["data"]["nextCursor"].as_str().unwrap();
    let (_, second) = client
        .get(&format!(
            "/api/runs?limit=10&cursor={cursor}&q={}",
            encode("-status:running")
        ))
        .await;
    let pages = first["data"]["runs"].as_array().unwrap().len()
        + second["data"]["runs"].as_array().unwrap().len();
    assert_eq!(pages, 5);
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_a_400_naming_q_and_the_position() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let cases = [
        (
            "status:done",
            7,
            "expected a status (requested, queued, running, completed, failed, cancelled) after \"status:\", got \"done\" at 7",
        ),
        ("agent:x (tag:a OR", 17, "expected a term"),
        ("stauts:failed", 0, "did you mean \"status:\"?"),
        ("created:<-7y", 9, "a time ago (-7d; m, h, d, w)"),
        ("progress:>2", 10, "expected a progress from 0 to 1"),
        ("é) x", 1, "there is no \"(\" to close"),
    ];
    for (q, position, message) in cases {
        for path in ["/api/runs", "/runs"] {
            let (status, body) = app
                .call(
                    Method::GET,
                    &format!("{path}?q={}", encode(q)),
                    &token,
                    None,
                )
                .await;
            assert_eq!(status, 400, "{path} q={q}: {body}");
            let error = &body["error"];
            assert_eq!(error["code"], "invalid", "{q}");
            assert_eq!(error["field"], "q", "{q}");
            assert_eq!(error["position"], position, "{q}: {body}");
            assert!(
                error["message"].as_str().unwrap().contains(message),
                "{q}: {body}"
            );
        }
    }
    let long = "a ".repeat(2_001);
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/runs?q={}", encode(&long)),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 4000"),
        "{body}"
    );
}

#[tokio::test]
async fn another_accounts_runs_never_match() {
    let app = spawn_app().await;
    let fx = fill(&app).await;
    let token = app.owner_token().await;
    let client = Client {
        app: &app,
        token,
        fx: &fx,
    };
    // Every query of the owner lists only the owner's runs (`names` fails on any
    // other id), including negations and ORs that a missing account condition
    // would widen.
    for q in [
        "-status:completed",
        "-tag:nightly OR stripe",
        "NOT (agent:crawler OR \"rate limit\")",
        "campaign:\"Spring launch\" OR -has:campaign",
        "input.company.name:Stripe OR tag:nightly OR -progress:<0.1",
    ] {
        client.names(q, "").await;
    }
    client
        .expect("stripe OR -stripe OR -tag:nightly OR has:error", ALL)
        .await;
    // A third account, with no runs, finds none of either.
    let third = app.other_account_token().await;
    for q in [
        "stripe",
        "-stripe",
        "tag:nightly OR -tag:nightly",
        "-status:failed",
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/runs?q={}", encode(q)),
                &third,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["total"], 0, "{q}: {body}");
    }
}
