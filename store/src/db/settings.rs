//! Server-wide settings kept in the database, such as generated signing secrets.

use super::Db;
use crate::db::sql;

/// Key of the generated secret that signs owner API JWTs.
pub const API_JWT_SECRET: &str = "api_jwt_secret";
/// Key of the generated secret that signs runner tokens (when RUNNER_AUTH_SECRET is unset).
pub const RUNNER_TOKEN_SECRET: &str = "runner_token_secret";

/// The secret stored under `key`, generated (64 random characters) on first use.
pub async fn secret(db: &Db, key: &str) -> Result<String, sqlx::Error> {
    if let Some(value) = sql::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_optional(&db.read)
        .await?
    {
        return Ok(value);
    }
    let generated = super::tokens::random_secret(64);
    let mut tx = db.begin_write().await?;
    sql::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(key)
        .bind(&generated)
        .execute(&mut *tx)
        .await?;
    let value = sql::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(value)
}
