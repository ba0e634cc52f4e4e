//! The events' text index in pieces (store::db::text_pieces): a new piece starts
//! at the first run created once the newest has taken its share, earlier runs
//! keep writing into theirs, and searching, a run's log search, deleting and
//! pruning reach every piece.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use store::db::text_pieces::PIECE_EVENTS;

async fn log(app: &TestApp, id: &str, runner: &str, message: &str) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/events"),
            runner,
            Some(json!({"eventType": "agent.progress", "message": message})),
        )
        .await;
    assert!(status < 300, "{status} {body}");
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    store::db::sql::query_scalar(sql.to_string())
        .fetch_one(&app.db.read)
        .await
        .unwrap()
}

/// Makes the newest piece look full (as if PIECE_EVENTS events were written
/// since it began): the next run created starts a new piece.
async fn fill_newest_piece(app: &TestApp) {
    app.execute(
        &format!(
            "UPDATE event_text_pieces SET first_event_pk = (SELECT max(pk) FROM events) - {PIECE_EVENTS}"
        ),
        &[],
    )
    .await;
}

/// Entries of one piece matching `word`.
async fn in_piece(app: &TestApp, piece: i64, word: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT count(*) FROM event_text_{piece} WHERE event_text_{piece} MATCH '{word}'"),
    )
    .await
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|run| run["id"].as_str().unwrap().to_string())
        .collect()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app
        .call(Method::GET, &format!("/api/runs?{query}"), token, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_full_piece_starts_a_new_one_and_every_reader_and_deletion_reaches_both() {
    if sqlite_only() {
        return;
    }
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (old, old_runner) = app.create_run(&token, json!({"agent": "a"})).await;
    log(&app, &old, &old_runner, "narwhal seen in the old piece").await;
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM event_text_pieces").await,
        1
    );

    // Creating a run does not start a piece while the newest has room.
    let (_, _) = app.create_run(&token, json!({"agent": "a"})).await;
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM event_text_pieces").await,
        1
    );

    // The next run created starts piece 2.
    fill_newest_piece(&app).await;
    let (new, new_runner) = app.create_run(&token, json!({"agent": "a"})).await;
    let starts: Vec<(i64, i64)> = store::db::sql::query_as(
        "SELECT piece, first_run_pk FROM event_text_pieces ORDER BY piece",
    )
    .fetch_all(&app.db.read)
    .await
    .unwrap();
    let new_pk = scalar(&app, &format!("SELECT pk FROM runs WHERE id = '{new}'")).await;
    assert_eq!(starts, vec![(1, 0), (2, new_pk)]);

    // The new run writes into piece 2; the old one still into piece 1.
    log(&app, &new, &new_runner, "narwhal seen in the new piece").await;
    log(
        &app,
        &old,
        &old_runner,
        "narwhal again, late, in the old piece",
    )
    .await;
    assert_eq!(in_piece(&app, 1, "narwhal").await, 2);
    assert_eq!(in_piece(&app, 2, "narwhal").await, 1);
    let keys: Vec<i64> =
        store::db::sql::query_scalar("SELECT key FROM event_text WHERE message MATCH 'narwhal'")
            .fetch_all(&app.db.read)
            .await
            .unwrap();
    assert_eq!(keys.len(), 3, "the view is every piece");

    // The runs list's search walks the pieces newest first, page by page.
    assert_eq!(
        ids(&list(&app, &token, "q=narwhal").await),
        vec![new.clone(), old.clone()]
    );
    let first = list(&app, &token, "q=narwhal&limit=1").await;
    assert_eq!(ids(&first), vec![new.clone()]);
    let cursor = first["data"]["nextCursor"].as_str().unwrap().to_string();
    let second = list(&app, &token, &format!("q=narwhal&limit=1&cursor={cursor}")).await;
    assert_eq!(ids(&second), vec![old.clone()]);
    // Text under OR reads every piece at once (the view).
    assert_eq!(
        ids(&list(&app, &token, "q=narwhal%20OR%20status:failed").await),
        vec![new.clone(), old.clone()]
    );

    // A run's own log search reads its piece.
    for (id, expected) in [(&old, 2), (&new, 1)] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/runs/{id}/events?q=narwhal"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["events"].as_array().unwrap().len(),
            expected,
            "{body}"
        );
    }

    // Deleting the old run takes its messages out of piece 1, and only them.
    let (status, body) = app
        .call(Method::DELETE, &format!("/api/runs/{old}"), &token, None)
        .await;
    assert!(status < 300, "{status} {body}");
    assert_eq!(in_piece(&app, 1, "narwhal").await, 0);
    assert_eq!(in_piece(&app, 2, "narwhal").await, 1);
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM event_text_gone").await,
        0
    );
    assert_eq!(
        ids(&list(&app, &token, "q=narwhal").await),
        vec![new.clone()]
    );

    // Pruning (of a finished run) empties piece 2 the same way, and FTS5's
    // merging is back on in every piece after the pass.
    for status in ["running", "completed"] {
        let (code, body) = app
            .call(
                Method::POST,
                &format!("/api/runner/runs/{new}/status"),
                &new_runner,
                Some(json!({ "status": status })),
            )
            .await;
        assert!(code < 300, "{code} {body}");
    }
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/retention",
            &token,
            Some(json!({"keepRunsDays": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.prune_in(2).await;
    assert_eq!(in_piece(&app, 2, "narwhal").await, 0);
    assert!(ids(&list(&app, &token, "q=narwhal").await).is_empty());
    for piece in [1, 2] {
        let automerge = scalar(
            &app,
            &format!("SELECT v FROM event_text_{piece}_config WHERE k = 'automerge'"),
        )
        .await;
        assert_eq!(automerge, 4, "piece {piece}");
    }
}

/// FTS5's `automerge` setting of an index (0: off).
async fn automerge(app: &TestApp, table: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT coalesce((SELECT v FROM {table}_config WHERE k = 'automerge'), 4)"),
    )
    .await
}

#[tokio::test]
async fn a_pass_leaves_the_newest_piece_merging_by_itself() {
    if sqlite_only() {
        return;
    }
    use store::db::prune;
    let app = spawn_app().await;
    let token = app.owner_token().await;
    let (old, old_runner) = app.create_run(&token, json!({"agent": "a"})).await;
    log(&app, &old, &old_runner, "walrus in the old piece").await;
    fill_newest_piece(&app).await;
    let (new, new_runner) = app.create_run(&token, json!({"agent": "a"})).await;
    log(&app, &new, &new_runner, "walrus in the new piece").await;

    // While a pass runs: the older piece is the pass's to merge; the newest
    // piece and the runs' index, which ingest writes to, merge by themselves.
    prune::set_automerge(&app.db, false).await.unwrap();
    assert_eq!(
        prune::text_indexes(&app.db.read).await.unwrap(),
        vec!["event_text_1".to_string()]
    );
    assert_eq!(automerge(&app, "runs_fts").await, 4);
    assert_eq!(automerge(&app, "event_text_1").await, 0);
    assert_eq!(automerge(&app, "event_text_2").await, 4);
    assert!(prune::automerge_off(&app.db.read).await.unwrap());

    // After it, every index merges by itself again.
    prune::set_automerge(&app.db, true).await.unwrap();
    for table in ["event_text_1", "event_text_2"] {
        assert_eq!(automerge(&app, table).await, 4, "{table}");
    }
    assert!(!prune::automerge_off(&app.db.read).await.unwrap());
}

/// Segments of the runs' text index (each has its own entries in `runs_fts_idx`).
async fn runs_segments(app: &TestApp) -> i64 {
    scalar(app, "SELECT count(DISTINCT segid) FROM runs_fts_idx").await
}

#[tokio::test]
async fn a_deleted_run_leaves_its_words_unfindable_and_the_runs_index_nothing_to_merge() {
    if sqlite_only() {
        return;
    }
    let app = spawn_app().await;
    let token = app.owner_token().await;
    // FTS5's own merging off, so that only what deletions write shows.
    app.execute(
        "INSERT INTO runs_fts (runs_fts, rank) VALUES ('automerge', 0)",
        &[],
    )
    .await;
    let mut runs = Vec::new();
    for company in ["Quokka", "Quokka", "Numbat"] {
        let (id, runner) = app
            .create_run(
                &token,
                json!({"agent": "a", "input": {"company_name": company}}),
            )
            .await;
        runs.push((id, runner));
    }
    let before = runs_segments(&app).await;
    assert_eq!(before, 3, "one segment per run created");

    for (id, _) in &runs[..2] {
        let (status, body) = app
            .call(Method::DELETE, &format!("/api/runs/{id}"), &token, None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // A deletion marks the entries where they are: no segment of delete markers.
    assert_eq!(runs_segments(&app).await, before);
    assert!(ids(&list(&app, &token, "q=quokka").await).is_empty());
    assert_eq!(
        ids(&list(&app, &token, "q=numbat").await),
        vec![runs[2].0.clone()]
    );

    // A changed error message replaces the run's entries: the new words find it,
    // and nothing else does.
    let (id, runner) = &runs[2];
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/runner/runs/{id}/status"),
            runner,
            Some(json!({"status": "failed", "error": {"message": "wallaby exploded"}})),
        )
        .await;
    assert!(status < 300, "{status} {body}");
    assert_eq!(
        ids(&list(&app, &token, "q=wallaby").await),
        vec![id.clone()]
    );
    assert_eq!(ids(&list(&app, &token, "q=numbat").await), vec![id.clone()]);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM runs_fts WHERE runs_fts MATCH 'numbat'"
        )
        .await,
        1,
        "the run's old entries are gone, its new ones there"
    );
}
