//! A run's input is capped in depth and in flattened fields, however the run is
//! created: past either limit the answer is a 413 naming `input`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

/// `levels` objects, one inside the other, around a string.
fn deep(levels: usize) -> Value {
    (0..levels).fold(json!("bottom"), |inner, _| json!({ "next": inner }))
}

/// An object of `count` numbers.
fn wide(count: usize) -> Value {
    Value::Object(
        (0..count)
            .map(|index| (format!("f{index}"), json!(index)))
            .collect(),
    )
}

fn is_too_large_naming_input(status: u16, response: &Value) -> bool {
    status == 413
        && response["error"]["code"] == "payload_too_large"
        && response["error"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("input "))
}

#[tokio::test]
async fn an_input_too_deep_or_with_too_many_fields_is_refused_on_every_way_to_create_a_run() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/campaigns",
            &token,
            Some(json!({"name": "Launch"})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign_id = campaign["data"]["id"].as_str().unwrap().to_string();
    app.login_owner().await;

    for input in [deep(33), wide(10_001)] {
        for (path, body) in [
            ("/api/runs", json!({"agent": "a", "input": input})),
            (
                "/api/runs",
                json!({"agent": "a", "campaignId": campaign_id, "input": input}),
            ),
            ("/pipelines/p/runs", json!({"input": input})),
            ("/pipelines/p/runs", json!({"initial_input": input})),
            ("/agents/run", json!({"agentSlug": "a", "params": input})),
        ] {
            let (status, response) = app.call(Method::POST, path, &token, Some(body)).await;
            assert!(
                is_too_large_naming_input(status, &response),
                "{path}: {status} {response}"
            );
        }
        // The dashboard's new-run form.
        let response = app
            .client
            .post(app.url("/fn/start_run"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("agent", "a"),
                ("input", &input.to_string()),
                ("campaign", ""),
                ("webhook_url", ""),
                ("summary", ""),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        let answer = response.text().await.unwrap();
        assert!(answer.contains("input "), "{answer}");
    }
    let (_, runs) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(runs["data"]["total"], 0, "nothing was stored");

    // At the limits, the run is created and every field is filterable.
    for input in [deep(32), wide(10_000)] {
        let (status, response) = app
            .call(
                Method::POST,
                "/api/runs",
                &token,
                Some(json!({"agent": "a", "input": input})),
            )
            .await;
        assert_eq!(status, 201, "{response}");
    }
    let (_, found) = app
        .call(Method::GET, "/api/runs?input.f9999=9999", &token, None)
        .await;
    assert_eq!(found["data"]["total"], 1, "{found}");
}
