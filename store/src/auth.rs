//! Who is calling: argon2 password hashes, credential checks, the user a login
//! session names, and the first-start owner account. The session cookie itself
//! belongs to the web layer.

use crate::db::audit::{self, Actor, Target};
use crate::db::{self, Db};
use crate::login_limit::LoginLimiter;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use model::{AccountPk, AppError, AuditAction, CurrentUser, Role, UserPk, Via};

/// The shortest password accepted for a new account or a password change
/// (logging in with an older, shorter one still works).
pub const MIN_PASSWORD_LEN: usize = 10;

/// The 10,000 most common passwords (SecLists; see common-passwords.NOTICE.md).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Whether `password` is on the common list, ignoring case.
fn is_common_password(password: &str) -> bool {
    static COMMON: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    COMMON
        .get_or_init(|| {
            COMMON_PASSWORDS
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_lowercase)
                .collect()
        })
        .contains(&password.to_lowercase())
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            AppError::Internal
        })
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random password for the first owner when none was configured.
pub fn generate_password() -> String {
    db::tokens::random_secret(20)
}

/// At most this many argon2 computations run at once, each on tokio's blocking
/// pool: a burst of logins (or of guesses) then queues here instead of holding
/// the async workers that serve every other request.
const PARALLEL_HASHES: usize = 2;

fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(PARALLEL_HASHES))
}

async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|_| AppError::Internal)?;
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(%error, "password hashing task failed");
        AppError::Internal
    })
}

/// [`hash_password`] off the async workers.
pub async fn hash_password_off_thread(password: String) -> Result<String, AppError> {
    off_thread(move || hash_password(&password)).await?
}

/// [`verify_password`] off the async workers.
pub async fn verify_password_off_thread(password: String, hash: String) -> Result<bool, AppError> {
    off_thread(move || verify_password(&password, &hash)).await
}

/// Checks an email and password and writes the attempt to the audit log of the
/// account the email belongs to (an unknown email belongs to none). The same
/// work is done whether or not the email exists, so response times do not reveal
/// which emails have accounts.
pub async fn login(
    db: &Db,
    limiter: &LoginLimiter,
    email: &str,
    password: &str,
    via: Via,
    ip: Option<String>,
) -> Result<CurrentUser, AppError> {
    limiter.check(ip.as_deref(), email)?;
    // A valid hash of a random password, verified when the email is unknown.
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let found = db::users::find_credentials(&db.read, email).await?;
    let hash = match &found {
        Some(user) => user.password_hash.clone(),
        None => DECOY
            .get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
            .clone(),
    };
    let verified = verify_password_off_thread(password.to_string(), hash).await?;
    if !verified {
        limiter.failed(ip.as_deref(), email);
    }
    let Some(credentials) = found else {
        tracing::info!("login with an unknown email refused");
        return Err(AppError::InvalidCredentials);
    };
    let user = db::users::find_current_user(&db.read, credentials.pk)
        .await?
        .ok_or(AppError::InvalidCredentials)?;
    let actor = Actor {
        account_pk: user.account_pk,
        user_pk: Some(user.user_pk),
        name: user.email.clone(),
        via,
        ip,
    };
    let action = if verified {
        AuditAction::LoginSuccess
    } else {
        AuditAction::LoginFailure
    };
    let mut tx = db.begin_write().await?;
    audit::record(&mut tx, &actor, action, Target::default()).await?;
    tx.commit().await?;
    if verified {
        Ok(user)
    } else {
        Err(AppError::InvalidCredentials)
    }
}

/// The user signed in as `user_pk`, or `None` when the user is gone.
pub async fn signed_in_user(db: &Db, user_pk: UserPk) -> Result<Option<CurrentUser>, AppError> {
    // Asked by the layout and by the page alike, on every page.
    let key =
        db::view_cache::ViewKey::new("signed-in-user", AccountPk::default(), user_pk.to_string());
    let user = db
        .views()
        .get_or_load(key, || db::users::find_current_user(&db.read, user_pk))
        .await?;
    Ok(user)
}

/// What the first start did about the owner account.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist already; nothing was done.
    Existing,
    /// An owner was created with the configured password.
    Created { email: String },
    /// An owner was created with this generated password, to be shown once.
    CreatedWithPassword { email: String, password: String },
}

pub const DEFAULT_ADMIN_EMAIL: &str = "admin@localhost";

/// With no users at all, creates the first account and its owner.
pub async fn bootstrap_owner(
    db: &Db,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<Bootstrap, AppError> {
    let mut tx = db.begin_write().await?;
    if db::users::count_users(&mut *tx).await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let email = email.unwrap_or(DEFAULT_ADMIN_EMAIL).to_string();
    validate_email(&email)?;
    let (password, generated) = match password {
        Some(password) => {
            validate_password(password)?;
            (password.to_string(), false)
        }
        None => (generate_password(), true),
    };
    let account_pk = db::accounts::create_account(&mut tx, "Default").await?;
    db::users::create_user(
        &mut tx,
        account_pk,
        &email,
        &hash_password(&password)?,
        Role::Owner,
    )
    .await?;
    tx.commit().await?;
    Ok(if generated {
        Bootstrap::CreatedWithPassword { email, password }
    } else {
        Bootstrap::Created { email }
    })
}

/// Adds a user with this password to the named account (created when no account
/// has that name) or, without a name, to the first account (created as "Default"
/// when there is none); returns the account's name. Refuses an email in use.
pub async fn add_user(
    db: &Db,
    email: &str,
    password: &str,
    account: Option<&str>,
    role: Role,
) -> Result<String, AppError> {
    if db::users::find_credentials(&db.read, email)
        .await?
        .is_some()
    {
        return Err(AppError::invalid(
            "email",
            format!("a user with email {email} exists already"),
        ));
    }
    let hash = hash_password(password)?;
    let mut tx = db.begin_write().await?;
    let (account_pk, name) = match account {
        Some(name) => match db::accounts::find_account_by_name(&mut tx, name).await? {
            Some(pk) => (pk, name.to_string()),
            None => (
                db::accounts::create_account(&mut tx, name).await?,
                name.to_string(),
            ),
        },
        None => match db::accounts::first_account(&mut tx).await? {
            Some(first) => first,
            None => (
                db::accounts::create_account(&mut tx, "Default").await?,
                "Default".to_string(),
            ),
        },
    };
    db::users::create_user(&mut tx, account_pk, email, &hash, role).await?;
    tx.commit().await?;
    Ok(name)
}

pub fn validate_email(email: &str) -> Result<(), AppError> {
    let email = email.trim();
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.contains(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            "email",
            "email must look like name@example.com",
        ))
    }
}

/// A password that may be set: at least [`MIN_PASSWORD_LEN`] characters and not
/// one of the 10,000 most common passwords.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        Err(AppError::invalid(
            "password",
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ))
    } else if is_common_password(password) {
        Err(AppError::invalid(
            "password",
            "password is one of the most common passwords; choose another",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn emails_and_passwords_are_validated_with_the_field_named() {
        assert!(validate_email("owner@example.com").is_ok());
        assert!(
            matches!(validate_email("owner"), Err(AppError::Invalid { field, .. }) if field == "email")
        );
        assert!(
            matches!(validate_password("short"), Err(AppError::Invalid { field, .. }) if field == "password")
        );
    }

    #[test]
    fn passwords_need_ten_characters_and_must_not_be_common() {
        let refused = |password: &str| matches!(validate_password(password), Err(AppError::Invalid { field, .. }) if field == "password");
        assert!(refused("nine-char"), "9 characters");
        assert!(validate_password("ten-chars!").is_ok());
        for common in [
            "1234567890",
            "qwertyuiop",
            "QWERTYUIOP",
            "1q2w3e4r5t",
            "password12",
        ] {
            assert!(refused(common), "{common} is on the common list");
        }
        assert!(validate_password("correct-horse-battery").is_ok());
        // The list is all there.
        assert!(
            COMMON_PASSWORDS
                .lines()
                .filter(|line| !line.is_empty())
                .count()
                >= 10_000
        );
    }
}
