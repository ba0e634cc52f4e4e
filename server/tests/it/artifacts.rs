//! Artifacts: JSON registration, multipart upload into the store, content, limits,
//! path escapes, and deletion of stored files with their run.

use crate::helpers::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::json;

async fn upload(app: &TestApp, id: &str, runner: &str, form: Form) -> (u16, serde_json::Value) {
    let response = new_client()
        .post(app.url(&format!("/api/runner/runs/{id}/artifacts")))
        .bearer_auth(runner)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn stored_files(dir: &std::path::Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[tokio::test]
async fn a_registered_artifact_is_listed_and_bad_keys_are_refused() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/artifacts"),
            &runner,
            Some(json!({"artifactType": "build_output", "storageKey": "builds/42/site.zip", "sizeBytes": 12345, "contentType": "application/zip"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["artifactId"].is_string(),
        "the original runner API's body"
    );
    for key in ["../../etc/passwd", "/etc/passwd", "a/../../b", "a\\b"] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/runner/runs/{id}/artifacts"),
                &runner,
                Some(json!({"artifactType": "x", "storageKey": key})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some("storageKey")),
            "{key}"
        );
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/artifacts"),
            &runner,
            Some(json!({"storageKey": "a"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("artifactType"))
    );
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/artifacts"),
            &token,
            None,
        )
        .await;
    let artifacts = body["data"]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0]["sizeBytes"], 12345);
    assert_eq!(artifacts[0]["stored"], false);
}

#[tokio::test]
async fn an_upload_is_stored_served_and_deleted_with_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().to_path_buf();
    let app = spawn_app_with(|config| config.artifact_dir = store.display().to_string()).await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let form = Form::new()
        .text("artifactType", "report")
        .text("metadata", r#"{"pages": 2}"#)
        .text("storageKey", "../../escape-attempt")
        .part(
            "file",
            Part::bytes(b"<h1>report</h1>".to_vec())
                .file_name("report.html")
                .mime_str("text/html")
                .unwrap(),
        );
    let (status, body) = upload(&app, &id, &runner, form).await;
    // A client key is never a path: the escape attempt is refused outright.
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("storageKey")),
        "{body}"
    );
    assert_eq!(stored_files(&store), 0, "the refused upload left no file");

    let form = Form::new()
        .text("artifactType", "report")
        .text("metadata", r#"{"pages": 2}"#)
        .part(
            "file",
            Part::bytes(b"<h1>report</h1>".to_vec())
                .file_name("report.html")
                .mime_str("text/html")
                .unwrap(),
        );
    let (status, body) = upload(&app, &id, &runner, form).await;
    assert_eq!(status, 200, "{body}");
    let artifact = &body["data"];
    assert_eq!(artifact["stored"], true);
    assert_eq!(artifact["sizeBytes"], 15);
    assert_eq!(artifact["name"], "report.html");
    assert_eq!(artifact["metadata"]["pages"], 2);
    // sha256 of "<h1>report</h1>", computed as the bytes streamed in.
    assert_eq!(
        artifact["sha256"],
        "4caef7420523a975974ba4954645e5865cd5d2c8ed1e6f023f00443218888639"
    );
    assert!(artifact["storageKey"]
        .as_str()
        .unwrap()
        .starts_with(&format!("runs/{id}/")));
    assert_eq!(stored_files(&store), 1);

    let artifact_id = artifact["id"].as_str().unwrap();
    let response = new_client()
        .get(app.url(&format!("/api/runs/{id}/artifacts/{artifact_id}/content")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert!(response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.text().await.unwrap(), "<h1>report</h1>");

    let (status, _) = app
        .call(Method::DELETE, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        stored_files(&store),
        0,
        "deleting the run deleted its stored file"
    );
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().to_path_buf();
    let app = spawn_app_with(|config| {
        config.artifact_dir = store.display().to_string();
        config.max_upload = 1024;
    })
    .await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let form = Form::new()
        .text("artifactType", "screenshot")
        .part("file", Part::bytes(vec![7u8; 4096]).file_name("big.png"));
    let (status, _) = upload(&app, &id, &runner, form).await;
    assert_eq!(status, 413);
    assert_eq!(stored_files(&store), 0);
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/artifacts"),
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["artifacts"], json!([]));
    let form = Form::new().text("artifactType", "screenshot");
    let (status, body) = upload(&app, &id, &runner, form).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("file"))
    );
}
