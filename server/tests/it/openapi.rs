//! The OpenAPI document is generated from the routers, so it lists every route.

use crate::helpers::*;

#[tokio::test]
async fn the_openapi_document_lists_every_api_route() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/auth/token", "post"),
        ("/api/account", "get"),
        ("/api/runs", "post"),
        ("/api/runs", "get"),
        ("/runs", "get"),
        ("/agents/run", "post"),
        ("/pipelines/{pipeline}/runs", "post"),
        ("/api/runs/{id}", "get"),
        ("/api/runs/{id}", "patch"),
        ("/api/runs/{id}", "delete"),
        ("/api/runs/{id}/status", "get"),
        ("/api/runs/{id}/steps", "get"),
        ("/api/runs/{id}/events", "get"),
        ("/api/runs/{id}/artifacts", "get"),
        ("/api/runs/{id}/artifacts/{artifact_id}/content", "get"),
        ("/api/runs/{id}/cancel", "post"),
        ("/api/runs/{id}/retry", "post"),
        ("/api/runs/{id}/pin", "post"),
        ("/api/runs/{id}/pin", "delete"),
        ("/api/runs/export", "get"),
        ("/api/runs/bulk", "post"),
        ("/api/bulk-jobs", "get"),
        ("/api/bulk-jobs/{id}", "get"),
        ("/api/bulk-jobs/{id}/cancel", "post"),
        ("/api/retention", "get"),
        ("/api/retention", "put"),
        ("/api/storage", "get"),
        ("/api/campaigns", "post"),
        ("/api/campaigns", "get"),
        ("/api/campaigns/{id}", "get"),
        ("/api/campaigns/{id}/runs", "get"),
        ("/campaigns/{id}/runs", "get"),
        ("/api/agents", "get"),
        ("/api/agents/{slug}", "put"),
        ("/api/tokens", "post"),
        ("/api/tokens", "get"),
        ("/api/tokens/{id}", "delete"),
        ("/api/runner/runs/{run_id}", "get"),
        ("/api/runner/runs/{run_id}/status", "post"),
        ("/api/runner/runs/{run_id}/events", "post"),
        ("/api/runner/runs/{run_id}/artifacts", "post"),
        ("/api/runner/runs/{run_id}/steps", "post"),
        ("/api/runner/claim", "post"),
        ("/api/alerts", "get"),
        ("/api/alerts", "post"),
        ("/api/alerts/{id}", "get"),
        ("/api/alerts/{id}", "patch"),
        ("/api/alerts/{id}", "delete"),
        ("/api/alerts/{id}/firings", "get"),
        ("/api/alerts/{id}/test", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Run",
        "RunStatus",
        "Step",
        "Event",
        "Artifact",
        "Campaign",
        "ErrorEnvelope",
        "RetentionPolicy",
        "AgentRetention",
        "StorageReport",
        "BulkJob",
        "BulkPreview",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    let list_params: Vec<&str> = document["paths"]["/api/runs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|param| param["name"].as_str().unwrap())
        .collect();
    assert!(
        list_params.contains(&"createdAfter") && list_params.contains(&"cursor"),
        "{list_params:?}"
    );
}

/// The live stream's `kinds` is documented as a list of the change kinds there
/// are, so a schema-valid value is always one the stream takes.
#[tokio::test]
async fn the_stream_documents_every_change_kind() {
    let app = spawn_app().await;
    let document: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let parameters = document["paths"]["/api/events/stream"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let kinds = parameters
        .iter()
        .find(|parameter| parameter["name"] == "kinds")
        .unwrap();
    let names: Vec<String> = model::ChangeKind::ALL
        .iter()
        .map(|kind| kind.as_str().replace('.', r"\."))
        .collect();
    let one = format!("({})", names.join("|"));
    assert_eq!(
        kinds["schema"]["pattern"],
        format!("^({one}(,{one})*)?$"),
        "{kinds}"
    );
}
