//! The built site as browsers receive it: the bundle under its hashed name, cached
//! for good and sent precompressed; pages and JSON compressed on the fly; the live
//! stream never compressed; the security headers on every response, with a
//! Content-Security-Policy whose nonce is on each inline script of the page.

use crate::helpers::{spawn_app_with, TestApp};
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

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

/// The nonce a page's Content-Security-Policy trusts scripts by.
fn policy_nonce(policy: &str) -> String {
    let start = policy
        .find("'nonce-")
        .unwrap_or_else(|| panic!("no nonce in {policy}"))
        + "'nonce-".len();
    let end = policy[start..].find('\'').unwrap() + start;
    policy[start..end].to_string()
}

/// The value of one directive of a policy (`script-src` → `'self' 'nonce-…' …`).
fn directive<'p>(policy: &'p str, name: &str) -> &'p str {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} in {policy}"))
        .trim()
}

/// Every `<script …>` opening tag of a page.
fn script_tags(html: &str) -> Vec<&str> {
    html.match_indices("<script")
        .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap() + 1])
        .collect()
}

/// Loads a page and checks that its policy trusts inline scripts by a nonce alone
/// and that each script of the page carries that nonce; returns the nonce.
async fn assert_every_script_has_the_policys_nonce(app: &TestApp, path: &str) -> String {
    let response = fetch(app, path, None).await;
    let policy = header(&response, CONTENT_SECURITY_POLICY).to_string();
    let html = response.text().await.unwrap();
    let nonce = policy_nonce(&policy);
    assert!(nonce.len() >= 16, "a nonce of 128 bits: {nonce}");
    let scripts = directive(&policy, "script-src");
    assert!(!scripts.contains("'unsafe-inline'"), "{policy}");
    assert!(!scripts.contains("'unsafe-eval'"), "{policy}");
    assert!(scripts.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(
        !directive(&policy, "style-src").contains("'unsafe-inline'"),
        "{policy}"
    );
    let tags = script_tags(&html);
    assert!(!tags.is_empty(), "{path} has its hydration script");
    for tag in tags {
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: {tag} lacks the policy's nonce {nonce}"
        );
    }
    nonce
}

#[tokio::test]
async fn every_page_trusts_only_scripts_with_its_nonce() {
    let app = spawn_with_hashed_site().await;
    let token = app.owner_token().await;
    let (run, _) = app
        .create_run(&token, serde_json::json!({"agent": "a"}))
        .await;
    let first = assert_every_script_has_the_policys_nonce(&app, "/login").await;
    let second = assert_every_script_has_the_policys_nonce(&app, "/login").await;
    assert_ne!(first, second, "a new nonce for every response");
    app.login_owner().await;
    for path in [
        "/".to_string(),
        format!("/runs/{run}"),
        "/agents".to_string(),
        "/campaigns".to_string(),
        "/settings".to_string(),
        "/settings/members".to_string(),
        "/settings/audit".to_string(),
        "/runs/new".to_string(),
        "/invite/not-a-real-invitation".to_string(),
        "/no-such-page".to_string(),
    ] {
        assert_every_script_has_the_policys_nonce(&app, &path).await;
    }
}

#[tokio::test]
async fn pages_may_be_framed_by_this_site_only() {
    let app = spawn_app_with(|_| {}).await;
    for path in ["/login", "/no-such-page"] {
        let response = fetch(&app, path, None).await;
        let policy = header(&response, CONTENT_SECURITY_POLICY);
        assert_eq!(directive(policy, "frame-ancestors"), "'self'", "{path}");
        assert_eq!(header(&response, X_FRAME_OPTIONS), "SAMEORIGIN", "{path}");
    }
}

#[tokio::test]
async fn every_response_is_nosniff_and_keeps_its_referrer_on_this_site() {
    let app = spawn_with_hashed_site().await;
    let bundle = format!("/pkg/runboard.{HASH}.js");
    for path in [
        "/login",
        "/",
        "/no-such-page",
        "/api/openapi.json",
        "/api/runs",
        "/healthz",
        bundle.as_str(),
    ] {
        let response = fetch(&app, path, None).await;
        assert_eq!(
            header(&response, X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{path}"
        );
        assert_eq!(header(&response, REFERRER_POLICY), "same-origin", "{path}");
        assert_eq!(header(&response, X_FRAME_OPTIONS), "SAMEORIGIN", "{path}");
        assert!(
            !header(&response, CONTENT_SECURITY_POLICY).is_empty(),
            "{path} has a policy"
        );
    }
    let response = fetch(&app, "/api/runs", None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        header(&response, CONTENT_SECURITY_POLICY),
        "default-src 'none'; frame-ancestors 'self'",
        "JSON loads and runs nothing"
    );
}

#[tokio::test]
async fn hsts_is_sent_only_when_the_public_url_is_https() {
    let app = spawn_app_with(|_| {}).await;
    for path in ["/login", "/healthz"] {
        let response = fetch(&app, path, None).await;
        assert_eq!(header(&response, STRICT_TRANSPORT_SECURITY), "", "{path}");
    }
    let app = spawn_app_with(|config| {
        config.public_url = Some("https://runs.example.com".to_string());
    })
    .await;
    for path in ["/login", "/healthz", "/api/runs"] {
        let response = fetch(&app, path, None).await;
        assert_eq!(
            header(&response, STRICT_TRANSPORT_SECURITY),
            "max-age=31536000",
            "{path}"
        );
    }
}

fn brotli_decode(input: &[u8], output: &mut Vec<u8>) {
    brotli::BrotliDecompress(&mut std::io::Cursor::new(input), output).unwrap();
}
