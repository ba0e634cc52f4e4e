//! The owner JSON API for runs: creation, the list filters (the pipelines API's
//! verification list), reading, changing, tenancy.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn without_credentials_the_api_answers_401_in_the_envelope() {
    let app = spawn_app().await;
    for token in ["", "nonsense", "rb_not-a-real-token"] {
        let (status, body) = app.call(Method::GET, "/api/runs", token, None).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body["ok"], false);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

#[tokio::test]
async fn a_wrong_password_gets_no_api_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/token"))
        .json(&json!({"email": OWNER_EMAIL, "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn creating_a_run_returns_it_with_a_runner_token() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/runs",
            &token,
            Some(json!({"agent": "jobseek-add-company", "input": {"company_name": "Stripe"}, "summary": "Add Stripe"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = &body["data"]["run"];
    assert_eq!(run["status"], "requested");
    assert_eq!(run["agent"], "jobseek-add-company");
    assert_eq!(run["input"]["company_name"], "Stripe");
    assert_eq!(run["webhookStatus"], "none");
    let id: uuid::Uuid = run["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.get_version_num(), 7, "run ids are UUID v7");
    assert!(
        run["createdAt"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );
    assert!(body["data"]["runnerToken"].as_str().unwrap().len() > 20);
}

#[tokio::test]
async fn the_seed_aliases_create_runs_too() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/agents/run",
            &token,
            Some(json!({"agentSlug": "comet", "params": {"q": 1}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["run"]["agent"], "comet");
    let (status, body) = app
        .call(
            Method::POST,
            "/pipelines/jobseek-add-company/runs",
            &token,
            Some(json!({"initial_input": {"company_name": "Linear"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["run"]["input"]["company_name"], "Linear");
}

#[tokio::test]
async fn bad_run_bodies_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    for (body, field) in [
        (json!({}), "agent"),
        (json!({"agent": "has spaces"}), "agent"),
        (json!({"agent": "a", "webhookUrl": "ftp://x"}), "webhookUrl"),
        (
            json!({"agent": "a", "campaignId": "01900000-0000-7000-8000-000000000000"}),
            "campaignId",
        ),
        (json!({"agent": "a", "surprise": 1}), "surprise"),
    ] {
        let (status, response) = app
            .call(Method::POST, "/api/runs", &token, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} -> {response}");
        assert_eq!(response["error"]["code"], "invalid");
        assert!(
            response["error"]["field"]
                .as_str()
                .unwrap_or_default()
                .contains(field)
                || response["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
            "{body} -> {response}"
        );
    }
    let (status, _) = app.call(Method::GET, "/api/runs", &token, None).await;
    assert_eq!(status, 200);
}

async fn run_with_status(
    app: &TestApp,
    token: &str,
    agent: &str,
    company: &str,
    status: Option<&str>,
) -> String {
    let (id, runner) = app
        .create_run(
            token,
            json!({"agent": agent, "input": {"company_name": company, "meta": {"tier": "gold"}}}),
        )
        .await;
    if let Some(status) = status {
        let (code, body) = app
            .call(
                Method::POST,
                &format!("/api/runner/runs/{id}/status"),
                &runner,
                Some(json!({"status": status})),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    id
}

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["data"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn seed_001_verification_list() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let a = run_with_status(
        &app,
        &token,
        "jobseek-add-company",
        "Stripe",
        Some("running"),
    )
    .await;
    let b = run_with_status(
        &app,
        &token,
        "jobseek-add-company",
        "Linear",
        Some("completed"),
    )
    .await;
    let c = run_with_status(&app, &token, "other-agent", "Stripe", Some("running")).await;
    let d = run_with_status(
        &app,
        &token,
        "jobseek-add-company",
        "stripe",
        Some("running"),
    )
    .await;

    // ?status=running: only running runs, newest first.
    let (_, body) = app
        .call(Method::GET, "/runs?status=running", &token, None)
        .await;
    assert_eq!(ids(&body), vec![d.clone(), c.clone(), a.clone()]);
    // AND-combined with pipeline_id.
    let (_, body) = app
        .call(
            Method::GET,
            "/runs?status=running&pipeline_id=jobseek-add-company",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), vec![d.clone(), a.clone()]);
    // A field of the initial input, exact and case-insensitive.
    let (_, body) = app
        .call(
            Method::GET,
            "/runs?initial_input.company_name=Stripe",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), vec![c.clone(), a.clone()]);
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?input.company_name=STRIPE&ci=true",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), vec![d.clone(), c.clone(), a.clone()]);
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?input.meta.tier=gold&status=completed",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), vec![b.clone()]);
    // limit + offset paginate, with the total.
    let (_, body) = app
        .call(Method::GET, "/api/runs?limit=2&offset=1", &token, None)
        .await;
    assert_eq!(ids(&body), vec![c.clone(), b.clone()]);
    assert_eq!(body["data"]["total"], 4);
    // No match: an empty list, not 404.
    let (status, body) = app
        .call(
            Method::GET,
            "/runs?initial_input.company_name=Nobody",
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["runs"], json!([]));
    // Validation errors are 400, unauthenticated is 401.
    let (status, body) = app.call(Method::GET, "/runs?limit=101", &token, None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("limit"))
    );
    let (status, _) = app
        .call(Method::GET, "/runs?status=running", "", None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn full_text_date_range_duration_and_cursor_filters() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (first, runner) = app
        .create_run(
            &token,
            json!({"agent": "a", "summary": "quarterly invoice reconciliation"}),
        )
        .await;
    let (second, second_runner) = app
        .create_run(&token, json!({"agent": "a", "summary": "other"}))
        .await;
    app.call(
        Method::POST,
        &format!("/api/runner/runs/{second}/events"),
        &second_runner,
        Some(json!({"eventType": "agent.progress", "message": "found a mismatched ledger"})),
    )
    .await;
    let (third, _) = app.create_run(&token, json!({"agent": "a"})).await;

    let (_, body) = app
        .call(Method::GET, "/api/runs?q=invoice", &token, None)
        .await;
    assert_eq!(ids(&body), vec![first.clone()]);
    let (_, body) = app
        .call(Method::GET, "/api/runs?q=ledger", &token, None)
        .await;
    assert_eq!(
        ids(&body),
        vec![second.clone()],
        "event messages are searched"
    );

    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?createdAfter=2000-01-01&createdBefore=2999-01-01",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body).len(), 3);
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?createdBefore=2000-01-01",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body).len(), 0);

    app.call(
        Method::POST,
        &format!("/api/runner/runs/{first}/status"),
        &runner,
        Some(json!({"status": "completed"})),
    )
    .await;
    let (_, body) = app
        .call(Method::GET, "/api/runs?minDurationMs=0", &token, None)
        .await;
    assert_eq!(
        ids(&body),
        vec![first.clone()],
        "only finished runs have a duration"
    );
    // With a unit, as people write durations; a negative one is refused.
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?minDurationMs=0s&maxDurationMs=1h",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), vec![first.clone()]);
    let (code, body) = app
        .call(Method::GET, "/api/runs?maxDurationMs=-1", &token, None)
        .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["field"], "maxDurationMs", "{body}");
    // A range that cannot hold a run says why.
    let (code, body) = app
        .call(
            Method::GET,
            "/api/runs?minDurationMs=5m&maxDurationMs=90s",
            &token,
            None,
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must not be less than"),
        "{body}"
    );
    // So does one the query makes, alone or with the parameters: a 400 naming q.
    for query in [
        "q=duration:>=5m duration:<=90s",
        "q=created:<-2d created:>-1d",
        "minDurationMs=5m&q=duration:<90s",
    ] {
        let (code, body) = app
            .call(Method::GET, &format!("/api/runs?{query}"), &token, None)
            .await;
        assert_eq!(code, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], "q", "{query}: {body}");
    }

    // Keyset pages: the cursor continues exactly where the page ended.
    let (_, page1) = app
        .call(Method::GET, "/api/runs?limit=2", &token, None)
        .await;
    assert_eq!(ids(&page1), vec![third.clone(), second.clone()]);
    let cursor = page1["data"]["nextCursor"].as_str().unwrap();
    let (_, page2) = app
        .call(
            Method::GET,
            &format!("/api/runs?limit=2&cursor={cursor}"),
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&page2), vec![first.clone()]);
    assert!(page2["data"]["nextCursor"].is_null());
}

#[tokio::test]
async fn reading_a_run_its_status_steps_events_and_artifacts() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app
        .create_run(&token, json!({"agent": "a", "context": {"campaign": "x"}}))
        .await;
    let (status, body) = app
        .call(Method::GET, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["context"]["campaign"], "x");
    let (status, body) = app
        .call(Method::GET, &format!("/api/runs/{id}/status"), &token, None)
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("requested"))
    );
    for part in ["steps", "events", "artifacts"] {
        let (status, _) = app
            .call(Method::GET, &format!("/api/runs/{id}/{part}"), &token, None)
            .await;
        assert_eq!(status, 200, "{part}");
    }
    let (status, _) = app
        .call(Method::GET, "/api/runs/not-a-uuid", &token, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/runs/{}", uuid::Uuid::now_v7()),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_account_gets_404_for_a_run_in_every_route() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app.create_run(&token, json!({"agent": "a"})).await;
    let other = app.other_account_token().await;
    for (method, path) in [
        (Method::GET, format!("/api/runs/{id}")),
        (Method::GET, format!("/api/runs/{id}/status")),
        (Method::GET, format!("/api/runs/{id}/steps")),
        (Method::GET, format!("/api/runs/{id}/events")),
        (Method::GET, format!("/api/runs/{id}/artifacts")),
        (
            Method::GET,
            format!("/api/runs/{id}/artifacts/{}/content", uuid::Uuid::now_v7()),
        ),
        (Method::PATCH, format!("/api/runs/{id}")),
        (Method::POST, format!("/api/runs/{id}/cancel")),
        (Method::POST, format!("/api/runs/{id}/retry")),
        (Method::DELETE, format!("/api/runs/{id}")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"summary": "x"}));
        let (status, response) = app.call(method.clone(), &path, &other, body).await;
        assert_eq!(status, 404, "{method} {path}: {response}");
    }
    let (_, body) = app.call(Method::GET, "/api/runs", &other, None).await;
    assert_eq!(body["data"]["total"], 0);
    // Still there for its owner.
    let (status, _) = app
        .call(Method::GET, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn patch_cancel_retry_and_delete() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (id, _) = app
        .create_run(&token, json!({"agent": "a", "input": {"n": 1}}))
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"summary": "renamed"})),
        )
        .await;
    assert_eq!(
        (status, body["data"]["summary"].as_str()),
        (200, Some("renamed"))
    );

    // Retry is only for failed or cancelled runs.
    let (status, body) = app
        .call(Method::POST, &format!("/api/runs/{id}/retry"), &token, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_retryable"))
    );

    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{id}/cancel"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    assert!(body["data"]["completedAt"].is_string());
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runs/{id}/cancel"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("run_finished"))
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/runs/{id}"),
            &token,
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = app
        .call(Method::POST, &format!("/api/runs/{id}/retry"), &token, None)
        .await;
    assert_eq!(status, 201, "{body}");
    let retry = &body["data"]["run"];
    assert_eq!(retry["retryOf"], id.as_str());
    assert_eq!(retry["attempt"], 2);
    assert_eq!(retry["input"]["n"], 1);
    assert_eq!(retry["status"], "requested");

    let (status, _) = app
        .call(Method::DELETE, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(Method::GET, &format!("/api/runs/{id}"), &token, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_broad_filter_is_counted_up_to_the_cap_and_says_so() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    app.create_run(&token, json!({"agent": "bulk", "input": {"k": "rare"}}))
        .await;
    // More matching runs than the cap, inserted straight into the tables.
    let over = store::db::runs::COUNT_CAP + 5;
    let mut tx = app.db.begin_write().await.unwrap();
    let insert = |id: &str| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < ?)
             INSERT INTO runs (id, account_pk, agent_pk, status, input, created_at, updated_at)
             SELECT {id}, r.account_pk, r.agent_pk, 'completed', '{{\"k\":\"broad\"}}', i, i
             FROM n, (SELECT account_pk, agent_pk FROM runs LIMIT 1) r"
        )
    };
    store::db::sql::query(insert("printf('00000000-0000-7000-8000-%012d', i)"))
        .postgres(insert(
            "'00000000-0000-7000-8000-' || lpad(i::text, 12, '0')",
        ))
        .bind(over)
        .execute(&mut *tx)
        .await
        .unwrap();
    store::db::sql::query(
        "INSERT INTO run_input_fields (run_pk, account_pk, path, value, created_at)
         SELECT pk, account_pk, 'k', 'broad', created_at FROM runs WHERE input = '{\"k\":\"broad\"}'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (status, body) = app
        .call(Method::GET, "/api/runs?input.k=broad&limit=5", &token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], json!(store::db::runs::COUNT_CAP));
    assert_eq!(body["data"]["totalExact"], json!(false));
    assert_eq!(body["data"]["runs"].as_array().unwrap().len(), 5);

    let (_, body) = app
        .call(Method::GET, "/api/runs?input.k=rare", &token, None)
        .await;
    assert_eq!(body["data"]["total"], json!(1));
    assert_eq!(body["data"]["totalExact"], json!(true));

    // The dashboard says "at least" too.
    app.login_owner().await;
    let page = app.get("/?q=input.k%3Dbroad").await.text().await.unwrap();
    assert!(
        page.contains(&format!("of {}+", store::db::runs::COUNT_CAP)),
        "no capped total shown"
    );
}

#[tokio::test]
async fn an_input_filter_pages_by_cursor_newest_first_without_repeats() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let mut expected = Vec::new();
    for index in 0..7 {
        let (id, _) = app
            .create_run(
                &token,
                json!({"agent": "pager", "input": {"team": "Core", "n": index}}),
            )
            .await;
        expected.push(id);
        app.create_run(
            &token,
            json!({"agent": "pager", "input": {"team": "Other"}}),
        )
        .await;
    }
    expected.reverse();
    for query in ["input.team=Core", "input.team=core&ci=true"] {
        assert_eq!(every_page(&app, &token, query).await, expected, "{query}");
    }

    // An input field alone is counted from its own rows: exactly this account's
    // matching runs, case-insensitively when asked, and none once deleted.
    let other = app.other_account_token().await;
    app.create_run(&other, json!({"agent": "pager", "input": {"team": "Core"}}))
        .await;
    let total = |query: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            let (status, body) = app
                .call(
                    Method::GET,
                    &format!("/api/runs?{query}&limit=1"),
                    token,
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["data"]["totalExact"], json!(true));
            body["data"]["total"].as_i64().unwrap()
        }
    };
    assert_eq!(total("input.team=Core").await, 7);
    assert_eq!(total("input.team=core&ci=true").await, 7);
    assert_eq!(total("input.team=core").await, 0);
    assert_eq!(total("input.team=Core&status=requested").await, 7);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/runs/{}", expected[0]),
            &token,
            None,
        )
        .await;
    assert!((200..300).contains(&status), "{status}");
    assert_eq!(total("input.team=Core").await, 6);
}

#[tokio::test]
async fn a_text_search_lists_runs_matching_in_their_own_text_or_log_newest_first() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let other = app.other_account_token().await;
    // 200 runs: even ones say "zebra" in their summary, every fourth from the
    // second logs it (one of them 300 times), the rest never say it. Another
    // account's matching runs are interleaved and must never show.
    let mut expected = Vec::new();
    let mut cancelled = Vec::new();
    for index in 0..200 {
        let summary = if index % 2 == 0 {
            format!("zebra crossing {index}")
        } else {
            format!("plain {index}")
        };
        let (id, runner) = app
            .create_run(&token, json!({"agent": "searcher", "summary": summary}))
            .await;
        if index % 4 == 1 {
            let lines = if index == 1 { 300 } else { 2 };
            let events: Vec<_> = (0..lines)
                .map(|line| json!({"eventType": "log", "message": format!("saw a zebra, line {line}")}))
                .collect();
            let (status, body) = app
                .call(
                    Method::POST,
                    &format!("/api/runner/runs/{id}/events"),
                    &runner,
                    Some(json!({"events": events})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        if index % 2 == 0 || index % 4 == 1 {
            if index % 5 == 0 {
                let (status, body) = app
                    .call(
                        Method::POST,
                        &format!("/api/runs/{id}/cancel"),
                        &token,
                        None,
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                cancelled.push(id.clone());
            }
            expected.push(id);
        }
        if index % 10 == 0 {
            app.create_run(
                &other,
                json!({"agent": "searcher", "summary": "zebra elsewhere"}),
            )
            .await;
        }
    }
    expected.reverse();
    cancelled.reverse();

    // Keyset pages continue one another exactly.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/runs?q=zebra&limit=7{cursor}"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["total"], json!(expected.len()));
        assert_eq!(body["data"]["totalExact"], json!(true));
        seen.extend(ids(&body));
        match body["data"]["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, expected, "every match once, newest first");

    // Offsets, and the rest of the filter applied to the matches.
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?q=zebra&limit=7&offset=14",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), expected[14..21].to_vec());
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?q=zebra&status=cancelled&limit=100",
            &token,
            None,
        )
        .await;
    assert_eq!(ids(&body), cancelled);
    assert_eq!(body["data"]["total"], json!(cancelled.len()));
    let (_, body) = app
        .call(
            Method::GET,
            "/api/runs?q=zebra crossing&limit=100",
            &token,
            None,
        )
        .await;
    assert_eq!(body["data"]["total"], json!(100), "all words, in one text");

    // The dashboard's chips count the matches by status.
    app.login_owner().await;
    let view: serde_json::Value = app
        .client
        .post(app.url("/fn/list_runs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=q%3Dzebra")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chips = view["statusCounts"].as_array().unwrap();
    let count = |status: &str| {
        chips
            .iter()
            .find(|chip| chip[0] == status)
            .map(|chip| chip[1].as_i64().unwrap())
    };
    assert_eq!(count("cancelled"), Some(cancelled.len() as i64), "{view}");
    assert_eq!(
        count("requested"),
        Some((expected.len() - cancelled.len()) as i64)
    );
}

#[tokio::test]
async fn a_broad_text_search_counts_up_to_its_cap() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let cap = store::db::runs::TEXT_COUNT_CAP;
    let mut tx = app.db.begin_write().await.unwrap();
    for index in 0..(cap + 5) {
        let mut run = store::db::runs::NewRun::requested("yak-herder", json!({}));
        run.summary = Some(format!("yak shaving {index}"));
        store::db::runs::insert_run(&mut tx, account, &run)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let (status, body) = app
        .call(Method::GET, "/api/runs?q=yak&limit=3", &token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], json!(cap));
    assert_eq!(body["data"]["totalExact"], json!(false));
    assert_eq!(ids(&body).len(), 3);
    let (_, body) = app
        .call(Method::GET, "/api/runs?q=yak 7&limit=3", &token, None)
        .await;
    assert_eq!(body["data"]["total"], json!(1), "{body}");
    assert_eq!(body["data"]["totalExact"], json!(true));

    // Words that are all punctuation or FTS syntax are searched as text (an
    // unclosed quote is a query syntax error, docs/query.md).
    for q in [
        "%21%21%21",
        "%22%21%22",
        "yak*",
        "NEAR(yak)",
        "-yak",
        "%20%20",
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/runs?q={q}&limit=3"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, 200, "q={q}: {body}");
    }
}

/// Every page of `/api/runs?{query}`, three runs at a time, by cursor.
async fn every_page(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/runs?{query}&limit=3&cursor={cursor}"),
            None => format!("/api/runs?{query}&limit=3"),
        };
        let (status, body) = app.call(Method::GET, &path, token, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        seen.extend(ids(&body));
        match body["data"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn lists_sort_by_creation_or_duration_either_way_page_by_page() {
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let account = app.owner_account().await;
    let now = store::db::now_ms();
    // (seconds ago created, duration in seconds or unfinished, team); two share
    // a duration, so the order among equals (by run) is tested too.
    let plan: [(i64, Option<i64>, &str); 8] = [
        (80, Some(30), "Core"),
        (70, Some(5), "Other"),
        (60, Some(45), "Core"),
        (50, None, "Core"),
        (40, Some(5), "Core"),
        (30, Some(12), "Other"),
        (20, None, "Other"),
        (10, Some(60), "Core"),
    ];
    let mut tx = app.db.begin_write().await.unwrap();
    let mut made = Vec::new();
    for (ago, duration, team) in plan {
        let mut run = store::db::runs::NewRun::requested("sorter", json!({"team": team}));
        run.created_at = now - ago * 1000;
        run.started_at = Some(run.created_at);
        match duration {
            Some(secs) => {
                run.status = model::RunStatus::Completed;
                run.progress = 1.0;
                run.completed_at = Some(run.created_at + secs * 1000);
            }
            None => run.status = model::RunStatus::Running,
        }
        let (_, stored) = store::db::runs::insert_run(&mut tx, account, &run)
            .await
            .unwrap();
        made.push(stored.to_string());
    }
    tx.commit().await.unwrap();
    let id = |index: usize| made[index].clone();

    let newest: Vec<String> = (0..8).rev().map(id).collect();
    assert_eq!(every_page(&app, &token, "agent=sorter").await, newest);
    assert_eq!(
        every_page(&app, &token, "agent=sorter&sort=-createdAt").await,
        newest
    );
    let oldest: Vec<String> = (0..8).map(id).collect();
    assert_eq!(
        every_page(&app, &token, "agent=sorter&sort=createdAt").await,
        oldest
    );
    // Longest first; equal durations by run, newest run first; unfinished runs
    // have no duration and are not in a duration order.
    let longest: Vec<String> = [7, 2, 0, 5, 4, 1].into_iter().map(id).collect();
    assert_eq!(
        every_page(&app, &token, "agent=sorter&sort=-durationMs").await,
        longest
    );
    let shortest: Vec<String> = [1, 4, 5, 0, 2, 7].into_iter().map(id).collect();
    assert_eq!(
        every_page(&app, &token, "agent=sorter&sort=durationMs").await,
        shortest
    );
    // With an input field (whose own index drives creation orders) and a status.
    let core_oldest: Vec<String> = [0, 2, 3, 4, 7].into_iter().map(id).collect();
    assert_eq!(
        every_page(&app, &token, "input.team=Core&sort=createdAt").await,
        core_oldest
    );
    assert_eq!(
        every_page(
            &app,
            &token,
            "q=status:completed&agent=sorter&sort=durationMs"
        )
        .await
        .len(),
        6
    );

    // A search for words lists newest first only; an unknown order is refused.
    for (query, field) in [
        ("q=sorter&sort=createdAt", "sort"),
        ("sort=title", "sort"),
        ("input.team=Core&sort=-durationMs", "sort"),
        ("q=input.team:Core&sort=durationMs", "sort"),
        ("sort=-createdAt&sort=durationMs&q=x", "sort"),
    ] {
        let (status, body) = app
            .call(Method::GET, &format!("/api/runs?{query}"), &token, None)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, _) = app
        .call(Method::GET, "/api/runs?q=sorter", &token, None)
        .await;
    assert_eq!(status, 200);
}
