//! Accounts (tenants).

use super::now_ms;
use crate::db::sql::{self, Conn, Pool};
use model::{AccountPk, AppError};
use uuid::Uuid;

/// Creates an account and returns its key.
pub async fn create_account(conn: &mut Conn, name: &str) -> Result<AccountPk, sqlx::Error> {
    let webhook_secret = super::tokens::random_secret(40);
    sql::query_scalar(
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
    conn: &mut Conn,
    name: &str,
) -> Result<Option<AccountPk>, sqlx::Error> {
    sql::query_scalar("SELECT pk FROM accounts WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await
}

/// The first account created, with its name: where a user added without naming
/// an account goes.
pub async fn first_account(conn: &mut Conn) -> Result<Option<(AccountPk, String)>, sqlx::Error> {
    sql::query_as("SELECT pk, name FROM accounts ORDER BY pk LIMIT 1")
        .fetch_optional(conn)
        .await
}

/// An account as its owners see it, webhook secret included.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    /// Key of the `Runboard-Signature` HMAC on this account's webhooks.
    pub webhook_secret: String,
}

pub async fn get_account(pool: &Pool, account_pk: AccountPk) -> Result<AccountRecord, AppError> {
    Ok(
        sql::query_as("SELECT id, name, webhook_secret FROM accounts WHERE pk = ?")
            .bind(account_pk)
            .fetch_one(pool)
            .await?,
    )
}

/// The account's public id (a dispatched job names it).
pub async fn public_id(pool: &Pool, account_pk: AccountPk) -> Result<String, sqlx::Error> {
    sql::query_scalar("SELECT id FROM accounts WHERE pk = ?")
        .bind(account_pk)
        .fetch_one(pool)
        .await
}

/// The key that signs the account's webhooks.
pub async fn webhook_secret(pool: &Pool, account_pk: AccountPk) -> Result<String, sqlx::Error> {
    sql::query_scalar("SELECT webhook_secret FROM accounts WHERE pk = ?")
        .bind(account_pk)
        .fetch_one(pool)
        .await
}
