//! Agents: listed and registered (name, description, dispatch URL).

use super::audit::{self, Actor, Target};
use super::{from_ms, now_ms, runs, Db};
use model::{AccountPk, Agent, AppError, AuditAction};
use sqlx::SqlitePool;

/// A row of `agents` as the queries here read it.
#[derive(sqlx::FromRow)]
struct AgentRow {
    slug: String,
    name: Option<String>,
    description: Option<String>,
    dispatch_url: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn to_agent(row: AgentRow) -> Agent {
    Agent {
        slug: row.slug,
        name: row.name,
        description: row.description,
        dispatch_url: row.dispatch_url,
        created_at: from_ms(row.created_at),
        updated_at: from_ms(row.updated_at),
    }
}

pub async fn list_agents(pool: &SqlitePool, account_pk: AccountPk) -> Result<Vec<Agent>, AppError> {
    let rows: Vec<AgentRow> = sqlx::query_as(
        "SELECT slug, name, description, dispatch_url, created_at, updated_at FROM agents
         WHERE account_pk = ? ORDER BY slug",
    )
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(to_agent).collect())
}

/// What registering an agent may set; absent fields keep their value, an empty
/// string clears it.
#[derive(Clone, Debug, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub dispatch_url: Option<String>,
}

pub async fn put_agent(
    db: &Db,
    actor: &Actor,
    slug: &str,
    update: AgentUpdate,
) -> Result<Agent, AppError> {
    let account_pk = actor.account_pk;
    runs::validate_slug("slug", slug)?;
    if let Some(url) = update.dispatch_url.as_deref().filter(|url| !url.is_empty()) {
        runs::validate_http_url("dispatchUrl", url)?;
        db.outbound().check_url("dispatchUrl", url).await?;
    }
    let mut tx = db.begin_write().await?;
    let pk = runs::ensure_agent(&mut tx, account_pk, slug).await?;
    sqlx::query(
        "UPDATE agents SET
            name = CASE WHEN ? IS NULL THEN name ELSE NULLIF(?, '') END,
            description = CASE WHEN ? IS NULL THEN description ELSE NULLIF(?, '') END,
            dispatch_url = CASE WHEN ? IS NULL THEN dispatch_url ELSE NULLIF(?, '') END,
            updated_at = ?
         WHERE pk = ?",
    )
    .bind(&update.name)
    .bind(&update.name)
    .bind(&update.description)
    .bind(&update.description)
    .bind(&update.dispatch_url)
    .bind(&update.dispatch_url)
    .bind(now_ms())
    .bind(pk)
    .execute(&mut *tx)
    .await?;
    let row: AgentRow = sqlx::query_as(
        "SELECT slug, name, description, dispatch_url, created_at, updated_at FROM agents WHERE pk = ?",
    )
    .bind(pk)
    .fetch_one(&mut *tx)
    .await?;
    let changed = serde_json::json!({
        "name": update.name,
        "description": update.description.is_some(),
        "dispatchUrl": update.dispatch_url,
    });
    audit::record(
        &mut tx,
        actor,
        AuditAction::AgentUpdate,
        Target::new("agent", slug).with_detail(changed),
    )
    .await?;
    tx.commit().await?;
    Ok(to_agent(row))
}

/// Per agent of an account: runs by status and when the last one was created.
pub async fn agent_activity(
    pool: &SqlitePool,
    account_pk: AccountPk,
) -> Result<Vec<(Agent, Vec<(model::RunStatus, i64)>, Option<i64>)>, AppError> {
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT a.slug, r.status, count(*) FROM runs r JOIN agents a ON a.pk = r.agent_pk
         WHERE r.account_pk = ? GROUP BY r.agent_pk, r.status",
    )
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
    let latest: Vec<(String, i64)> = sqlx::query_as(
        "SELECT a.slug, (SELECT max(r.created_at) FROM runs r WHERE r.account_pk = a.account_pk AND r.agent_pk = a.pk)
         FROM agents a WHERE a.account_pk = ? AND EXISTS (SELECT 1 FROM runs r WHERE r.account_pk = a.account_pk AND r.agent_pk = a.pk)",
    )
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
    let agents = list_agents(pool, account_pk).await?;
    Ok(agents
        .into_iter()
        .map(|agent| {
            let by_status = runs::per_status(
                counts
                    .iter()
                    .filter(|(slug, _, _)| *slug == agent.slug)
                    .map(|(_, name, count)| (name.as_str(), *count)),
            );
            let last = latest
                .iter()
                .find(|(slug, _)| *slug == agent.slug)
                .map(|(_, at)| *at);
            (agent, by_status, last)
        })
        .collect())
}
