//! What an artifact is for showing: its kind (from content type, else file
//! name), where its bytes are served, and its text when small enough to show.
//! The run page's previews and run comparison's side-by-side and text diffs
//! decide alike because both ask here.

use crate::storage::Store;
use futures::StreamExt;
use model::Artifact;
use uuid::Uuid;

/// Largest text shown inline (or diffed); bigger files are offered for download only.
pub const MAX_PREVIEW_BYTES: i64 = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    Image,
    Html,
    Markdown,
    Json,
    Text,
    Other,
}

impl ArtifactKind {
    /// Text a person reads as such (markdown, JSON, plain text).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            ArtifactKind::Markdown | ArtifactKind::Json | ArtifactKind::Text
        )
    }
}

pub fn kind_of(artifact: &Artifact) -> ArtifactKind {
    let content_type = artifact
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = artifact.name.as_deref().unwrap_or("").to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    if content_type.starts_with("image/")
        || matches!(extension, "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg")
    {
        ArtifactKind::Image
    } else if content_type.starts_with("text/html") || matches!(extension, "html" | "htm") {
        ArtifactKind::Html
    } else if content_type.starts_with("text/markdown") || matches!(extension, "md" | "markdown") {
        ArtifactKind::Markdown
    } else if content_type.contains("json") || extension == "json" {
        ArtifactKind::Json
    } else if content_type.starts_with("text/")
        || matches!(extension, "txt" | "log" | "csv")
        || (artifact.inline_text.is_some() && content_type.is_empty())
    {
        ArtifactKind::Text
    } else {
        ArtifactKind::Other
    }
}

/// Where the bytes can be fetched: Runboard's content route for its own bytes,
/// else the link the runner reported, if any.
pub fn content_url(run_id: Uuid, artifact: &Artifact) -> Option<String> {
    if artifact.has_own_content() {
        Some(format!(
            "/api/runs/{run_id}/artifacts/{}/content",
            artifact.id
        ))
    } else {
        artifact.url.clone()
    }
}

/// The artifact's text, when it is small enough to show: inline, or read from the store.
pub async fn small_text(store: &Store, artifact: &Artifact) -> Option<String> {
    if let Some(text) = &artifact.inline_text {
        return Some(text.clone());
    }
    let key = artifact
        .storage_key
        .as_deref()
        .filter(|_| artifact.stored)?;
    if artifact.size_bytes.unwrap_or(i64::MAX) > MAX_PREVIEW_BYTES {
        return None;
    }
    let mut stream = store.open(key).await.ok()?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.ok()?);
        if bytes.len() as i64 > MAX_PREVIEW_BYTES {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// JSON text pretty-printed (keys sorted), so that layout alone is no difference;
/// text that is not JSON as it is.
pub fn pretty_json(text: String) -> String {
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or(text)
}
