//! Login, sessions, logout and the page guard.

use crate::helpers::*;
use reqwest::header::{LOCATION, SET_COOKIE};

#[tokio::test]
async fn health_check_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ok"], true);
}

#[tokio::test]
async fn pages_redirect_to_login_without_a_session() {
    let app = spawn_app().await;
    let response = app.get("/?status=failed").await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=/%3Fstatus%3Dfailed"
    );
}

#[tokio::test]
async fn the_login_page_is_served_to_anyone() {
    let app = spawn_app().await;
    let response = app.get("/login").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"name="password""#), "{html}");
    assert!(
        html.contains("/pkg/runboard.js"),
        "hydration script missing"
    );
}

#[tokio::test]
async fn login_sets_a_http_only_lax_session_cookie_and_returns_to_next() {
    let app = spawn_app().await;
    let response = app
        .login_form(OWNER_EMAIL, OWNER_PASSWORD, "/?status=running")
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()[LOCATION], "/?status=running");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("runboard_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // 12 hours without a request end it.
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );

    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(OWNER_EMAIL));
}

#[tokio::test]
async fn emails_are_matched_case_insensitively() {
    let app = spawn_app().await;
    let response = app
        .login_form("Owner@Example.COM", OWNER_PASSWORD, "/")
        .await;
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_401_and_no_session() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/fn/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("email", OWNER_EMAIL),
            ("password", "not-the-password"),
            ("next", "/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("InvalidCredentials"));
    assert_eq!(app.get("/").await.status(), 303, "no session was started");

    let unknown = app
        .login_form("nobody@example.com", OWNER_PASSWORD, "/")
        .await;
    assert_ne!(unknown.status(), 302, "an unknown email must not log in");
}

#[tokio::test]
async fn login_never_redirects_to_another_site() {
    let app = spawn_app().await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/x\r\nSet-Cookie: a=b",
    ] {
        let client_app = crate::helpers::new_client();
        let response = client_app
            .post(app.url("/fn/login"))
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("email", OWNER_EMAIL),
                ("password", OWNER_PASSWORD),
                ("next", next),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "next={next:?}");
        assert_eq!(response.headers()[LOCATION], "/", "next={next:?}");
    }
}

#[tokio::test]
async fn a_signed_in_visit_to_login_goes_to_the_runs() {
    let app = spawn_app().await;
    app.login_owner().await;
    let response = app.get("/login").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.login_owner().await;
    assert_eq!(app.get("/").await.status(), 200);
    let response = app
        .client
        .post(app.url("/fn/logout"))
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()[LOCATION], "/login");
    assert_eq!(app.get("/").await.status(), 303);
}

#[tokio::test]
async fn server_functions_refuse_callers_without_a_session() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/fn/list_runs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn unknown_pages_answer_404() {
    let app = spawn_app().await;
    app.login_owner().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_served_over_tls() {
    let app = spawn_app_with(|config| {
        config.public_url = Some("https://runs.example.com".to_string());
    })
    .await;
    let response = app.login_form(OWNER_EMAIL, OWNER_PASSWORD, "/").await;
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
    // Only this host, the whole site, never over plain http.
    assert!(cookie.starts_with("__Host-runboard_session="), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
}

async fn token_attempt(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    new_client()
        .post(app.url("/api/auth/token"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ten_failed_logins_a_minute_then_429_even_for_the_right_password() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(
            token_attempt(&app, OWNER_EMAIL, "wrong-password")
                .await
                .status(),
            401
        );
        let form = app.login_form(OWNER_EMAIL, "wrong-password", "/").await;
        assert_ne!(form.status(), 429);
    }
    // The form and the token endpoint share the count: ten failures used it up.
    let refused = token_attempt(&app, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    let form = app.login_form(OWNER_EMAIL, OWNER_PASSWORD, "/").await;
    assert_eq!(form.status(), 429, "the form too");
    assert!(form.headers().contains_key("retry-after"));
    // The address is used up for every email.
    assert_eq!(
        token_attempt(&app, "someone@example.com", "whatever-it-is")
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn successful_logins_do_not_count() {
    let app = spawn_app_with(|config| config.login_failures_per_minute = 3).await;
    for _ in 0..6 {
        assert_eq!(
            token_attempt(&app, OWNER_EMAIL, OWNER_PASSWORD)
                .await
                .status(),
            200
        );
    }
}

/// A login attempt through a proxy that says it was reached from `client`.
async fn token_attempt_from(
    app: &TestApp,
    client: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    new_client()
        .post(app.url("/api/auth/token"))
        .header("X-Forwarded-For", client)
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_login_limits_count_each_client_on_its_own() {
    let app = spawn_app_with(|config| {
        config.login_failures_per_minute = 3;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    // One client guesses (a different email each time: only its address adds up).
    for guess in 0..3 {
        let email = format!("guess{guess}@example.com");
        let refused = token_attempt_from(&app, "203.0.113.7", &email, "wrong-password").await;
        assert_eq!(refused.status(), 401);
    }
    let limited = token_attempt_from(&app, "203.0.113.7", OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(limited.status(), 429, "the guessing client is limited");
    // Another client behind the same proxy is not.
    let other = token_attempt_from(&app, "198.51.100.9", OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(other.status(), 200);
    // A client cannot pick its address: what it wrote left of the proxy's entry is not read.
    let spoofed = token_attempt_from(
        &app,
        "198.51.100.9, 203.0.113.7",
        OWNER_EMAIL,
        OWNER_PASSWORD,
    )
    .await;
    assert_eq!(spoofed.status(), 429);
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(|config| config.login_failures_per_minute = 3).await;
    for guess in 0..3 {
        let email = format!("guess{guess}@example.com");
        let client = format!("203.0.113.{guess}");
        let refused = token_attempt_from(&app, &client, &email, "wrong-password").await;
        assert_eq!(refused.status(), 401);
    }
    // Every attempt came from 127.0.0.1, whatever the header said.
    let limited = token_attempt_from(&app, "198.51.100.9", OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(limited.status(), 429);
}
