//! Users and their credentials.

use super::now_ms;
use model::{AccountPk, CurrentUser, Role, UserPk};
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

/// What login needs to check a password. Deliberately not `Serialize`: the hash
/// never leaves the server.
#[derive(Debug, sqlx::FromRow)]
pub struct UserCredentials {
    pub pk: UserPk,
    pub password_hash: String,
}

/// Emails are compared case-insensitively and stored lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn count_users<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Sqlite>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(executor)
        .await
}

/// Creates a user in an account; `password_hash` is an argon2 PHC string.
pub async fn create_user(
    conn: &mut SqliteConnection,
    account_pk: AccountPk,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<UserPk, sqlx::Error> {
    let now = now_ms();
    sqlx::query_scalar(
        "INSERT INTO users (id, account_pk, email, password_hash, role, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING pk",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(account_pk)
    .bind(normalize_email(email))
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn find_credentials(
    pool: &SqlitePool,
    email: &str,
) -> Result<Option<UserCredentials>, sqlx::Error> {
    sqlx::query_as("SELECT pk, password_hash FROM users WHERE email = ?")
        .bind(normalize_email(email))
        .fetch_optional(pool)
        .await
}

/// The user behind a session, with the account that scopes everything they see.
pub async fn find_current_user(
    pool: &SqlitePool,
    user_pk: UserPk,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    let row: Option<(UserPk, AccountPk, String, String, String)> = sqlx::query_as(
        "SELECT u.pk, u.account_pk, u.email, a.name, u.role
         FROM users u JOIN accounts a ON a.pk = u.account_pk
         WHERE u.pk = ?",
    )
    .bind(user_pk)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(user_pk, account_pk, email, account_name, role)| CurrentUser {
            user_pk,
            account_pk,
            email,
            account_name,
            role: Role::parse(&role).unwrap_or(Role::Viewer),
        },
    ))
}

/// The user with this public id (as named in an API JWT).
pub async fn find_by_public_id(
    pool: &SqlitePool,
    id: &str,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    let user_pk: Option<UserPk> = sqlx::query_scalar("SELECT pk FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match user_pk {
        Some(user_pk) => find_current_user(pool, user_pk).await,
        None => Ok(None),
    }
}

pub async fn public_id(pool: &SqlitePool, user_pk: UserPk) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE pk = ?")
        .bind(user_pk)
        .fetch_one(pool)
        .await
}

/// The public id of the installation's first owner (the oldest user with the owner
/// role), whom the demo fleet acts for; `None` before anyone signed up.
pub async fn first_owner_id(pool: &SqlitePool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE role = 'owner' ORDER BY pk LIMIT 1")
        .fetch_optional(pool)
        .await
}

pub async fn set_password(
    db: &super::Db,
    user_pk: UserPk,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE pk = ?")
        .bind(password_hash)
        .bind(now_ms())
        .bind(user_pk)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::{accounts, Db};

    #[tokio::test]
    async fn the_first_owner_is_the_oldest_user_with_the_owner_role() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/users.db", dir.path().display()))
            .await
            .unwrap();
        assert_eq!(first_owner_id(&db.read).await.unwrap(), None);
        let mut tx = db.begin_write().await.unwrap();
        let account = accounts::create_account(&mut tx, "Acme").await.unwrap();
        create_user(&mut tx, account, "member@example.com", "-", Role::Member)
            .await
            .unwrap();
        let first = create_user(&mut tx, account, "first@example.com", "-", Role::Owner)
            .await
            .unwrap();
        create_user(&mut tx, account, "second@example.com", "-", Role::Owner)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let expected = public_id(&db.read, first).await.unwrap();
        assert_eq!(first_owner_id(&db.read).await.unwrap(), Some(expected));
        db.close().await;
    }
}
