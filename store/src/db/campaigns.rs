//! Campaigns, and how a run's start and end move its campaign (a completed run
//! makes the campaign live with its bundle URL, a failed one failed). The runs
//! module calls in here; this module does not know about runs' storage.

use super::audit::{self, Actor, Target};
use super::{alerts, changes, from_ms, now_ms, Db};
use crate::db::sql::{self, Conn, Pool};
use model::{
    AccountPk, AppError, AuditAction, Campaign, CampaignPk, CampaignStatus, ChangeData, Run, RunPk,
    RunStatus,
};
use uuid::Uuid;

pub async fn find_campaign_pk(
    conn: &mut Conn,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<Option<CampaignPk>, sqlx::Error> {
    sql::query_scalar("SELECT pk FROM campaigns WHERE account_pk = ? AND id = ?")
        .bind(account_pk)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
}

const CAMPAIGN_SELECT: &str = "SELECT c.id, c.name, c.status, c.bundle_url, r.id AS latest_run_id,
        c.created_at, c.updated_at,
        (SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM campaign_counts k WHERE k.campaign_pk = c.pk) AS runs_total,
        (SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM campaign_counts k WHERE k.campaign_pk = c.pk AND k.status = 'completed') AS runs_completed,
        (SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM campaign_counts k WHERE k.campaign_pk = c.pk AND k.status = 'failed') AS runs_failed,
        (SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM campaign_counts k WHERE k.campaign_pk = c.pk AND k.status = 'cancelled') AS runs_cancelled
    FROM campaigns c LEFT JOIN runs r ON r.pk = c.latest_run_pk";

/// A row of [`CAMPAIGN_SELECT`].
#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: String,
    name: String,
    status: String,
    bundle_url: Option<String>,
    latest_run_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    /// From `campaign_counts` (migrations/0015_campaign_counts.sql).
    runs_total: i64,
    runs_completed: i64,
    runs_failed: i64,
    runs_cancelled: i64,
}

fn to_campaign(row: CampaignRow) -> Option<Campaign> {
    Some(Campaign {
        id: row.id.parse().ok()?,
        name: row.name,
        status: CampaignStatus::parse(&row.status),
        bundle_url: row.bundle_url,
        latest_run_id: row.latest_run_id.and_then(|id| id.parse().ok()),
        created_at: from_ms(row.created_at),
        updated_at: from_ms(row.updated_at),
        runs: model::CampaignRuns {
            total: row.runs_total,
            completed: row.runs_completed,
            failed: row.runs_failed,
            cancelled: row.runs_cancelled,
            active: row.runs_total - row.runs_completed - row.runs_failed - row.runs_cancelled,
        },
    })
}

pub async fn create_campaign(db: &Db, actor: &Actor, name: &str) -> Result<Campaign, AppError> {
    let account_pk = actor.account_pk;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "name must be 1–200 characters"));
    }
    let id = Uuid::now_v7();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sql::query(
        "INSERT INTO campaigns (id, account_pk, name, status, created_at, updated_at)
         VALUES (?, ?, ?, 'draft', ?, ?)",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(name)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let campaign = record_change(&mut tx, account_pk, id).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::CampaignCreate,
        Target::new("campaign", id).with_detail(serde_json::json!({ "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(campaign)
}

/// Announces a campaign's new state on the live stream; returns it.
async fn record_change(
    conn: &mut Conn,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<Campaign, AppError> {
    let campaign = get_campaign(&mut *conn, account_pk, id).await?;
    changes::record(
        conn,
        account_pk,
        None,
        &ChangeData::CampaignChanged(campaign.clone()),
    )
    .await?;
    Ok(campaign)
}

/// A campaign of an account; another account's is `NotFound`.
pub async fn get_campaign<'c, E>(
    executor: E,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<Campaign, AppError>
where
    E: crate::db::sql::Executor<'c>,
{
    let row: Option<CampaignRow> = sql::query_as(format!(
        "{CAMPAIGN_SELECT} WHERE c.account_pk = ? AND c.id = ?"
    ))
    .bind(account_pk)
    .bind(id.to_string())
    .fetch_optional(executor)
    .await?;
    row.and_then(to_campaign).ok_or(AppError::NotFound)
}

pub async fn list_campaigns(
    pool: &Pool,
    account_pk: AccountPk,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Campaign>, i64), AppError> {
    let rows: Vec<CampaignRow> = sql::query_as(format!(
        "{CAMPAIGN_SELECT} WHERE c.account_pk = ? ORDER BY c.created_at DESC, c.pk DESC LIMIT ? OFFSET ?"
    ))
    .bind(account_pk)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = sql::query_scalar("SELECT count(*) FROM campaigns WHERE account_pk = ?")
        .bind(account_pk)
        .fetch_one(pool)
        .await?;
    Ok((rows.into_iter().filter_map(to_campaign).collect(), total))
}

/// A new run of the campaign makes it running and its latest run.
pub async fn on_run_started(
    conn: &mut Conn,
    campaign_pk: CampaignPk,
    run_pk: RunPk,
) -> Result<(), AppError> {
    sql::query(
        "UPDATE campaigns SET status = 'running', latest_run_pk = ?, updated_at = ? WHERE pk = ?",
    )
    .bind(run_pk)
    .bind(now_ms())
    .bind(campaign_pk)
    .execute(&mut *conn)
    .await?;
    let (account_pk, id): (AccountPk, String) =
        sql::query_as("SELECT account_pk, id FROM campaigns WHERE pk = ?")
            .bind(campaign_pk)
            .fetch_one(&mut *conn)
            .await?;
    let id = id.parse().map_err(|_| AppError::Internal)?;
    record_change(conn, account_pk, id).await?;
    Ok(())
}

/// A run of the campaign (key `run_pk`) ended: completed → live (with the bundle
/// URL from the run's `bundle` artifact or `context.bundleUrl`), failed → failed.
/// A cancelled run leaves the campaign's status as it is.
pub async fn on_run_finished(
    conn: &mut Conn,
    account_pk: AccountPk,
    campaign_id: Uuid,
    run_pk: RunPk,
    run: &Run,
) -> Result<(), AppError> {
    let status = match run.status {
        RunStatus::Completed => CampaignStatus::Live,
        RunStatus::Failed => CampaignStatus::Failed,
        _ => return Ok(()),
    };
    let bundle_url = if status == CampaignStatus::Live {
        bundle_url(conn, run_pk, run).await?
    } else {
        None
    };
    let (before, name): (String, String) =
        sql::query_as("SELECT status, name FROM campaigns WHERE account_pk = ? AND id = ?")
            .bind(account_pk)
            .bind(campaign_id.to_string())
            .fetch_one(&mut *conn)
            .await?;
    sql::query(
        "UPDATE campaigns SET status = ?, bundle_url = COALESCE(?, bundle_url), latest_run_pk = ?, updated_at = ?
         WHERE account_pk = ? AND id = ?",
    )
    .bind(status.as_str())
    .bind(bundle_url)
    .bind(run_pk)
    .bind(now_ms())
    .bind(account_pk)
    .bind(campaign_id.to_string())
    .execute(&mut *conn)
    .await?;
    let before = CampaignStatus::parse(&before);
    let campaign = (campaign_id, name.as_str());
    alerts::on_campaign_changed(conn, account_pk, campaign, before, status, run).await?;
    record_change(conn, account_pk, campaign_id).await?;
    Ok(())
}

async fn bundle_url(conn: &mut Conn, run_pk: RunPk, run: &Run) -> Result<Option<String>, AppError> {
    let artifact: Option<(String, Option<String>, i64)> = sql::query_as(
        "SELECT id, url, stored FROM artifacts WHERE run_pk = ? AND (artifact_type = 'bundle' OR name = 'bundle')
         ORDER BY created_at DESC, pk DESC LIMIT 1",
    )
    .bind(run_pk)
    .fetch_optional(conn)
    .await?;
    let from_artifact = artifact.and_then(|(id, url, stored)| {
        url.or_else(|| {
            (stored == 1).then(|| format!("/api/runs/{}/artifacts/{id}/content", run.id))
        })
    });
    // Both are checked when written; one written before that check is passed over.
    let linkable = |url: &String| model::link_target(url).is_some();
    Ok(from_artifact.filter(linkable).or_else(|| {
        run.context
            .get("bundleUrl")
            .and_then(|url| url.as_str())
            .map(str::to_string)
            .filter(linkable)
    }))
}
