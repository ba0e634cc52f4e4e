//! Saved views (`/api/views`): named queries, private or shared, who sees and
//! who changes them, bad input, and the audit log.

use crate::helpers::*;
use model::Role;
use reqwest::Method;
use serde_json::{json, Value};

async fn person(app: &TestApp, email: &str, role: Role) -> String {
    store::auth::add_user(&app.db, email, "view-password-42", None, role)
        .await
        .unwrap();
    app.api_token_for(email, "view-password-42").await
}

async fn create(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.call(Method::POST, "/api/views", token, Some(body))
        .await
}

async fn names(app: &TestApp, token: &str) -> Vec<String> {
    let (status, body) = app.call(Method::GET, "/api/views", token, None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_view_is_saved_read_changed_and_deleted() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (status, body) = create(
        &app,
        &token,
        json!({"name": "  Failed crawls ", "q": "status:failed agent:crawler",
               "columns": ["status", "input.company.name"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let view = &body["data"];
    assert_eq!(view["name"], "Failed crawls");
    assert_eq!(view["q"], "status:failed agent:crawler");
    assert_eq!(view["columns"], json!(["status", "input.company.name"]));
    assert_eq!(view["shared"], false);
    assert_eq!(view["mine"], true);
    assert_eq!(view["author"], OWNER_EMAIL);
    let id = view["id"].as_str().unwrap().to_string();

    let (status, body) = app
        .call(Method::GET, &format!("/api/views/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["name"], "Failed crawls");

    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/views/{id}"),
            &token,
            Some(json!({"name": "Crawls", "columns": [], "shared": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "Crawls");
    assert_eq!(body["data"]["q"], "status:failed agent:crawler", "kept");
    assert_eq!(body["data"]["columns"], Value::Null, "back to the default");
    assert_eq!(body["data"]["shared"], true);

    let (status, _) = app
        .call(Method::DELETE, &format!("/api/views/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(Method::GET, &format!("/api/views/{id}"), &token, None)
        .await;
    assert_eq!(status, 404);

    let (_, audit) = app
        .call(Method::GET, "/api/audit?limit=50", &token, None)
        .await;
    let actions: Vec<&str> = audit["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .filter(|action| action.starts_with("view."))
        .collect();
    assert_eq!(actions, ["view.delete", "view.update", "view.create"]);
}

#[tokio::test]
async fn private_views_are_their_authors_and_shared_ones_everyones() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let member = person(&app, "member@example.com", Role::Member).await;
    let viewer = person(&app, "viewer@example.com", Role::Viewer).await;

    let (_, body) = create(&app, &member, json!({"name": "Mine", "q": ""})).await;
    let private = body["data"]["id"].as_str().unwrap().to_string();
    let (_, body) = create(
        &app,
        &member,
        json!({"name": "Team", "q": "status:failed", "shared": true}),
    )
    .await;
    let shared = body["data"]["id"].as_str().unwrap().to_string();

    assert_eq!(names(&app, &member).await, ["Mine", "Team"]);
    assert_eq!(names(&app, &viewer).await, ["Team"]);
    assert_eq!(names(&app, &owner).await, ["Team"]);
    // Someone else's private view does not exist for anyone else, owners included.
    for token in [&viewer, &owner] {
        let (status, _) = app
            .call(Method::GET, &format!("/api/views/{private}"), token, None)
            .await;
        assert_eq!(status, 404);
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!("/api/views/{private}"),
                token,
                None,
            )
            .await;
        assert_eq!(status, 404);
    }
    // A shared view is read by all, changed by its author or an owner only.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/views/{shared}"),
            &viewer,
            Some(json!({"name": "Hijacked"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/views/{shared}"),
            &owner,
            Some(json!({"name": "Team failures"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mine"], false);
    assert_eq!(names(&app, &member).await, ["Mine", "Team failures"]);

    // Viewers keep views to themselves.
    let (status, _) = create(&app, &viewer, json!({"name": "Quiet", "q": ""})).await;
    assert_eq!(status, 201);
    let (status, body) = create(
        &app,
        &viewer,
        json!({"name": "Loud", "q": "", "shared": true}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(names(&app, &viewer).await, ["Quiet", "Team failures"]);

    // Another account sees none of them.
    let other = app.other_account_token().await;
    assert!(names(&app, &other).await.is_empty());
    let (status, _) = app
        .call(Method::GET, &format!("/api/views/{shared}"), &other, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_views_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    for (body, field) in [
        (json!({"name": "", "q": ""}), "name"),
        (json!({"name": "x".repeat(81), "q": ""}), "name"),
        (
            json!({"name": "Cols", "q": "", "columns": ["password"]}),
            "columns",
        ),
        (json!({"name": "Q", "q": "input.=x"}), "q"),
    ] {
        let (status, answer) = create(&app, &token, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, _) = create(&app, &token, json!({"name": "Extra", "q": "", "owner": 1})).await;
    assert_eq!(status, 400);
    assert!(names(&app, &token).await.is_empty(), "nothing was saved");
}
