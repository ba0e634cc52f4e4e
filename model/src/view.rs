//! Saved views: a named query of the runs list, private to the person who saved
//! it or shared with the account. The checks of what a view may hold live here,
//! for the JSON API and the dashboard alike.

use crate::{AppError, Columns, RunFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Characters a view's name may have.
pub const MAX_VIEW_NAME_CHARS: usize = 80;
/// Views one person may have (their own, shared or not).
pub const MAX_VIEWS_PER_USER: i64 = 100;

/// A saved view as the API and the dashboard show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    /// The runs list's query (docs/query.md).
    pub q: String,
    /// The list's columns (`status`, `input.company.name`, …); `null` for the default.
    pub columns: Option<Vec<String>>,
    /// Shared views are seen by everyone in the account; others only by their author.
    pub shared: bool,
    /// Who saved it (email).
    pub author: String,
    /// The caller saved it, so may change it.
    pub mine: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A view's name as stored: trimmed, 1–80 characters, no control characters.
pub fn validate_view_name(name: &str) -> Result<String, AppError> {
    validate_display_name("name", "a view", name)
}

/// A name people give a thing (`what`: "a view", "an alert") as stored: trimmed,
/// 1–80 characters, no control characters; a 400 naming `field` otherwise.
pub fn validate_display_name(field: &str, what: &str, name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid(field, format!("{what} needs a name")));
    }
    if name.chars().count() > MAX_VIEW_NAME_CHARS {
        return Err(AppError::invalid(
            field,
            format!("{what}'s name has at most {MAX_VIEW_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{what}'s name must not contain control characters"),
        ));
    }
    Ok(name.to_string())
}

/// A view's query as stored: trimmed, and one the runs list accepts (the same
/// parser as `GET /api/runs?q=`), so a saved view always opens.
pub fn validate_view_query(q: &str) -> Result<String, AppError> {
    let q = q.trim();
    match RunFilter::from_query([("q", q)]) {
        Ok(_) => Ok(q.to_string()),
        // The query's own parts (an input path) are named by the list; here they are all `q`.
        Err(AppError::Invalid { message, .. }) => Err(AppError::invalid("q", message)),
        Err(other) => Err(other),
    }
}

/// A view's columns as stored (checked by [`Columns`]); an empty list is the default.
pub fn validate_view_columns(columns: &[String]) -> Result<Option<Vec<String>>, AppError> {
    if columns.iter().any(|name| name.trim().is_empty()) {
        return Err(AppError::invalid(
            "columns",
            "a column name must not be empty",
        ));
    }
    let columns = Columns::from_names("columns", columns.iter().map(String::as_str))?;
    Ok((!columns.is_empty()).then(|| columns.names().to_vec()))
}

/// The one query (docs/query.md) that says what a runs list URL's parameters
/// say, for saving the list as a view: each filter parameter becomes its
/// qualifier (`status=failed` → `status:failed`), `q` is kept as typed, and the
/// paging and column parameters are left out.
pub fn query_text<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut typed: Option<String> = None;
    for (key, value) in pairs {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let term = match key {
            "q" => {
                typed = Some(value.to_string());
                continue;
            }
            "status" => format!("status:{}", query_value(value)),
            "agent" | "pipeline_id" => format!("agent:{}", query_value(value)),
            "campaign" | "campaignId" => format!("campaign:{}", query_value(value)),
            "initiator" => format!("initiator:{}", query_value(value)),
            "createdAfter" => format!("created:>={}", query_value(value)),
            "createdBefore" => format!("created:<{}", query_value(value)),
            "minDurationMs" => format!("duration:>={value}ms"),
            "maxDurationMs" => format!("duration:<={value}ms"),
            input if input.starts_with("input.") => format!("{input}:{}", query_value(value)),
            input if input.starts_with("initial_input.") => {
                format!(
                    "input.{}:{}",
                    &input["initial_input.".len()..],
                    query_value(value)
                )
            }
            _ => continue,
        };
        terms.push(term);
    }
    if let Some(typed) = typed {
        // Terms bind tighter than OR: `status:failed a OR b` would mean
        // `(status:failed a) OR b`, so a typed OR keeps to itself.
        let top_or = matches!(
            crate::Query::parse(&typed),
            Ok(Some(crate::Query {
                expr: crate::query::Expr::Or(_)
            }))
        );
        terms.push(if top_or && !terms.is_empty() {
            format!("({typed})")
        } else {
            typed
        });
    }
    terms.join(" ")
}

/// A qualifier's value as the query language reads it: in double quotes when it
/// has anything but plain characters.
pub fn query_value(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ',' | '@' | '/' | '+'));
    if plain {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_url_becomes_one_query() {
        let pairs = [
            ("status", "failed,cancelled"),
            ("agent", "crawler"),
            ("createdAfter", "2026-11-01"),
            ("minDurationMs", "60000"),
            ("input.company.name", "Acme Corp"),
            ("q", "timeout OR oom"),
            ("limit", "50"),
            ("fields", "status"),
            ("initiator", ""),
        ];
        assert_eq!(
            query_text(pairs),
            r#"status:failed,cancelled agent:crawler created:>=2026-11-01 duration:>=60000ms input.company.name:"Acme Corp" (timeout OR oom)"#
        );
        assert_eq!(
            query_text([("initiator", r#"say "hi""#)]),
            r#"initiator:"say \"hi\"""#
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            validate_view_name("  Failed crawls ").unwrap(),
            "Failed crawls"
        );
        for bad in ["", "   ", &"x".repeat(81), "a\tb"] {
            let Err(AppError::Invalid { field, .. }) = validate_view_name(bad) else {
                panic!("{bad:?} was accepted");
            };
            assert_eq!(field, "name");
        }
    }

    #[test]
    fn columns_are_checked_and_empty_means_default() {
        assert_eq!(validate_view_columns(&[]).unwrap(), None);
        assert_eq!(
            validate_view_columns(&["status".into(), "input.company.name".into()]).unwrap(),
            Some(vec!["status".to_string(), "input.company.name".to_string()])
        );
        let Err(AppError::Invalid { field, .. }) = validate_view_columns(&["nope".into()]) else {
            panic!("an unknown column was accepted");
        };
        assert_eq!(field, "columns");
    }
}
