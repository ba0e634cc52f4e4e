//! The role matrix, walked cell by cell: every owner-API action for a viewer, a
//! member and an owner, each signed in three ways (the dashboard's session
//! cookie, an API JWT and an `rb_` token). An allowed call succeeds; a refused
//! one is 403 `forbidden` and leaves the database exactly as it was. The
//! dashboard's server functions are walked the same way with the cookie.

use crate::helpers::*;
use model::Role;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};
use store::db::audit::Actor;

const PASSWORD: &str = "matrix-password-42";

/// How a person is signed in.
enum Credential {
    Cookie(reqwest::Client),
    Jwt(String),
    Token(String),
}

impl Credential {
    fn kind(&self) -> &'static str {
        match self {
            Credential::Cookie(_) => "cookie",
            Credential::Jwt(_) => "jwt",
            Credential::Token(_) => "rb_ token",
        }
    }
}

struct Person {
    email: String,
    password: &'static str,
    role: Role,
    user_pk: model::UserPk,
}

async fn add_person(app: &TestApp, role: Role) -> Person {
    let email = format!("{}@example.com", role.as_str());
    store::auth::add_user(&app.db, &email, PASSWORD, None, role)
        .await
        .unwrap();
    let user_pk = store::db::sql::query_scalar("SELECT pk FROM users WHERE email = ?")
        .bind(&email)
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    Person {
        email,
        password: PASSWORD,
        role,
        user_pk,
    }
}

/// The person's `rb_` token, made on the server's machine (as the CLI does):
/// viewers may not create tokens themselves.
async fn rb_token(app: &TestApp, person: &Person) -> String {
    let actor = Actor {
        account_pk: app.owner_account().await,
        user_pk: Some(person.user_pk),
        name: person.email.clone(),
        via: model::Via::Cli,
        ip: None,
    };
    store::db::tokens::create_token(&app.db, &actor, "matrix", None)
        .await
        .unwrap()
        .1
}

async fn credentials(app: &TestApp, person: &Person) -> Vec<Credential> {
    vec![
        Credential::Cookie(app.signed_in_client(&person.email, person.password).await),
        Credential::Jwt(app.api_token_for(&person.email, person.password).await),
        Credential::Token(rb_token(app, person).await),
    ]
}

async fn send(
    app: &TestApp,
    credential: &Credential,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = match credential {
        Credential::Cookie(client) => client.request(method, app.url(path)),
        Credential::Jwt(token) | Credential::Token(token) => new_client()
            .request(method, app.url(path))
            .bearer_auth(token),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"))
    {
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Everything a refused call could have changed.
async fn fingerprint(app: &TestApp) -> Value {
    // SQLite's group_concat is PostgreSQL's string_agg.
    let sql = |concat: &str| {
        let concat = |value: &str| concat.replace("{}", value);
        format!(
            "SELECT (SELECT count(*) FROM runs),
                    (SELECT CAST(coalesce(sum(updated_at), 0) AS BIGINT) FROM runs),
                    (SELECT count(*) FROM campaigns),
                    (SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL),
                    (SELECT count(*) FROM users),
                    (SELECT {} FROM users),
                    (SELECT count(*) FROM audit_log),
                    (SELECT coalesce({}, '') FROM agents),
                    (SELECT count(*) FROM outbox),
                    (SELECT coalesce({}, '') FROM retention_policies),
                    (SELECT count(*) FROM runs WHERE pinned = 1),
                    (SELECT coalesce({}, '') FROM bulk_jobs)",
            concat("email || ':' || role || ':' || auth_epoch"),
            concat("coalesce(name, '') || coalesce(dispatch_url, '')"),
            concat("policy"),
            concat("id || ':' || status"),
        )
    };
    let row: (
        i64,
        i64,
        i64,
        i64,
        i64,
        String,
        i64,
        String,
        i64,
        String,
        i64,
        String,
    ) = store::db::sql::query_as(sql("group_concat({}, ',')"))
        .postgres(sql("string_agg({}, ',' ORDER BY {})"))
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    json!([row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11])
}

/// What one cell calls, made fresh for each call (some calls use their target up).
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

fn call(method: Method, path: impl Into<String>, body: Option<Value>) -> Call {
    Call {
        method,
        path: path.into(),
        body,
    }
}

/// The owner's fixtures for the cells: a fresh run, a failed one, a pinned one,
/// a spare user, the caller's own token and someone else's.
struct Fixtures {
    run: String,
    failed: String,
    pinned: String,
    spare_user: String,
    own_token: String,
    others_token: String,
    /// A queued bulk cancel, and a queued bulk delete (for [`bulk_cells`]: the
    /// matrix's server runs no bulk worker, so they stay queued); empty otherwise.
    bulk_job: String,
    bulk_delete_job: String,
}

async fn fixtures(app: &TestApp, owner_token: &str, caller: &Person, bulk: bool) -> Fixtures {
    let (run, _) = app
        .create_run(owner_token, json!({"agent": "matrix"}))
        .await;
    let (failed, runner) = app
        .create_run(owner_token, json!({"agent": "matrix"}))
        .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{failed}/status"),
            &runner,
            Some(json!({"status": "failed", "error": {"message": "boom"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (pinned, _) = app
        .create_run(owner_token, json!({"agent": "matrix"}))
        .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{pinned}/pin"),
            owner_token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let spare = format!("spare-{}@example.com", uuid::Uuid::now_v7().simple());
    let (status, body) = app
        .call(
            Method::POST,
            "/api/users",
            owner_token,
            Some(json!({"email": spare, "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let spare_user = body["data"]["id"].as_str().unwrap().to_string();
    let own = rb_token(app, caller).await;
    let own_token = token_id(app, &own).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/tokens",
            owner_token,
            Some(json!({"name": "the owner's"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let others_token = body["data"]["token"]["id"].as_str().unwrap().to_string();
    let mut jobs = Vec::new();
    for action in ["cancel", "delete"].into_iter().filter(|_| bulk) {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/runs/bulk",
                owner_token,
                Some(json!({"action": action, "filter": {"agent": "nobody"}})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        jobs.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    Fixtures {
        run,
        failed,
        pinned,
        spare_user,
        own_token,
        others_token,
        bulk_delete_job: jobs.pop().unwrap_or_default(),
        bulk_job: jobs.pop().unwrap_or_default(),
    }
}

async fn token_id(app: &TestApp, secret: &str) -> String {
    store::db::sql::query_scalar("SELECT id FROM api_tokens WHERE token_hash = ?")
        .bind(store::db::tokens::hash_token(secret))
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

/// A cell: its name, the least role that may do it, and the call.
type Cell = (&'static str, Role, Call);

/// How many cells [`cells`] has.
const CELLS: usize = 34;

/// The matrix: each cell's name, the least role that may do it, and the call.
fn cells(f: &Fixtures) -> Vec<Cell> {
    use Method as M;
    let run = &f.run;
    vec![
        ("list runs", Role::Viewer, call(M::GET, "/api/runs", None)),
        (
            "export runs",
            Role::Viewer,
            call(M::GET, "/api/runs/export?format=csv", None),
        ),
        (
            "read a run",
            Role::Viewer,
            call(M::GET, format!("/api/runs/{run}"), None),
        ),
        (
            "read steps",
            Role::Viewer,
            call(M::GET, format!("/api/runs/{run}/steps"), None),
        ),
        (
            "read events",
            Role::Viewer,
            call(M::GET, format!("/api/runs/{run}/events"), None),
        ),
        (
            "read artifacts",
            Role::Viewer,
            call(M::GET, format!("/api/runs/{run}/artifacts"), None),
        ),
        (
            "list campaigns",
            Role::Viewer,
            call(M::GET, "/api/campaigns", None),
        ),
        (
            "list agents",
            Role::Viewer,
            call(M::GET, "/api/agents", None),
        ),
        (
            "live stream",
            Role::Viewer,
            call(M::GET, "/api/events/stream", None),
        ),
        (
            "create a run",
            Role::Member,
            call(M::POST, "/api/runs", Some(json!({"agent": "matrix"}))),
        ),
        (
            "create a run (legacy)",
            Role::Member,
            call(M::POST, "/agents/run", Some(json!({"agentSlug": "matrix"}))),
        ),
        (
            "patch a run",
            Role::Member,
            call(
                M::PATCH,
                format!("/api/runs/{run}"),
                Some(json!({"summary": "patched"})),
            ),
        ),
        (
            "cancel a run",
            Role::Member,
            call(M::POST, format!("/api/runs/{run}/cancel"), None),
        ),
        (
            "retry a run",
            Role::Member,
            call(M::POST, format!("/api/runs/{}/retry", f.failed), None),
        ),
        (
            "pin a run",
            Role::Member,
            call(M::POST, format!("/api/runs/{run}/pin"), None),
        ),
        (
            "unpin a run",
            Role::Member,
            call(M::DELETE, format!("/api/runs/{}/pin", f.pinned), None),
        ),
        (
            "create a campaign",
            Role::Member,
            call(M::POST, "/api/campaigns", Some(json!({"name": "matrix"}))),
        ),
        (
            "create own token",
            Role::Member,
            call(M::POST, "/api/tokens", Some(json!({"name": "mine"}))),
        ),
        (
            "list own tokens",
            Role::Member,
            call(M::GET, "/api/tokens", None),
        ),
        (
            "revoke own token",
            Role::Member,
            call(M::DELETE, format!("/api/tokens/{}", f.own_token), None),
        ),
        (
            "delete a run",
            Role::Owner,
            call(M::DELETE, format!("/api/runs/{run}"), None),
        ),
        (
            "agent settings",
            Role::Owner,
            call(
                M::PUT,
                "/api/agents/matrix",
                Some(json!({"name": "Matrix agent"})),
            ),
        ),
        (
            "account and webhook secret",
            Role::Owner,
            call(M::GET, "/api/account", None),
        ),
        (
            "all tokens",
            Role::Owner,
            call(M::GET, "/api/tokens?all=true", None),
        ),
        (
            "revoke another's token",
            Role::Owner,
            call(M::DELETE, format!("/api/tokens/{}", f.others_token), None),
        ),
        ("list users", Role::Owner, call(M::GET, "/api/users", None)),
        (
            "add a user",
            Role::Owner,
            call(
                M::POST,
                "/api/users",
                Some(
                    json!({"email": format!("new-{}@example.com", uuid::Uuid::now_v7().simple()), "role": "viewer"}),
                ),
            ),
        ),
        (
            "change a role",
            Role::Owner,
            call(
                M::PATCH,
                format!("/api/users/{}", f.spare_user),
                Some(json!({"role": "member"})),
            ),
        ),
        (
            "remove a user",
            Role::Owner,
            call(M::DELETE, format!("/api/users/{}", f.spare_user), None),
        ),
        ("audit log", Role::Owner, call(M::GET, "/api/audit", None)),
        ("metrics", Role::Owner, call(M::GET, "/metrics", None)),
        (
            "retention policy",
            Role::Owner,
            call(M::GET, "/api/retention", None),
        ),
        (
            "set the retention policy",
            Role::Owner,
            call(
                M::PUT,
                "/api/retention",
                Some(json!({"keepRunsDays": 30, "agents": {"matrix": {"keepEventsDays": 7}}})),
            ),
        ),
        (
            "storage report",
            Role::Owner,
            call(M::GET, "/api/storage", None),
        ),
    ]
}

/// How many cells [`bulk_cells`] has.
const BULK_CELLS: usize = 9;

/// The bulk actions' cells, walked by a test of their own (the whole matrix in
/// one test took longer than a test may).
fn bulk_cells(f: &Fixtures) -> Vec<Cell> {
    use Method as M;
    vec![
        (
            "preview a bulk cancel",
            Role::Member,
            call(
                M::POST,
                "/api/runs/bulk",
                Some(json!({"action": "cancel", "filter": {"agent": "matrix"}, "dryRun": true})),
            ),
        ),
        (
            "bulk cancel",
            Role::Member,
            call(
                M::POST,
                "/api/runs/bulk",
                Some(json!({"action": "cancel", "filter": {"agent": "matrix"}})),
            ),
        ),
        (
            "bulk tag",
            Role::Member,
            call(
                M::POST,
                "/api/runs/bulk",
                Some(json!({"action": "tag", "tag": "matrix", "filter": {"agent": "matrix"}})),
            ),
        ),
        (
            "list bulk jobs",
            Role::Viewer,
            call(M::GET, "/api/bulk-jobs", None),
        ),
        (
            "read a bulk job",
            Role::Viewer,
            call(M::GET, format!("/api/bulk-jobs/{}", f.bulk_job), None),
        ),
        (
            "cancel a bulk job",
            Role::Member,
            call(
                M::POST,
                format!("/api/bulk-jobs/{}/cancel", f.bulk_job),
                None,
            ),
        ),
        (
            "preview a bulk delete",
            Role::Owner,
            call(
                M::POST,
                "/api/runs/bulk",
                Some(json!({"action": "delete", "dryRun": true})),
            ),
        ),
        (
            "bulk delete",
            Role::Owner,
            call(
                M::POST,
                "/api/runs/bulk",
                Some(json!({"action": "delete", "filter": {"agent": "nobody"}})),
            ),
        ),
        (
            "cancel a bulk delete job",
            Role::Owner,
            call(
                M::POST,
                format!("/api/bulk-jobs/{}/cancel", f.bulk_delete_job),
                None,
            ),
        ),
    ]
}

#[tokio::test]
async fn every_cell_of_the_role_matrix_for_cookie_jwt_and_token() {
    walk_matrix(cells, CELLS, false).await;
}

#[tokio::test]
async fn every_bulk_action_cell_of_the_role_matrix() {
    walk_matrix(bulk_cells, BULK_CELLS, true).await;
}

/// Walks `count` cells for a viewer, a member and an owner, each signed in three
/// ways; `bulk`: the fixtures include bulk jobs.
async fn walk_matrix(cells: fn(&Fixtures) -> Vec<Cell>, count: usize, bulk: bool) {
    let app = spawn_app_with(|config| config.bulk_worker = false).await;
    let owner_token = app.owner_token().await;
    let owner = Person {
        email: OWNER_EMAIL.to_string(),
        password: OWNER_PASSWORD,
        role: Role::Owner,
        user_pk: store::db::sql::query_scalar("SELECT pk FROM users WHERE email = ?")
            .bind(OWNER_EMAIL)
            .fetch_one(&app.db.read)
            .await
            .unwrap(),
    };
    let people = [
        add_person(&app, Role::Viewer).await,
        add_person(&app, Role::Member).await,
    ];
    assert_eq!(
        cells(&fixtures(&app, &owner_token, &owner, bulk).await).len(),
        count
    );
    let mut checked = 0;
    for person in people.iter().chain([&owner]) {
        for credential in &credentials(&app, person).await {
            // Cell by cell, each on fresh fixtures: allowed calls use them up.
            for index in 0..count {
                let fixtures = fixtures(&app, &owner_token, person, bulk).await;
                let (name, needed, call) = cells(&fixtures).swap_remove(index);
                let before = fingerprint(&app).await;
                let (status, body) =
                    send(&app, credential, call.method.clone(), &call.path, call.body).await;
                let what = format!(
                    "{} by a {} with a {}: {} {} → {status} {body}",
                    name,
                    person.role,
                    credential.kind(),
                    call.method,
                    call.path
                );
                if person.role.allows(needed) {
                    assert!((200..300).contains(&status), "allowed, {what}");
                } else {
                    assert_eq!(status, 403, "refused, {what}");
                    assert_eq!(body["error"]["code"], "forbidden", "{what}");
                    assert_eq!(fingerprint(&app).await, before, "nothing changed, {what}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        count * 3 * 3,
        "every cell, three roles, three credentials"
    );
}

/// A server function's name, the least role that may call it, and its arguments.
type ServerFnCall<'a> = (&'a str, Role, Vec<(&'a str, &'a str)>);

/// A server function called as the dashboard calls it (form-encoded arguments).
async fn server_fn(
    app: &TestApp,
    client: &reqwest::Client,
    endpoint: &str,
    args: &[(&str, &str)],
) -> (u16, String) {
    let response = client
        .post(app.url(&format!("/fn/{endpoint}")))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(args))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn server_functions_apply_the_same_roles() {
    let app = spawn_app_with(|config| config.bulk_worker = false).await;
    let owner_token = app.owner_token().await;
    let viewer = add_person(&app, Role::Viewer).await;
    let member = add_person(&app, Role::Member).await;
    for person in [&viewer, &member] {
        let Credential::Cookie(client) = credentials(&app, person).await.remove(0) else {
            unreachable!()
        };
        let fixtures = fixtures(&app, &owner_token, person, false).await;
        let calls: Vec<ServerFnCall> = vec![
            ("list_runs", Role::Viewer, vec![("query", "")]),
            (
                "run_detail",
                Role::Viewer,
                vec![("id", fixtures.run.as_str())],
            ),
            ("list_agent_overviews", Role::Viewer, vec![]),
            (
                "new_campaign",
                Role::Member,
                vec![("name", "from the dashboard")],
            ),
            (
                "start_run",
                Role::Member,
                vec![
                    ("agent", "matrix"),
                    ("input", ""),
                    ("campaign", ""),
                    ("webhook_url", ""),
                    ("summary", ""),
                ],
            ),
            (
                "retry_run",
                Role::Member,
                vec![("id", fixtures.failed.as_str())],
            ),
            (
                "cancel_run",
                Role::Member,
                vec![("id", fixtures.run.as_str())],
            ),
            (
                "create_token",
                Role::Member,
                vec![("name", "dashboard"), ("expires_in_days", "")],
            ),
            (
                "pin_run",
                Role::Member,
                vec![("id", fixtures.run.as_str()), ("pinned", "true")],
            ),
            (
                "delete_run",
                Role::Owner,
                vec![("id", fixtures.run.as_str())],
            ),
            (
                "set_dispatch_url",
                Role::Owner,
                vec![("slug", "matrix"), ("dispatch_url", "")],
            ),
            ("list_members", Role::Owner, vec![]),
            (
                "read_audit_log",
                Role::Owner,
                vec![("actor", ""), ("action", "")],
            ),
            ("read_retention", Role::Owner, vec![]),
            (
                "save_retention",
                Role::Owner,
                vec![
                    ("keep_runs_days", "30"),
                    ("keep_failed_runs_days", ""),
                    ("keep_events_days", "7"),
                    ("keep_artifacts_days", ""),
                ],
            ),
            (
                "save_agent_retention",
                Role::Owner,
                vec![
                    ("agent", "matrix"),
                    ("keep_runs_days", "forever"),
                    ("keep_failed_runs_days", ""),
                    ("keep_events_days", ""),
                    ("keep_artifacts_days", ""),
                ],
            ),
            ("load_storage", Role::Owner, vec![]),
        ];
        for (endpoint, needed, args) in calls {
            let before = fingerprint(&app).await;
            let (status, body) = server_fn(&app, &client, endpoint, &args).await;
            let what = format!("/fn/{endpoint} by a {}: {status} {body}", person.role);
            if person.role.allows(needed) {
                assert!((200..300).contains(&status), "allowed, {what}");
            } else {
                assert_eq!(status, 403, "refused, {what}");
                assert!(body.contains("Forbidden"), "{what}");
                assert_eq!(fingerprint(&app).await, before, "nothing changed, {what}");
            }
        }
    }
}

#[tokio::test]
async fn a_role_change_applies_to_tokens_at_once_and_ends_sessions_and_jwts() {
    let app = spawn_app().await;
    let owner_token = app.owner_token().await;
    let member = add_person(&app, Role::Member).await;
    let mut logins = credentials(&app, &member).await;
    let Credential::Token(token) = logins.pop().unwrap() else {
        unreachable!()
    };
    let Credential::Jwt(jwt) = logins.pop().unwrap() else {
        unreachable!()
    };
    let Credential::Cookie(cookie) = logins.pop().unwrap() else {
        unreachable!()
    };
    let create = || Some(json!({"agent": "demoted"}));
    let (status, _) = app.call(Method::POST, "/api/runs", &token, create()).await;
    assert_eq!(status, 201, "a member creates runs");

    let id: String = store::db::sql::query_scalar("SELECT id FROM users WHERE email = ?")
        .bind(&member.email)
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{id}"),
            &owner_token,
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(
        (status, body["data"]["role"].as_str()),
        (200, Some("viewer")),
        "{body}"
    );

    // The rb_ token acts with the new role on its next request…
    let (status, body) = app.call(Method::POST, "/api/runs", &token, create()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(status, 200, "a viewer still reads");
    // …the JWT issued before is refused, and so is the session.
    let (status, _) = app.call(Method::GET, "/api/runs", &jwt, None).await;
    assert_eq!(status, 401, "a JWT from before the change");
    let response = cookie.get(app.url("/api/runs")).send().await.unwrap();
    assert_eq!(response.status(), 401, "a session from before the change");
    // Signing in again gives the new role.
    let fresh = app.api_token_for(&member.email, PASSWORD).await;
    let (status, _) = app.call(Method::POST, "/api/runs", &fresh, create()).await;
    assert_eq!(status, 403);
}
