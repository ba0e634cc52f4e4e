//! Every middleware layer of the server, in the order a request meets them:
//! tracing, the session cookie, the refusal of cross-site requests
//! ([`super::csrf`]), on-the-fly compression (not for the prebuilt bundle), and
//! the login requirement of pages.

use crate::sessions::Sessions;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use http::StatusCode;
use store::db::Db;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{ExpiredDeletion, Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "runboard_session";
/// Its name over https: the `__Host-` prefix makes browsers refuse it unless it
/// is `Secure`, for the whole site and for this host only (no sibling subdomain
/// can set or shadow it).
pub const SECURE_SESSION_COOKIE: &str = "__Host-runboard_session";

/// A session ends after this long without a request (and, whatever the use,
/// [`app::session::MAX_SESSION_AGE`] after its login).
const SESSION_IDLE: CookieDuration = CookieDuration::hours(12);

/// The session layer: sessions stored in the database (expired ones deleted
/// hourly) behind an in-memory copy; over TLS the cookie is `Secure` and
/// `__Host-` prefixed.
pub fn sessions(db: &Db, secure: bool) -> SessionManagerLayer<Sessions> {
    let session_store = SqliteStore::new(db.writer().clone());
    tokio::spawn(
        session_store
            .clone()
            .continuously_delete_expired(std::time::Duration::from_secs(3600)),
    );
    SessionManagerLayer::new(crate::sessions::store(session_store))
        .with_name(if secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        })
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(SESSION_IDLE))
}

/// The whole server behind its layers: `pages` need a signed-in user, `open`
/// (the APIs, the health check) checks for itself, `fallback` answers the rest,
/// and `bundle` is served as the compressed copies the build wrote.
pub fn around<H, T>(
    state: AppState,
    pages: Router<AppState>,
    open: Router<AppState>,
    fallback: H,
    bundle: Router<AppState>,
    sessions: SessionManagerLayer<Sessions>,
) -> Router
where
    H: Handler<T, AppState>,
    T: 'static,
{
    pages
        .route_layer(middleware::from_fn_with_state(state.clone(), require_login))
        .merge(open)
        .fallback(fallback)
        // Pages and JSON compressed on the fly (the default predicate leaves the live
        // stream's `text/event-stream` and images alone).
        .layer(CompressionLayer::new())
        .merge(bundle)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::csrf::refuse_cross_site,
        ))
        .with_state(state)
        .layer(sessions)
        .layer(TraceLayer::new_for_http())
}

/// Pages need a signed-in user: anyone else is sent to the login form, which
/// brings them back afterwards. Server functions (`/fn/…`) check for themselves;
/// an invitation page (`/invite/…`) is for someone who cannot sign in yet.
async fn require_login(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/fn/") || path.starts_with("/invite/") {
        return next.run(request).await;
    }
    let signed_in = match app::session::session_user(&state.db, &session).await {
        Ok(user) => user.is_some(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match (path == "/login", signed_in) {
        (true, true) => Redirect::to("/").into_response(),
        (false, false) => {
            let wanted = request
                .uri()
                .path_and_query()
                .map(|target| target.as_str())
                .unwrap_or("/");
            Redirect::to(&format!("/login?next={}", encode_query_value(wanted))).into_response()
        }
        _ => next.run(request).await,
    }
}

/// Percent-encodes a value for a query string (RFC 3986 unreserved characters pass).
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::encode_query_value;

    #[test]
    fn the_return_path_is_encoded_for_the_login_url() {
        assert_eq!(encode_query_value("/"), "/");
        assert_eq!(
            encode_query_value("/?status=failed&offset=20"),
            "/%3Fstatus%3Dfailed%26offset%3D20"
        );
    }
}
