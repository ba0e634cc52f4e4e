//! Campaigns: their runs, and their status following the run that ends.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn campaign(app: &TestApp, token: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/campaigns",
            token,
            Some(json!({"name": "Spring launch"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["status"], "draft");
    body["data"]["id"].as_str().unwrap().to_string()
}

async fn finish(app: &TestApp, id: &str, runner: &str, status: &str) {
    let (code, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            runner,
            Some(json!({"status": status})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test]
async fn a_completed_run_makes_its_campaign_live_with_the_bundle_url() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let campaign_id = campaign(&app, &token).await;
    let (id, runner) = app
        .create_run(&token, json!({"agent": "site", "campaignId": campaign_id}))
        .await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["status"], "running");
    assert_eq!(body["data"]["latestRunId"], id.as_str());
    app.call(
        Method::POST,
        &format!("/api/runner/runs/{id}/artifacts"),
        &runner,
        Some(json!({"artifactType": "bundle", "url": "https://cdn.example.com/spring/index.html"})),
    )
    .await;
    finish(&app, &id, &runner, "completed").await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["status"], "live");
    assert_eq!(
        body["data"]["bundleUrl"],
        "https://cdn.example.com/spring/index.html"
    );
    assert_eq!(body["data"]["latestRunId"], id.as_str());
}

#[tokio::test]
async fn the_bundle_url_may_come_from_the_context_and_a_failed_run_fails_the_campaign() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let campaign_id = campaign(&app, &token).await;
    let (first, runner) = app
        .create_run(&token, json!({"agent": "site", "campaignId": campaign_id, "context": {"bundleUrl": "https://b.example/1"}}))
        .await;
    finish(&app, &first, &runner, "completed").await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (
            body["data"]["status"].as_str(),
            body["data"]["bundleUrl"].as_str()
        ),
        (Some("live"), Some("https://b.example/1"))
    );

    let (second, runner) = app
        .create_run(&token, json!({"agent": "site", "campaignId": campaign_id}))
        .await;
    finish(&app, &second, &runner, "failed").await;
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["status"], "failed");
    assert_eq!(body["data"]["latestRunId"], second.as_str());

    // The campaign's runs, with the run filters and a total.
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}/runs"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["total"], 2);
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/campaigns/{campaign_id}/runs?status=failed"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["runs"][0]["id"], second.as_str());
    assert_eq!(body["data"]["total"], 1);
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs?campaign={campaign_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["total"], 2);
}

#[tokio::test]
async fn campaigns_are_listed_and_scoped_to_their_account() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let campaign_id = campaign(&app, &token).await;
    let (_, body) = app.call(Method::GET, "/api/campaigns", &token, None).await;
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["campaigns"][0]["name"], "Spring launch");
    let other = app.other_account_token().await;
    for path in [
        format!("/api/campaigns/{campaign_id}"),
        format!("/api/campaigns/{campaign_id}/runs"),
    ] {
        let (status, _) = app.call(Method::GET, &path, &other, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/api/runs",
            &other,
            Some(json!({"agent": "a", "campaignId": campaign_id})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("campaignId"))
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/campaigns",
            &token,
            Some(json!({"name": " "})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn agents_are_created_on_first_use_and_registered() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "first-use"})).await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/agents/registered",
            &token,
            Some(json!({"name": "Registered", "dispatchUrl": "https://runner.example/jobs"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app.call(Method::GET, "/api/agents", &token, None).await;
    let slugs: Vec<&str> = body["data"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, vec!["first-use", "registered"]);
    assert_eq!(
        body["data"]["agents"][1]["dispatchUrl"],
        "https://runner.example/jobs"
    );
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/agents/x",
            &token,
            Some(json!({"dispatchUrl": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/agents/registered",
            &token,
            Some(json!({"dispatchUrl": ""})),
        )
        .await;
    assert_eq!(status, 200, "an empty dispatch URL removes it");
}
