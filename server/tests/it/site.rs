//! The built site as browsers receive it: the bundle under its hashed name, cached
//! for good and sent precompressed; pages and JSON compressed on the fly; the live
//! stream never compressed.

use crate::helpers::{spawn_app_with, TestApp};
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING};

const HASH: &str = "0f1e2d3c4b5a6978";

/// A server whose site holds a hashed bundle with brotli and gzip copies that are
/// told apart by their content.
async fn spawn_with_hashed_site() -> TestApp {
    spawn_app_with(|config| {
        let site = std::path::Path::new(&config.site_root);
        let pkg = site.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(site.join("hash.txt"), format!("{HASH}\n")).unwrap();
        for extension in ["js", "wasm", "css"] {
            let file = pkg.join(format!("runboard.{HASH}.{extension}"));
            std::fs::write(&file, format!("plain {extension}")).unwrap();
            std::fs::write(format!("{}.br", file.display()), format!("br {extension}")).unwrap();
            std::fs::write(format!("{}.gz", file.display()), format!("gz {extension}")).unwrap();
        }
        std::fs::write(pkg.join("unhashed.js"), "plain").unwrap();
    })
    .await
}

async fn fetch(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn the_bundle_is_sent_as_the_precompressed_copy_the_browser_accepts() {
    let app = spawn_with_hashed_site().await;
    let wasm = format!("/pkg/runboard.{HASH}.wasm");

    let response = fetch(&app, &wasm, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, CONTENT_ENCODING), "br");
    assert_eq!(
        header(&response, reqwest::header::CONTENT_TYPE),
        "application/wasm"
    );
    assert_eq!(response.text().await.unwrap(), "br wasm");

    let response = fetch(&app, &wasm, Some("gzip")).await;
    assert_eq!(header(&response, CONTENT_ENCODING), "gzip");
    assert_eq!(response.text().await.unwrap(), "gz wasm");

    let response = fetch(&app, &wasm, None).await;
    assert_eq!(header(&response, CONTENT_ENCODING), "");
    assert_eq!(response.text().await.unwrap(), "plain wasm");
}

#[tokio::test]
async fn hashed_bundle_files_are_immutable_and_other_files_are_revalidated() {
    let app = spawn_with_hashed_site().await;
    for extension in ["js", "wasm", "css"] {
        let response = fetch(&app, &format!("/pkg/runboard.{HASH}.{extension}"), None).await;
        assert_eq!(
            header(&response, CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{extension}"
        );
    }
    let response = fetch(&app, "/pkg/unhashed.js", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, CACHE_CONTROL), "no-cache");
    let response = fetch(&app, "/pkg/runboard.missing.wasm", None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(header(&response, CACHE_CONTROL), "");
}

#[tokio::test]
async fn pages_name_the_hashed_bundle_and_are_compressed() {
    let app = spawn_with_hashed_site().await;
    let response = fetch(&app, "/login", Some("br")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, CONTENT_ENCODING), "br");
    let mut html = Vec::new();
    brotli_decode(&response.bytes().await.unwrap(), &mut html);
    let html = String::from_utf8(html).unwrap();
    for file in [
        format!("/pkg/runboard.{HASH}.wasm"),
        format!("/pkg/runboard.{HASH}.js"),
        format!("/pkg/runboard.{HASH}.css"),
    ] {
        assert!(html.contains(&file), "the page should name {file}");
    }

    let response = fetch(&app, "/login", None).await;
    assert_eq!(header(&response, CONTENT_ENCODING), "");
    assert!(response.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn json_is_compressed_but_the_live_stream_is_not() {
    let app = spawn_with_hashed_site().await;
    let token = app.owner_token().await;

    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, CONTENT_ENCODING), "gzip");

    let response = reqwest::Client::new()
        .get(app.url("/api/events/stream"))
        .bearer_auth(&token)
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, reqwest::header::CONTENT_TYPE),
        "text/event-stream"
    );
    assert_eq!(header(&response, CONTENT_ENCODING), "");
}

#[tokio::test]
async fn without_a_hash_file_the_pages_name_the_plain_bundle() {
    let app = spawn_app_with(|_| {}).await;
    let html = fetch(&app, "/login", None).await.text().await.unwrap();
    assert!(html.contains("/pkg/runboard.wasm"));
    assert!(html.contains("/pkg/runboard.css"));
}

fn brotli_decode(input: &[u8], output: &mut Vec<u8>) {
    brotli::BrotliDecompress(&mut std::io::Cursor::new(input), output).unwrap();
}
