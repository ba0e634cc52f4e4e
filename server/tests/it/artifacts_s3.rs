//! Artifacts in an S3-compatible bucket, against a real S3 server (moto's, which
//! `scripts/dev test` installs and names in `RUNBOARD_TEST_S3_SERVER`; the test
//! starts it on a free port): an upload larger than one multipart part is stored
//! as one object under the run's prefix, served back byte for byte, and deleted
//! with its run. Without the server the test says it was skipped, unless
//! `RUNBOARD_REQUIRE_S3` is set (as the test command sets it).

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const BUCKET: &str = "runboard-artifacts";

/// A running S3 server with one empty bucket.
struct S3Server {
    endpoint: String,
    _child: Child,
}

impl S3Server {
    async fn start() -> Option<S3Server> {
        let Ok(program) = std::env::var("RUNBOARD_TEST_S3_SERVER") else {
            assert!(
                std::env::var_os("RUNBOARD_REQUIRE_S3").is_none(),
                "RUNBOARD_TEST_S3_SERVER is not set; scripts/dev test installs an S3 server"
            );
            eprintln!(
                "skipped: no S3 server (RUNBOARD_TEST_S3_SERVER); scripts/dev test runs this"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("{program}: {error}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..300 {
            if client.get(&endpoint).send().await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "the S3 server did not answer within 30 s");
        let created = client
            .put(format!("{endpoint}/{BUCKET}"))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        Some(S3Server {
            endpoint,
            _child: child,
        })
    }

    /// The keys in the bucket, as S3's ListObjectsV2 lists them.
    async fn keys(&self) -> Vec<String> {
        let listing = reqwest::get(format!("{}/{BUCKET}?list-type=2", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect()
    }
}

#[tokio::test]
async fn an_upload_is_an_object_in_the_bucket_served_back_and_deleted_with_its_run() {
    let Some(s3) = S3Server::start().await else {
        return;
    };
    // The server reads its credentials the usual AWS way; moto takes any.
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "runboard-test"),
        ("AWS_SECRET_ACCESS_KEY", "runboard-test-secret"),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(name, value);
    }
    let endpoint = s3.endpoint.clone();
    let app = spawn_app_with(|config| {
        config.s3_bucket = Some(BUCKET.to_string());
        config.s3_endpoint = Some(endpoint);
    })
    .await;
    let token = app.owner_token().await;
    let (id, runner) = app.create_run(&token, json!({"agent": "s3"})).await;

    // Over 5 MiB, so the upload streams in more than one multipart part.
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let response = app
        .upload_file(
            &id,
            &runner,
            "dataset",
            ("big.bin", "application/octet-stream", bytes.clone()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let artifact = &body["data"];
    assert_eq!(artifact["sizeBytes"], bytes.len());
    let key = artifact["storageKey"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("runs/{id}/")), "{key}");
    assert_eq!(
        s3.keys().await,
        std::slice::from_ref(&key),
        "one object, under the run's prefix"
    );
    assert!(
        !app.artifact_dir().join(&key).exists(),
        "nothing was written to the local artifact directory"
    );

    let artifact_id = artifact["id"].as_str().unwrap();
    let served = app.artifact_content(&token, &id, artifact_id).await;
    assert_eq!(served.status(), 200);
    assert!(
        served.bytes().await.unwrap() == bytes,
        "served byte for byte"
    );

    let (status, _) = app
        .call(Method::DELETE, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        s3.keys().await.is_empty(),
        "deleting the run deleted its object"
    );
}
