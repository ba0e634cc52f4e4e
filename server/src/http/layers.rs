//! Every middleware layer of the server, in the order a request meets them:
//! tracing, the request metrics (by route template), the security headers (with the page's script nonce), the session
//! cookie, the refusal of cross-site requests ([`super::csrf`]), on-the-fly
//! compression (not for the prebuilt bundle), and the login requirement of pages.

use crate::sessions::Sessions;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use http::header::{
    HeaderValue, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::StatusCode;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use store::db::Db;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

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
    let session_store = crate::sessions::DatabaseSessions::new(db.writer().clone());
    tokio::spawn(
        session_store
            .clone()
            .delete_expired_every(std::time::Duration::from_secs(3600)),
    );
    SessionManagerLayer::new(crate::sessions::store(session_store, db.is_shared()))
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
/// and `bundle` is served as the compressed copies the build wrote. Every
/// response carries the `security` headers.
pub fn around<H, T>(
    state: AppState,
    pages: Router<AppState>,
    open: Router<AppState>,
    fallback: H,
    bundle: Router<AppState>,
    sessions: SessionManagerLayer<Sessions>,
    security: SecurityHeaders,
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
        .layer(middleware::from_fn_with_state(security, security_headers))
        .layer(middleware::from_fn(crate::metrics::track_http))
        .layer(TraceLayer::new_for_http())
}

/// What the security headers depend on: the public URL's scheme, and whether
/// `cargo leptos watch` serves the pages (its reload script opens a websocket).
#[derive(Clone, Copy, Debug, Default)]
pub struct SecurityHeaders {
    /// `Strict-Transport-Security`, sent only when the public URL is https: over
    /// plain http it would be ignored, and a test instance on localhost must not
    /// pin https for every other local server.
    pub hsts: bool,
    /// Lets the development reload script (`LEPTOS_WATCH`) reach its websocket.
    pub dev_reload: bool,
}

const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const SAME_ORIGIN: HeaderValue = HeaderValue::from_static("SAMEORIGIN");
/// No referrer leaves for another site (a run page's address names the run, and a
/// self-hosted instance's host name may be private); within the site it is whole.
const REFERRER: HeaderValue = HeaderValue::from_static("same-origin");
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");
/// For anything that is not a page (JSON, the bundle, files): nothing may load or
/// run from it if a browser opens it as a document, and only this site frames it.
const NOT_A_PAGE_POLICY: HeaderValue =
    HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'");

/// The Content-Security-Policy of a page. Scripts: the bundle from this site, the
/// inline ones only with this response's nonce (Leptos puts it on its hydration
/// and streaming scripts), and WebAssembly. Styles: the stylesheet, and `style`
/// attributes (progress bars and the step timeline set widths with them; an
/// attribute cannot load or run anything). Images may come from other sites
/// (an artifact's or a markdown report's picture); frames only from this one (the
/// sandboxed HTML preview), and only this site may frame the page.
pub fn page_policy(nonce: &str, dev_reload: bool) -> String {
    let connect = if dev_reload { "'self' ws:" } else { "'self'" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline'; \
         img-src 'self' https: http:; connect-src {connect}; frame-src 'self'; \
         frame-ancestors 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// Sets the security headers on every response; a response that brings its own
/// Content-Security-Policy (artifact content) keeps it. The request carries the
/// nonce of its page's policy to the renderer ([`page_nonce`]).
async fn security_headers(
    State(security): State<SecurityHeaders>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    let headers = response.headers_mut();
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        let policy = if is_page {
            HeaderValue::from_str(&page_policy(&nonce, security.dev_reload))
                .unwrap_or(NOT_A_PAGE_POLICY)
        } else {
            NOT_A_PAGE_POLICY
        };
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    headers.insert(X_FRAME_OPTIONS, SAME_ORIGIN);
    headers.insert(REFERRER_POLICY, REFERRER);
    if security.hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

/// Leptos context for rendering a page: the nonce [`security_headers`] put in
/// the response's policy, in place of the one `leptos_axum` makes up for each
/// render, so that the inline scripts Leptos writes carry the nonce the browser
/// is told to trust.
pub fn page_nonce() {
    let nonce = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
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
