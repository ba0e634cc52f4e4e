//! Users and their credentials.

use super::now_ms;
use crate::db::sql::{self, Conn, Pool};
use model::{AccountPk, AppError, CurrentUser, Member, Role, UserPk};
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

pub async fn count_users<'c>(executor: impl sql::Executor<'c>) -> Result<i64, sqlx::Error> {
    sql::query_scalar("SELECT count(*) FROM users")
        .fetch_one(executor)
        .await
}

/// Creates a user in an account; `password_hash` is an argon2 PHC string.
pub async fn create_user(
    conn: &mut Conn,
    account_pk: AccountPk,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<UserPk, sqlx::Error> {
    let now = now_ms();
    sql::query_scalar(
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

/// Whether a user of any account has this email (emails are unique).
pub async fn email_in_use(conn: &mut Conn, email: &str) -> Result<bool, sqlx::Error> {
    sql::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)")
        .bind(normalize_email(email))
        .fetch_one(conn)
        .await
}

pub async fn find_credentials(
    pool: &Pool,
    email: &str,
) -> Result<Option<UserCredentials>, sqlx::Error> {
    sql::query_as("SELECT pk, password_hash FROM users WHERE email = ?")
        .bind(normalize_email(email))
        .fetch_optional(pool)
        .await
}

/// The user behind a session, with the account that scopes everything they see.
pub async fn find_current_user<'c>(
    executor: impl sql::Executor<'c>,
    user_pk: UserPk,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        pk: UserPk,
        account_pk: AccountPk,
        email: String,
        account_name: String,
        role: String,
        auth_epoch: i64,
    }
    let row: Option<Row> = sql::query_as(
        "SELECT u.pk, u.account_pk, u.email, a.name AS account_name, u.role, u.auth_epoch
         FROM users u JOIN accounts a ON a.pk = u.account_pk
         WHERE u.pk = ?",
    )
    .bind(user_pk)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| CurrentUser {
        user_pk: row.pk,
        account_pk: row.account_pk,
        auth_epoch: row.auth_epoch,
        email: row.email,
        account_name: row.account_name,
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
    }))
}

/// The user with this public id (as named in an API JWT).
pub async fn find_by_public_id(pool: &Pool, id: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    let user_pk: Option<UserPk> = sql::query_scalar("SELECT pk FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match user_pk {
        Some(user_pk) => find_current_user(pool, user_pk).await,
        None => Ok(None),
    }
}

pub async fn public_id(pool: &Pool, user_pk: UserPk) -> Result<String, sqlx::Error> {
    sql::query_scalar("SELECT id FROM users WHERE pk = ?")
        .bind(user_pk)
        .fetch_one(pool)
        .await
}

/// The public id of the installation's first owner (the oldest user with the owner
/// role), whom the demo fleet acts for; `None` before anyone signed up.
pub async fn first_owner_id(pool: &Pool) -> Result<Option<String>, sqlx::Error> {
    sql::query_scalar("SELECT id FROM users WHERE role = 'owner' ORDER BY pk LIMIT 1")
        .fetch_optional(pool)
        .await
}

/// Sets a user's password hash and moves the user's epoch on, which voids their
/// sessions and API JWTs; returns the new epoch.
pub async fn set_password(
    conn: &mut Conn,
    user_pk: UserPk,
    password_hash: &str,
) -> Result<i64, sqlx::Error> {
    sql::query_scalar(
        "UPDATE users SET password_hash = ?, updated_at = ?, auth_epoch = auth_epoch + 1
         WHERE pk = ? RETURNING auth_epoch",
    )
    .bind(password_hash)
    .bind(now_ms())
    .bind(user_pk)
    .fetch_one(conn)
    .await
}

/// A user as owners manage them.
#[derive(sqlx::FromRow)]
struct MemberRow {
    pk: UserPk,
    id: String,
    email: String,
    role: String,
    password_hash: String,
    created_at: i64,
}

impl MemberRow {
    fn into_member(self) -> Option<(UserPk, Member)> {
        Some((
            self.pk,
            Member {
                id: self.id.parse().ok()?,
                email: self.email,
                role: Role::parse(&self.role)?,
                pending: self.password_hash == NO_PASSWORD,
                created_at: super::from_ms(self.created_at),
            },
        ))
    }
}

const MEMBER_SELECT: &str = "SELECT pk, id, email, role, password_hash, created_at FROM users";

/// The password hash of a user who has not set one yet (invited): no argon2 hash
/// has this form, so no password verifies against it.
pub const NO_PASSWORD: &str = "!";

/// The users of an account, oldest first.
pub async fn list_members(pool: &Pool, account_pk: AccountPk) -> Result<Vec<Member>, AppError> {
    let rows: Vec<MemberRow> =
        sql::query_as(format!("{MEMBER_SELECT} WHERE account_pk = ? ORDER BY pk"))
            .bind(account_pk)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(MemberRow::into_member)
        .map(|(_, member)| member)
        .collect())
}

/// A user of an account by public id, with its key; another account's is `NotFound`.
pub async fn get_member(
    conn: &mut Conn,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<(UserPk, Member), AppError> {
    let row: Option<MemberRow> =
        sql::query_as(format!("{MEMBER_SELECT} WHERE account_pk = ? AND id = ?"))
            .bind(account_pk)
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    row.and_then(MemberRow::into_member)
        .ok_or(AppError::NotFound)
}

/// Owners of the account other than `except`.
pub async fn other_owners(
    conn: &mut Conn,
    account_pk: AccountPk,
    except: UserPk,
) -> Result<i64, sqlx::Error> {
    sql::query_scalar(
        "SELECT count(*) FROM users WHERE account_pk = ? AND role = 'owner' AND pk != ?",
    )
    .bind(account_pk)
    .bind(except)
    .fetch_one(conn)
    .await
}

/// Gives a user a role and moves their epoch on (their sessions and JWTs end).
pub async fn set_role(conn: &mut Conn, user_pk: UserPk, role: Role) -> Result<(), sqlx::Error> {
    sql::query(
        "UPDATE users SET role = ?, updated_at = ?, auth_epoch = auth_epoch + 1 WHERE pk = ?",
    )
    .bind(role.as_str())
    .bind(now_ms())
    .bind(user_pk)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a user; their API tokens and invitations go with them (cascade).
pub async fn delete_user(conn: &mut Conn, user_pk: UserPk) -> Result<(), sqlx::Error> {
    sql::query("DELETE FROM users WHERE pk = ?")
        .bind(user_pk)
        .execute(conn)
        .await?;
    Ok(())
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
