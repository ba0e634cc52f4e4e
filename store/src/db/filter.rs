//! The runs filter as SQL: the WHERE clause every runs query shares (the list's
//! page, its total, status counts and chart, and the text search's checks), and
//! the full-text query text the runs and events searches both use. It depends on
//! no other query module; they use it.

use model::{AccountPk, AppError, RunFilter};
use sqlx::{QueryBuilder, Sqlite};

/// FTS5 query text for a user's words: each word quoted, so punctuation is never
/// read as query syntax; all words must match.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// What a query does with the matching runs: reads a page of the newest, or
/// aggregates them (total, status counts, chart).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    NewestPage,
    Aggregate,
}

/// Appends the WHERE clause shared by the list and its count.
pub(crate) fn push_filter(
    query: &mut QueryBuilder<'_, Sqlite>,
    account_pk: AccountPk,
    filter: &RunFilter,
    reading: Reading,
) -> Result<(), AppError> {
    // For a page, a duration range must not choose the index: the planner would
    // read every run in the range (most runs, for "longer than a minute") and sort
    // them all (1.4 s at 1M runs), where walking the newest-first index and
    // skipping the others finds twenty in well under a millisecond. The unary `+`
    // keeps the condition and leaves the index alone. Aggregates keep the index.
    let duration = match reading {
        Reading::NewestPage => " AND +r.duration_ms ",
        Reading::Aggregate => " AND r.duration_ms ",
    };
    query.push(" WHERE r.account_pk = ").push_bind(account_pk);
    if !filter.statuses.is_empty() {
        query.push(" AND r.status IN (");
        let mut separated = query.separated(", ");
        for status in &filter.statuses {
            separated.push_bind(status.as_str());
        }
        query.push(")");
    }
    if let Some(agent) = &filter.agent {
        query
            .push(" AND r.agent_pk = (SELECT pk FROM agents WHERE account_pk = ")
            .push_bind(account_pk)
            .push(" AND slug = ")
            .push_bind(agent.clone())
            .push(")");
    }
    if let Some(campaign) = filter.campaign {
        query
            .push(" AND r.campaign_pk = (SELECT pk FROM campaigns WHERE account_pk = ")
            .push_bind(account_pk)
            .push(" AND id = ")
            .push_bind(campaign.to_string())
            .push(")");
    }
    if let Some(initiator) = &filter.initiator {
        query
            .push(" AND r.initiator = ")
            .push_bind(initiator.clone());
    }
    if let Some(after) = filter.created_after {
        query
            .push(" AND r.created_at >= ")
            .push_bind(after.timestamp_millis());
    }
    if let Some(before) = filter.created_before {
        query
            .push(" AND r.created_at < ")
            .push_bind(before.timestamp_millis());
    }
    if let Some(min) = filter.min_duration_ms {
        query.push(duration).push(">= ").push_bind(min);
    }
    if let Some(max) = filter.max_duration_ms {
        query.push(duration).push("<= ").push_bind(max);
    }
    for (path, value) in &filter.input {
        query.push(" AND r.pk IN (SELECT i.run_pk FROM run_input_fields i WHERE");
        push_input_field(query, "i", account_pk, path, value, filter.input_ci);
        query.push(")");
    }
    if filter.q.as_deref().and_then(fts_query).is_some() {
        // A text search is walked by `text_search`, which hands this function the
        // rest of the filter; SQL alone would sort every match.
        tracing::error!("a full-text filter reached the SQL filter builder");
        return Err(AppError::Internal);
    }
    Ok(())
}

/// ` t.account_pk = … AND t.path = … AND t.value = …` on `run_input_fields`
/// under the alias `t` (`lower()` on both sides when case-insensitive).
pub(crate) fn push_input_field(
    query: &mut QueryBuilder<'_, Sqlite>,
    alias: &str,
    account_pk: AccountPk,
    path: &str,
    value: &str,
    case_insensitive: bool,
) {
    query
        .push(format!(" {alias}.account_pk = "))
        .push_bind(account_pk)
        .push(format!(" AND {alias}.path = "))
        .push_bind(path.to_string());
    if case_insensitive {
        query
            .push(format!(" AND lower({alias}.value) = lower("))
            .push_bind(value.to_string())
            .push(")");
    } else {
        query
            .push(format!(" AND {alias}.value = "))
            .push_bind(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted_for_fts() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(
            fts_query(r#"stripe AND "x" NEAR"#),
            Some(r#""stripe" "AND" """x""" "NEAR""#.to_string())
        );
    }
}
