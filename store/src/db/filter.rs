//! The runs filter as SQL: the WHERE clause every runs query shares (the list's
//! page, its total, status counts and chart, the text search's checks, bulk
//! actions and export), and the full-text query text the runs and events searches
//! both use. Every form of the query language (`q`, docs/query.md) becomes SQL
//! here and only here. It depends on no other query module; they use it.

use crate::db::sql::SqlBuilder;
use model::query::{Cmp, Expr, Has, Term, TermKind};
use model::{AccountPk, AppError, RunFilter, RunStatus};

/// FTS5 query text for a user's words: each word quoted, so punctuation is never
/// read as query syntax; all words must match.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// FTS5 query text for words and phrases that must all match (in one run's own
/// text, or in one log message): each word quoted, each phrase one quoted FTS5
/// phrase (its words adjacent, in order). `None` for no text terms.
pub fn fts_match(terms: &[Term]) -> Option<String> {
    let parts: Vec<String> = terms
        .iter()
        .filter_map(|term| match &term.kind {
            TermKind::Word(word) => fts_query(word),
            TermKind::Phrase(phrase) => Some(format!("\"{}\"", phrase.replace('"', "\"\""))),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// What a query does with the matching runs: reads a page in creation order
/// (newest or oldest first), a page in duration order, or aggregates them
/// (total, status counts, chart). A page reads the index of its order and
/// leaves the others alone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    CreationPage,
    DurationPage,
    Aggregate,
}

/// A runs filter ready for SQL: the separate parameters (`filter`, its `q`
/// cleared), the parsed query (`expr`) and the time relative times are resolved
/// at (`now_ms`, the request's now).
///
/// The query's top-level positive terms that a separate parameter can say
/// (statuses, agent, initiator, campaign id, creation and duration bounds, input
/// fields) are moved into `filter`: then `status:failed` in `q` reads the run
/// counters and `input.x:y` drives the page from `run_input_fields`, exactly as
/// the parameters do, rather than becoming a slower condition of the same meaning.
#[derive(Clone, Debug)]
pub struct Conditions {
    pub filter: RunFilter,
    pub expr: Option<Expr>,
    pub now_ms: i64,
}

impl Conditions {
    /// The conditions of `filter` at `now_ms`; a `q` that does not parse is a 400.
    pub fn new(filter: &RunFilter, now_ms: i64) -> Result<Conditions, AppError> {
        let query = filter.query()?;
        let mut base = RunFilter {
            q: None,
            ..filter.clone()
        };
        let expr = query.map(|query| hoist(&mut base, query.expr, now_ms));
        if expr.is_some() {
            // A range the parameters left sound may contradict itself once the
            // query's bounds joined it: say why rather than answer "no runs".
            base.check_query_ranges()?;
        }
        Ok(Conditions {
            filter: base,
            expr: expr.flatten(),
            now_ms,
        })
    }

    /// The top-level positive words and phrases as one FTS5 query (walked by
    /// `text_search`), and the conditions without them; `None` without such text.
    pub fn split_text(&self) -> Option<(String, Conditions)> {
        let expr = self.expr.clone()?;
        let (text, rest) = model::Query { expr }.split_text();
        let text = fts_match(&text)?;
        Some((
            text,
            Conditions {
                expr: rest,
                ..self.clone()
            },
        ))
    }
}

/// Moves the top-level positive terms a separate parameter can say from `expr`
/// into `base` (ANDed with what `base` says already); the rest of `expr`.
fn hoist(base: &mut RunFilter, expr: Expr, now_ms: i64) -> Option<Expr> {
    let items = match expr {
        Expr::And(items) => items,
        other => vec![other],
    };
    let mut rest = Vec::new();
    for item in items {
        let Expr::Term(term) = &item else {
            rest.push(item);
            continue;
        };
        let moved = match &term.kind {
            TermKind::Status(statuses) if base.statuses.is_empty() => {
                base.statuses = statuses.clone();
                true
            }
            TermKind::Agent(slug) if base.agent.is_none() => {
                base.agent = Some(slug.clone());
                true
            }
            TermKind::Initiator(initiator) if base.initiator.is_none() => {
                base.initiator = Some(initiator.clone());
                true
            }
            TermKind::Campaign(value) if base.campaign.is_none() => match value.parse() {
                Ok(id) => {
                    base.campaign = Some(id);
                    true
                }
                Err(_) => false,
            },
            TermKind::Input { path, value } => {
                base.input.push((path.clone(), value.clone()));
                true
            }
            TermKind::Created(cmp, when) => {
                let (after, before) = when.bounds_ms(*cmp, now_ms);
                if let Some(after) = after.map(crate::db::from_ms) {
                    base.created_after =
                        Some(base.created_after.map_or(after, |old| old.max(after)));
                }
                if let Some(before) = before.map(crate::db::from_ms) {
                    base.created_before =
                        Some(base.created_before.map_or(before, |old| old.min(before)));
                }
                true
            }
            TermKind::Duration(cmp, amount) => {
                let ms = amount.millis();
                let (min, max) = match cmp {
                    Cmp::Eq => (Some(ms), Some(ms)),
                    Cmp::Gt => (Some(ms.saturating_add(1)), None),
                    Cmp::Ge => (Some(ms), None),
                    Cmp::Lt => (None, Some(ms.saturating_sub(1))),
                    Cmp::Le => (None, Some(ms)),
                };
                if let Some(min) = min {
                    base.min_duration_ms =
                        Some(base.min_duration_ms.map_or(min, |old| old.max(min)));
                }
                if let Some(max) = max {
                    base.max_duration_ms =
                        Some(base.max_duration_ms.map_or(max, |old| old.min(max)));
                }
                true
            }
            _ => false,
        };
        if !moved {
            rest.push(item);
        }
    }
    match rest.len() {
        0 => None,
        1 => rest.pop(),
        _ => Some(Expr::And(rest)),
    }
}

/// Appends the WHERE clause of `filter` (its query included, every form of it;
/// full text as subqueries), with relative times resolved now. The one entry for
/// code that selects runs by a filter (bulk actions, export).
pub fn push_filter(
    query: &mut SqlBuilder,
    account_pk: AccountPk,
    filter: &RunFilter,
    reading: Reading,
) -> Result<(), AppError> {
    let conditions = Conditions::new(filter, crate::db::now_ms())?;
    push_conditions(query, account_pk, &conditions, reading);
    Ok(())
}

/// Appends the WHERE clause of `conditions` over `runs r`.
pub fn push_conditions(
    query: &mut SqlBuilder,
    account_pk: AccountPk,
    conditions: &Conditions,
    reading: Reading,
) {
    let filter = &conditions.filter;
    query.push(" WHERE r.account_pk = ").push_bind(account_pk);
    if !filter.statuses.is_empty() {
        query.push(" AND");
        push_statuses(query, &filter.statuses);
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
        query.push(" AND ");
        push_duration(query, reading);
        query.push(" >= ").push_bind(min);
    }
    if let Some(max) = filter.max_duration_ms {
        query.push(" AND ");
        push_duration(query, reading);
        query.push(" <= ").push_bind(max);
    }
    for (path, value) in &filter.input {
        query.push(" AND r.pk IN (SELECT i.run_pk FROM run_input_fields i WHERE");
        push_input_field(query, "i", account_pk, path, value, filter.input_ci);
        query.push(")");
    }
    if let Some(expr) = &conditions.expr {
        let context = Context {
            account_pk,
            reading,
            now_ms: conditions.now_ms,
            input_ci: filter.input_ci,
        };
        query.push(" AND ");
        push_expr(query, &context, expr);
    }
}

/// For a page, a duration range must not choose the index: SQLite's planner
/// would read every run in the range (most runs, for "longer than a minute")
/// and sort them all (1.4 s at 1M runs), where walking the newest-first index
/// and skipping the others finds twenty in well under a millisecond. The unary
/// `+` keeps the condition and leaves the index alone. Aggregates keep the index.
fn push_duration(query: &mut SqlBuilder, reading: Reading) {
    if reading == Reading::CreationPage {
        query.push_dialect("+", "");
    }
    query.push("r.duration_ms");
}

/// `column` for a condition whose index cannot list the page newest first (a
/// range of progress, any error code, any retry): for a page, unary `+` leaves
/// the index alone, for the reason [`push_duration`] gives; aggregates use it.
/// PostgreSQL's planner weighs the orders itself (and has no `+` for text).
fn push_ranged(query: &mut SqlBuilder, reading: Reading, column: &str) {
    if reading != Reading::Aggregate {
        query.push_dialect("+", "");
    }
    query.push(column);
}

/// What every condition of a query expression needs.
struct Context {
    account_pk: AccountPk,
    reading: Reading,
    now_ms: i64,
    input_ci: bool,
}

/// ` r.status IN (…)`.
fn push_statuses(query: &mut SqlBuilder, statuses: &[RunStatus]) {
    if statuses.is_empty() {
        query.push(" FALSE");
        return;
    }
    query.push(" r.status IN (");
    let mut separated = query.separated(", ");
    for status in statuses {
        separated.push_bind(status.as_str());
    }
    query.push(")");
}

/// One expression of the query language as a condition on `runs r`.
///
/// * Under `NOT`, SQL's NULL (`duration_ms > ?` of an unfinished run, a run
///   without campaign) must count as "no match" before it is negated, or
///   `-duration:>60s` would lose the unfinished runs: `NOT coalesce(…, 0)`. A
///   negated status list is its complement instead, which the index can read.
/// * Each `OR` branch names the account again, so that SQLite can read each
///   branch by its own index and unite the keys (`MULTI-INDEX OR`) rather than
///   walk every run of the account.
/// * Words and phrases ANDed in one group match together, as at the top level:
///   in one run's own text, or in one log message.
fn push_expr(query: &mut SqlBuilder, context: &Context, expr: &Expr) {
    match expr {
        Expr::And(items) => {
            let text: Vec<Term> = items
                .iter()
                .filter_map(|item| match item {
                    Expr::Term(term) if term.is_text() => Some(term.clone()),
                    _ => None,
                })
                .collect();
            query.push("(");
            let mut first = true;
            if let Some(text) = fts_match(&text) {
                push_text(query, &text);
                first = false;
            }
            for item in items {
                if matches!(item, Expr::Term(term) if term.is_text()) {
                    continue;
                }
                if !first {
                    query.push(" AND ");
                }
                push_expr(query, context, item);
                first = false;
            }
            query.push(")");
        }
        Expr::Or(items) => {
            query.push("(");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    query.push(" OR ");
                }
                query
                    .push("(r.account_pk = ")
                    .push_bind(context.account_pk)
                    .push(" AND ");
                push_expr(query, context, item);
                query.push(")");
            }
            query.push(")");
        }
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Term(Term {
                kind: TermKind::Status(statuses),
                ..
            }) => {
                let others: Vec<RunStatus> = RunStatus::ALL
                    .iter()
                    .copied()
                    .filter(|status| !statuses.contains(status))
                    .collect();
                query.push("(");
                push_statuses(query, &others);
                query.push(")");
            }
            inner => {
                query.push("NOT coalesce(");
                push_expr(query, context, inner);
                query.push(", FALSE)");
            }
        },
        Expr::Term(term) => push_term(query, context, term),
    }
}

/// `r.pk IN (…)` of the runs whose own text or one of whose log messages
/// matches `text` (an FTS5 query; on PostgreSQL the same text becomes a
/// tsquery, `fts5_tsquery` in its migrations).
fn push_text(query: &mut SqlBuilder, text: &str) {
    query
        .push("r.pk IN (")
        .push_dialect(
            "SELECT rowid FROM runs_fts WHERE runs_fts MATCH ",
            "SELECT pk FROM runs WHERE search @@ fts5_tsquery(",
        )
        .push_bind(text.to_string())
        .push_dialect(
            " UNION SELECT key >> 24 FROM event_text WHERE message MATCH ",
            ") UNION SELECT run_pk FROM events WHERE search @@ fts5_tsquery(",
        )
        .push_bind(text.to_string())
        .push_dialect(")", "))");
}

fn push_term(query: &mut SqlBuilder, context: &Context, term: &Term) {
    let account_pk = context.account_pk;
    match &term.kind {
        TermKind::Word(_) | TermKind::Phrase(_) => match fts_match(std::slice::from_ref(term)) {
            Some(text) => push_text(query, &text),
            None => {
                query.push("TRUE");
            }
        },
        TermKind::Status(statuses) => {
            query.push("(");
            push_statuses(query, statuses);
            query.push(")");
        }
        TermKind::Agent(slug) => {
            query
                .push("r.agent_pk IN (SELECT pk FROM agents WHERE account_pk = ")
                .push_bind(account_pk)
                .push(" AND slug = ")
                .push_bind(slug.clone())
                .push(")");
        }
        TermKind::Campaign(value) => {
            query
                .push("r.campaign_pk IN (SELECT pk FROM campaigns WHERE account_pk = ")
                .push_bind(account_pk);
            match value.parse::<uuid::Uuid>() {
                Ok(id) => query.push(" AND id = ").push_bind(id.to_string()),
                // Names as people type them: any case.
                Err(_) => query
                    .push(" AND lower(name) = lower(")
                    .push_bind(value.clone())
                    .push(")"),
            };
            query.push(")");
        }
        TermKind::Initiator(initiator) => {
            query.push("r.initiator = ").push_bind(initiator.clone());
        }
        TermKind::Tag(tag) => {
            query
                .push("r.pk IN (SELECT t.run_pk FROM run_tags t WHERE t.account_pk = ")
                .push_bind(account_pk)
                .push(" AND t.tag = ")
                .push_bind(tag.clone())
                .push(")");
        }
        TermKind::Input { path, value } => {
            query.push("r.pk IN (SELECT i.run_pk FROM run_input_fields i WHERE");
            push_input_field(query, "i", account_pk, path, value, context.input_ci);
            query.push(")");
        }
        TermKind::Created(cmp, when) => {
            let (after, before) = when.bounds_ms(*cmp, context.now_ms);
            query.push("(TRUE");
            if let Some(after) = after {
                query.push(" AND r.created_at >= ").push_bind(after);
            }
            if let Some(before) = before {
                query.push(" AND r.created_at < ").push_bind(before);
            }
            query.push(")");
        }
        TermKind::Duration(cmp, amount) => {
            push_duration(query, context.reading);
            query
                .push(format!(" {} ", cmp.sql()))
                .push_bind(amount.millis());
        }
        TermKind::Progress(cmp, progress) => {
            push_ranged(query, context.reading, "r.progress");
            query.push(format!(" {} ", cmp.sql())).push_bind(*progress);
        }
        TermKind::Error(code) => {
            query.push("r.error_code = ").push_bind(code.clone());
        }
        TermKind::RetryOf(None) => {
            push_ranged(query, context.reading, "r.retry_of_pk");
            query.push(" IS NOT NULL");
        }
        TermKind::RetryOf(Some(id)) => {
            query
                .push("r.retry_of_pk IN (SELECT o.pk FROM runs o WHERE o.id = ")
                .push_bind(id.to_string())
                .push(" AND o.account_pk = ")
                .push_bind(account_pk)
                .push(")");
        }
        TermKind::Id(ids) => {
            query.push("r.id IN (");
            let mut separated = query.separated(", ");
            for id in ids {
                separated.push_bind(id.to_string());
            }
            query.push(")");
        }
        TermKind::Has(Has::Error) => {
            push_ranged(query, context.reading, "r.error_code");
            query.push(" IS NOT NULL");
        }
        TermKind::Has(Has::Campaign) => {
            query.push("r.campaign_pk IS NOT NULL");
        }
    }
}

/// ` t.account_pk = … AND t.path = … AND t.value = …` on `run_input_fields`
/// under the alias `t` (`lower()` on both sides when case-insensitive).
pub(crate) fn push_input_field(
    query: &mut SqlBuilder,
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
