//! Artifacts: files and links a run produced.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub id: Uuid,
    pub step_id: Option<String>,
    pub name: Option<String>,
    pub artifact_type: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    /// True when Runboard holds the bytes (uploaded), so `/content` serves them.
    pub stored: bool,
    pub url: Option<String>,
    pub inline_text: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl Artifact {
    /// Runboard holds the bytes (uploaded or inline), so `/content` serves them;
    /// otherwise the artifact is at most a link the runner reported.
    pub fn has_own_content(&self) -> bool {
        self.stored || self.inline_text.is_some()
    }

    /// Its size as people read it: the reported size, an inline text's own, or
    /// `link` for a runner's link of unknown size.
    pub fn size_text(&self) -> String {
        match (self.size_bytes, &self.inline_text) {
            (Some(size), _) => crate::format_bytes(size),
            (None, Some(text)) => crate::format_bytes(text.len() as i64),
            (None, None) if self.url.is_some() => "link".to_string(),
            (None, None) => "size unknown".to_string(),
        }
    }
}
