//! Accounts (tenants).

use super::now_ms;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sqlx::SqliteConnection;
use uuid::Uuid;

/// Creates an account and returns its key.
pub async fn create_account(conn: &mut SqliteConnection, name: &str) -> Result<i64, sqlx::Error> {
    let webhook_secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    sqlx::query_scalar(
        "INSERT INTO accounts (id, name, webhook_secret, created_at) VALUES (?, ?, ?, ?) RETURNING pk",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(name)
    .bind(webhook_secret)
    .bind(now_ms())
    .fetch_one(conn)
    .await
}

/// The key of the account with this name, if there is one.
pub async fn find_account_by_name(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT pk FROM accounts WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await
}
