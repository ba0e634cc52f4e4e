//! The command line's account tools: `runboard user add` and `runboard token create`.

use model::{AppError, Role};
use store::auth::{hash_password, validate_email, validate_password};
use store::db::{accounts, tokens, users, Db};

fn fail(error: AppError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// Adds a user; returns the name of the account it joined.
pub async fn add_user(
    db: &Db,
    email: &str,
    password: &str,
    account: Option<&str>,
    role: &str,
) -> anyhow::Result<String> {
    validate_email(email).map_err(fail)?;
    validate_password(password).map_err(fail)?;
    let role =
        Role::parse(role).ok_or_else(|| anyhow::anyhow!("role must be owner, member or viewer"))?;
    if users::find_credentials(&db.read, email).await?.is_some() {
        anyhow::bail!("a user with email {email} exists already");
    }
    let hash = hash_password(password).map_err(fail)?;
    let mut tx = db.begin_write().await?;
    let (account_pk, name) = match account {
        Some(name) => match accounts::find_account_by_name(&mut tx, name).await? {
            Some(pk) => (pk, name.to_string()),
            None => (
                accounts::create_account(&mut tx, name).await?,
                name.to_string(),
            ),
        },
        None => {
            let first: Option<(i64, String)> =
                sqlx::query_as("SELECT pk, name FROM accounts ORDER BY pk LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            match first {
                Some(first) => first,
                None => (
                    accounts::create_account(&mut tx, "Default").await?,
                    "Default".to_string(),
                ),
            }
        }
    };
    users::create_user(&mut tx, account_pk, email, &hash, role).await?;
    tx.commit().await?;
    Ok(name)
}

/// Creates an API token for the user with this email; returns the secret.
pub async fn create_token(db: &Db, email: &str, name: &str) -> anyhow::Result<String> {
    let user_pk = users::find_credentials(&db.read, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?
        .pk;
    let user = users::find_current_user(&db.read, user_pk)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
    let (_, secret) = tokens::create_token(db, user.account_pk, user.user_pk, name)
        .await
        .map_err(fail)?;
    Ok(secret)
}
