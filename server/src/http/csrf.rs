//! Cross-site request forgery: a browser sends the session cookie with requests
//! that other sites make it send. Unsafe requests (anything but GET, HEAD and
//! OPTIONS) that a browser marks as coming from another site are refused with 403
//! before any handler runs, by the rule of Go's `CrossOriginProtection`:
//!
//! - with an `Origin` header, it must be this server's origin: the public URL's,
//!   or the one the request was addressed to (its `Host`);
//! - without one, `Sec-Fetch-Site` must not say `cross-site` or `same-site`;
//! - with neither, the request comes from a program, not a browser, and passes.
//!
//! Requests with `Authorization: Bearer` carry no ambient credential and pass.
//! This covers the JSON API, the server functions (`/fn/…`) and the login form.

use crate::http::ApiError;
use app::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, Method};
use model::AppError;

/// The middleware: refuses a cross-site unsafe request, passes the rest.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_cross_site(request.method(), request.headers(), &state.public_url) {
        tracing::info!(
            method = %request.method(),
            path = request.uri().path(),
            "refused a cross-site request"
        );
        return ApiError(AppError::Forbidden(
            "cross-site request refused: this request did not come from Runboard's own pages"
                .to_string(),
        ))
        .into_response();
    }
    next.run(request).await
}

/// Whether an unsafe request came from another site's page.
pub fn is_cross_site(method: &Method, headers: &HeaderMap, public_url: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer "))
    {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return true;
        };
        let origin = normalize(origin);
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_ascii_lowercase);
        let same_as_public = origin == origin_of(public_url);
        let same_as_host = host.is_some_and(|host| authority(&origin) == Some(host.as_str()));
        return !(same_as_public || same_as_host);
    }
    headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|site| matches!(site, "cross-site" | "same-site"))
}

/// `scheme://host[:port]` of a URL, lower-cased, without a default port.
fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    normalize(&format!("{scheme}://{authority}"))
}

fn normalize(origin: &str) -> String {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    origin
        .strip_suffix(":443")
        .filter(|_| origin.starts_with("https://"))
        .or_else(|| {
            origin
                .strip_suffix(":80")
                .filter(|_| origin.starts_with("http://"))
        })
        .map(str::to_string)
        .unwrap_or(origin)
}

/// The `host[:port]` of an origin.
fn authority(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, authority)| authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const PUBLIC: &str = "https://runboard.example.com/";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn cross(method: Method, pairs: &[(&'static str, &'static str)]) -> bool {
        is_cross_site(&method, &headers(pairs), PUBLIC)
    }

    #[test]
    fn another_origin_is_refused_and_ours_passes() {
        assert!(cross(Method::POST, &[("origin", "https://evil.example")]));
        assert!(cross(Method::POST, &[("origin", "null")]));
        assert!(cross(
            Method::DELETE,
            &[("origin", "http://runboard.example.com")]
        ));
        assert!(!cross(
            Method::POST,
            &[("origin", "https://runboard.example.com")]
        ));
        assert!(!cross(
            Method::POST,
            &[("origin", "https://RUNBOARD.example.com:443")]
        ));
        // The origin the request was addressed to (a proxy's other name).
        assert!(!cross(
            Method::POST,
            &[
                ("origin", "http://10.0.0.5:3000"),
                ("host", "10.0.0.5:3000")
            ]
        ));
        assert!(cross(
            Method::POST,
            &[("origin", "http://evil.example"), ("host", "10.0.0.5:3000")]
        ));
    }

    #[test]
    fn without_an_origin_the_fetch_site_decides() {
        assert!(cross(Method::POST, &[("sec-fetch-site", "cross-site")]));
        assert!(cross(Method::PATCH, &[("sec-fetch-site", "same-site")]));
        assert!(!cross(Method::POST, &[("sec-fetch-site", "same-origin")]));
        assert!(!cross(Method::POST, &[("sec-fetch-site", "none")]));
        assert!(!cross(Method::POST, &[]), "a program, not a browser");
    }

    #[test]
    fn safe_methods_and_bearer_requests_pass() {
        assert!(!cross(Method::GET, &[("origin", "https://evil.example")]));
        assert!(!cross(Method::HEAD, &[("sec-fetch-site", "cross-site")]));
        assert!(!cross(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("authorization", "Bearer rb_x")
            ]
        ));
        assert!(cross(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("authorization", "Basic eDp5")
            ]
        ));
    }
}
