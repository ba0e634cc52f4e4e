//! Agents: named kinds of work, created on first use or registered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Where new runs are pushed; shown to owners only.
    pub dispatch_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// The agent as a caller with `role` may see it: the dispatch URL (where jobs
    /// are pushed, often an internal address) is for owners only.
    pub fn as_seen_by(mut self, role: crate::Role) -> Agent {
        if !role.allows(crate::Role::Owner) {
            self.dispatch_url = None;
        }
        self
    }
}
