//! Types shared by the server, the browser and the JSON API: one name per concept.
//! Builds for wasm with serde alone; the server's derives and conversions are
//! features (`utoipa` for the OpenAPI schemas, `sqlx` for database errors,
//! `server-fn` for the server functions' error encoding).

mod error;

mod agent;
mod alert;
mod artifact;
mod bulk;
mod campaign;
mod change;
mod columns;
mod compare;
mod detail;
mod event;
mod facet;
mod health;
mod pk;
pub mod query;
mod retention;
mod run;
mod step;
mod tag;
mod team;
mod time;
mod token;
mod url;
mod user;
mod view;

pub use agent::{Agent, AgentLimit, AgentLimits};
pub use alert::{
    is_email, validate_rule, AlertChannel, AlertCondition, AlertConditionType, AlertFiring,
    AlertRule, AlertRuleChange, AlertScope, AlertState, FiringChannel, FiringKind, ValidRule,
    DEFAULT_WINDOW_MINS, MAX_ALERT_CHANNELS, MAX_ALERT_RULES, MAX_WINDOW_MINS,
};
pub use artifact::Artifact;
pub use bulk::{BulkAction, BulkJob, BulkJobStatus, BulkPreview};
pub use campaign::{Campaign, CampaignRuns, CampaignStatus};
pub use change::{Change, ChangeData, ChangeKind, DeletedRun, EventsAppended, Resync};
pub use columns::{
    cell_text, input_field, input_subset, Columns, ProjectedRow, MAX_COLUMNS, RUN_ROW_FIELDS,
};
pub use compare::{
    compare_errors, compare_steps, diff_inputs, first_difference, format_delta_ms,
    ArtifactComparison, ComparedArtifact, ComparedRun, ComparedStep, ComparisonView, DiffLine,
    DiffOp, Difference, ErrorComparison, FieldDiff, LogComparison, LogDivergence, RunChoice,
    RunComparison, StepComparison, TextDiff, MAX_COMPARED_FIELDS,
};
pub use detail::{ArtifactView, Preview, RunDetail};
pub use error::{AppError, ConflictCode};
pub use event::{type_matches, Event, EventLevel, EventPage, LogFilter};
pub use facet::{Facet, FacetedQuery};
pub use health::{
    exact_percentile, histogram_bound, histogram_percentile, window_hours, AgentDay, AgentStats,
    FailingStep, Percentiles, StatsBar, StatsBucket, StatsWindow, HOUR_MS,
};
/// A run's (or campaign's) id for people: its last eight hex digits. Ids are
/// UUIDv7, whose leading digits are the creation time and so shared by every
/// run made in the same minute; the trailing ones are random.
pub fn short_id(id: impl std::fmt::Display) -> String {
    let digits: Vec<char> = id.to_string().chars().filter(|c| *c != '-').collect();
    digits[digits.len().saturating_sub(8)..].iter().collect()
}

pub use pk::{AccountPk, CampaignPk, RunPk, UserPk};
pub use query::{format_duration_amount, parse_ago, parse_duration, Query, QueryError};
pub use retention::{
    format_bytes, format_count, parse_days_field, AgentArtifacts, AgentRetention, PruneCounts,
    PrunePreview, PruneReport, RetentionDays, RetentionPolicy, StorageReport, TableRows, DAY_MS,
    MAX_RETENTION_DAYS, PRUNED_EVENT, RETENTION_FIELDS,
};
pub use run::{
    ChartBar, ChartSpan, Run, RunBrief, RunChart, RunError, RunFilter, RunListNews, RunListView,
    RunPage, RunRow, RunRowError, RunSort, RunStatus, WebhookStatus, CHART_DAYS, DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
};
pub use step::{Step, StepStatus};
pub use tag::{validate_tag, validate_tags, MAX_TAGS, MAX_TAG_CHARS};
pub use team::{AddedMember, AuditAction, AuditEntry, AuditPage, Member, Via};
pub use time::{
    format_age, format_duration_ms, format_secs, format_timestamp, format_timestamp_at,
};
pub use token::ApiToken;
pub use url::{is_http_url, link_target, validate_http_url, MAX_URL_LEN};
pub use user::{CurrentUser, Role};
pub use view::{
    query_text, query_value, validate_display_name, validate_view_columns, validate_view_name,
    validate_view_query, SavedView, MAX_VIEWS_PER_USER, MAX_VIEW_NAME_CHARS,
};

/// A public id taken from a URL. Anything that is not a UUID names nothing, so it
/// is `NotFound`, exactly like an unknown id.
pub fn parse_public_id(id: &str) -> Result<uuid::Uuid, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}
