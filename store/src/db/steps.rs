//! Steps: created or updated by (stepId, attempt); every attempt is kept.

use super::{changes, from_ms, now_ms};
use crate::db::sql::{self, Conn, Pool};
use model::{AppError, ChangeData, RunPk, Step, StepStatus};
use serde_json::Value;

/// A runner's report about one attempt of a step. Absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    pub step_id: String,
    pub attempt: i64,
    pub idx: Option<i64>,
    pub name: Option<String>,
    pub skill_id: Option<String>,
    pub status: Option<StepStatus>,
    pub cache_hit: Option<bool>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub output_preview: Option<String>,
    pub error: Option<Value>,
    pub output_artifact_ids: Option<Vec<String>>,
}

pub async fn upsert_step(
    conn: &mut Conn,
    run_pk: RunPk,
    report: &StepReport,
) -> Result<Step, AppError> {
    let now = now_ms();
    let status = report.status.unwrap_or(StepStatus::Pending);
    // Stamps the runner did not give: start when running, end when finished.
    let started_at = report
        .started_at
        .or((status == StepStatus::Running).then_some(now));
    let ended_at = report.ended_at.or(status.is_finished().then_some(now));
    sql::query(
        "INSERT INTO steps (run_pk, step_id, attempt, idx, name, skill_id, status, cache_hit, started_at,
                            ended_at, output_preview, error, output_artifact_ids, created_at, updated_at)
         VALUES (?, ?, ?, COALESCE(?, 0), ?, ?, ?, COALESCE(?, 0), ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_pk, step_id, attempt) DO UPDATE SET
            idx = COALESCE(?, steps.idx),
            name = COALESCE(excluded.name, steps.name),
            skill_id = COALESCE(excluded.skill_id, steps.skill_id),
            status = CASE WHEN ? IS NULL THEN steps.status ELSE excluded.status END,
            cache_hit = COALESCE(?, steps.cache_hit),
            started_at = COALESCE(steps.started_at, excluded.started_at),
            ended_at = COALESCE(excluded.ended_at, steps.ended_at),
            output_preview = COALESCE(excluded.output_preview, steps.output_preview),
            error = COALESCE(excluded.error, steps.error),
            output_artifact_ids = COALESCE(excluded.output_artifact_ids, steps.output_artifact_ids),
            updated_at = excluded.updated_at",
    )
    .bind(run_pk)
    .bind(&report.step_id)
    .bind(report.attempt)
    .bind(report.idx)
    .bind(&report.name)
    .bind(&report.skill_id)
    .bind(status.as_str())
    .bind(report.cache_hit)
    .bind(started_at)
    .bind(ended_at)
    .bind(&report.output_preview)
    .bind(report.error.as_ref().map(Value::to_string))
    .bind(
        report
            .output_artifact_ids
            .as_ref()
            .map(|ids| Value::from(ids.clone()).to_string()),
    )
    .bind(now)
    .bind(now)
    .bind(report.idx)
    .bind(report.status.map(StepStatus::as_str))
    .bind(report.cache_hit)
    .execute(&mut *conn)
    .await?;
    sql::query(
        "UPDATE steps SET duration_ms = ended_at - started_at
         WHERE run_pk = ? AND step_id = ? AND attempt = ? AND started_at IS NOT NULL AND ended_at IS NOT NULL",
    )
    .bind(run_pk)
    .bind(&report.step_id)
    .bind(report.attempt)
    .execute(&mut *conn)
    .await?;
    let steps = select_steps(&mut *conn, run_pk, Some((&report.step_id, report.attempt))).await?;
    let step = steps.into_iter().next().ok_or(AppError::Internal)?;
    changes::record_for_run(conn, run_pk, &ChangeData::StepChanged(step.clone())).await?;
    Ok(step)
}

/// A row of `steps` as [`select_steps`] reads it.
#[derive(sqlx::FromRow)]
struct StepRow {
    step_id: String,
    attempt: i64,
    idx: i64,
    name: Option<String>,
    skill_id: Option<String>,
    status: String,
    cache_hit: i64,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    duration_ms: Option<i64>,
    output_preview: Option<String>,
    error: Option<String>,
    output_artifact_ids: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl StepRow {
    fn into_step(self) -> Option<Step> {
        Some(Step {
            step_id: self.step_id,
            attempt: self.attempt,
            idx: self.idx,
            name: self.name,
            skill_id: self.skill_id,
            status: self.status.parse().ok()?,
            cache_hit: self.cache_hit == 1,
            started_at: self.started_at.map(from_ms),
            ended_at: self.ended_at.map(from_ms),
            duration_ms: self.duration_ms,
            output_preview: self.output_preview,
            error: self.error.and_then(|text| serde_json::from_str(&text).ok()),
            output_artifact_ids: self
                .output_artifact_ids
                .and_then(|text| serde_json::from_str(&text).ok()),
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

async fn select_steps<'c, E>(
    executor: E,
    run_pk: RunPk,
    one: Option<(&str, i64)>,
) -> Result<Vec<Step>, AppError>
where
    E: crate::db::sql::Executor<'c>,
{
    let rows: Vec<StepRow> = sql::query_as(
        "SELECT step_id, attempt, idx, name, skill_id, status, cache_hit, started_at, ended_at, duration_ms,
                output_preview, error, output_artifact_ids, created_at, updated_at
         FROM steps WHERE run_pk = ? AND (? IS NULL OR (step_id = ? AND attempt = ?))
         ORDER BY idx, COALESCE(started_at, created_at), attempt",
    )
    .bind(run_pk)
    .bind(one.map(|(step_id, _)| step_id))
    .bind(one.map(|(step_id, _)| step_id))
    .bind(one.map(|(_, attempt)| attempt))
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().filter_map(StepRow::into_step).collect())
}

/// Every attempt of every step of a run, in step order.
pub async fn list_steps(pool: &Pool, run_pk: RunPk) -> Result<Vec<Step>, AppError> {
    select_steps(pool, run_pk, None).await
}
