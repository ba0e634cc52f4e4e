//! Artifacts: JSON registration, multipart upload into the store, content (never
//! runnable as this site, a download unless an image or plain text, a link never
//! redirected to), limits, path escapes, deletion of stored files with their run,
//! and how the run page shows them (only http(s) URLs linked, markdown sanitised).

use crate::helpers::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::json;

async fn upload(app: &TestApp, id: &str, runner: &str, form: Form) -> (u16, serde_json::Value) {
    let response = app.upload_form(id, runner, form).await;
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
    let response = app.artifact_content(&token, &id, artifact_id).await;
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

async fn register(app: &TestApp, id: &str, runner: &str, artifact: serde_json::Value) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/artifacts"),
            runner,
            Some(artifact),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The id of the run's artifact with this name.
async fn artifact_named(app: &TestApp, token: &str, id: &str, name: &str) -> String {
    let (_, body) = app
        .call(
            Method::GET,
            &format!("/api/runs/{id}/artifacts"),
            token,
            None,
        )
        .await;
    body["data"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|artifact| artifact["name"] == name)
        .unwrap_or_else(|| panic!("no artifact {name}: {body}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `GET …/content` of the named artifact, with extra request headers.
async fn content(
    app: &TestApp,
    token: &str,
    id: &str,
    name: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let artifact = artifact_named(app, token, id, name).await;
    let mut request = new_client()
        .get(app.url(&format!("/api/runs/{id}/artifacts/{artifact}/content")))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn file(name: &str, content_type: &str, bytes: &[u8]) -> Form {
    Form::new().text("artifactType", "report").part(
        "file",
        Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str(content_type)
            .unwrap(),
    )
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn a_link_artifact_is_not_redirected_to_from_this_origin() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let url = "https://cdn.example.com/spring/index.html";
    register(
        &app,
        &id,
        &runner,
        json!({"artifactType": "bundle", "name": "site", "url": url}),
    )
    .await;
    let response = content(&app, &token, &id, "site", &[]).await;
    assert_eq!(response.status(), 404);
    assert_eq!(header(&response, "location"), "", "no redirect");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(url),
        "the answer names the link: {body}"
    );
}

#[tokio::test]
async fn artifact_content_is_a_sandboxed_download_unless_an_image_or_plain_text() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let files = [
        ("page.html", "text/html", "attachment"),
        ("paper.pdf", "application/pdf", "attachment"),
        ("data.bin", "application/octet-stream", "attachment"),
        ("shot.png", "image/png", "inline"),
        ("logo.svg", "image/svg+xml", "inline"),
        ("log.txt", "text/plain", "inline"),
    ];
    for (name, content_type, _) in files {
        let (status, body) =
            upload(&app, &id, &runner, file(name, content_type, b"<b>x</b>")).await;
        assert_eq!(status, 200, "{body}");
    }
    register(
        &app,
        &id,
        &runner,
        json!({"artifactType": "note", "name": "note", "inlineText": "a note"}),
    )
    .await;
    for (name, _, disposition) in files.into_iter().chain([("note", "", "inline")]) {
        let response = content(&app, &token, &id, name, &[]).await;
        assert_eq!(response.status(), 200, "{name}");
        assert!(
            header(&response, "content-disposition").starts_with(&format!("{disposition};")),
            "{name}: {}",
            header(&response, "content-disposition")
        );
        let policy = header(&response, "content-security-policy");
        assert!(policy.starts_with("sandbox;"), "{name}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'self'"),
            "{name}: {policy}"
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    }
    // The run page's sandboxed preview frame shows the HTML; opening it does not.
    let framed = [
        ("sec-fetch-dest", "iframe"),
        ("sec-fetch-site", "same-origin"),
    ];
    let response = content(&app, &token, &id, "page.html", &framed).await;
    assert!(header(&response, "content-disposition").starts_with("inline;"));
    assert!(header(&response, "content-security-policy").starts_with("sandbox;"));
    for visit in [
        [
            ("sec-fetch-dest", "document"),
            ("sec-fetch-site", "same-origin"),
        ],
        [
            ("sec-fetch-dest", "iframe"),
            ("sec-fetch-site", "cross-site"),
        ],
    ] {
        let response = content(&app, &token, &id, "page.html", &visit).await;
        assert!(
            header(&response, "content-disposition").starts_with("attachment;"),
            "{visit:?}"
        );
    }
}

#[tokio::test]
async fn an_uploaded_script_is_never_served_as_a_script() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    for (name, content_type) in [
        ("app.js", "application/javascript"),
        ("old.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "Text/ECMAScript"),
    ] {
        let (status, body) =
            upload(&app, &id, &runner, file(name, content_type, b"alert(1)")).await;
        assert_eq!(status, 200, "{body}");
        let response = content(&app, &token, &id, name, &[]).await;
        assert_eq!(
            header(&response, "content-type"),
            "text/plain; charset=utf-8",
            "{name}"
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(response.text().await.unwrap(), "alert(1)");
    }
}

#[tokio::test]
async fn the_run_page_links_an_artifact_url_only_when_it_is_http() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    for name in ["good", "old"] {
        register(
            &app,
            &id,
            &runner,
            json!({"artifactType": "report", "name": name, "url": format!("https://cdn.example.com/{name}")}),
        )
        .await;
    }
    // The API refuses such a URL; a row from before that check still holds one.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/artifacts"),
            &runner,
            Some(json!({"artifactType": "report", "url": "JaVaScRiPt:alert(1)"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("url"))
    );
    app.execute(
        "UPDATE artifacts SET url = 'JaVaScRiPt:alert(document.cookie)' WHERE name = 'old'",
        &[],
    )
    .await;

    app.login_owner().await;
    let html = app.get(&format!("/runs/{id}")).await.text().await.unwrap();
    assert!(
        link_targets(&html).contains(&"https://cdn.example.com/good".to_string()),
        "the http(s) URL is a link"
    );
    assert_no_script_links(&html);
    assert!(
        html.contains(r#"class="unlinked-url">JaVaScRiPt:alert(document.cookie)<"#),
        "the other URL is shown as text"
    );
}

#[tokio::test]
async fn a_markdown_preview_links_only_http_mailto_and_relative_urls() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let report = "# Report\n\n\
        [one](JaVaScRiPt:alert(1)) <javascript:alert(2)> [two](data:text/html,<script>alert(3)</script>)\n\n\
        ![chart](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoNCk+) ![pixel](javascript:alert(5))\n\n\
        <img src=x onerror=alert(6)> <script>alert(7)</script>\n\n\
        [docs](https://example.com/docs) [mail](mailto:ops@example.com) [run](/runs)";
    register(
        &app,
        &id,
        &runner,
        json!({"artifactType": "report", "name": "report.md", "contentType": "text/markdown", "inlineText": report}),
    )
    .await;

    app.login_owner().await;
    let html = app.get(&format!("/runs/{id}")).await.text().await.unwrap();
    let start = html
        .find(r#"<div class="preview-markdown">"#)
        .expect("a markdown preview");
    let preview = &html[start..start + html[start..].find("</div>").unwrap()];
    assert!(preview.contains("<h1>Report</h1>"), "{preview}");
    assert_no_script_links(preview);
    let targets = link_targets(preview);
    for kept in [
        "https://example.com/docs",
        "mailto:ops@example.com",
        "/runs",
    ] {
        assert!(targets.contains(&kept.to_string()), "{kept} in {preview}");
    }
    assert!(!preview.contains("<script"), "{preview}");
    // Raw HTML stays as escaped text: no tag of the preview has a handler.
    for tag in preview.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        assert!(!tag.contains(" on"), "an event handler in <{tag}>");
    }
    assert_no_script_links(&html);
}
