//! Campaigns: their runs, their status following the run that ends, and their
//! bundle URL, which is an http(s) URL when written and a link only if it is one.

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

#[tokio::test]
async fn a_bundle_url_in_a_runs_context_must_be_http() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    for bad in [
        json!("JaVaScRiPt:alert(1)"),
        json!("data:text/html,<script>alert(1)</script>"),
        json!("//cdn.example.com/x"),
        json!(42),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/runs",
                &token,
                Some(json!({"agent": "site", "context": {"bundleUrl": bad}})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some("context.bundleUrl")),
            "{bad}: {body}"
        );
    }
    let (id, _) = app
        .create_run(
            &token,
            json!({"agent": "site", "context": {"bundleUrl": "https://b.example/1"}}),
        )
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"context": {"bundleUrl": "javascript:alert(1)"}})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("context.bundleUrl")),
        "{body}"
    );
    let (_, body) = app
        .call(Method::GET, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(body["data"]["context"]["bundleUrl"], "https://b.example/1");
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"context": {"bundleUrl": "https://b.example/2"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_stored_bundle_url_that_is_not_http_never_reaches_the_campaign() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let campaign_id = campaign(&app, &token).await;
    let (id, runner) = app
        .create_run(&token, json!({"agent": "site", "campaignId": campaign_id}))
        .await;
    // Written before the check existed.
    app.execute(
        "UPDATE runs SET context = '{\"bundleUrl\":\"javascript:alert(1)\"}' WHERE id = ?",
        &[id.as_str()],
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
    assert_eq!(body["data"]["bundleUrl"], serde_json::Value::Null, "{body}");
}

#[tokio::test]
async fn the_campaign_pages_link_a_bundle_url_only_when_it_is_http() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let linked = campaign(&app, &token).await;
    let unlinked = campaign(&app, &token).await;
    app.execute(
        "UPDATE campaigns SET bundle_url = 'https://cdn.example.com/spring/' WHERE id = ?",
        &[linked.as_str()],
    )
    .await;
    app.execute(
        "UPDATE campaigns SET bundle_url = 'JaVaScRiPt:alert(document.cookie)' WHERE id = ?",
        &[unlinked.as_str()],
    )
    .await;
    app.login_owner().await;
    for path in [
        "/campaigns".to_string(),
        format!("/campaigns/{linked}"),
        format!("/campaigns/{unlinked}"),
    ] {
        let html = app.get(&path).await.text().await.unwrap();
        assert_no_script_links(&html);
        if path != format!("/campaigns/{unlinked}") {
            assert!(
                link_targets(&html).contains(&"https://cdn.example.com/spring/".to_string()),
                "{path} links the http(s) bundle"
            );
        }
        if path != format!("/campaigns/{linked}") {
            assert!(
                html.contains(r#"class="unlinked-url">JaVaScRiPt:alert(document.cookie)<"#),
                "{path} shows the other bundle URL as text"
            );
        }
    }
}

#[tokio::test]
async fn a_campaign_counts_its_runs_by_outcome_as_they_change() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let campaign_id = campaign(&app, &token).await;
    let runs_of = |body: &serde_json::Value| body["data"]["runs"].clone();
    let read = || async {
        let (_, body) = app
            .call(
                Method::GET,
                &format!("/api/campaigns/{campaign_id}"),
                &token,
                None,
            )
            .await;
        runs_of(&body)
    };
    assert_eq!(
        read().await,
        json!({"total": 0, "completed": 0, "failed": 0, "cancelled": 0, "active": 0})
    );

    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(
            app.create_run(&token, json!({"agent": "site", "campaignId": campaign_id}))
                .await,
        );
    }
    // A run elsewhere does not count.
    app.create_run(&token, json!({"agent": "site"})).await;
    finish(&app, &runs[0].0, &runs[0].1, "completed").await;
    finish(&app, &runs[1].0, &runs[1].1, "completed").await;
    finish(&app, &runs[2].0, &runs[2].1, "failed").await;
    assert_eq!(
        read().await,
        json!({"total": 4, "completed": 2, "failed": 1, "cancelled": 0, "active": 1})
    );

    // A retry is a new run of the campaign; a deleted run leaves the counts.
    let (code, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{}/retry", runs[2].0),
            &token,
            None,
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = app
        .call(
            Method::DELETE,
            &format!("/api/runs/{}", runs[0].0),
            &token,
            None,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        read().await,
        json!({"total": 4, "completed": 1, "failed": 1, "cancelled": 0, "active": 2})
    );

    // The list carries the same counts.
    let (_, body) = app.call(Method::GET, "/api/campaigns", &token, None).await;
    let listed = body["data"]["campaigns"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|each| each["id"] == campaign_id.as_str())
                .cloned()
        })
        .unwrap_or_else(|| panic!("the campaign is listed: {body}"));
    assert_eq!(listed["runs"]["total"], 4);
}
