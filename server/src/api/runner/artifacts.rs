//! `POST /api/runner/runs/{run_id}/artifacts`: a JSON registration of an artifact
//! stored elsewhere, or a multipart upload streamed into Runboard's store.

use super::{authorize_open, MAX_SMALL_BODY};
use crate::http::{ApiJson, ApiResult, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use model::{AppError, Artifact};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::db::artifacts::{validate_storage_key, NewArtifact};
use store::db::runner::add_artifact;
use store::db::runs::{self, StoredRun};
use store::storage::Store;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

/// The original protocol's `{"ok": true, "artifactId": …}`, with the stored artifact.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactAck {
    pub ok: bool,
    pub artifact_id: Uuid,
    pub data: Artifact,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArtifactBody {
    artifact_type: String,
    storage_key: Option<String>,
    name: Option<String>,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    #[schema(max_length = 2048, pattern = r"^https?://[^\s\x00-\x1f\x7f-\x9f]*$")]
    url: Option<String>,
    inline_text: Option<String>,
    step_id: Option<String>,
    metadata: Option<Value>,
}

const MAX_INLINE_TEXT: usize = 64 * 1024;

#[utoipa::path(post, path = "/api/runner/runs/{run_id}/artifacts", tag = "runner", params(("run_id" = Uuid, Path)),
    request_body(content = ArtifactBody, description = "JSON registration of an artifact stored elsewhere, or \
        `multipart/form-data` with `file` (stored by Runboard under a generated key), `artifactType`, and optional \
        `metadata` (JSON), `contentType`, `name`, `stepId`."),
    security(("runner_token" = [])),
    responses((status = 200, body = ArtifactAck), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 413, description = "Larger than RUNBOARD_MAX_UPLOAD", body = ErrorEnvelope)))]
async fn post_artifact(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    request: Request,
) -> ApiResult {
    let run = authorize_open(&state, request.headers(), &run_id).await?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    let artifact = if is_multipart {
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|rejection| AppError::invalid("body", rejection.body_text()))?;
        upload(&state, &run, multipart).await?
    } else {
        let body: ArtifactBody = ApiJson::read(request.into_body(), MAX_SMALL_BODY).await?;
        register(body)?
    };
    match add_artifact(&state.db, &run, &artifact).await {
        Ok(saved) => Ok(Json(ArtifactAck {
            ok: true,
            artifact_id: saved.id,
            data: saved,
        })
        .into_response()),
        Err(error) => {
            if artifact.stored {
                if let Some(key) = &artifact.storage_key {
                    let _ = state.store.delete(key).await;
                }
            }
            Err(error.into())
        }
    }
}

/// A JSON registration of an artifact stored elsewhere.
fn register(body: ArtifactBody) -> Result<NewArtifact, AppError> {
    if body.artifact_type.trim().is_empty() {
        return Err(AppError::invalid(
            "artifactType",
            "artifactType must not be empty",
        ));
    }
    if let Some(key) = &body.storage_key {
        validate_storage_key(key)?;
    }
    if let Some(url) = &body.url {
        runs::validate_http_url("url", url)?;
    }
    if body.storage_key.is_none() && body.url.is_none() && body.inline_text.is_none() {
        return Err(AppError::invalid(
            "storageKey",
            "give storageKey, url or inlineText",
        ));
    }
    if body
        .inline_text
        .as_ref()
        .is_some_and(|text| text.len() > MAX_INLINE_TEXT)
    {
        return Err(AppError::TooLarge(format!(
            "inlineText may be at most {MAX_INLINE_TEXT} bytes"
        )));
    }
    Ok(NewArtifact {
        id: None,
        step_id: body.step_id,
        name: body.name,
        artifact_type: body.artifact_type,
        content_type: body.content_type,
        size_bytes: body.size_bytes,
        sha256: body.sha256,
        storage_key: body.storage_key,
        stored: false,
        url: body.url,
        inline_text: body.inline_text,
        metadata: body.metadata,
    })
}

/// A multipart upload: `file` is streamed into Runboard's store under a generated
/// key; `artifactType`, `metadata`, `contentType`, `name`, `stepId` describe it.
async fn upload(
    state: &AppState,
    run: &StoredRun,
    mut multipart: Multipart,
) -> Result<NewArtifact, AppError> {
    let artifact_id = Uuid::now_v7();
    let key = Store::new_key(run.run.id, artifact_id);
    let mut artifact = NewArtifact {
        id: Some(artifact_id),
        ..NewArtifact::default()
    };
    let mut file: Option<(u64, String)> = None;
    let bad_part = |error: axum::extract::multipart::MultipartError| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge("the upload is too large".into())
        } else {
            AppError::invalid("body", error.body_text())
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_part)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if artifact.name.is_none() {
                artifact.name = field.file_name().map(str::to_string);
            }
            if artifact.content_type.is_none() {
                artifact.content_type = field.content_type().map(str::to_string);
            }
            let mut upload = state.store.begin_upload(&key).await?;
            loop {
                let chunk = match field.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(error) => {
                        upload.abort().await;
                        return Err(bad_part(error));
                    }
                };
                if upload.size() + chunk.len() as u64 > state.limits.max_upload_bytes {
                    upload.abort().await;
                    return Err(AppError::TooLarge(format!(
                        "uploads may be at most {} bytes",
                        state.limits.max_upload_bytes
                    )));
                }
                upload.write(&chunk).await?;
            }
            file = Some(upload.finish().await?);
            continue;
        }
        let text = field.text().await.map_err(bad_part)?;
        match name.as_str() {
            "artifactType" => artifact.artifact_type = text,
            "contentType" => artifact.content_type = Some(text),
            "name" => artifact.name = Some(text),
            "stepId" => artifact.step_id = Some(text),
            "metadata" => {
                artifact.metadata =
                    Some(serde_json::from_str(&text).map_err(|_| {
                        AppError::invalid("metadata", "metadata must be a JSON object")
                    })?)
            }
            // The key is Runboard's to choose; a client's key is kept as metadata only.
            "storageKey" => {
                validate_storage_key(&text)?;
                artifact.metadata.get_or_insert_with(|| json!({}))["clientStorageKey"] =
                    Value::from(text);
            }
            other => {
                return Err(AppError::invalid(
                    other,
                    format!("unknown form field `{other}`"),
                ));
            }
        }
    }
    let Some((size, sha256)) = file else {
        return Err(AppError::invalid(
            "file",
            "the multipart body has no `file` part",
        ));
    };
    if artifact.artifact_type.trim().is_empty() {
        let _ = state.store.delete(&key).await;
        return Err(AppError::invalid(
            "artifactType",
            "artifactType must not be empty",
        ));
    }
    artifact.size_bytes = Some(size as i64);
    artifact.sha256 = Some(sha256);
    artifact.storage_key = Some(key);
    artifact.stored = true;
    Ok(artifact)
}

pub(super) fn router(max_upload_bytes: u64) -> OpenApiRouter<AppState> {
    // Multipart bodies are limited while streaming; leave room for the form around the file.
    let upload_limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    OpenApiRouter::new().routes(routes!(post_artifact).layer(DefaultBodyLimit::max(upload_limit)))
}
