//! Named owner API tokens: random secrets shown once, stored as SHA-256.

use super::audit::{self, Actor, Target};
use super::{from_ms, now_ms, Db};
use crate::db::sql::{self, Pool, SqlBuilder};
use model::{AccountPk, ApiToken, AppError, AuditAction, UserPk};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Every API token starts with this, so tokens are recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "rb_";

/// `len` random letters and digits: the secret of a token, an invitation, a
/// webhook key or a generated password.
pub fn random_secret(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Creates a token and returns it with its secret, which is not stored.
/// The longest a token may be made to last.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// How stale `last_used_at` may get before a use writes it again: a token used
/// many times a second costs one write a minute, not one per request.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// Creates a token that works for `expires_in_days` (`None`: until revoked).
pub async fn create_token(
    db: &Db,
    actor: &Actor,
    name: &str,
    expires_in_days: Option<u32>,
) -> Result<(ApiToken, String), AppError> {
    if expires_in_days.is_some_and(|days| !(1..=MAX_TOKEN_DAYS).contains(&days)) {
        return Err(AppError::invalid(
            "expiresInDays",
            format!("expiresInDays must be between 1 and {MAX_TOKEN_DAYS}"),
        ));
    }
    let account_pk = actor.account_pk;
    let user_pk = actor.user_pk.ok_or(AppError::Unauthorized)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "name must be 1–100 characters"));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret(40));
    let id = Uuid::now_v7();
    let now = now_ms();
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let expires_at = expires_in_days.map(|days| now + i64::from(days) * 86_400_000);
    let mut tx = db.begin_write().await?;
    sql::query(
        "INSERT INTO api_tokens (id, account_pk, user_pk, name, token_hash, prefix, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(user_pk)
    .bind(name)
    .bind(hash_token(&secret))
    .bind(&prefix)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::TokenCreate,
        Target::new("token", id).with_detail(serde_json::json!({ "name": name, "prefix": prefix })),
    )
    .await?;
    tx.commit().await?;
    let token = ApiToken {
        id,
        name: name.to_string(),
        prefix,
        created_at: from_ms(now),
        last_used_at: None,
        revoked_at: None,
        expires_at: expires_at.map(from_ms),
        owner: Some(actor.name.clone()),
    };
    Ok((token, secret))
}

/// The (account, user) a live token belongs to: not revoked, not expired. Its
/// `last_used_at` moves on (at most once a minute).
pub async fn authenticate(db: &Db, secret: &str) -> Result<Option<(AccountPk, UserPk)>, AppError> {
    let now = now_ms();
    let found: Option<(i64, AccountPk, UserPk, Option<i64>)> = sql::query_as(
        "SELECT pk, account_pk, user_pk, last_used_at FROM api_tokens
         WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
    )
    .bind(hash_token(secret))
    .bind(now)
    .fetch_optional(&db.read)
    .await?;
    let Some((pk, account_pk, user_pk, last_used_at)) = found else {
        return Ok(None);
    };
    if last_used_at.is_none_or(|last| now - last >= LAST_USED_GRANULARITY_MS) {
        let mut tx = db.begin_write().await?;
        sql::query("UPDATE api_tokens SET last_used_at = ? WHERE pk = ?")
            .bind(now)
            .bind(pk)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some((account_pk, user_pk)))
}

/// A row of `api_tokens` as [`list_tokens`] reads it.
#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    expires_at: Option<i64>,
    owner: String,
}

/// Whose tokens a list or a revocation may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// The acting user's own tokens.
    Own,
    /// Every token of the account (owners).
    Account,
}

pub async fn list_tokens(
    pool: &Pool,
    actor: &Actor,
    scope: TokenScope,
) -> Result<Vec<ApiToken>, AppError> {
    let mut sql = SqlBuilder::new(
        "SELECT t.id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at, t.expires_at,
                u.email AS owner
         FROM api_tokens t JOIN users u ON u.pk = t.user_pk WHERE t.account_pk = ",
    );
    sql.push_bind(actor.account_pk);
    if scope == TokenScope::Own {
        sql.push(" AND t.user_pk = ").push_bind(actor.user_pk);
    }
    sql.push(" ORDER BY t.created_at DESC, t.pk DESC");
    let rows: Vec<TokenRow> = sql.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(ApiToken {
                id: row.id.parse().ok()?,
                name: row.name,
                prefix: row.prefix,
                created_at: from_ms(row.created_at),
                last_used_at: row.last_used_at.map(from_ms),
                revoked_at: row.revoked_at.map(from_ms),
                expires_at: row.expires_at.map(from_ms),
                owner: Some(row.owner),
            })
        })
        .collect())
}

/// Revokes a token of the account: with [`TokenScope::Own`] only the actor's own
/// (another's is `Forbidden`); an unknown id is `NotFound`.
pub async fn revoke_token(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    scope: TokenScope,
) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let holder: Option<UserPk> =
        sql::query_scalar("SELECT user_pk FROM api_tokens WHERE account_pk = ? AND id = ?")
            .bind(actor.account_pk)
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let holder = holder.ok_or(AppError::NotFound)?;
    if scope == TokenScope::Own && Some(holder) != actor.user_pk {
        return Err(AppError::Forbidden(
            "only owners may revoke another member's token".to_string(),
        ));
    }
    sql::query(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE account_pk = ? AND id = ?",
    )
    .bind(now_ms())
    .bind(actor.account_pk)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::TokenRevoke,
        Target::new("token", id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
