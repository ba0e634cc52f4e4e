//! What the run page shows: the run, its steps, and its artifacts with previews.

use super::{Artifact, EventPage, Run, Step};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    pub run: Run,
    pub campaign_name: Option<String>,
    pub steps: Vec<Step>,
    pub artifacts: Vec<ArtifactView>,
    /// The log's first page under the page's filter, so that the server-rendered
    /// page already shows it: a failed run's opens at its first error.
    pub events: EventPage,
    /// The first error the log opened at (a failed run, no filter).
    pub opened_at_error: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactView {
    pub artifact: Artifact,
    /// Where the bytes can be fetched (or opened), if anywhere.
    pub content_url: Option<String>,
    pub preview: Preview,
}

/// How an artifact is shown inline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Preview {
    None,
    Image,
    Text {
        text: String,
    },
    Json {
        text: String,
    },
    /// Markdown rendered on the server with raw HTML escaped.
    Markdown {
        html: String,
    },
    /// Only ever shown inside a sandboxed frame.
    Html,
}
