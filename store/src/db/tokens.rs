//! Named owner API tokens: random secrets shown once, stored as SHA-256.

use super::{from_ms, now_ms, Db};
use model::{AccountPk, ApiToken, AppError, UserPk};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use uuid::Uuid;

/// Every API token starts with this, so tokens are recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "rb_";

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Creates a token and returns it with its secret, which is not stored.
pub async fn create_token(
    db: &Db,
    account_pk: AccountPk,
    user_pk: UserPk,
    name: &str,
) -> Result<(ApiToken, String), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "name must be 1–100 characters"));
    }
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let secret = format!("{TOKEN_PREFIX}{random}");
    let id = Uuid::now_v7();
    let now = now_ms();
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO api_tokens (id, account_pk, user_pk, name, token_hash, prefix, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(user_pk)
    .bind(name)
    .bind(hash_token(&secret))
    .bind(&prefix)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let token = ApiToken {
        id,
        name: name.to_string(),
        prefix,
        created_at: from_ms(now),
        last_used_at: None,
        revoked_at: None,
    };
    Ok((token, secret))
}

/// The (account, user) a live token belongs to.
pub async fn authenticate(
    pool: &SqlitePool,
    secret: &str,
) -> Result<Option<(AccountPk, UserPk)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT account_pk, user_pk FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
    )
    .bind(hash_token(secret))
    .fetch_optional(pool)
    .await?)
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
}

pub async fn list_tokens(
    pool: &SqlitePool,
    account_pk: AccountPk,
) -> Result<Vec<ApiToken>, AppError> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens
         WHERE account_pk = ? ORDER BY created_at DESC, pk DESC",
    )
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
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
            })
        })
        .collect())
}

pub async fn revoke_token(db: &Db, account_pk: AccountPk, id: Uuid) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE account_pk = ? AND id = ?",
    )
    .bind(now_ms())
    .bind(account_pk)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        Err(AppError::NotFound)
    } else {
        Ok(())
    }
}
