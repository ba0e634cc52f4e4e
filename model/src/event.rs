//! Events of a run, numbered in arrival order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    /// 1, 2, 3… per run, in the order Runboard received the events.
    pub seq: i64,
    pub event_type: String,
    pub message: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// A page of a run's events, in sequence order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page; `None` when this page is the last so far.
    pub next_after: Option<i64>,
}

/// What a run page's log shows: events of a type (and the types under it),
/// matching a search, received while one step attempt ran. Kept in the page's
/// address (`?type=…&q=…&step=…&attempt=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogFilter {
    pub event_type: String,
    pub q: String,
    /// A step id, and the attempt (the latest when `None`).
    pub step: Option<(String, Option<i64>)>,
}

impl LogFilter {
    /// The filter of a run page's query string (other parameters ignored).
    pub fn from_query(query: &str) -> LogFilter {
        let mut filter = LogFilter::default();
        let mut attempt = None;
        for (key, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            match key.as_ref() {
                "type" => filter.event_type = value.trim().to_string(),
                "q" => filter.q = value.trim().to_string(),
                "step" if !value.trim().is_empty() => {
                    filter.step = Some((value.trim().to_string(), None))
                }
                "attempt" => attempt = value.trim().parse::<i64>().ok().filter(|n| *n >= 1),
                _ => {}
            }
        }
        if let Some((_, slot)) = &mut filter.step {
            *slot = attempt;
        }
        filter
    }

    /// The query string of this filter (empty for none), for the page's address.
    pub fn to_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.event_type.is_empty() {
            query.append_pair("type", &self.event_type);
        }
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if let Some((step, attempt)) = &self.step {
            query.append_pair("step", step);
            if let Some(attempt) = attempt {
                query.append_pair("attempt", &attempt.to_string());
            }
        }
        query.finish()
    }

    pub fn is_empty(&self) -> bool {
        self == &LogFilter::default()
    }
}

/// How much an event matters to a reader, from its type: the log's level chips,
/// and where a failed run's log opens (its first error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventLevel {
    Info,
    Warning,
    Error,
    /// The notes the retention policy leaves where it removed events or artifacts.
    Pruned,
}

impl EventLevel {
    /// `error` for types that say error or fail, `warning` for warn, else `info`.
    pub fn of(event_type: &str) -> EventLevel {
        let lower = event_type.to_ascii_lowercase();
        if event_type == crate::PRUNED_EVENT {
            EventLevel::Pruned
        } else if lower.contains("error") || lower.contains("fail") {
            EventLevel::Error
        } else if lower.contains("warn") {
            EventLevel::Warning
        } else {
            EventLevel::Info
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "info",
            EventLevel::Warning => "warning",
            EventLevel::Error => "error",
            EventLevel::Pruned => "pruned",
        }
    }
}

/// Whether an event of `event_type` is one a filter by type `wanted` asks for:
/// the type itself or one under it (`agent` takes `agent.tool_use`).
pub fn type_matches(event_type: &str, wanted: &str) -> bool {
    event_type == wanted
        || event_type
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_from_the_event_type() {
        assert_eq!(EventLevel::of("error"), EventLevel::Error);
        assert_eq!(EventLevel::of("agent.failed"), EventLevel::Error);
        assert_eq!(EventLevel::of("Warning"), EventLevel::Warning);
        assert_eq!(EventLevel::of("agent.progress"), EventLevel::Info);
        assert_eq!(EventLevel::of(crate::PRUNED_EVENT), EventLevel::Pruned);
    }

    #[test]
    fn a_log_filter_round_trips_through_the_address() {
        let filter = LogFilter::from_query("?type=agent&q=time%20out&step=fetch&attempt=2&utm=x");
        assert_eq!(filter.event_type, "agent");
        assert_eq!(filter.q, "time out");
        assert_eq!(filter.step, Some(("fetch".to_string(), Some(2))));
        assert_eq!(LogFilter::from_query(&filter.to_query()), filter);
        assert_eq!(
            LogFilter::from_query("step=fetch&attempt=0").step,
            Some(("fetch".to_string(), None))
        );
        assert!(LogFilter::from_query("").is_empty());
        assert_eq!(LogFilter::default().to_query(), "");
    }

    #[test]
    fn a_type_filter_takes_the_types_under_it() {
        assert!(type_matches("agent", "agent"));
        assert!(type_matches("agent.tool_use", "agent"));
        assert!(!type_matches("agentic", "agent"));
        assert!(!type_matches("agent", "agent.tool_use"));
    }
}
