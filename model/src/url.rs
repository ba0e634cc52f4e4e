//! Which URLs Runboard keeps and which it shows as links: one rule for the server
//! that stores them and the browser that renders them, so that a stored
//! `javascript:` or `data:` URL can never become a link on the dashboard.

use crate::AppError;

/// Longest URL accepted anywhere (webhook, dispatch, artifact and bundle URLs).
pub const MAX_URL_LEN: usize = 2048;

/// An `http://` or `https://` URL of at most [`MAX_URL_LEN`] bytes without
/// whitespace or control characters. The scheme is matched in lower case, as the
/// API document's pattern (`^https?://…`) says.
pub fn is_http_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= MAX_URL_LEN
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// [`is_http_url`] as a request check: a 400 naming `field` otherwise.
pub fn validate_http_url(field: &str, url: &str) -> Result<(), AppError> {
    if is_http_url(url) {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be an http:// or https:// URL"),
        ))
    }
}

/// Where a link to a stored URL may point, or `None` when the URL must be shown
/// as text: an http(s) URL ([`is_http_url`]) or a path on this site, such as the
/// `/api/runs/…/content` address of a stored artifact. `//host` (another site
/// without a scheme) and `/\host` (which browsers read the same way) are not paths.
pub fn link_target(url: &str) -> Option<&str> {
    let site_path = url.starts_with('/')
        && !url.starts_with("//")
        && !url.starts_with("/\\")
        && url.len() <= MAX_URL_LEN
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (site_path || is_http_url(url)).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_kept() {
        for url in ["https://example.com/hook", "http://10.0.0.1:8080/x?y=1#z"] {
            assert!(is_http_url(url), "{url}");
            assert!(validate_http_url("webhookUrl", url).is_ok(), "{url}");
        }
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "ftp://example.com",
            "//example.com/x",
            "/api/runs",
            " https://example.com",
            "https://exa mple.com",
            "https://example.com/\n",
            "",
        ] {
            assert!(!is_http_url(url), "{url:?}");
        }
        assert!(!is_http_url(&format!(
            "https://e.com/{}",
            "a".repeat(MAX_URL_LEN)
        )));
    }

    #[test]
    fn a_refused_url_names_its_field() {
        let error = validate_http_url("context.bundleUrl", "javascript:alert(1)").unwrap_err();
        assert_eq!(error.field(), Some("context.bundleUrl"));
        assert_eq!(
            error.to_string(),
            "context.bundleUrl must be an http:// or https:// URL"
        );
    }

    #[test]
    fn links_go_to_http_urls_and_paths_of_this_site_only() {
        for url in [
            "https://cdn.example.com/site/index.html",
            "/api/runs/0190/artifacts/0191/content",
        ] {
            assert_eq!(link_target(url), Some(url));
        }
        for url in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            " javascript:alert(1)",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "vbscript:x",
            "//evil.example/x",
            "/\\evil.example/x",
            "relative/path",
            "/path with space",
        ] {
            assert_eq!(link_target(url), None, "{url:?}");
        }
    }
}
