//! The session that remembers a login (tower-sessions), for the server functions
//! and the JSON API's cookie auth alike.

use model::{AppError, CurrentUser, UserPk};
use store::db::Db;
use tower_sessions::Session;

/// The session key holding the signed-in user's key.
const SESSION_USER_KEY: &str = "user_pk";

/// Remembers a login. A fresh session id is issued so that an id planted before
/// login (session fixation) is worthless.
pub async fn start_session(session: &Session, user_pk: UserPk) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(SESSION_USER_KEY, user_pk)
        .await
        .map_err(session_error)
}

pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// The signed-in user of a session, or `None` when nobody is (or the user is gone).
pub async fn session_user(db: &Db, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    let user_pk: Option<UserPk> = session.get(SESSION_USER_KEY).await.map_err(session_error)?;
    match user_pk {
        Some(user_pk) => store::auth::signed_in_user(db, user_pk).await,
        None => Ok(None),
    }
}

fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store error");
    AppError::Internal
}
