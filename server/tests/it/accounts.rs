//! Credentials: API tokens (shown once, hashed, revocable), JWT refusals, and the
//! command line's `user add` and `token create`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use tokio::process::Command;

#[tokio::test]
async fn api_tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    let jwt = app.owner_token().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/tokens",
            &jwt,
            Some(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["data"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("rb_"));
    let id = body["data"]["token"]["id"].as_str().unwrap().to_string();

    let stored: String = store::db::sql::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_ne!(stored, secret, "only a hash is stored");
    assert_eq!(stored.len(), 64);

    let (status, _) = app.call(Method::GET, "/api/runs", &secret, None).await;
    assert_eq!(status, 200, "the token authenticates");
    let (_, list) = app.call(Method::GET, "/api/tokens", &jwt, None).await;
    let listed = &list["data"]["tokens"][0];
    assert_eq!(listed["name"], "ci");
    assert!(
        listed.get("secret").is_none() && !list.to_string().contains(&secret),
        "never shown again"
    );

    let (status, _) = app
        .call(Method::DELETE, &format!("/api/tokens/{id}"), &jwt, None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.call(Method::GET, "/api/runs", &secret, None).await;
    assert_eq!(status, 401, "a revoked token is refused");
    let other = app.other_account_token().await;
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/tokens/{id}"), &other, None)
        .await;
    assert_eq!(status, 404);
}

fn forge(claims: serde_json::Value, secret: &[u8], algorithm: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_expired_and_misaddressed_jwts_are_refused() {
    let app = spawn_app().await;
    let user_id: String = store::db::sql::query_scalar("SELECT id FROM users")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    let secret: String =
        store::db::sql::query_scalar("SELECT value FROM settings WHERE key = 'api_jwt_secret'")
            .fetch_one(&app.db.read)
            .await
            .unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, iss: &str, exp: i64| json!({"sub": user_id, "aud": aud, "iss": iss, "iat": now, "exp": exp});
    use jsonwebtoken::Algorithm::{HS256, HS512};
    let good = forge(
        claims("runboard:api", "runboard", now + 60),
        secret.as_bytes(),
        HS256,
    );
    let (status, _) = app.call(Method::GET, "/api/runs", &good, None).await;
    assert_eq!(status, 200, "the control case is accepted");
    let header_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let payload = good.split('.').nth(1).unwrap();
    for (case, token) in [
        (
            "expired",
            forge(
                claims("runboard:api", "runboard", now - 600),
                secret.as_bytes(),
                HS256,
            ),
        ),
        (
            "wrong audience",
            forge(
                claims("runboard:runner", "runboard", now + 60),
                secret.as_bytes(),
                HS256,
            ),
        ),
        (
            "wrong issuer",
            forge(
                claims("runboard:api", "someone", now + 60),
                secret.as_bytes(),
                HS256,
            ),
        ),
        (
            "other key",
            forge(
                claims("runboard:api", "runboard", now + 60),
                b"not-the-key",
                HS256,
            ),
        ),
        (
            "other algorithm",
            forge(
                claims("runboard:api", "runboard", now + 60),
                secret.as_bytes(),
                HS512,
            ),
        ),
        ("alg none", format!("{header_none}.{payload}.")),
    ] {
        let (status, _) = app.call(Method::GET, "/api/runs", &token, None).await;
        assert_eq!(status, 401, "{case}");
    }
}

async fn runboard(app_db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_runboard"))
        .args(args)
        .env("DATABASE_URL", app_db_url)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "error")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_cli_adds_users_to_accounts_and_creates_tokens() {
    let app = spawn_app().await;
    let url = app.database_url();
    let added = runboard(
        &url,
        &[
            "user",
            "add",
            "--email",
            "new@example.com",
            "--password",
            "a-long-password",
            "--account",
            "Acme",
        ],
    )
    .await;
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let jwt = app
        .api_token_for("new@example.com", "a-long-password")
        .await;
    let (_, account) = app.call(Method::GET, "/api/account", &jwt, None).await;
    assert_eq!(account["data"]["name"], "Acme", "a new account was created");

    let again = runboard(
        &url,
        &[
            "user",
            "add",
            "--email",
            "new@example.com",
            "--password",
            "a-long-password",
        ],
    )
    .await;
    assert!(!again.status.success(), "the same email twice is refused");
    let short = runboard(
        &url,
        &[
            "user",
            "add",
            "--email",
            "x@example.com",
            "--password",
            "short",
        ],
    )
    .await;
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10"));

    let created = runboard(&url, &["token", "create", "--email", "new@example.com"]).await;
    assert!(created.status.success());
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.starts_with("rb_"));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/runs",
            &token,
            Some(json!({"agent": "cli"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The run is in Acme, not in the owner's account.
    let (_, owner_runs) = app
        .call(Method::GET, "/api/runs", &app.owner_token().await, None)
        .await;
    assert_eq!(owner_runs["data"]["total"], 0);
}
