//! An account's retention policy: read whole, replaced whole, checked in one
//! place ([`set_policy`]: days by `model`, agent slugs against the account's
//! agents) and audited in the transaction that stores it.

use super::audit::{self, Actor, Target};
use super::{now_ms, runs, Db};
use crate::db::sql::{self, Conn, Pool};
use model::{AccountPk, AppError, AuditAction, RetentionPolicy};
use serde_json::json;
use std::collections::HashSet;

fn parse(account_pk: AccountPk, text: &str) -> Result<RetentionPolicy, AppError> {
    serde_json::from_str(text).map_err(|error| {
        tracing::error!(%error, account = account_pk.0, "a stored retention policy does not parse");
        AppError::Internal
    })
}

async fn read(conn: &mut Conn, account_pk: AccountPk) -> Result<RetentionPolicy, AppError> {
    let text: Option<String> =
        sql::query_scalar("SELECT policy FROM retention_policies WHERE account_pk = ?")
            .bind(account_pk)
            .fetch_optional(conn)
            .await?;
    match text {
        Some(text) => parse(account_pk, &text),
        None => Ok(RetentionPolicy::default()),
    }
}

/// The account's policy (the default, keeping everything, when none was set).
pub async fn get_policy(pool: &Pool, account_pk: AccountPk) -> Result<RetentionPolicy, AppError> {
    let mut conn = pool.acquire().await?;
    read(&mut conn, account_pk).await
}

/// Every account that has a policy, with it: what a prune applies.
pub async fn all_policies(pool: &Pool) -> Result<Vec<(AccountPk, RetentionPolicy)>, AppError> {
    let rows: Vec<(AccountPk, String)> =
        sql::query_as("SELECT account_pk, policy FROM retention_policies ORDER BY account_pk")
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(account_pk, text)| Ok((account_pk, parse(account_pk, &text)?)))
        .collect()
}

/// Replaces the account's policy. Days must be whole and within 1–36,500 and
/// every agent an agent of the account, else a 400 naming the field and nothing
/// changes. Returns the stored policy.
pub async fn set_policy(
    db: &Db,
    actor: &Actor,
    policy: RetentionPolicy,
) -> Result<RetentionPolicy, AppError> {
    update_policy(db, actor, |stored| {
        *stored = policy;
        Ok(())
    })
    .await
}

/// Changes the account's policy with `edit` inside one write transaction (the
/// settings page edits one agent's override at a time), then checks and stores
/// it as [`set_policy`] does.
pub async fn update_policy(
    db: &Db,
    actor: &Actor,
    edit: impl FnOnce(&mut RetentionPolicy) -> Result<(), AppError>,
) -> Result<RetentionPolicy, AppError> {
    let account_pk = actor.account_pk;
    let mut tx = db.begin_write().await?;
    let before = read(&mut tx, account_pk).await?;
    let mut policy = before.clone();
    edit(&mut policy)?;
    policy.validate()?;
    check_agents(&mut tx, account_pk, &policy).await?;
    if policy == before {
        return Ok(policy);
    }
    if policy.is_default() {
        sql::query("DELETE FROM retention_policies WHERE account_pk = ?")
            .bind(account_pk)
            .execute(&mut *tx)
            .await?;
    } else {
        let text = serde_json::to_string(&policy).map_err(|_| AppError::Internal)?;
        sql::query(
            "INSERT INTO retention_policies (account_pk, policy, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (account_pk) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        )
        .bind(account_pk)
        .bind(text)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        actor,
        AuditAction::RetentionUpdate,
        Target {
            kind: Some("retention"),
            id: None,
            detail: Some(json!({ "policy": policy })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(policy)
}

/// Every override names an agent of the account.
async fn check_agents(
    conn: &mut Conn,
    account_pk: AccountPk,
    policy: &RetentionPolicy,
) -> Result<(), AppError> {
    if policy.agents.is_empty() {
        return Ok(());
    }
    let known: HashSet<String> = sql::query_scalar("SELECT slug FROM agents WHERE account_pk = ?")
        .bind(account_pk)
        .fetch_all(conn)
        .await?
        .into_iter()
        .collect();
    for slug in policy.agents.keys() {
        if known.contains(slug) {
            continue;
        }
        // A slug that could not be one is not echoed back as a field name.
        return Err(match runs::validate_slug("agents", slug) {
            Ok(()) => AppError::invalid(
                format!("agents.{slug}"),
                format!("agents.{slug}: this account has no agent {slug}"),
            ),
            Err(_) => AppError::invalid("agents", "agents holds a key that is not an agent slug"),
        });
    }
    Ok(())
}
