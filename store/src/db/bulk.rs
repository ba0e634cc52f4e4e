//! Bulk jobs' storage: creating a job (its exact count, its audit entry), reading
//! and cancelling it, its preview (`dryRun`), and one batch of its work in one
//! write transaction. Each run of a batch goes through the same function as the
//! single-run action ([`runs::cancel_stored`], [`runs::retry_stored`],
//! [`runs::delete_stored`], [`runs::changed_tags`] with [`runs::set_tags`]), so
//! campaigns, webhooks, the change log and the live pages follow as they do for
//! one run; a run the action no longer applies to when it is reached is skipped.
//! The batch's counts and the walk's next position are written in the same
//! transaction as its changes: a restart goes on exactly where the job stopped.
//! The walk itself (batch sizes, pauses, the worker) is [`crate::bulk`].

use super::audit::{self, Actor, Target};
use super::runs::{self, Position, StoredRun};
use super::{changes, from_ms, now_ms, Db, WriteTx};
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{
    AccountPk, AppError, AuditAction, BulkAction, BulkJob, BulkJobStatus, BulkPreview, ChangeData,
    ConflictCode, RunFilter, RunPk, RunStatus, MAX_TAGS,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The live stream hears of a job's progress at most this often (and always of
/// its start, its end and its cancellation).
pub const ANNOUNCE_EVERY_MS: i64 = 1_000;

/// How many jobs [`list_jobs`] shows: the newest.
pub const RECENT_JOBS: i64 = 50;

/// Filter parameters a job does not take in `filter`: the query goes in `q`, and
/// a job has no pages or columns.
const NOT_FILTERS: [&str; 5] = ["q", "limit", "offset", "cursor", "fields"];

/// The runs filter of a job's `q` and `filter` parameters, read by the runs
/// list's own parser; an error names `q` or `filter.<parameter>`.
pub fn job_filter(q: &str, filter: &BTreeMap<String, String>) -> Result<RunFilter, AppError> {
    for key in filter.keys() {
        if NOT_FILTERS.contains(&key.as_str()) {
            return Err(AppError::invalid(
                format!("filter.{key}"),
                match key.as_str() {
                    "q" => "the query goes in `q`, beside `filter`".to_string(),
                    _ => format!("`{key}` is not a filter: a bulk action takes every matching run"),
                },
            ));
        }
    }
    // The query alone first, so that whatever is wrong with it is named `q`.
    RunFilter::from_query([("q", q)]).map_err(|error| match error {
        AppError::Invalid { message, .. } => AppError::invalid("q", message),
        other => other,
    })?;
    let pairs = filter
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .chain([("q", q)]);
    RunFilter::from_query(pairs).map_err(|error| match error {
        AppError::Invalid { field, message } if filter.contains_key(&field) => {
            AppError::invalid(format!("filter.{field}"), message)
        }
        other => other,
    })
}

/// ` r`'s status is one of `statuses`.
fn push_statuses(query: &mut SqlBuilder, statuses: impl Iterator<Item = RunStatus>) {
    query.push("r.status IN (");
    let mut separated = query.separated(", ");
    for status in statuses {
        separated.push_bind(status.as_str());
    }
    query.push(")");
}

/// SQL over `runs r`: the action would change the run now. The same rules as the
/// single-run actions: cancel what has not finished, retry what is
/// [`runs::retryable`], delete anything, tag what lacks the tag (and has room for
/// it), untag what has it.
fn push_would_change(query: &mut SqlBuilder, action: BulkAction, tag: &str) {
    match action {
        BulkAction::Cancel => push_statuses(
            query,
            RunStatus::ALL
                .iter()
                .copied()
                .filter(|status| !status.is_terminal()),
        ),
        BulkAction::Retry => push_statuses(
            query,
            RunStatus::ALL
                .iter()
                .copied()
                .filter(|&status| runs::retryable(status)),
        ),
        BulkAction::Delete => {
            query.push("TRUE");
        }
        BulkAction::Tag => {
            query
                .push("NOT EXISTS (SELECT 1 FROM run_tags t WHERE t.run_pk = r.pk AND t.tag = ")
                .push_bind(tag.to_string())
                .push(") AND coalesce(")
                .push_dialect(
                    "json_array_length(r.tags)",
                    "json_array_length(CAST(r.tags AS json))",
                )
                .push(", 0) < ")
                .push_bind(MAX_TAGS as i64);
        }
        BulkAction::Untag => {
            query
                .push("EXISTS (SELECT 1 FROM run_tags t WHERE t.run_pk = r.pk AND t.tag = ")
                .push_bind(tag.to_string())
                .push(")");
        }
    }
}

/// What `action` would do to the runs `filter` matches now: exact counts, every
/// run counted.
pub async fn preview(
    pool: &Pool,
    account_pk: AccountPk,
    action: BulkAction,
    tag: Option<&str>,
    filter: &RunFilter,
) -> Result<BulkPreview, AppError> {
    let tag = tag.unwrap_or_default().to_string();
    let would_change = move |query: &mut SqlBuilder| {
        push_would_change(query, action, &tag);
    };
    let (matched, would_change) =
        runs::count_below(pool, account_pk, filter, Position::TOP, Some(&would_change)).await?;
    Ok(BulkPreview {
        matched,
        would_change,
    })
}

/// What a person asks a bulk job to do.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub action: BulkAction,
    pub q: String,
    pub filter: BTreeMap<String, String>,
    /// Checked by [`BulkAction::checked_tag`].
    pub tag: Option<String>,
}

/// The columns of a [`JobRow`].
const JOB_COLUMNS: &str = "SELECT id, account_pk, created_by, action, q, filter, tag, status,
    matched, done, skipped, failed, next_created_at, next_pk, error, created_at, updated_at,
    finished_at FROM bulk_jobs";

#[derive(sqlx::FromRow, Clone, Debug)]
struct JobRow {
    id: String,
    account_pk: AccountPk,
    created_by: String,
    action: String,
    q: String,
    filter: String,
    tag: Option<String>,
    status: String,
    matched: i64,
    done: i64,
    skipped: i64,
    failed: i64,
    next_created_at: i64,
    next_pk: i64,
    error: Option<String>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

impl JobRow {
    fn job(&self) -> Result<BulkJob, AppError> {
        let corrupt = |what: &str| {
            tracing::error!(job = %self.id, "stored bulk job has an invalid {what}");
            AppError::Internal
        };
        Ok(BulkJob {
            id: self.id.parse().map_err(|_| corrupt("id"))?,
            action: self.action.parse().map_err(|_| corrupt("action"))?,
            q: self.q.clone(),
            filter: serde_json::from_str(&self.filter).map_err(|_| corrupt("filter"))?,
            tag: self.tag.clone(),
            matched: self.matched,
            done: self.done,
            skipped: self.skipped,
            failed: self.failed,
            status: self.status.parse().map_err(|_| corrupt("status"))?,
            created_by: self.created_by.clone(),
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
            finished_at: self.finished_at.map(from_ms),
            error: self.error.clone(),
        })
    }
}

/// Starts a bulk job: counts the runs it matches (those created up to now: the
/// walk starts there), stores it queued, records who started it in the audit
/// log and announces it on the live stream. The worker takes it from there.
pub async fn create_job(db: &Db, actor: &Actor, new: NewJob) -> Result<BulkJob, AppError> {
    let account_pk = actor.account_pk;
    let filter = job_filter(&new.q, &new.filter)?;
    let tag = new.action.checked_tag("tag", new.tag.as_deref())?;
    let now = now_ms();
    let start = Position::created_up_to(now);
    let (matched, _) = runs::count_below(&db.read, account_pk, &filter, start, None).await?;
    let id = Uuid::now_v7();
    let filter_json = serde_json::to_string(&new.filter).map_err(|_| AppError::Internal)?;
    let mut tx = db.begin_write().await?;
    sql::query(
        "INSERT INTO bulk_jobs (id, account_pk, user_pk, created_by, action, q, filter, tag, status,
                                matched, next_created_at, next_pk, created_at, updated_at, announced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(actor.user_pk)
    .bind(&actor.name)
    .bind(new.action.as_str())
    .bind(&new.q)
    .bind(&filter_json)
    .bind(&tag)
    .bind(matched)
    .bind(start.created_at)
    .bind(start.pk)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let job = job_in(&mut tx, account_pk, id).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::BulkCreate,
        Target::new("bulk_job", id).with_detail(json!({
            "action": job.action,
            "q": job.q,
            "filter": job.filter,
            "tag": job.tag,
            "matched": matched,
        })),
    )
    .await?;
    changes::record(
        &mut tx,
        account_pk,
        None,
        &ChangeData::BulkJobChanged(job.clone()),
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}

async fn row_in(conn: &mut Conn, account_pk: AccountPk, id: Uuid) -> Result<JobRow, AppError> {
    let row: Option<JobRow> =
        sql::query_as(format!("{JOB_COLUMNS} WHERE account_pk = ? AND id = ?"))
            .bind(account_pk)
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    row.ok_or(AppError::NotFound)
}

async fn job_in(conn: &mut Conn, account_pk: AccountPk, id: Uuid) -> Result<BulkJob, AppError> {
    row_in(conn, account_pk, id).await?.job()
}

/// One job of an account (404 for another account's).
pub async fn get_job(pool: &Pool, account_pk: AccountPk, id: Uuid) -> Result<BulkJob, AppError> {
    let mut conn = pool.acquire().await?;
    job_in(&mut conn, account_pk, id).await
}

/// An account's newest [`RECENT_JOBS`] jobs, newest first.
pub async fn list_jobs(pool: &Pool, account_pk: AccountPk) -> Result<Vec<BulkJob>, AppError> {
    let rows: Vec<JobRow> = sql::query_as(format!(
        "{JOB_COLUMNS} WHERE account_pk = ? ORDER BY created_at DESC, pk DESC LIMIT ?"
    ))
    .bind(account_pk)
    .bind(RECENT_JOBS)
    .fetch_all(pool)
    .await?;
    rows.iter().map(JobRow::job).collect()
}

/// Cancels a job not yet finished (409 `job_finished` otherwise): the worker
/// stops it before its next transaction; what was done stays done. Audited.
pub async fn cancel_job(db: &Db, actor: &Actor, id: Uuid) -> Result<BulkJob, AppError> {
    let mut tx = db.begin_write().await?;
    let before = job_in(&mut tx, actor.account_pk, id).await?;
    if before.status.is_finished() {
        return Err(AppError::conflict(
            ConflictCode::JobFinished,
            format!("bulk job {id} is {} already", before.status),
        ));
    }
    let now = now_ms();
    sql::query(
        "UPDATE bulk_jobs SET status = 'cancelled', updated_at = ?1, finished_at = ?1, announced_at = ?1
         WHERE account_pk = ?2 AND id = ?3",
    )
    .bind(now)
    .bind(actor.account_pk)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    let job = job_in(&mut tx, actor.account_pk, id).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::BulkCancel,
        Target::new("bulk_job", id).with_detail(json!({
            "action": job.action,
            "q": job.q,
            "filter": job.filter,
            "matched": job.matched,
            "done": job.done,
        })),
    )
    .await?;
    changes::record(
        &mut tx,
        actor.account_pk,
        None,
        &ChangeData::BulkJobChanged(job.clone()),
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// A job as the worker goes on with it.
#[derive(Clone, Debug)]
pub struct OpenJob {
    pub pk: i64,
    pub account_pk: AccountPk,
    pub action: BulkAction,
    pub tag: Option<String>,
    /// Its filter, read again ([`job_filter`]); an error if it no longer reads.
    pub filter: Result<RunFilter, AppError>,
    /// The walk goes on below here.
    pub next: Position,
}

/// The oldest job not finished, of any account: the worker's next.
pub async fn next_open(pool: &Pool) -> Result<Option<i64>, AppError> {
    Ok(sql::query_scalar(
        "SELECT pk FROM bulk_jobs WHERE status IN ('queued', 'running') ORDER BY created_at, pk LIMIT 1",
    )
    .fetch_optional(pool)
    .await?)
}

/// A job by key, if it is not finished.
pub async fn open_job(pool: &Pool, pk: i64) -> Result<Option<OpenJob>, AppError> {
    let row: Option<JobRow> = sql::query_as(format!(
        "{JOB_COLUMNS} WHERE pk = ? AND status IN ('queued', 'running')"
    ))
    .bind(pk)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let job = row.job()?;
    Ok(Some(OpenJob {
        pk,
        account_pk: row.account_pk,
        action: job.action,
        tag: job.tag,
        filter: job_filter(&job.q, &job.filter),
        next: Position {
            created_at: row.next_created_at,
            pk: row.next_pk,
        },
    }))
}

/// What one batch did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    /// How long the transaction held the writer.
    pub held: Duration,
    /// The job is finished (this was its last batch, or it was cancelled meanwhile).
    pub finished: bool,
    /// Storage keys of deleted runs' files, in the trash: remove them now
    /// ([`crate::prune::discard_files`]).
    pub trashed: Vec<String>,
}

/// Applies the job's action to the runs `keys` (the next ones the walk found,
/// newest first) in one write transaction, with the job's counts and next
/// position; `last` ends the job (`done`). A job cancelled since it was read
/// does nothing more. Each run is re-read in the transaction and the
/// single-run rule decides: a run deleted meanwhile, or one the action no
/// longer applies to (a conflict, or nothing to change), is skipped; one the
/// action refuses as invalid (a 21st tag) failed. Each run's writes are undone
/// alone when it is skipped or failed; a database error undoes the batch.
pub async fn apply_batch(
    db: &Db,
    job: &OpenJob,
    keys: &[(RunPk, Position)],
    last: bool,
) -> Result<Applied, AppError> {
    let mut tx = db.begin_write().await?;
    let held_since = Instant::now();
    let row: Option<(String, i64)> =
        sql::query_as("SELECT status, announced_at FROM bulk_jobs WHERE pk = ?")
            .bind(job.pk)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, announced_at)) = row else {
        return Ok(Applied {
            finished: true,
            ..Applied::default()
        });
    };
    let status: BulkJobStatus = status.parse().map_err(|_| AppError::Internal)?;
    if status.is_finished() {
        return Ok(Applied {
            finished: true,
            ..Applied::default()
        });
    }
    let mut applied = Applied::default();
    for &(run_pk, _) in keys {
        sql::query("SAVEPOINT bulk_run").execute(&mut *tx).await?;
        match apply_one(&mut tx, job, run_pk, &mut applied.trashed).await {
            Ok(changed) => {
                if changed {
                    applied.done += 1;
                } else {
                    applied.skipped += 1;
                }
                sql::query("RELEASE bulk_run").execute(&mut *tx).await?;
            }
            Err(
                error @ (AppError::Conflict { .. }
                | AppError::NotFound
                | AppError::Invalid { .. }
                | AppError::TooLarge(_)),
            ) => {
                if matches!(error, AppError::Invalid { .. } | AppError::TooLarge(_)) {
                    applied.failed += 1;
                } else {
                    applied.skipped += 1;
                }
                sql::query("ROLLBACK TO bulk_run").execute(&mut *tx).await?;
                sql::query("RELEASE bulk_run").execute(&mut *tx).await?;
            }
            Err(other) => return Err(other),
        }
    }
    let next = keys.last().map_or(job.next, |&(_, position)| position);
    let now = now_ms();
    let next_status = if last {
        BulkJobStatus::Done
    } else {
        BulkJobStatus::Running
    };
    let announce = last || status != next_status || now - announced_at >= ANNOUNCE_EVERY_MS;
    sql::query(
        "UPDATE bulk_jobs SET status = ?, done = done + ?, skipped = skipped + ?, failed = failed + ?,
                next_created_at = ?, next_pk = ?, updated_at = ?, finished_at = ?,
                announced_at = CASE WHEN ? <> 0 THEN ? ELSE announced_at END
         WHERE pk = ?",
    )
    .bind(next_status.as_str())
    .bind(applied.done)
    .bind(applied.skipped)
    .bind(applied.failed)
    .bind(next.created_at)
    .bind(next.pk)
    .bind(now)
    .bind(last.then_some(now))
    .bind(announce)
    .bind(now)
    .bind(job.pk)
    .execute(&mut *tx)
    .await?;
    if announce {
        announce_job(&mut tx, job.pk).await?;
    }
    tx.commit().await?;
    applied.held = held_since.elapsed();
    applied.finished = last;
    Ok(applied)
}

/// Records the job's state in the change log (the live stream's `bulk_job.changed`).
async fn announce_job(tx: &mut WriteTx, pk: i64) -> Result<(), AppError> {
    let row: JobRow = sql::query_as(format!("{JOB_COLUMNS} WHERE pk = ?"))
        .bind(pk)
        .fetch_one(&mut **tx)
        .await?;
    changes::record(
        tx,
        row.account_pk,
        None,
        &ChangeData::BulkJobChanged(row.job()?),
    )
    .await
}

/// The job's action on one run, by the single-run rule; whether it changed the run.
async fn apply_one(
    tx: &mut WriteTx,
    job: &OpenJob,
    run_pk: RunPk,
    trashed: &mut Vec<String>,
) -> Result<bool, AppError> {
    let run = runs::get_run_by_pk(tx, run_pk).await?;
    if run.account_pk != job.account_pk {
        return Ok(false);
    }
    let tag = || -> Result<[String; 1], AppError> {
        job.tag.clone().map(|tag| [tag]).ok_or_else(|| {
            tracing::error!(job = job.pk, "a tag job without a tag");
            AppError::Internal
        })
    };
    match job.action {
        BulkAction::Cancel => runs::cancel_stored(tx, &run).await.map(|_| true),
        BulkAction::Retry => runs::retry_stored(tx, &run).await.map(|_| true),
        BulkAction::Delete => {
            trashed.extend(runs::delete_stored(tx, &run).await?);
            Ok(true)
        }
        BulkAction::Tag => retag(tx, &run, &tag()?, &[]).await,
        BulkAction::Untag => retag(tx, &run, &[], &tag()?).await,
    }
}

/// Adds and removes tags as `PATCH /api/runs/{id}` replaces them: the run's tags
/// by [`runs::changed_tags`] (false when that changes nothing), kept by
/// [`runs::set_tags`], and the change announced.
async fn retag(
    tx: &mut WriteTx,
    run: &StoredRun,
    add: &[String],
    remove: &[String],
) -> Result<bool, AppError> {
    let Some(tags) = runs::changed_tags(run, "tag", add, remove)? else {
        return Ok(false);
    };
    runs::set_tags(tx, run.pk, &tags).await?;
    sql::query("UPDATE runs SET updated_at = ? WHERE pk = ?")
        .bind(now_ms())
        .bind(run.pk)
        .execute(&mut **tx)
        .await?;
    let updated = runs::get_run_by_pk(tx, run.pk).await?;
    changes::record(
        tx,
        run.account_pk,
        Some(updated.run.id),
        &ChangeData::RunUpdated(updated.run),
    )
    .await?;
    Ok(true)
}

/// Ends a job that cannot go on, with the reason people see.
pub async fn fail_job(db: &Db, pk: i64, error: &str) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let now = now_ms();
    let changed = sql::query(
        "UPDATE bulk_jobs SET status = 'failed', error = ?1, updated_at = ?2, finished_at = ?2,
                announced_at = ?2
         WHERE pk = ?3 AND status IN ('queued', 'running')",
    )
    .bind(error)
    .bind(now)
    .bind(pk)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed > 0 {
        announce_job(&mut tx, pk).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn a_jobs_filter_is_read_by_the_lists_parser_and_errors_name_the_parameter() {
        let filter =
            job_filter("", &map(&[("status", "failed"), ("agent", "crawler")])).unwrap_or_default();
        assert_eq!(filter.statuses, vec![RunStatus::Failed]);
        assert_eq!(filter.agent.as_deref(), Some("crawler"));
        for (pairs, field) in [
            (vec![("status", "sleeping")], "filter.status"),
            (vec![("colour", "red")], "filter.colour"),
            (vec![("limit", "5")], "filter.limit"),
            (vec![("q", "x")], "filter.q"),
        ] {
            let error = job_filter("", &map(&pairs)).unwrap_err();
            assert_eq!(error.field(), Some(field), "{pairs:?}");
        }
        let error = job_filter("input..x=1", &map(&[])).unwrap_err();
        assert_eq!(error.field(), Some("q"));
    }
}
