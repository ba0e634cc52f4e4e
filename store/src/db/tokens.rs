//! Named owner API tokens: random secrets shown once, stored as SHA-256.

use super::audit::{self, Actor, Target};
use super::{from_ms, now_ms, Db};
use model::{AccountPk, ApiToken, AppError, AuditAction, UserPk};
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
    actor: &Actor,
    name: &str,
) -> Result<(ApiToken, String), AppError> {
    let account_pk = actor.account_pk;
    let user_pk = actor.user_pk.ok_or(AppError::Unauthorized)?;
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
        owner: Some(actor.name.clone()),
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
    pool: &SqlitePool,
    actor: &Actor,
    scope: TokenScope,
) -> Result<Vec<ApiToken>, AppError> {
    let mut sql = sqlx::QueryBuilder::new(
        "SELECT t.id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at, u.email AS owner
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
        sqlx::query_scalar("SELECT user_pk FROM api_tokens WHERE account_pk = ? AND id = ?")
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
    sqlx::query(
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
