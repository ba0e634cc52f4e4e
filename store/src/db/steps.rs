//! Steps: created or updated by (stepId, attempt); every attempt is kept.

use super::{changes, from_ms, now_ms};
use model::{AppError, ChangeData, Step, StepStatus};
use serde_json::Value;
use sqlx::{SqliteConnection, SqlitePool};

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
    conn: &mut SqliteConnection,
    run_pk: i64,
    report: &StepReport,
) -> Result<Step, AppError> {
    let now = now_ms();
    let status = report.status.unwrap_or(StepStatus::Pending);
    // Stamps the runner did not give: start when running, end when finished.
    let started_at = report
        .started_at
        .or((status == StepStatus::Running).then_some(now));
    let ended_at = report.ended_at.or(status.is_finished().then_some(now));
    sqlx::query(
        "INSERT INTO steps (run_pk, step_id, attempt, idx, name, skill_id, status, cache_hit, started_at,
                            ended_at, output_preview, error, output_artifact_ids, created_at, updated_at)
         VALUES (?, ?, ?, COALESCE(?, 0), ?, ?, ?, COALESCE(?, 0), ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_pk, step_id, attempt) DO UPDATE SET
            idx = COALESCE(?, idx),
            name = COALESCE(excluded.name, name),
            skill_id = COALESCE(excluded.skill_id, skill_id),
            status = CASE WHEN ? IS NULL THEN status ELSE excluded.status END,
            cache_hit = COALESCE(?, cache_hit),
            started_at = COALESCE(started_at, excluded.started_at),
            ended_at = COALESCE(excluded.ended_at, ended_at),
            output_preview = COALESCE(excluded.output_preview, output_preview),
            error = COALESCE(excluded.error, error),
            output_artifact_ids = COALESCE(excluded.output_artifact_ids, output_artifact_ids),
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
    sqlx::query(
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

type StepRow = (
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

async fn select_steps<'c, E>(
    executor: E,
    run_pk: i64,
    one: Option<(&str, i64)>,
) -> Result<Vec<Step>, AppError>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let rows: Vec<StepRow> = sqlx::query_as(
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
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(Step {
                step_id: row.0,
                attempt: row.1,
                idx: row.2,
                name: row.3,
                skill_id: row.4,
                status: row.5.parse().ok()?,
                cache_hit: row.6 == 1,
                started_at: row.7.map(from_ms),
                ended_at: row.8.map(from_ms),
                duration_ms: row.9,
                output_preview: row.10,
                error: row.11.and_then(|text| serde_json::from_str(&text).ok()),
                output_artifact_ids: row.12.and_then(|text| serde_json::from_str(&text).ok()),
                created_at: from_ms(row.13),
                updated_at: from_ms(row.14),
            })
        })
        .collect())
}

/// Every attempt of every step of a run, in step order.
pub async fn list_steps(pool: &SqlitePool, run_pk: i64) -> Result<Vec<Step>, AppError> {
    select_steps(pool, run_pk, None).await
}
