//! The people of an account: adding with a password or an invitation link, the
//! invitation page, the last owner, what a password change, role change or
//! removal ends (sessions, JWTs, live streams), and the audit log.

use crate::helpers::*;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const PASSWORD: &str = "team-password-42";

async fn add_user(app: &TestApp, owner: &str, body: Value) -> Value {
    let (status, body) = app
        .call(Method::POST, "/api/users", owner, Some(body))
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

async fn status_of(client: &reqwest::Client, url: String) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_invited_user_sets_a_password_once_and_is_signed_in() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let added = add_user(
        &app,
        &owner,
        json!({"email": "New@Example.com", "role": "member"}),
    )
    .await;
    assert_eq!(added["email"], "new@example.com");
    assert_eq!(added["pending"], true);
    let invite_url = added["inviteUrl"]
        .as_str()
        .expect("an invitation link")
        .to_string();
    assert!(
        invite_url.starts_with(&format!("{}/invite/", app.base)),
        "{invite_url}"
    );
    let secret = invite_url.rsplit('/').next().unwrap().to_string();
    // Only a hash of the link's secret is stored.
    let stored: i64 =
        store::db::sql::query_scalar("SELECT count(*) FROM invites WHERE token_hash = ?")
            .bind(&secret)
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    // No password works before the invitation is used.
    let (status, _) = new_client()
        .post(app.url("/api/auth/token"))
        .json(&json!({"email": "new@example.com", "password": "!"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 401);

    let page = app.get(&format!("/invite/{secret}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("new@example.com"));

    let browser = new_client();
    let accept = |password: &'static str, repeat: &'static str| {
        let browser = browser.clone();
        let url = app.url("/fn/accept_invitation");
        let secret = secret.clone();
        async move {
            browser
                .post(url)
                .header(ACCEPT, "text/html")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(&[
                    ("secret", &secret),
                    ("password", password),
                    ("repeat", repeat),
                ]))
                .send()
                .await
                .unwrap()
        }
    };
    let mismatch = accept("long-enough-pass-1", "long-enough-pass-2").await;
    assert_ne!(mismatch.status(), 302, "mismatched passwords are refused");
    let joined = accept(PASSWORD, PASSWORD).await;
    assert_eq!(joined.status(), 302);
    assert_eq!(joined.headers()["location"], "/");
    assert_eq!(
        status_of(&browser, app.url("/api/runs")).await,
        200,
        "signed in"
    );
    let jwt = app.api_token_for("new@example.com", PASSWORD).await;
    let (status, body) = app.call(Method::GET, "/api/users", &owner, None).await;
    assert_eq!(status, 200);
    let listed = body["data"]["users"].as_array().unwrap();
    assert!(listed
        .iter()
        .any(|user| user["email"] == "new@example.com" && user["pending"] == false));
    assert!(!jwt.is_empty());

    // The link is used up.
    let again = new_client()
        .post(app.url("/fn/accept_invitation"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("secret", &secret),
            ("password", "another-password-9"),
            ("repeat", "another-password-9"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let page = app.get(&format!("/invite/{secret}")).await;
    assert!(page.text().await.unwrap().contains("cannot be used"));
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let added = add_user(
        &app,
        &owner,
        json!({"email": "late@example.com", "role": "viewer"}),
    )
    .await;
    let secret = added["inviteUrl"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    store::db::sql::query("UPDATE invites SET expires_at = 0")
        .execute(app.db.writer())
        .await
        .unwrap();
    let response = new_client()
        .post(app.url("/fn/accept_invitation"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("secret", &secret),
            ("password", PASSWORD),
            ("repeat", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (_, body) = app.call(Method::GET, "/api/users", &owner, None).await;
    let owner_id = body["data"]["users"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{owner_id}"),
            &owner,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("last_owner")),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{owner_id}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("last_owner")),
        "{body}"
    );

    // With a second owner, the first may step down.
    add_user(
        &app,
        &owner,
        json!({"email": "second@example.com", "role": "owner", "password": PASSWORD}),
    )
    .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{owner_id}"),
            &owner,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn users_of_another_account_are_out_of_reach() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let other = app.other_account_token().await;
    let added = add_user(
        &app,
        &owner,
        json!({"email": "mine@example.com", "role": "viewer"}),
    )
    .await;
    let id = added["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/users/{id}"),
            &other,
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/users/{id}"), &other, None)
        .await;
    assert_eq!(status, 404);
    let (_, body) = app.call(Method::GET, "/api/users", &other, None).await;
    let emails: Vec<&str> = body["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|user| user["email"].as_str())
        .collect();
    assert_eq!(emails, vec!["other@example.com"]);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_jwts_and_live_streams() {
    let app = spawn_app_with(|config| config.heartbeat_secs = 1).await;
    let owner = app.owner_token().await;
    add_user(
        &app,
        &owner,
        json!({"email": "mover@example.com", "role": "member", "password": PASSWORD}),
    )
    .await;
    let here = app.signed_in_client("mover@example.com", PASSWORD).await;
    let elsewhere = app.signed_in_client("mover@example.com", PASSWORD).await;
    let jwt = app.api_token_for("mover@example.com", PASSWORD).await;
    let mut stream = Stream::open(&app, "", &jwt, None).await;

    let response = here
        .post(app.url("/fn/change_password"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("current", PASSWORD),
            ("new_password", "a-brand-new-secret"),
            ("repeat", "a-brand-new-secret"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    assert_eq!(
        status_of(&here, app.url("/api/runs")).await,
        200,
        "this session stays"
    );
    assert_eq!(
        status_of(&elsewhere, app.url("/api/runs")).await,
        401,
        "the other one ends"
    );
    let (status, _) = app.call(Method::GET, "/api/runs", &jwt, None).await;
    assert_eq!(status, 401, "the JWT issued before ends");
    assert!(
        stream.ends_within(Duration::from_secs(5)).await,
        "the live stream opened before ends"
    );
    let fresh = app
        .api_token_for("mover@example.com", "a-brand-new-secret")
        .await;
    let (status, _) = app.call(Method::GET, "/api/runs", &fresh, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_removed_user_is_signed_out_everywhere() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let added = add_user(
        &app,
        &owner,
        json!({"email": "leaver@example.com", "role": "member", "password": PASSWORD}),
    )
    .await;
    let browser = app.signed_in_client("leaver@example.com", PASSWORD).await;
    let jwt = app.api_token_for("leaver@example.com", PASSWORD).await;
    let (_, body) = app
        .call(
            Method::POST,
            "/api/tokens",
            &jwt,
            Some(json!({"name": "laptop"})),
        )
        .await;
    let token = body["data"]["secret"].as_str().unwrap().to_string();
    let id = added["id"].as_str().unwrap();
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/users/{id}"), &owner, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&browser, app.url("/api/runs")).await, 401);
    for credential in [&jwt, &token] {
        let (status, _) = app.call(Method::GET, "/api/runs", credential, None).await;
        assert_eq!(status, 401);
    }
}

async fn audit(app: &TestApp, owner: &str, query: &str) -> Vec<Value> {
    let (status, body) = app
        .call(Method::GET, &format!("/api/audit{query}"), owner, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_mutation_by_a_person_is_audited_and_runner_callbacks_are_not() {
    let app = spawn_app().await;
    // A failed login of a known email is recorded in its account.
    let failed = new_client()
        .post(app.url("/api/auth/token"))
        .json(&json!({"email": OWNER_EMAIL, "password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 401);
    let owner = app.owner_token().await;
    let (run, runner) = app.create_run(&owner, json!({"agent": "audited"})).await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{run}/status"),
            &runner,
            Some(json!({"status": "running", "progress": 0.5})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runs/{run}/cancel"),
            &owner,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{run}/retry"),
            &owner,
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/runs/{run}"), &owner, None)
        .await;
    assert_eq!(status, 200);
    let (_, body) = app
        .call(
            Method::POST,
            "/api/tokens",
            &owner,
            Some(json!({"name": "ci"})),
        )
        .await;
    let token_id = body["data"]["token"]["id"].as_str().unwrap().to_string();
    app.call(
        Method::DELETE,
        &format!("/api/tokens/{token_id}"),
        &owner,
        None,
    )
    .await;
    let added = add_user(
        &app,
        &owner,
        json!({"email": "audited@example.com", "role": "viewer"}),
    )
    .await;
    let user_id = added["id"].as_str().unwrap().to_string();
    app.call(
        Method::PATCH,
        &format!("/api/users/{user_id}"),
        &owner,
        Some(json!({"role": "member"})),
    )
    .await;
    app.call(
        Method::DELETE,
        &format!("/api/users/{user_id}"),
        &owner,
        None,
    )
    .await;
    app.call(
        Method::PUT,
        "/api/agents/audited",
        &owner,
        Some(json!({"name": "Audited"})),
    )
    .await;

    let entries = audit(&app, &owner, "?limit=100").await;
    let actions: Vec<&str> = entries
        .iter()
        .rev()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "login.failure",
            "login.success",
            "run.create",
            "run.cancel",
            "run.retry",
            "run.delete",
            "token.create",
            "token.revoke",
            "user.create",
            "user.role",
            "user.remove",
            "agent.update",
        ],
        "in order, and no entry for the runner's status callback"
    );
    let cancel = entries
        .iter()
        .find(|entry| entry["action"] == "run.cancel")
        .unwrap();
    assert_eq!(cancel["actor"], OWNER_EMAIL);
    assert_eq!(cancel["via"], "jwt");
    assert_eq!(cancel["targetType"], "run");
    assert_eq!(cancel["targetId"], run.as_str());
    assert_eq!(cancel["ip"], "127.0.0.1");
    let role = entries
        .iter()
        .find(|entry| entry["action"] == "user.role")
        .unwrap();
    assert_eq!(role["detail"]["to"], "member");

    // Filters and pages.
    let deletes = audit(&app, &owner, "?action=run.delete").await;
    assert_eq!(deletes.len(), 1);
    assert!(audit(&app, &owner, "?actor=nobody@example.com")
        .await
        .is_empty());
    let (_, body) = app
        .call(Method::GET, "/api/audit?limit=5", &owner, None)
        .await;
    let cursor = body["data"]["nextCursor"].as_i64().expect("a next page");
    let older = audit(&app, &owner, &format!("?limit=100&cursor={cursor}")).await;
    assert_eq!(older.len(), entries.len() - 5);
    let (status, body) = app
        .call(Method::GET, "/api/audit?action=run.explode", &owner, None)
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_refused_change_leaves_no_audit_entry() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let before = audit(&app, &owner, "").await.len();
    let (status, _) = app
        .call(
            Method::POST,
            "/api/runs",
            &owner,
            Some(json!({"agent": "bad slug!"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/runs/01900000-0000-7000-8000-000000000000/cancel",
            &owner,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(audit(&app, &owner, "").await.len(), before);
}

#[tokio::test]
async fn api_tokens_record_their_last_use_and_stop_at_their_expiry() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/tokens",
            &owner,
            Some(json!({"name": "a month", "expiresInDays": 30})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let expires = body["data"]["token"]["expiresAt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(expires.starts_with("20"), "{expires}");
    assert!(body["data"]["token"]["lastUsedAt"].is_null());
    let secret = body["data"]["secret"].as_str().unwrap().to_string();
    let (status, _) = app.call(Method::GET, "/api/runs", &secret, None).await;
    assert_eq!(status, 200);
    let (_, body) = app.call(Method::GET, "/api/tokens", &owner, None).await;
    let listed = &body["data"]["tokens"][0];
    assert_eq!(listed["name"], "a month");
    assert!(listed["lastUsedAt"].is_string(), "{listed}");

    store::db::sql::query("UPDATE api_tokens SET expires_at = 1")
        .execute(app.db.writer())
        .await
        .unwrap();
    let (status, _) = app.call(Method::GET, "/api/runs", &secret, None).await;
    assert_eq!(status, 401, "an expired token");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/tokens",
            &owner,
            Some(json!({"name": "forever", "expiresInDays": 0})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("expiresInDays"))
    );
}
