//! Agents: listed and registered (name, description, dispatch URL, and the
//! limits the sweeper enforces on their runs).

use super::audit::{self, Actor, Target};
use super::{from_ms, now_ms, runs, Db};
use crate::db::sql::{self, Conn, Pool};
use model::{AccountPk, Agent, AgentLimits, AppError, AuditAction};

/// A row of `agents` as the queries here read it.
#[derive(sqlx::FromRow)]
struct AgentRow {
    slug: String,
    name: Option<String>,
    description: Option<String>,
    dispatch_url: Option<String>,
    heartbeat_timeout_secs: Option<i64>,
    max_runtime_secs: Option<i64>,
    queue_timeout_secs: Option<i64>,
    max_attempts: Option<i64>,
    lease_secs: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

/// The columns of an [`AgentRow`].
const AGENT_COLUMNS: &str = "slug, name, description, dispatch_url, heartbeat_timeout_secs,
    max_runtime_secs, queue_timeout_secs, max_attempts, lease_secs, created_at, updated_at";

fn to_agent(row: AgentRow) -> Agent {
    Agent {
        slug: row.slug,
        name: row.name,
        description: row.description,
        dispatch_url: row.dispatch_url,
        limits: AgentLimits {
            heartbeat_timeout_secs: row.heartbeat_timeout_secs,
            max_runtime_secs: row.max_runtime_secs,
            queue_timeout_secs: row.queue_timeout_secs,
            max_attempts: row.max_attempts,
            lease_secs: row.lease_secs,
        },
        created_at: from_ms(row.created_at),
        updated_at: from_ms(row.updated_at),
    }
}

pub async fn list_agents(pool: &Pool, account_pk: AccountPk) -> Result<Vec<Agent>, AppError> {
    let rows: Vec<AgentRow> = sql::query_as(format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE account_pk = ? ORDER BY slug"
    ))
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(to_agent).collect())
}

/// An agent of the account by its slug, with its key; 404 for none (another
/// account's agent is none).
pub async fn find_agent(
    pool: &Pool,
    account_pk: AccountPk,
    slug: &str,
) -> Result<(i64, Agent), AppError> {
    #[derive(sqlx::FromRow)]
    struct Found {
        pk: i64,
        #[sqlx(flatten)]
        row: AgentRow,
    }
    let found: Found = sql::query_as(format!(
        "SELECT pk, {AGENT_COLUMNS} FROM agents WHERE account_pk = ? AND slug = ?"
    ))
    .bind(account_pk)
    .bind(slug)
    .fetch_optional(pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((found.pk, to_agent(found.row)))
}

/// What registering an agent may set; absent fields keep their value, an empty
/// string clears a text and `Some(None)` turns a limit off.
#[derive(Clone, Debug, Default)]
pub struct AgentUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub dispatch_url: Option<String>,
    /// Limits to change, by API name ([`AgentLimits::ALL`]).
    pub limits: Vec<(&'static str, Option<i64>)>,
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
    // Each limit's bounds stand alone, so they are checked before taking the writer.
    let mut probe = AgentLimits::DEFAULT;
    for (field, value) in &update.limits {
        probe.set(field, *value);
    }
    probe.validate()?;
    let mut tx = db.begin_write().await?;
    let pk = runs::ensure_agent(&mut tx, account_pk, slug).await?;
    sql::query(
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
    let mut limits = read_agent(&mut tx, pk).await?.limits;
    for (field, value) in &update.limits {
        limits.set(field, *value);
    }
    if !update.limits.is_empty() {
        sql::query(
            "UPDATE agents SET heartbeat_timeout_secs = ?, max_runtime_secs = ?,
                queue_timeout_secs = ?, max_attempts = ?, lease_secs = ?
             WHERE pk = ?",
        )
        .bind(limits.heartbeat_timeout_secs)
        .bind(limits.max_runtime_secs)
        .bind(limits.queue_timeout_secs)
        .bind(limits.max_attempts)
        .bind(limits.lease_secs)
        .bind(pk)
        .execute(&mut *tx)
        .await?;
    }
    let agent = read_agent(&mut tx, pk).await?;
    let mut changed = serde_json::json!({
        "name": update.name,
        "description": update.description.is_some(),
        "dispatchUrl": update.dispatch_url,
    });
    for (field, value) in &update.limits {
        changed[*field] = serde_json::json!(value);
    }
    audit::record(
        &mut tx,
        actor,
        AuditAction::AgentUpdate,
        Target::new("agent", slug).with_detail(changed),
    )
    .await?;
    tx.commit().await?;
    Ok(agent)
}

async fn read_agent(conn: &mut Conn, pk: i64) -> Result<Agent, AppError> {
    let row: AgentRow = sql::query_as(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE pk = ?"))
        .bind(pk)
        .fetch_one(conn)
        .await?;
    Ok(to_agent(row))
}

/// Per agent of an account: runs by status and when the last one was created.
pub async fn agent_activity(
    pool: &Pool,
    account_pk: AccountPk,
) -> Result<Vec<(Agent, Vec<(model::RunStatus, i64)>, Option<i64>)>, AppError> {
    let counts: Vec<(String, String, i64)> = sql::query_as(
        "SELECT a.slug, r.status, count(*) FROM runs r JOIN agents a ON a.pk = r.agent_pk
         WHERE r.account_pk = ? GROUP BY r.agent_pk, a.slug, r.status",
    )
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
    let latest: Vec<(String, i64)> = sql::query_as(
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
