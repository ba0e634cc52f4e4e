//! The runner API of one run: how the agent executing it reports back.

use crate::{send, Client, Error};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A file to store as an artifact of the run (`multipart/form-data`).
pub struct Upload<'a> {
    /// The step that made it.
    pub step_id: &'a str,
    /// `screenshot`, `report`, `data`…
    pub artifact_type: &'a str,
    /// The file name.
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: Vec<u8>,
    pub metadata: &'a Value,
}

/// The callbacks of one run (`…/api/runner/runs/<id>/…`), with its runner token.
/// Each call answers the server's JSON body on success (any 2xx) and
/// [`Error::Status`] otherwise: `409` with the code `run_finished` once the run has
/// ended (cancelled by its owner, say), `404` once it was deleted.
#[derive(Clone, Debug)]
pub struct Runner {
    client: Client,
    callback: String,
    token: String,
}

impl Runner {
    pub(crate) fn new(client: Client, callback: String, token: &str) -> Runner {
        Runner {
            client,
            callback,
            token: token.to_string(),
        }
    }

    /// The run's callback URL, `…/api/runner/runs/<id>`.
    pub fn callback(&self) -> &str {
        &self.callback
    }

    async fn post(&self, request: reqwest::RequestBuilder) -> Result<Value, Error> {
        let (status, body) = send(request.bearer_auth(&self.token)).await?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(Error::Status { status, body })
        }
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let request = self
            .client
            .http
            .post(format!("{}/{path}", self.callback))
            .json(body);
        self.post(request).await
    }

    /// `POST …/status`: the run's status, progress and error
    /// (`{"status": "running", "progress": 0.4}`).
    pub async fn status(&self, body: &Value) -> Result<Value, Error> {
        self.post_json("status", body).await
    }

    /// `POST …/steps`: one attempt of a step, created or updated by `stepId` and `attempt`.
    pub async fn step(&self, body: &Value) -> Result<Value, Error> {
        self.post_json("steps", body).await
    }

    /// `POST …/events`: a batch of events (`{"events": [...]}`); events with the
    /// runner's own `id` are stored once however often they are sent.
    pub async fn events(&self, body: &Value) -> Result<Value, Error> {
        self.post_json("events", body).await
    }

    /// `POST …/artifacts` as JSON: an artifact stored elsewhere (`url`) or inline
    /// (`inlineText`). The answer names it in `artifactId`.
    pub async fn register_artifact(&self, body: &Value) -> Result<Value, Error> {
        self.post_json("artifacts", body).await
    }

    /// `POST …/artifacts` as a multipart upload. The answer names it in `artifactId`.
    pub async fn upload_artifact(&self, upload: Upload<'_>) -> Result<Value, Error> {
        let part = Part::bytes(upload.bytes)
            .file_name(upload.name.to_string())
            .mime_str(upload.content_type)?;
        let form = Form::new()
            .text("artifactType", upload.artifact_type.to_string())
            .text("stepId", upload.step_id.to_string())
            .text("metadata", upload.metadata.to_string())
            .part("file", part);
        let request = self
            .client
            .http
            .post(format!("{}/artifacts", self.callback))
            .multipart(form);
        self.post(request).await
    }
}
