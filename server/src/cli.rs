//! The command line's account tools: `runboard user add` and `runboard token create`.

use model::{AppError, Role};
use store::auth::{validate_email, validate_password};
use store::db::audit::Actor;
use store::db::{tokens, users, Db};

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
    store::auth::add_user(db, email, password, account, role)
        .await
        .map_err(fail)
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
    // Made on the server's machine, in the user's name.
    let actor = Actor {
        account_pk: user.account_pk,
        user_pk: Some(user.user_pk),
        name: user.email,
        via: model::Via::Cli,
        ip: None,
    };
    let (_, secret) = tokens::create_token(db, &actor, name, None)
        .await
        .map_err(fail)?;
    Ok(secret)
}
