//! Runs: the status lifecycle, the row the runs list shows, and the list filter.

use crate::{AppError, Query};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// Where a run is in its lifecycle: `requested → queued → running → completed | failed | cancelled`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum RunStatus {
    Requested,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: &'static [RunStatus] = <RunStatus as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A terminal status never changes again; a retry is a new run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    fn stage(self) -> u8 {
        match self {
            RunStatus::Requested => 0,
            RunStatus::Queued => 1,
            RunStatus::Running => 2,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled => 3,
        }
    }

    /// The one rule for status changes: never out of a terminal status, never
    /// backwards; skipping ahead (a runner going straight from requested to running,
    /// a queued run being cancelled) is allowed. Repeating the current status is a
    /// no-op and allowed, so a runner may resend `running` with new progress.
    pub fn can_transition_to(self, next: RunStatus) -> bool {
        if self == next {
            return !self.is_terminal();
        }
        !self.is_terminal() && next.stage() > self.stage()
    }
}

impl FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status `{s}`; expected one of requested, queued, running, completed, failed, cancelled"
                )
            })
    }
}

/// Whether a run's final state has been delivered to its webhook.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum WebhookStatus {
    None,
    Pending,
    Delivered,
    Failed,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A stored value; anything unknown reads as `none`.
    pub fn parse(value: &str) -> WebhookStatus {
        value.parse().unwrap_or(WebhookStatus::None)
    }
}

/// Why a run failed: a machine code, a message for people, and any details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunError {
    pub code: Option<String>,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

/// A run with everything stored about it (its steps, events and artifacts aside).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: Uuid,
    pub agent: String,
    pub campaign_id: Option<Uuid>,
    pub status: RunStatus,
    pub progress: f64,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub input: serde_json::Value,
    pub context: serde_json::Value,
    pub error: Option<RunError>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub duration_ms: Option<i64>,
    pub webhook_url: Option<String>,
    pub webhook_status: WebhookStatus,
    pub retry_of: Option<Uuid>,
    pub attempt: i64,
    /// The runner's last callback (status, events, steps, artifacts or heartbeat).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// A claimed run goes back to the queue at this time unless its runner starts
    /// it or heartbeats first.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When this failed run will be retried automatically (its agent's `maxAttempts`).
    pub retry_at: Option<DateTime<Utc>>,
    /// A pinned run is never pruned by the retention policy, nor its events or artifacts.
    #[serde(default)]
    pub pinned: bool,
    /// Labels set at creation or by `PATCH` (at most 20 of at most 64 characters).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A run as the runs list (and the export, and a saved view) shows it: the list
/// contract's `{id, agent, status, input, createdAt, webhookStatus}` and what a
/// row of the dashboard needs. Its fields are the columns `fields=` chooses from
/// ([`crate::Columns`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunRow {
    pub id: Uuid,
    pub agent: String,
    /// The campaign's name.
    pub campaign: Option<String>,
    pub status: RunStatus,
    pub progress: f64,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub input: serde_json::Value,
    pub webhook_status: WebhookStatus,
    pub tags: Vec<String>,
    /// Why the run failed: its code and message (details are on the run).
    pub error: Option<RunRowError>,
    /// The runner's last callback.
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl RunRow {
    /// This row after its run changed as `brief` says: how an open list follows
    /// a run in place (what only a list item knows, its campaign's name and its
    /// input cut to the shown columns, stays).
    pub fn follow(&mut self, brief: &RunBrief) {
        self.status = brief.status;
        self.progress = brief.progress;
        self.initiator.clone_from(&brief.initiator);
        self.summary.clone_from(&brief.summary);
        self.started_at = brief.started_at;
        self.completed_at = brief.completed_at;
        self.duration_ms = brief.duration_ms;
        self.webhook_status = brief.webhook_status;
        self.tags.clone_from(&brief.tags);
        self.error.clone_from(&brief.error);
        self.last_seen_at = brief.last_seen_at;
    }
}

/// A run as a list follows it live (the `run.brief` change): what a row shows
/// that can change, without the input, context and error details that make a
/// whole run several times larger. Absent fields are empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunBrief {
    pub id: Uuid,
    pub agent: String,
    pub status: RunStatus,
    pub progress: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    pub webhook_status: WebhookStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunRowError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl From<&Run> for RunBrief {
    fn from(run: &Run) -> RunBrief {
        RunBrief {
            id: run.id,
            agent: run.agent.clone(),
            status: run.status,
            progress: run.progress,
            initiator: run.initiator.clone(),
            summary: run.summary.clone(),
            created_at: run.created_at,
            started_at: run.started_at,
            completed_at: run.completed_at,
            duration_ms: run.duration_ms,
            webhook_status: run.webhook_status,
            tags: run.tags.clone(),
            error: run.error.as_ref().map(|error| RunRowError {
                code: error.code.clone(),
                message: error.message.clone(),
            }),
            last_seen_at: run.last_seen_at,
        }
    }
}

/// A list item's error: the code and the message, without the details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunRowError {
    pub code: Option<String>,
    pub message: String,
}

/// The runs list's parameters besides `input.<path>`, as [`RunFilter::from_query`] reads them.
pub const LIST_PARAMS: [&str; 17] = [
    "status",
    "agent",
    "pipeline_id",
    "campaign",
    "campaignId",
    "initiator",
    "createdAfter",
    "createdBefore",
    "minDurationMs",
    "maxDurationMs",
    "q",
    "ci",
    "limit",
    "offset",
    "cursor",
    "fields",
    "sort",
];

/// The order of a runs list (`sort=`): by creation or by duration, either way.
/// Each is read in order from an index that every filter shares (creation) or
/// from the duration index; a duration order lists the runs that have one
/// (finished runs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum RunSort {
    /// `-createdAt`, the default.
    #[default]
    #[serde(rename = "-createdAt")]
    NewestFirst,
    #[serde(rename = "createdAt")]
    OldestFirst,
    #[serde(rename = "-durationMs")]
    LongestFirst,
    #[serde(rename = "durationMs")]
    ShortestFirst,
}

impl RunSort {
    pub const ALL: [RunSort; 4] = [
        RunSort::NewestFirst,
        RunSort::OldestFirst,
        RunSort::LongestFirst,
        RunSort::ShortestFirst,
    ];

    /// The `sort=` value.
    pub fn as_param(self) -> &'static str {
        match self {
            RunSort::NewestFirst => "-createdAt",
            RunSort::OldestFirst => "createdAt",
            RunSort::LongestFirst => "-durationMs",
            RunSort::ShortestFirst => "durationMs",
        }
    }

    pub fn parse(value: &str) -> Result<RunSort, AppError> {
        RunSort::ALL
            .into_iter()
            .find(|sort| sort.as_param() == value)
            .ok_or_else(|| {
                AppError::invalid(
                    "sort",
                    format!(
                        "sort must be one of -createdAt (newest first, the default), createdAt, -durationMs or durationMs, got {value}"
                    ),
                )
            })
    }

    /// Ordered by duration (rather than by creation).
    pub fn by_duration(self) -> bool {
        matches!(self, RunSort::LongestFirst | RunSort::ShortestFirst)
    }

    /// Largest value first.
    pub fn descending(self) -> bool {
        matches!(self, RunSort::NewestFirst | RunSort::LongestFirst)
    }
}

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;

/// Which runs to list. Every field is optional and the fields are AND-combined.
/// The JSON API and the dashboard read it from the same query string
/// ([`RunFilter::from_query_string`]), so a dashboard URL and an API URL filter alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunFilter {
    /// Any of these statuses; empty means every status.
    #[serde(default)]
    pub statuses: Vec<RunStatus>,
    pub agent: Option<String>,
    pub campaign: Option<Uuid>,
    pub initiator: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub min_duration_ms: Option<i64>,
    pub max_duration_ms: Option<i64>,
    /// The runs query (docs/query.md) as written: qualifiers, full text over
    /// summary, input, error and event messages, `-`/`NOT`, `OR`, parentheses.
    /// Kept as text, and parsed where it is used ([`RunFilter::query`]): the text
    /// is what URLs, saved views and server functions carry, parsing is cheap and
    /// bounded, and the one stored form cannot disagree with a second one.
    pub q: Option<String>,
    /// Equality on input fields: `(dotted.path, value)`.
    #[serde(default)]
    pub input: Vec<(String, String)>,
    /// Compare input values case-insensitively.
    #[serde(default)]
    pub input_ci: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Keyset position from a previous page's `nextCursor`.
    pub cursor: Option<String>,
    /// The columns of each list item (`fields=id,status,input.company.name`),
    /// checked by [`crate::Columns`]; `None` for every field. Not a filter: the
    /// list's readers take it off before querying.
    pub fields: Option<String>,
    /// The page's order.
    #[serde(default)]
    pub sort: RunSort,
}

impl RunFilter {
    /// Reads a filter from a URL's query string (without its `?`), percent-decoded:
    /// the one parser of the JSON API's run lists and the dashboard's.
    pub fn from_query_string(query: &str) -> Result<RunFilter, AppError> {
        RunFilter::from_pairs(form_urlencoded::parse(query.as_bytes()).into_owned())
    }

    /// A dashboard page's filter from its address: like [`RunFilter::from_query_string`],
    /// but parameters the runs list does not know (`utm_source` on a link shared in
    /// chat, say) are ignored rather than refused. A page's address is a person's;
    /// the JSON API, a program's, keeps refusing them.
    pub fn from_page_query_string(query: &str) -> Result<RunFilter, AppError> {
        RunFilter::from_pairs(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .filter(|(key, _)| RunFilter::is_list_param(key)),
        )
    }

    /// [`RunFilter::from_query`] over decoded, owned pairs.
    fn from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Result<RunFilter, AppError> {
        let pairs: Vec<(String, String)> = pairs.collect();
        RunFilter::from_query(
            pairs
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
    }

    /// A parameter the runs list reads: one of [`LIST_PARAMS`] or an input field.
    pub fn is_list_param(key: &str) -> bool {
        LIST_PARAMS.contains(&key) || key.starts_with("input.") || key.starts_with("initial_input.")
    }

    /// Reads a filter from query parameters. Unknown parameters are refused, so a
    /// typo never silently widens the result.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RunFilter, AppError> {
        let mut filter = RunFilter::default();
        for (key, raw) in pairs {
            let value = raw.trim();
            if let Some(path) = key
                .strip_prefix("input.")
                .or_else(|| key.strip_prefix("initial_input."))
            {
                validate_input_path(key, path)?;
                filter.input.push((path.to_string(), value.to_string()));
                continue;
            }
            // An empty value is no filter; an unknown name is refused all the same.
            if value.is_empty() && LIST_PARAMS.contains(&key) {
                continue;
            }
            match key {
                "status" => filter.statuses.extend(
                    RunFilter::parse_statuses(value)
                        .map_err(|message| AppError::invalid("status", message))?,
                ),
                "agent" | "pipeline_id" => filter.agent = Some(value.to_string()),
                "campaign" | "campaignId" => {
                    filter.campaign = Some(value.parse().map_err(|_| {
                        AppError::invalid(key, format!("{key} must be a campaign id (a UUID)"))
                    })?)
                }
                "initiator" => filter.initiator = Some(value.to_string()),
                "createdAfter" => filter.created_after = Some(parse_time(key, value)?),
                "createdBefore" => filter.created_before = Some(parse_time(key, value)?),
                "minDurationMs" => filter.min_duration_ms = Some(parse_duration_param(key, value)?),
                "maxDurationMs" => filter.max_duration_ms = Some(parse_duration_param(key, value)?),
                "q" => {
                    // Checked here, so a query that does not parse is a 400 naming
                    // `q` and the position; kept as written (positions are into it).
                    RunFilter::parse_query(raw)?;
                    filter.q = Some(raw.to_string());
                }
                "ci" => filter.input_ci = parse_bool(key, value)?,
                "limit" => filter.limit = Some(parse_int(key, value)?),
                "offset" => filter.offset = Some(parse_int(key, value)?),
                "cursor" => filter.cursor = Some(value.to_string()),
                "fields" => filter.fields = Some(crate::Columns::parse(key, value)?.to_param()),
                "sort" => filter.sort = RunSort::parse(value)?,
                other => {
                    return Err(AppError::invalid(
                        other,
                        format!("unknown filter `{other}`; see docs/api.md for the run filters"),
                    ))
                }
            }
        }
        filter.page()?;
        filter.check_ranges()?;
        Ok(filter)
    }

    /// A range whose start is not before its end matches nothing: say why
    /// rather than answer "no runs".
    fn check_ranges(&self) -> Result<(), AppError> {
        self.check_ranges_named(
            [
                "createdAfter",
                "createdBefore",
                "minDurationMs",
                "maxDurationMs",
            ],
            None,
        )
    }

    /// [`RunFilter::check_ranges`] for a filter whose ranges came (at least in
    /// part) from its query `q`: the error names `q` and the query's terms.
    pub fn check_query_ranges(&self) -> Result<(), AppError> {
        self.check_ranges_named(
            ["created:>=", "created:<", "duration:>=", "duration:<="],
            Some("q"),
        )
    }

    /// The range check, the bounds named `names` (after, before, min, max) and
    /// the error's field `field` (the later bound's name when `None`).
    fn check_ranges_named(&self, names: [&str; 4], field: Option<&str>) -> Result<(), AppError> {
        let [after_name, before_name, min_name, max_name] = names;
        if let (Some(after), Some(before)) = (self.created_after, self.created_before) {
            if after >= before {
                return Err(AppError::invalid(
                    field.unwrap_or(before_name),
                    format!(
                        "{before_name} ({}) must be later than {after_name} ({}): no run can be created in between",
                        crate::format_timestamp(before),
                        crate::format_timestamp(after)
                    ),
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min_duration_ms, self.max_duration_ms) {
            if min > max {
                return Err(AppError::invalid(
                    field.unwrap_or(max_name),
                    format!(
                        "{max_name} ({}) must not be less than {min_name} ({}): no run lasts that long and that short",
                        crate::format_duration_amount(max),
                        crate::format_duration_amount(min)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The parsed query of `q`, if it has one that is not blank.
    pub fn query(&self) -> Result<Option<Query>, AppError> {
        match &self.q {
            Some(text) => RunFilter::parse_query(text),
            None => Ok(None),
        }
    }

    fn parse_query(text: &str) -> Result<Option<Query>, AppError> {
        Query::parse(text).map_err(|error| AppError::query("q", error))
    }

    /// Parses a comma list of statuses as used in URLs (`?status=failed,cancelled`).
    pub fn parse_statuses(value: &str) -> Result<Vec<RunStatus>, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(RunStatus::from_str)
            .collect()
    }

    /// The validated page size and offset: the default size is 20, the largest 100.
    pub fn page(&self) -> Result<(i64, i64), AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}"),
            ));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::invalid("offset", "offset must not be negative"));
        }
        Ok((limit, offset))
    }
}

fn validate_input_path(key: &str, path: &str) -> Result<(), AppError> {
    let valid =
        !path.is_empty() && path.len() <= 200 && path.split('.').all(|segment| !segment.is_empty());
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            key,
            format!("`{key}` needs a field path such as input.company_name or input.address.city"),
        ))
    }
}

/// A time parameter: an RFC 3339 time, a UTC date, or a time ago (`-24h`, as
/// `created:` writes it), which stays relative in an address that is reloaded.
fn parse_time(key: &str, value: &str) -> Result<DateTime<Utc>, AppError> {
    if let Some(ago) = crate::parse_ago(value) {
        return Ok(Utc::now() - chrono::Duration::milliseconds(ago));
    }
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| {
            AppError::invalid(
                key,
                format!(
                    "{key} must be an RFC 3339 time (2026-11-25T08:00:00Z), a date (2026-11-25) or a time ago (-24h, -7d)"
                ),
            )
        })
}

/// A duration parameter: milliseconds (`90000`), or with a unit (`90s`, `5m`, `2h`).
fn parse_duration_param(key: &str, value: &str) -> Result<i64, AppError> {
    value
        .parse::<i64>()
        .ok()
        .or_else(|| crate::parse_duration(value))
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| {
            AppError::invalid(
                key,
                format!("{key} must be a duration: milliseconds (90000) or with a unit (500ms, 90s, 5m, 2h), got `{value}`"),
            )
        })
}

fn parse_int(key: &str, value: &str) -> Result<i64, AppError> {
    value
        .parse()
        .map_err(|_| AppError::invalid(key, format!("{key} must be a whole number, got `{value}`")))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, AppError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(AppError::invalid(
            key,
            format!("{key} must be true or false"),
        )),
    }
}

/// The runs list page's data: a page of runs, how many runs each status has under
/// the other filters (for the status chips), and the choices of the filter bar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunListView {
    pub page: RunPage,
    /// Runs created over time, by status ([`ChartSpan`]).
    pub chart: RunChart,
    pub status_counts: Vec<(RunStatus, i64)>,
    pub agents: Vec<String>,
    pub campaigns: Vec<(Uuid, String)>,
    /// The orders this list can have ([`RunSort`]): a search for words only
    /// newest first, say.
    pub orders: Vec<RunSort>,
}

/// What moves on an open runs list while the stream brings changes: the chips'
/// counts, the chart, and how many matching runs are newer than the newest one
/// shown (the "N new runs" the list offers instead of moving its rows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunListNews {
    pub chart: RunChart,
    pub status_counts: Vec<(RunStatus, i64)>,
    pub newer: i64,
}

/// How many days the runs chart covers at most.
pub const CHART_DAYS: i64 = 14;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const CHART_DAY_MS: i64 = 24 * HOUR_MS;

/// A created range up to this long is charted in parts of a day.
const SHORT_RANGE_MS: i64 = 48 * HOUR_MS;

/// The bar sizes of a short range, the first that gives it at most this many bars.
const SHORT_BUCKETS_MS: [i64; 3] = [5 * MINUTE_MS, 15 * MINUTE_MS, HOUR_MS];
const MAX_SHORT_BARS: i64 = 48;

/// What the runs chart covers: `bars` bars of `bucket_ms` each from `first_ms`
/// (UTC, aligned to the bar size). A list without a created range, or with a
/// long one, is charted per UTC day over its last [`CHART_DAYS`] days; a range
/// of up to two days per hour, 15 or 5 minutes, whichever gives at most 48 bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartSpan {
    pub first_ms: i64,
    pub bucket_ms: i64,
    pub bars: i64,
}

impl ChartSpan {
    /// The span of a list under `filter` at `now_ms`.
    pub fn of(filter: &RunFilter, now_ms: i64) -> ChartSpan {
        let end = filter
            .created_before
            .map_or(now_ms, |before| before.timestamp_millis().min(now_ms));
        let start = filter.created_after.map(|after| after.timestamp_millis());
        match start {
            Some(start) if start < end && end - start <= SHORT_RANGE_MS => {
                let range = end - start;
                let bucket_ms = SHORT_BUCKETS_MS
                    .into_iter()
                    .find(|bucket| range <= bucket * MAX_SHORT_BARS)
                    .unwrap_or(HOUR_MS);
                ChartSpan::covering(start, end, bucket_ms)
            }
            _ => {
                let last_day = (end - 1).div_euclid(CHART_DAY_MS);
                let first_day = start
                    .map_or(i64::MIN, |start| start.div_euclid(CHART_DAY_MS))
                    .max(last_day - CHART_DAYS + 1);
                ChartSpan {
                    first_ms: first_day * CHART_DAY_MS,
                    bucket_ms: CHART_DAY_MS,
                    bars: last_day - first_day + 1,
                }
            }
        }
    }

    /// Bars of `bucket_ms` from the one holding `start` to the one holding `end - 1`.
    fn covering(start: i64, end: i64, bucket_ms: i64) -> ChartSpan {
        let first = start.div_euclid(bucket_ms);
        let last = (end - 1).div_euclid(bucket_ms);
        ChartSpan {
            first_ms: first * bucket_ms,
            bucket_ms,
            bars: (last - first + 1).max(1),
        }
    }

    /// The first moment after the last bar.
    pub fn end_ms(&self) -> i64 {
        self.first_ms + self.bars * self.bucket_ms
    }

    /// Whether each bar is a whole UTC day.
    pub fn daily(&self) -> bool {
        self.bucket_ms == CHART_DAY_MS
    }
}

/// Runs created over time, by status: the bars of a [`ChartSpan`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunChart {
    pub bucket_ms: i64,
    pub bars: Vec<ChartBar>,
}

impl RunChart {
    /// Whether each bar is a whole UTC day.
    pub fn daily(&self) -> bool {
        self.bucket_ms == CHART_DAY_MS
    }
}

/// Runs created from `start` for the chart's bar size, by status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartBar {
    pub start: DateTime<Utc>,
    pub counts: Vec<(RunStatus, i64)>,
}

/// One page of the runs list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunPage<R = RunRow> {
    /// The runs; with `fields=`, each cut down to those columns.
    pub runs: Vec<R>,
    /// How many runs match; with `totalExact` false, at least this many (filters
    /// that need every matching run read are counted up to a cap).
    pub total: i64,
    pub total_exact: bool,
    pub limit: i64,
    pub offset: i64,
    /// Pass as `cursor` to get the next page by keyset (fast at any depth).
    pub next_cursor: Option<String>,
}

impl<R> RunPage<R> {
    /// The same page with each run turned into something else (its chosen columns).
    pub fn map_runs<T>(self, map: impl FnMut(R) -> T) -> RunPage<T> {
        RunPage {
            runs: self.runs.into_iter().map(map).collect(),
            total: self.total,
            total_exact: self.total_exact,
            limit: self.limit,
            offset: self.offset,
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_created_ranges_are_charted_in_parts_of_a_day() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:20:00Z")
            .map(|at| at.timestamp_millis())
            .unwrap_or_default();
        let span = |query: &str| {
            let filter = RunFilter::from_query_string(query).unwrap_or_else(|e| panic!("{e:?}"));
            ChartSpan::of(&filter, now)
        };
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.timestamp_millis())
                .unwrap_or_default()
        };
        // No range: the last 14 UTC days, today the last.
        let days = span("");
        assert!(days.daily());
        assert_eq!(days.bars, CHART_DAYS);
        assert_eq!(days.end_ms(), at("2026-12-04T00:00:00Z"));
        // A week: its days only.
        let week = span("createdAfter=2026-11-26T10:20:00Z");
        assert!(week.daily());
        assert_eq!((week.first_ms, week.bars), (at("2026-11-26T00:00:00Z"), 8));
        // 24 hours: hourly, from the hour holding the start to the one holding now.
        let hours = span("createdAfter=2026-12-02T10:20:00Z");
        assert_eq!(hours.bucket_ms, HOUR_MS);
        assert_eq!(
            (hours.first_ms, hours.bars),
            (at("2026-12-02T10:00:00Z"), 25)
        );
        // An hour: five minutes; a past day: hourly over that day.
        let hour = span("createdAfter=2026-12-03T09:20:00Z");
        assert_eq!((hour.bucket_ms, hour.bars), (5 * MINUTE_MS, 12));
        let past = span("createdAfter=2026-11-01&createdBefore=2026-11-02");
        assert_eq!(
            (past.first_ms, past.bucket_ms, past.bars),
            (at("2026-11-01T00:00:00Z"), HOUR_MS, 24)
        );
        let six = span("createdAfter=2026-12-03T04:20:00Z");
        assert_eq!((six.bucket_ms, six.bars), (15 * MINUTE_MS, 25));
        // A range longer than the chart: its last 14 days.
        let long = span("createdAfter=2026-01-01");
        assert_eq!((long.bucket_ms, long.bars), (CHART_DAY_MS, CHART_DAYS));
    }

    #[test]
    fn legal_transitions_follow_the_lifecycle() {
        use RunStatus::*;
        assert!(Requested.can_transition_to(Queued));
        assert!(Requested.can_transition_to(Running));
        assert!(Queued.can_transition_to(Running));
        assert!(Running.can_transition_to(Running));
        for terminal in [Completed, Failed, Cancelled] {
            assert!(Requested.can_transition_to(terminal));
            assert!(Running.can_transition_to(terminal));
        }
    }

    #[test]
    fn terminal_statuses_never_change_and_nothing_goes_backwards() {
        use RunStatus::*;
        for terminal in [Completed, Failed, Cancelled] {
            for &next in RunStatus::ALL {
                assert!(!terminal.can_transition_to(next), "{terminal} -> {next}");
            }
        }
        assert!(!Running.can_transition_to(Queued));
        assert!(!Queued.can_transition_to(Requested));
    }

    #[test]
    fn pages_ignore_parameters_the_list_does_not_know() {
        let page = RunFilter::from_page_query_string(
            "utm_source=slack&status=failed&input.company=Acme&fbclid=1",
        )
        .unwrap();
        assert_eq!(page.statuses, vec![RunStatus::Failed]);
        assert_eq!(
            page.input,
            vec![("company".to_string(), "Acme".to_string())]
        );
        assert!(
            RunFilter::from_query_string("utm_source=slack").is_err(),
            "the API refuses them"
        );
        // A bad value of a known parameter is still an error on a page.
        assert!(RunFilter::from_page_query_string("status=done&utm_source=x").is_err());
    }

    #[test]
    fn status_lists_parse_and_reject_unknown_names() {
        assert_eq!(
            RunFilter::parse_statuses("failed, cancelled"),
            Ok(vec![RunStatus::Failed, RunStatus::Cancelled])
        );
        let error = RunFilter::parse_statuses("failed,done").unwrap_err();
        assert!(error.contains("`done`"), "{error}");
    }

    #[test]
    fn filters_are_read_from_query_parameters() {
        let filter = RunFilter::from_query([
            ("status", "running,failed"),
            ("pipeline_id", "jobseek"),
            ("initial_input.company_name", "Stripe"),
            ("input.address.city", "Dublin"),
            ("ci", "true"),
            ("createdAfter", "2026-11-01"),
            ("minDurationMs", "1000"),
            ("limit", "5"),
            ("offset", "10"),
        ])
        .unwrap();
        assert_eq!(filter.statuses, vec![RunStatus::Running, RunStatus::Failed]);
        assert_eq!(filter.agent.as_deref(), Some("jobseek"));
        assert_eq!(
            filter.input,
            vec![
                ("company_name".to_string(), "Stripe".to_string()),
                ("address.city".to_string(), "Dublin".to_string())
            ]
        );
        assert!(filter.input_ci);
        assert_eq!(
            filter.created_after.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!((filter.limit, filter.offset), (Some(5), Some(10)));
    }

    #[test]
    fn the_search_text_is_the_query_language() {
        let filter =
            RunFilter::from_query([("q", "urgent input.company_name=Stripe initial_input.a.b=1")])
                .unwrap();
        assert_eq!(
            filter.q.as_deref(),
            Some("urgent input.company_name=Stripe initial_input.a.b=1")
        );
        assert!(filter.input.is_empty(), "input terms stay in the query");
        let query = filter.query().unwrap().unwrap();
        assert_eq!(
            query.to_string(),
            "urgent input.company_name:Stripe input.a.b:1"
        );
        assert_eq!(RunFilter::default().query(), Ok(None));
        let blank = RunFilter::from_query([("q", "   ")]).unwrap();
        assert_eq!(blank.q, None);
    }

    #[test]
    fn a_query_that_does_not_parse_names_q_and_the_position() {
        let error = RunFilter::from_query_string("limit=5&q=%20status%3Adone").unwrap_err();
        assert_eq!(error.field(), Some("q"));
        // The position is into the text as sent, leading space included.
        assert_eq!(error.position(), Some(8));
        assert!(error.to_string().contains("got \"done\""), "{error}");
        assert_eq!(error.status_code(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bad_filters_name_the_parameter() {
        for (key, value) in [
            ("limit", "1000"),
            ("limit", "ten"),
            ("status", "done"),
            ("createdAfter", "yesterday"),
            ("campaign", "not-a-uuid"),
            ("input.", "x"),
            ("stauts", "failed"),
        ] {
            let error = RunFilter::from_query([(key, value)]).unwrap_err();
            let field = error.field().unwrap_or_default().to_string();
            assert!(
                key.starts_with(&field) && !field.is_empty(),
                "{key}: {error:?}"
            );
        }
    }

    #[test]
    fn durations_are_read_in_milliseconds_or_with_a_unit() {
        let read = |value: &str| {
            RunFilter::from_query([("minDurationMs", value)]).map(|filter| filter.min_duration_ms)
        };
        assert_eq!(read("90000"), Ok(Some(90_000)));
        assert_eq!(read("90s"), Ok(Some(90_000)));
        assert_eq!(read("5m"), Ok(Some(300_000)));
        assert_eq!(read("2h"), Ok(Some(7_200_000)));
        assert_eq!(read("500ms"), Ok(Some(500)));
        for bad in ["5 minutes", "-3", "1.5s", "m"] {
            let error = read(bad).unwrap_err();
            assert_eq!(error.field(), Some("minDurationMs"), "{bad}");
            assert!(error.to_string().contains("90s"), "{error}");
        }
        assert_eq!(crate::format_duration_amount(90_000), "90s");
        assert_eq!(crate::format_duration_amount(300_000), "5m");
        assert_eq!(crate::format_duration_amount(1_500), "1500ms");
    }

    #[test]
    fn a_time_ago_is_read_at_the_time_of_asking() {
        let filter = RunFilter::from_query([("createdAfter", "-24h")]).unwrap();
        let after = filter.created_after.unwrap();
        let expected = Utc::now() - chrono::Duration::hours(24);
        assert!(
            (after - expected).num_seconds().abs() < 5,
            "{after} vs {expected}"
        );
        assert!(RunFilter::from_query([("createdAfter", "-24x")]).is_err());
        assert!(
            RunFilter::from_query([("createdBefore", "-7d"), ("createdAfter", "-1h")]).is_err()
        );
    }

    #[test]
    fn contradictory_ranges_are_explained() {
        let error = RunFilter::from_query([
            ("createdAfter", "2026-12-02"),
            ("createdBefore", "2026-12-01"),
        ])
        .unwrap_err();
        assert_eq!(error.field(), Some("createdBefore"));
        assert!(
            error
                .to_string()
                .contains("must be later than createdAfter"),
            "{error}"
        );
        let error =
            RunFilter::from_query([("minDurationMs", "5m"), ("maxDurationMs", "90s")]).unwrap_err();
        assert_eq!(error.field(), Some("maxDurationMs"));
        assert!(
            error
                .to_string()
                .contains("(90s) must not be less than minDurationMs (5m)"),
            "{error}"
        );
        // An empty range's ends may meet for durations (exactly 5m), not for times.
        assert!(
            RunFilter::from_query([("minDurationMs", "5m"), ("maxDurationMs", "300000")]).is_ok()
        );
    }

    #[test]
    fn page_size_defaults_to_20_and_rejects_more_than_100() {
        assert_eq!(RunFilter::default().page(), Ok((20, 0)));
        let too_big = RunFilter {
            limit: Some(101),
            ..RunFilter::default()
        };
        assert!(matches!(too_big.page(), Err(AppError::Invalid { field, .. }) if field == "limit"));
        let negative = RunFilter {
            offset: Some(-1),
            ..RunFilter::default()
        };
        assert!(
            matches!(negative.page(), Err(AppError::Invalid { field, .. }) if field == "offset")
        );
    }
}
