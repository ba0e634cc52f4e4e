//! The session that remembers a login (tower-sessions), for the server functions
//! and the JSON API's cookie auth alike.

use model::{AppError, CurrentUser, UserPk};
use store::db::Db;
use tower_sessions::Session;

/// The session key holding the signed-in user's key.
const SESSION_USER_KEY: &str = "user_pk";
/// The session key holding the user's epoch at login: once the user's password or
/// role changes, the epoch moves on and the session names nobody.
const SESSION_EPOCH_KEY: &str = "auth_epoch";
/// The session key holding when the user logged in (epoch milliseconds).
const SESSION_LOGIN_KEY: &str = "signed_in_at";

/// However active, a session ends this long after its login.
pub const MAX_SESSION_AGE: chrono::Duration = chrono::Duration::days(7);

/// Remembers a login. A fresh session id is issued so that an id planted before
/// login (session fixation) is worthless.
pub async fn start_session(session: &Session, user: &CurrentUser) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(SESSION_USER_KEY, user.user_pk)
        .await
        .map_err(session_error)?;
    session
        .insert(SESSION_LOGIN_KEY, chrono::Utc::now().timestamp_millis())
        .await
        .map_err(session_error)?;
    keep_session(session, user.auth_epoch).await
}

/// Keeps this session signed in under a new epoch (after the user changed their
/// own password, which ends their other sessions).
pub async fn keep_session(session: &Session, epoch: i64) -> Result<(), AppError> {
    session
        .insert(SESSION_EPOCH_KEY, epoch)
        .await
        .map_err(session_error)
}

pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// The signed-in user of a session, or `None` when nobody is (or the user is gone).
pub async fn session_user(db: &Db, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    let user_pk: Option<UserPk> = session.get(SESSION_USER_KEY).await.map_err(session_error)?;
    let Some(user_pk) = user_pk else {
        return Ok(None);
    };
    let epoch: i64 = session
        .get(SESSION_EPOCH_KEY)
        .await
        .map_err(session_error)?
        .unwrap_or_default();
    let signed_in_at: i64 = session
        .get(SESSION_LOGIN_KEY)
        .await
        .map_err(session_error)?
        .unwrap_or_default();
    if too_old(signed_in_at, chrono::Utc::now().timestamp_millis()) {
        return Ok(None);
    }
    let user = store::auth::signed_in_user(db, user_pk).await?;
    Ok(user.filter(|user| user.auth_epoch == epoch))
}

/// Whether a session that logged in at `signed_in_at` (epoch ms) has outlived
/// [`MAX_SESSION_AGE`] at `now`.
fn too_old(signed_in_at: i64, now: i64) -> bool {
    now.saturating_sub(signed_in_at) > MAX_SESSION_AGE.num_milliseconds()
}

/// The client's address as this server saw it (the peer of the connection).
pub fn client_ip(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store error");
    AppError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_seven_days_after_its_login_however_active() {
        let login = 1_700_000_000_000;
        let day = 86_400_000;
        assert!(!too_old(login, login + 6 * day));
        assert!(!too_old(login, login + 7 * day));
        assert!(too_old(login, login + 7 * day + 1));
        assert!(too_old(0, login), "a session from before logins were dated");
    }
}
