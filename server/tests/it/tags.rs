//! Run tags (set at creation, replaced by PATCH, kept by retries, indexed in
//! `run_tags`) and the runs list's items: the list contract's fields and the
//! columns `fields=` chooses.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

/// The tags `run_tags` holds for a run, sorted: what `tag:` filters read.
async fn indexed_tags(app: &TestApp, id: &str) -> Vec<String> {
    store::db::sql::query_scalar(
        "SELECT t.tag FROM run_tags t JOIN runs r ON r.pk = t.run_pk WHERE r.id = ? ORDER BY t.tag",
    )
    .bind(id)
    .fetch_all(&app.db.read)
    .await
    .unwrap()
}

async fn run_json(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) = app
        .call(Method::GET, &format!("/api/runs/{id}"), token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn tags_set_at_creation_are_trimmed_deduplicated_and_indexed() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "tags": [" nightly", "eu", "nightly"]}),
        )
        .await;
    assert_eq!(
        run_json(&app, &token, &id).await["tags"],
        json!(["nightly", "eu"])
    );
    assert_eq!(indexed_tags(&app, &id).await, ["eu", "nightly"]);
    let (untagged, _) = app.create_run(&token, json!({"agent": "crawler"})).await;
    assert_eq!(run_json(&app, &token, &untagged).await["tags"], json!([]));
    assert!(indexed_tags(&app, &untagged).await.is_empty());
}

#[tokio::test]
async fn patch_replaces_the_tags_and_the_index_follows() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app
        .create_run(&token, json!({"agent": "crawler", "tags": ["a", "b"]}))
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"tags": ["b", "c"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["tags"], json!(["b", "c"]));
    assert_eq!(indexed_tags(&app, &id).await, ["b", "c"]);
    // A PATCH without tags keeps them.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"summary": "renamed"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(run_json(&app, &token, &id).await["tags"], json!(["b", "c"]));
    // An empty list removes them all.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"tags": []})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(run_json(&app, &token, &id).await["tags"], json!([]));
    assert!(indexed_tags(&app, &id).await.is_empty());
}

#[tokio::test]
async fn bad_tags_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app
        .create_run(&token, json!({"agent": "crawler", "tags": ["keep"]}))
        .await;
    let too_many: Vec<String> = (0..21).map(|n| format!("t{n}")).collect();
    for tags in [
        json!(too_many),
        json!(["x".repeat(65)]),
        json!([""]),
        json!(["a\u{7}b"]),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/runs",
                &token,
                Some(json!({"agent": "crawler", "tags": tags})),
            )
            .await;
        assert_eq!(status, 400, "{tags}: {body}");
        assert_eq!(body["error"]["field"], "tags", "{body}");
        let (status, body) = app
            .call(
                Method::PATCH,
                &format!("/api/runs/{id}"),
                &token,
                Some(json!({"tags": tags, "summary": "not applied"})),
            )
            .await;
        assert_eq!(status, 400, "{tags}: {body}");
        assert_eq!(body["error"]["field"], "tags");
    }
    let run = run_json(&app, &token, &id).await;
    assert_eq!(run["tags"], json!(["keep"]));
    assert_eq!(run["summary"], Value::Null);
    let (_, list) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(list["data"]["total"], 1, "no run was created");
}

#[tokio::test]
async fn a_retry_keeps_the_tags() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app
        .create_run(&token, json!({"agent": "crawler", "tags": ["nightly"]}))
        .await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            &runner,
            Some(json!({"status": "failed", "error": {"message": "boom"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .call(Method::POST, &format!("/api/runs/{id}/retry"), &token, None)
        .await;
    assert_eq!(status, 201, "{body}");
    let retry = body["data"]["run"]["id"]
        .as_str()
        .or(body["data"]["id"].as_str())
        .unwrap()
        .to_string();
    assert_eq!(
        run_json(&app, &token, &retry).await["tags"],
        json!(["nightly"])
    );
    assert_eq!(indexed_tags(&app, &retry).await, ["nightly"]);
}

#[tokio::test]
async fn list_items_carry_input_webhook_status_tags_error_and_last_seen() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "input": {"company": {"name": "Stripe"}},
                   "tags": ["eu"], "webhookUrl": "http://127.0.0.1:9/hook"}),
        )
        .await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            &runner,
            Some(json!({"status": "failed", "error": {"code": "timeout", "message": "took too long"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(status, 200, "{body}");
    let item = &body["data"]["runs"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["input"], json!({"company": {"name": "Stripe"}}));
    assert_eq!(item["tags"], json!(["eu"]));
    assert_eq!(
        item["error"],
        json!({"code": "timeout", "message": "took too long"})
    );
    assert!(item["lastSeenAt"].as_str().is_some(), "{item}");
    assert!(
        ["pending", "failed", "delivered"].contains(&item["webhookStatus"].as_str().unwrap()),
        "{item}"
    );
}

#[tokio::test]
async fn fields_choose_the_columns_in_order() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "input": {"company": {"name": "Stripe"}, "urls": ["a", "b"]}}),
        )
        .await;
    let response = new_client()
        .get(app.url(
            "/api/runs?fields=status,input.company.name,id,input.urls.1,input.missing&limit=5",
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["data"]["runs"][0],
        json!({"status": "requested", "input.company.name": "Stripe", "id": id,
               "input.urls.1": "b", "input.missing": null})
    );
    // The columns come in the order asked for.
    let order = [
        "\"status\"",
        "\"input.company.name\"",
        "\"id\"",
        "\"input.urls.1\"",
    ];
    let positions: Vec<usize> = order.iter().map(|key| text.find(key).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    // The page around the items is unchanged.
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["limit"], 5);

    let (status, body) = app
        .call(Method::GET, "/api/runs?fields=id,secret", &token, None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "fields");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown column `secret`"));
}
