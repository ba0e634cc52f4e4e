//! `GET /api/runs/export`: every matching run exactly once, newest first, across
//! the batches it is read in; the chosen columns; CSV quoting; the list's filters;
//! the caller's account only; bad parameters refused naming them.

use crate::helpers::*;
use model::{AccountPk, RunStatus};
use reqwest::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::Method;
use runboard::api::export::EXPORT_BATCH;
use serde_json::{json, Value};
use store::db::runs::{self, NewRun};

/// Inserts `count` runs of `agent` straight into the database, many sharing a
/// creation time (so that batches end inside a run of equal times); returns
/// their ids, newest first as the export orders them.
async fn insert_runs(
    app: &TestApp,
    account: AccountPk,
    agent: &str,
    count: usize,
    status: RunStatus,
) -> Vec<String> {
    let base = store::db::now_ms() - 3_600_000;
    let mut tx = app.db.begin_write().await.unwrap();
    let mut made = Vec::new();
    for index in 0..count {
        let mut run = NewRun::requested(agent, json!({"n": index, "company": "Acme"}));
        run.status = status;
        // Seven runs per millisecond: equal times on both sides of batch ends.
        run.created_at = base + (index / 7) as i64;
        let (pk, id) = runs::insert_run(&mut tx, account, &run).await.unwrap();
        made.push((run.created_at, pk, id.to_string()));
    }
    tx.commit().await.unwrap();
    made.sort_by_key(|run| std::cmp::Reverse((run.0, run.1)));
    made.into_iter().map(|(_, _, id)| id).collect()
}

async fn export(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = new_client()
        .get(app.url(&format!("/api/runs/export{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn ndjson(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Records of an RFC 4180 document (quoted cells, doubled quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, other) => cell.push(other),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, other) => cell.push(other),
        }
    }
    assert!(
        cell.is_empty() && record.is_empty(),
        "the last record ends with CRLF"
    );
    records
}

#[tokio::test]
async fn every_matching_run_exactly_once_newest_first_across_batches() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let wanted = (2 * EXPORT_BATCH + 37) as usize;
    let crawler = insert_runs(&app, account, "crawler", wanted, RunStatus::Failed).await;
    insert_runs(&app, account, "other", 50, RunStatus::Failed).await;

    let (status, headers, body) = export(&app, &token, "?agent=crawler&format=ndjson").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers[CONTENT_TYPE], "application/x-ndjson");
    let rows = ndjson(&body);
    let ids: Vec<&str> = rows.iter().map(|row| row["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), wanted, "every matching run, over three batches");
    assert_eq!(ids, crawler, "each once, newest first");
    // Every field of a list item when no columns are chosen.
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), model::RUN_ROW_FIELDS.len());
    assert_eq!(rows[0]["agent"], "crawler");
    assert_eq!(rows[0]["input"]["company"], "Acme");
}

#[tokio::test]
async fn csv_has_a_header_of_the_columns_and_quotes_what_needs_it() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let tricky = "Acme, \"the best\"\nLtd";
    let (id, _) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "summary": "a, b", "input": {"company": {"name": tricky}},
                   "tags": ["x", "y"]}),
        )
        .await;
    let (status, headers, body) = export(
        &app,
        &token,
        "?format=csv&fields=id,summary,input.company.name,tags,error,input.missing",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert_eq!(
        headers[CONTENT_DISPOSITION],
        format!("attachment; filename=\"runs-{today}.csv\"").as_str()
    );
    assert!(body.contains("\"Acme, \"\"the best\"\"\nLtd\""), "{body}");
    let records = parse_csv(&body);
    assert_eq!(
        records,
        vec![
            vec![
                "id",
                "summary",
                "input.company.name",
                "tags",
                "error",
                "input.missing"
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
            vec![
                id,
                "a, b".into(),
                tricky.into(),
                r#"["x","y"]"#.into(),
                String::new(),
                String::new()
            ],
        ]
    );

    // `Accept: text/csv` chooses CSV without `format`; the header row comes even
    // when nothing matches.
    let response = new_client()
        .get(app.url("/api/runs/export?agent=nobody&fields=id,status"))
        .bearer_auth(&token)
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), "id,status\r\n");
}

#[tokio::test]
async fn the_lists_filters_apply() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (stripe, runner) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "input": {"company": "Stripe"}}),
        )
        .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{stripe}/status"),
            &runner,
            Some(json!({"status": "failed", "error": {"message": "boom"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (acme, _) = app
        .create_run(
            &token,
            json!({"agent": "crawler", "input": {"company": "Acme"}}),
        )
        .await;
    app.create_run(
        &token,
        json!({"agent": "mailer", "input": {"company": "Stripe"}}),
    )
    .await;
    let ids = async |query: &str| -> Vec<String> {
        let (status, _, body) = export(&app, &token, &format!("?fields=id&{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        ndjson(&body)
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("status=failed").await, vec![stripe.clone()]);
    assert_eq!(
        ids("agent=crawler&input.company=Stripe").await,
        vec![stripe.clone()]
    );
    assert_eq!(
        ids("agent=crawler&status=requested").await,
        vec![acme.clone()]
    );
    assert_eq!(
        ids("agent=crawler").await,
        vec![acme.clone(), stripe.clone()]
    );
    assert_eq!(ids("input.company=stripe&ci=true").await.len(), 2);
    assert!(ids("createdAfter=2999-01-01").await.is_empty());
    // The query language, as the list reads it: qualifiers, OR, negation, text.
    assert_eq!(ids("q=status%3Afailed").await, vec![stripe.clone()]);
    assert_eq!(
        ids("q=agent%3Acrawler+input.company%3AStripe").await,
        vec![stripe.clone()]
    );
    assert_eq!(
        ids("q=agent%3Acrawler+-status%3Afailed").await,
        vec![acme.clone()]
    );
    assert_eq!(
        ids("q=status%3Afailed+OR+agent%3Amailer").await.len(),
        2,
        "the failed run and the mailer's"
    );
    assert_eq!(ids("q=boom").await, vec![stripe.clone()], "full text");
    assert_eq!(ids("q=agent%3Acrawler&status=failed").await, vec![stripe]);
}

#[tokio::test]
async fn a_query_with_a_syntax_error_is_400_naming_q() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (status, _, body) = export(&app, &token, "?q=status%3A(failed").await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["field"], "q", "{body}");
    assert!(body["error"]["position"].is_u64(), "{body}");
}

#[tokio::test]
async fn only_the_callers_account_is_exported() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let other = app.other_account_token().await;
    let (mine, _) = app.create_run(&token, json!({"agent": "crawler"})).await;
    let (theirs, _) = app.create_run(&other, json!({"agent": "crawler"})).await;
    for (credential, expected) in [(&token, mine), (&other, theirs)] {
        let (status, _, body) = export(&app, credential, "?fields=id").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(ndjson(&body), vec![json!({ "id": expected })]);
    }
    let response = new_client()
        .get(app.url("/api/runs/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn bad_parameters_are_400_naming_them() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    for (query, field) in [
        ("?format=xml", "format"),
        ("?fields=id,nope", "fields"),
        ("?limit=10", "limit"),
        ("?offset=10", "offset"),
        ("?cursor=1.1", "cursor"),
        ("?status=sleeping", "status"),
        ("?createdAfter=yesterday", "createdAfter"),
        ("?colour=red", "colour"),
    ] {
        let (status, _, body) = export(&app, &token, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "invalid", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn a_compressed_export_ends_cleanly() {
    // Browsers ask for compression; the compression layer polls the body once more
    // after its end, which must not panic (the download was cut off empty).
    let app = spawn_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "crawler"})).await;
    for encoding in ["gzip", "br"] {
        let response = new_client()
            .get(app.url("/api/runs/export?format=csv"))
            .bearer_auth(&token)
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-encoding"].to_str().unwrap(),
            encoding
        );
        let body = response.bytes().await.expect("the whole body arrives");
        assert!(!body.is_empty());
    }
}
