//! The runs list: one page newest first (keyset or offset), its total, the
//! status counts and the chart over time, each under the same filter. Counts come
//! from `run_counts` when it can answer and are capped otherwise; a full-text
//! filter is walked by [`text_search`]. A request reads the query's relative
//! times at one `now` for all of them ([`Conditions`]).

use super::walk::{ItemRow, ITEM_COLUMNS, ITEM_JOINS};
use crate::db::filter::{push_conditions, push_input_field, Conditions, Reading};
use crate::db::sql::{self, Pool, SqlBuilder};
use crate::db::text_search::{self, TextMatch};
use crate::db::{from_ms, now_ms};
use model::{
    AccountPk, AppError, ChartBar, ChartSpan, RunChart, RunFilter, RunPage, RunSort, RunStatus,
};

/// A keyset position: the sort key (`created_at`, or `duration_ms` for a
/// duration order) and `pk` of the last run of a page.
fn parse_cursor(cursor: &str) -> Result<(i64, i64), AppError> {
    cursor
        .split_once('.')
        .and_then(|(created, pk)| Some((created.parse().ok()?, pk.parse().ok()?)))
        .ok_or_else(|| {
            AppError::invalid(
                "cursor",
                "cursor must come from a previous page's nextCursor",
            )
        })
}

/// Runs matching a full-text filter, newest first: at most `want`, from the top.
async fn text_matches(
    pool: &Pool,
    account_pk: AccountPk,
    text: &str,
    others: &Conditions,
    below: Option<i64>,
    want: i64,
) -> Result<Vec<TextMatch>, AppError> {
    let mut conn = pool.acquire().await?;
    let want = usize::try_from(want).unwrap_or(0);
    text_search::text_matches(&mut conn, account_pk, text, others, below, want).await
}

/// Every status with its count among `(status, count)` rows; absent statuses count 0.
pub fn per_status<'a>(rows: impl Iterator<Item = (&'a str, i64)> + Clone) -> Vec<(RunStatus, i64)> {
    RunStatus::ALL
        .iter()
        .map(|&status| {
            let count = rows
                .clone()
                .filter(|(name, _)| *name == status.as_str())
                .map(|(_, count)| count)
                .sum();
            (status, count)
        })
        .collect()
}

/// Whether `run_counts` can answer for these conditions: it knows accounts, days,
/// agents and statuses, nothing else.
fn from_counters(conditions: &Conditions) -> bool {
    let filter = &conditions.filter;
    if conditions.expr.is_some() {
        return false;
    }
    let counted = RunFilter {
        statuses: filter.statuses.clone(),
        agent: filter.agent.clone(),
        limit: filter.limit,
        offset: filter.offset,
        cursor: filter.cursor.clone(),
        sort: filter.sort,
        ..RunFilter::default()
    };
    *filter == counted
}

/// The agent (and, when asked, status) conditions on `run_counts`.
fn push_counter_filter(
    query: &mut SqlBuilder,
    account_pk: AccountPk,
    filter: &RunFilter,
    with_statuses: bool,
) {
    if let Some(agent) = &filter.agent {
        query
            .push(" AND agent_pk = (SELECT pk FROM agents WHERE account_pk = ")
            .push_bind(account_pk)
            .push(" AND slug = ")
            .push_bind(agent.clone())
            .push(")");
    }
    if with_statuses && !filter.statuses.is_empty() {
        query.push(" AND status IN (");
        let mut separated = query.separated(", ");
        for status in &filter.statuses {
            separated.push_bind(status.as_str());
        }
        query.push(")");
    }
}

/// Runs created over the chart's span ([`ChartSpan`]: the last days, or the
/// hours of a short created range) by status, under the filter.
pub async fn chart(
    pool: &Pool,
    account_pk: AccountPk,
    filter: &RunFilter,
) -> Result<RunChart, AppError> {
    let now = now_ms();
    let conditions = Conditions::new(filter, now)?;
    let span = ChartSpan::of(&conditions.filter, now);
    // (bar, status, count): the bar's index in the span.
    let rows: Vec<(i64, String, i64)> = match conditions.split_text() {
        Some((text, mut others)) => {
            let since = from_ms(span.first_ms);
            others.filter.created_after = Some(
                others
                    .filter
                    .created_after
                    .map_or(since, |after| after.max(since)),
            );
            let matches =
                text_matches(pool, account_pk, &text, &others, None, TEXT_COUNT_CAP).await?;
            let mut rows: Vec<(i64, String, i64)> = Vec::new();
            for found in matches {
                let bar = (found.created_at - span.first_ms).div_euclid(span.bucket_ms);
                match rows
                    .iter_mut()
                    .find(|(b, s, _)| *b == bar && *s == found.status)
                {
                    Some(row) => row.2 += 1,
                    None => rows.push((bar, found.status, 1)),
                }
            }
            rows
        }
        None => {
            chart_sql(account_pk, &conditions, span)
                .build_query_as()
                .fetch_all(pool)
                .await?
        }
    };
    Ok(RunChart {
        bucket_ms: span.bucket_ms,
        bars: (0..span.bars)
            .map(|bar| ChartBar {
                start: from_ms(span.first_ms + bar * span.bucket_ms),
                counts: per_status(
                    rows.iter()
                        .filter(|(row_bar, _, _)| *row_bar == bar)
                        .map(|(_, name, count)| (name.as_str(), *count)),
                ),
            })
            .collect(),
    })
}

const DAY_MS: i64 = 86_400_000;

/// The SQL of [`chart`]: `(bar, status, count)` rows. Public so that a test can
/// explain its plan.
pub fn chart_query(account_pk: AccountPk, filter: &RunFilter) -> Result<SqlBuilder, AppError> {
    let now = now_ms();
    let conditions = Conditions::new(filter, now)?;
    let span = ChartSpan::of(&conditions.filter, now);
    Ok(chart_sql(account_pk, &conditions, span))
}

fn chart_sql(account_pk: AccountPk, conditions: &Conditions, span: ChartSpan) -> SqlBuilder {
    let filter = &conditions.filter;
    if span.daily() && from_counters(conditions) {
        let first_day = span.first_ms / DAY_MS;
        let mut query = SqlBuilder::new("SELECT day - ");
        query
            .push_bind(first_day)
            .push(", status, CAST(sum(count) AS BIGINT) FROM run_counts WHERE account_pk = ")
            .push_bind(account_pk);
        push_counter_filter(&mut query, account_pk, filter, true);
        query
            .push(" AND day >= ")
            .push_bind(first_day)
            .push(" AND day < ")
            .push_bind(first_day + span.bars)
            .push(" GROUP BY day, status");
        query
    } else {
        let mut query = SqlBuilder::new("SELECT (created_at - ");
        query
            .push_bind(span.first_ms)
            .push(") / ")
            .push_bind(span.bucket_ms)
            .push(" AS bar, status, count(*) FROM (SELECT r.created_at, r.status FROM runs r");
        push_conditions(&mut query, account_pk, conditions, Reading::Aggregate);
        // With a duration range, the chart reads the duration index and checks
        // the days on each match (up to the cap): statistics sampled from the
        // file's layout may otherwise prefer walking every run of the chart's days.
        let by_duration = filter.min_duration_ms.is_some() || filter.max_duration_ms.is_some();
        let created = if by_duration {
            "+r.created_at"
        } else {
            "r.created_at"
        };
        query
            .push(format!(" AND {created} >= "))
            .push_bind(span.first_ms)
            .push(format!(" AND {created} < "))
            .push_bind(span.end_ms())
            .push(" LIMIT ")
            .push_bind(COUNT_CAP)
            .push(") AS capped GROUP BY bar, status");
        query
    }
}

/// How many runs have each status, under every filter but the status one.
pub async fn status_counts(
    pool: &Pool,
    account_pk: AccountPk,
    filter: &RunFilter,
) -> Result<Vec<(RunStatus, i64)>, AppError> {
    let conditions = all_statuses(Conditions::new(filter, now_ms())?);
    let rows: Vec<(String, i64)> = match conditions.split_text() {
        Some((text, others)) => {
            let matches =
                text_matches(pool, account_pk, &text, &others, None, TEXT_COUNT_CAP).await?;
            matches.into_iter().map(|found| (found.status, 1)).collect()
        }
        None => {
            status_counts_sql(account_pk, &conditions)
                .build_query_as()
                .fetch_all(pool)
                .await?
        }
    };
    Ok(per_status(
        rows.iter().map(|(name, count)| (name.as_str(), *count)),
    ))
}

/// The SQL of [`status_counts`]: `(status, count)` rows. Public so that a test can
/// explain its plan.
pub fn status_counts_query(
    account_pk: AccountPk,
    filter: &RunFilter,
) -> Result<SqlBuilder, AppError> {
    let conditions = all_statuses(Conditions::new(filter, now_ms())?);
    Ok(status_counts_sql(account_pk, &conditions))
}

/// The conditions without the separate status filter (and a `status:` of the
/// query's top level, which is the same): the status chips count every status.
fn all_statuses(mut conditions: Conditions) -> Conditions {
    conditions.filter.statuses = Vec::new();
    conditions
}

fn status_counts_sql(account_pk: AccountPk, conditions: &Conditions) -> SqlBuilder {
    if from_counters(conditions) {
        let mut query = SqlBuilder::new(
            "SELECT status, CAST(sum(count) AS BIGINT) FROM run_counts WHERE account_pk = ",
        );
        query.push_bind(account_pk);
        push_counter_filter(&mut query, account_pk, &conditions.filter, false);
        query.push(" GROUP BY status");
        query
    } else {
        let mut query =
            SqlBuilder::new("SELECT status, count(*) FROM (SELECT r.status FROM runs r");
        push_conditions(&mut query, account_pk, conditions, Reading::Aggregate);
        query
            .push(" LIMIT ")
            .push_bind(COUNT_CAP)
            .push(") AS capped GROUP BY status");
        query
    }
}

/// Beyond this many matching runs, a filter that `run_counts` cannot answer is
/// counted and charted over this many of its matches only: reading every match
/// of a broad full-text or input-field filter at 1M runs took most of a second
/// (docs/performance.md), and "10,000+" tells a person as much.
pub const COUNT_CAP: i64 = 10_000;

/// A text search counts (and charts) at most this many of its matches: each is
/// found by walking the text indexes and checked by key, 60–120 ms for 10,000
/// at 1M runs and 20M events (docs/performance.md), and a search's "1,000+"
/// tells a person as much.
pub const TEXT_COUNT_CAP: i64 = 1_000;

/// How many runs match, and whether that is exact (see [`COUNT_CAP`]).
async fn count_runs(
    pool: &Pool,
    account_pk: AccountPk,
    conditions: &Conditions,
) -> Result<(i64, bool), AppError> {
    let (counted, cap) = match conditions.split_text() {
        Some((text, others)) => {
            let want = TEXT_COUNT_CAP + 1;
            let own_text_enough = text_search::own_text_exceeds(
                &mut pool.acquire().await?,
                account_pk,
                &text,
                &others,
                TEXT_COUNT_CAP,
            )
            .await?;
            let counted = if own_text_enough {
                want
            } else {
                text_matches(pool, account_pk, &text, &others, None, want)
                    .await?
                    .len() as i64
            };
            (counted, TEXT_COUNT_CAP)
        }
        None => {
            let counted: i64 = count_sql(account_pk, conditions)
                .build_query_scalar()
                .fetch_one(pool)
                .await?;
            if from_counters(conditions) {
                return Ok((counted, true));
            }
            (counted, COUNT_CAP)
        }
    };
    Ok((counted.min(cap), counted <= cap))
}

/// The SQL of the runs list's total: one count, exact when `run_counts` answers,
/// else of at most `COUNT_CAP + 1` matches. Public so that a test can explain its plan.
pub fn count_query(account_pk: AccountPk, filter: &RunFilter) -> Result<SqlBuilder, AppError> {
    Ok(count_sql(account_pk, &Conditions::new(filter, now_ms())?))
}

fn count_sql(account_pk: AccountPk, conditions: &Conditions) -> SqlBuilder {
    let filter = &conditions.filter;
    if from_counters(conditions) {
        let mut query = SqlBuilder::new(
            "SELECT CAST(COALESCE(sum(count), 0) AS BIGINT) FROM run_counts WHERE account_pk = ",
        );
        query.push_bind(account_pk);
        push_counter_filter(&mut query, account_pk, filter, true);
        return query;
    }
    let mut query = SqlBuilder::new("SELECT count(*) FROM (SELECT 1 FROM ");
    match input_field_alone(conditions) {
        // The field's own rows are its runs, one each: counting them reads one
        // index range (0.3 ms for 10,001 at 1M runs) where counting the runs
        // they name read 10,001 runs by key (11–20 ms; docs/performance.md).
        Some((path, value)) => {
            query.push("run_input_fields f WHERE");
            push_input_field(&mut query, "f", account_pk, path, value, filter.input_ci);
        }
        None => {
            query.push("runs r");
            push_conditions(&mut query, account_pk, conditions, Reading::Aggregate);
        }
    }
    query
        .push(" LIMIT ")
        .push_bind(COUNT_CAP + 1)
        .push(") AS capped");
    query
}

/// The one input-field condition of conditions that have nothing else.
fn input_field_alone(conditions: &Conditions) -> Option<(&str, &str)> {
    if conditions.expr.is_some() {
        return None;
    }
    let filter = &conditions.filter;
    let [(path, value)] = filter.input.as_slice() else {
        return None;
    };
    let only_input = RunFilter {
        input: filter.input.clone(),
        input_ci: filter.input_ci,
        limit: filter.limit,
        offset: filter.offset,
        cursor: filter.cursor.clone(),
        sort: filter.sort,
        ..RunFilter::default()
    };
    (*filter == only_input).then_some((path.as_str(), value.as_str()))
}

/// The orders an index gives under these conditions: a search for words walks
/// the text indexes newest first, and an input field's own index lists its runs
/// by creation (a duration order would sort every match).
fn check_sort(conditions: &Conditions) -> Result<(), AppError> {
    let sort = conditions.filter.sort;
    if sort != RunSort::NewestFirst && conditions.split_text().is_some() {
        return Err(AppError::invalid(
            "sort",
            "a search for words lists the newest runs first: remove the words or the sort",
        ));
    }
    if sort.by_duration() && !conditions.filter.input.is_empty() {
        return Err(AppError::invalid(
            "sort",
            "an input field filter lists runs by creation: sort by createdAt or -createdAt",
        ));
    }
    Ok(())
}

/// The orders a list under `filter` can have (whatever its own `sort`): what
/// the dashboard offers on its column headers.
pub fn orders(filter: &RunFilter) -> Result<Vec<RunSort>, AppError> {
    let conditions = Conditions::new(filter, now_ms())?;
    Ok(RunSort::ALL
        .into_iter()
        .filter(|&sort| {
            let mut sorted = conditions.clone();
            sorted.filter.sort = sort;
            check_sort(&sorted).is_ok()
        })
        .collect())
}

/// One page of an account's runs, in the filter's order, with the total that match.
pub async fn list_runs(
    pool: &Pool,
    account_pk: AccountPk,
    filter: &RunFilter,
) -> Result<RunPage, AppError> {
    let (limit, offset) = filter.page()?;
    let conditions = Conditions::new(filter, now_ms())?;
    check_sort(&conditions)?;
    let rows: Vec<ItemRow> = match conditions.split_text() {
        Some((text, others)) => {
            // Newest first by run key; a cursor's key is where the page starts.
            let below = filter
                .cursor
                .as_deref()
                .map(parse_cursor)
                .transpose()?
                .map(|(_, pk)| pk);
            let skip = if below.is_some() { 0 } else { offset };
            let page: Vec<i64> =
                text_matches(pool, account_pk, &text, &others, below, skip + limit)
                    .await?
                    .into_iter()
                    .skip(usize::try_from(skip).unwrap_or(0))
                    .map(|found| found.pk)
                    .collect();
            let keys = serde_json::to_string(&page).map_err(|_| AppError::Internal)?;
            let page_of = |keys: &str| {
                format!("{ITEM_COLUMNS} FROM runs r {ITEM_JOINS} WHERE r.pk IN {keys}")
            };
            let mut rows: Vec<ItemRow> = sql::query_as(page_of(sql::JSON_KEYS))
                .postgres(page_of(sql::JSON_KEYS_POSTGRES))
                .bind(keys)
                .fetch_all(pool)
                .await?;
            rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.position().pk));
            rows
        }
        None => {
            list_sql(account_pk, &conditions)?
                .build_query_as()
                .fetch_all(pool)
                .await?
        }
    };
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| {
            rows.last().map(|row| {
                let at = row.position();
                let key = if filter.sort.by_duration() {
                    row.duration_ms().unwrap_or_default()
                } else {
                    at.created_at
                };
                format!("{key}.{}", at.pk)
            })
        })
        .flatten();
    let runs = rows.into_iter().filter_map(ItemRow::into_run_row).collect();

    let (total, total_exact) = count_runs(pool, account_pk, &conditions).await?;
    Ok(RunPage {
        runs,
        total,
        total_exact,
        limit,
        offset,
        next_cursor,
    })
}

/// The SQL of one page of [`list_runs`], in the filter's order. Public so that
/// a test can explain its plan.
///
/// With an input-field filter the page is read from `run_input_fields`, whose key
/// (account, path, value, created_at, run) already lists the matching runs newest
/// first: twenty rows are read, however many match. Filtering `runs` by
/// `pk IN (…)` instead made SQLite sort every match (0.8 s for a value 125,000 of
/// 1M runs share; the join takes 0.2 ms, docs/performance.md).
pub fn list_query(account_pk: AccountPk, filter: &RunFilter) -> Result<SqlBuilder, AppError> {
    list_sql(account_pk, &Conditions::new(filter, now_ms())?)
}

fn list_sql(account_pk: AccountPk, conditions: &Conditions) -> Result<SqlBuilder, AppError> {
    check_sort(conditions)?;
    let filter = &conditions.filter;
    let (limit, offset) = filter.page()?;
    let sort = filter.sort;
    let mut others = conditions.clone();
    let driving = (!others.filter.input.is_empty()).then(|| others.filter.input.remove(0));
    let mut query = SqlBuilder::new(format!("{ITEM_COLUMNS} FROM "));
    if driving.is_some() {
        // CROSS JOIN is SQLite's way to fix the join order: with statistics the
        // planner otherwise started from `runs` and probed the fields of each run
        // (1.9 s at 1M runs).
        query
            .push("run_input_fields f")
            .push_dialect(" CROSS JOIN", " JOIN")
            .push(" runs r ON r.pk = f.run_pk ");
    } else {
        query.push("runs r ");
    }
    query.push(ITEM_JOINS);
    let reading = if sort.by_duration() {
        Reading::DurationPage
    } else {
        Reading::CreationPage
    };
    push_conditions(&mut query, account_pk, &others, reading);
    // The page's order, from the table that drives it (the same values either way).
    let (key_col, pk_col) = match driving {
        Some((path, value)) => {
            query.push(" AND");
            push_input_field(&mut query, "f", account_pk, &path, &value, filter.input_ci);
            ("f.created_at", "f.run_pk")
        }
        None if sort.by_duration() => {
            query.push(" AND r.duration_ms IS NOT NULL");
            ("r.duration_ms", "r.pk")
        }
        None => ("r.created_at", "r.pk"),
    };
    let (before, direction) = if sort.descending() {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(cursor) = &filter.cursor {
        let (key, pk) = parse_cursor(cursor)?;
        // The first condition is implied by the second; it is there so that the
        // page is one index range read from the cursor on, in order, rather
        // than two ranges (`MULTI-INDEX OR`) sorted whole.
        query
            .push(format!(" AND {key_col} {before}= "))
            .push_bind(key)
            .push(format!(" AND ({key_col} {before} "))
            .push_bind(key)
            .push(format!(" OR ({key_col} = "))
            .push_bind(key)
            .push(format!(" AND {pk_col} {before} "))
            .push_bind(pk)
            .push("))");
    }
    query
        .push(format!(
            " ORDER BY {key_col} {direction}, {pk_col} {direction} LIMIT "
        ))
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(if filter.cursor.is_some() { 0 } else { offset });
    Ok(query)
}
