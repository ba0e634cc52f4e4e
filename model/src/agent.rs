//! Agents: named kinds of work, created on first use or registered, with the
//! limits that keep their runs from staying stuck.

use crate::AppError;
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
    #[serde(flatten)]
    pub limits: AgentLimits,
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

/// What the sweeper enforces on an agent's runs; `None` turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentLimits {
    /// A running run with no runner callback for this long fails as `stalled`.
    pub heartbeat_timeout_secs: Option<i64>,
    /// A run running longer than this fails as `timed_out`.
    pub max_runtime_secs: Option<i64>,
    /// A run not started this long after its creation fails as `not_started`.
    pub queue_timeout_secs: Option<i64>,
    /// A run that ends `failed` (stalled and timed out included) is retried until
    /// it has had this many attempts.
    pub max_attempts: Option<i64>,
    /// A claimed run whose runner neither starts it nor heartbeats for this long
    /// goes back to the queue.
    pub lease_secs: Option<i64>,
}

/// One limit: its API name, its dashboard form field, what people call it, and
/// the largest value it takes (the smallest is 1).
pub struct AgentLimit {
    pub field: &'static str,
    pub form_name: &'static str,
    pub label: &'static str,
    pub max: i64,
    /// Whether the value is seconds (else a count).
    pub seconds: bool,
}

const DAY_SECS: i64 = 86_400;

impl AgentLimits {
    /// A new agent's limits: silent runs stall after 10 minutes, leases last a minute.
    pub const DEFAULT: AgentLimits = AgentLimits {
        heartbeat_timeout_secs: Some(600),
        max_runtime_secs: None,
        queue_timeout_secs: None,
        max_attempts: None,
        lease_secs: Some(60),
    };

    /// Every limit in display order, with its bounds.
    pub const ALL: [AgentLimit; 5] = [
        AgentLimit {
            field: "heartbeatTimeoutSecs",
            form_name: "heartbeat_timeout_secs",
            label: "Heartbeat timeout",
            max: 7 * DAY_SECS,
            seconds: true,
        },
        AgentLimit {
            field: "maxRuntimeSecs",
            form_name: "max_runtime_secs",
            label: "Maximum run time",
            max: 30 * DAY_SECS,
            seconds: true,
        },
        AgentLimit {
            field: "queueTimeoutSecs",
            form_name: "queue_timeout_secs",
            label: "Queue timeout",
            max: 30 * DAY_SECS,
            seconds: true,
        },
        AgentLimit {
            field: "maxAttempts",
            form_name: "max_attempts",
            label: "Maximum attempts",
            max: 100,
            seconds: false,
        },
        AgentLimit {
            field: "leaseSecs",
            form_name: "lease_secs",
            label: "Claim lease",
            max: DAY_SECS,
            seconds: true,
        },
    ];

    /// The value of the limit named `field` (an entry of [`AgentLimits::ALL`]).
    pub fn get(&self, field: &str) -> Option<i64> {
        match field {
            "heartbeatTimeoutSecs" => self.heartbeat_timeout_secs,
            "maxRuntimeSecs" => self.max_runtime_secs,
            "queueTimeoutSecs" => self.queue_timeout_secs,
            "maxAttempts" => self.max_attempts,
            "leaseSecs" => self.lease_secs,
            _ => None,
        }
    }

    /// Sets the limit named `field`; false for an unknown name.
    pub fn set(&mut self, field: &str, value: Option<i64>) -> bool {
        let slot = match field {
            "heartbeatTimeoutSecs" => &mut self.heartbeat_timeout_secs,
            "maxRuntimeSecs" => &mut self.max_runtime_secs,
            "queueTimeoutSecs" => &mut self.queue_timeout_secs,
            "maxAttempts" => &mut self.max_attempts,
            "leaseSecs" => &mut self.lease_secs,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// The one bounds rule: every limit that is on is a whole number from 1 to its
    /// maximum; the error names the field.
    pub fn validate(&self) -> Result<(), AppError> {
        for limit in AgentLimits::ALL {
            if let Some(value) = self.get(limit.field) {
                if !(1..=limit.max).contains(&value) {
                    return Err(AppError::invalid(
                        limit.field,
                        format!(
                            "{} must be a whole number from 1 to {}, or null for no limit",
                            limit.field, limit.max
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_whole_numbers_from_one_to_their_maximum() {
        let mut limits = AgentLimits::DEFAULT;
        assert!(limits.validate().is_ok());
        for limit in AgentLimits::ALL {
            for bad in [0, -1, limit.max + 1] {
                let mut changed = limits;
                assert!(changed.set(limit.field, Some(bad)));
                let error = changed.validate().unwrap_err();
                assert_eq!(error.field(), Some(limit.field), "{bad}");
            }
            assert!(limits.set(limit.field, Some(limit.max)));
            assert!(limits.validate().is_ok());
            assert!(limits.set(limit.field, None));
            assert_eq!(limits.get(limit.field), None);
        }
        assert!(!limits.set("nope", Some(1)));
    }
}
