//! Cross-site requests carrying the session cookie are refused before they act;
//! the same requests from Runboard's own pages, from programs and with a bearer
//! token pass.

use crate::helpers::*;
use reqwest::header::{ACCEPT, CONTENT_TYPE, ORIGIN};
use serde_json::json;

async fn runs(app: &TestApp) -> i64 {
    store::db::sql::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_cookie_request_from_another_site_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.login_owner().await;
    let create = |origin: Option<&'static str>, fetch_site: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/api/runs"))
            .json(&json!({"agent": "forged"}));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let refused = create(Some("https://evil.example"), Some("cross-site"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let refused = create(None, Some("cross-site")).await.unwrap();
    assert_eq!(
        refused.status(),
        403,
        "no Origin, but the browser says cross-site"
    );
    let refused = create(None, Some("same-site")).await.unwrap();
    assert_eq!(
        refused.status(),
        403,
        "a sibling subdomain is another site's page"
    );
    assert_eq!(runs(&app).await, 0);

    let base: &'static str = Box::leak(app.base.clone().into_boxed_str());
    let ours = create(Some(base), Some("same-origin")).await.unwrap();
    assert_eq!(ours.status(), 201, "our own page");
    let program = create(None, None).await.unwrap();
    assert_eq!(program.status(), 201, "neither header: not a browser");
    assert_eq!(runs(&app).await, 2);
}

#[tokio::test]
async fn server_functions_and_the_login_form_are_covered_too() {
    let app = spawn_app().await;
    let forged_login = app
        .client
        .post(app.url("/fn/login"))
        .header(ACCEPT, "text/html")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ORIGIN, "https://evil.example")
        .body(form(&[
            ("email", OWNER_EMAIL),
            ("password", OWNER_PASSWORD),
            ("next", "/"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged_login.status(), 403, "login CSRF");
    assert_eq!(
        app.get("/api/runs").await.status(),
        401,
        "no session was made"
    );

    app.login_owner().await;
    let forged = app
        .client
        .post(app.url("/fn/new_campaign"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(form(&[("name", "forged")]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let campaigns: i64 = store::db::sql::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(campaigns, 0);
}

#[tokio::test]
async fn bearer_requests_are_not_subject_to_it() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let response = new_client()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .header(ORIGIN, "https://some-tool.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"agent": "from-a-tool"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}
