//! How an artifact's content is answered, so that nothing a runner sends can act
//! as this site: a sandboxing Content-Security-Policy, never a script type (the
//! pages trust scripts from this origin), downloaded rather than shown except
//! images, plain text and the run page's own sandboxed preview frame, and a link
//! artifact never redirected to from this origin.

use crate::http::error::error_response;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use model::{AppError, Artifact};

/// No script runs, nothing loads but the file's own images and inline styles, and
/// only this site's pages may frame it.
const SANDBOX: &str =
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

/// The answer carrying an artifact's bytes.
pub fn response(artifact: &Artifact, body: Body, request: &HeaderMap) -> Response {
    let content_type = served_type(artifact);
    let disposition = if shown_inline(&content_type, request) {
        "inline"
    } else {
        "attachment"
    };
    let name = artifact
        .name
        .as_deref()
        .unwrap_or("artifact")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect::<String>();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, SANDBOX.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A link artifact has no content here: `404 not_found`, naming the URL. Redirecting
/// to it would make this origin forward people (and, by a crafted link, their
/// browsers) to any address a runner registered.
pub fn link_only(url: &str) -> Response {
    error_response(
        &AppError::NotFound,
        format!("this artifact is a link to {url}; Runboard holds no content for it"),
    )
}

/// The stored content type, except that a script type is served as plain text (so
/// no `<script src>` on this origin can run an upload) and inline text without a
/// type is plain text.
fn served_type(artifact: &Artifact) -> String {
    const PLAIN: &str = "text/plain; charset=utf-8";
    let stored = artifact
        .content_type
        .as_deref()
        .filter(|value| HeaderValue::from_str(value).is_ok());
    match stored {
        Some(value) if is_script_type(&essence(value)) => PLAIN.to_string(),
        Some(value) => value.to_string(),
        None if artifact.inline_text.is_some() && !artifact.stored => PLAIN.to_string(),
        None => "application/octet-stream".to_string(),
    }
}

/// `text/html` of `Text/HTML; charset=utf-8`.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The JavaScript MIME types browsers run as scripts (WHATWG MIME Sniffing), and
/// their kin: anything naming a script language.
fn is_script_type(essence: &str) -> bool {
    ["javascript", "ecmascript", "jscript", "livescript"]
        .iter()
        .any(|language| essence.contains(language))
}

/// Images and plain text are shown; anything else is a download, unless this
/// site's own page frames it (the sandboxed HTML preview of the run page, which a
/// download would leave empty). A browser names a frame load in `Sec-Fetch-Dest`
/// and its origin in `Sec-Fetch-Site`, headers no page can set.
fn shown_inline(content_type: &str, request: &HeaderMap) -> bool {
    let essence = essence(content_type);
    let framed_by_this_site = request.get("sec-fetch-dest").map(HeaderValue::as_bytes)
        == Some(b"iframe")
        && request.get("sec-fetch-site").map(HeaderValue::as_bytes) == Some(b"same-origin");
    essence.starts_with("image/") || essence == "text/plain" || framed_by_this_site
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(content_type: Option<&str>, inline_text: Option<&str>) -> Artifact {
        Artifact {
            id: uuid::Uuid::nil(),
            step_id: None,
            name: Some("report".to_string()),
            artifact_type: "report".to_string(),
            content_type: content_type.map(str::to_string),
            size_bytes: None,
            sha256: None,
            storage_key: None,
            stored: inline_text.is_none(),
            url: None,
            inline_text: inline_text.map(str::to_string),
            metadata: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn script_types_are_served_as_plain_text() {
        for script in [
            "application/javascript",
            "text/javascript; charset=utf-8",
            "Text/JavaScript",
            "application/x-ecmascript",
            "text/jscript",
        ] {
            assert_eq!(
                served_type(&artifact(Some(script), None)),
                "text/plain; charset=utf-8",
                "{script}"
            );
        }
        assert_eq!(served_type(&artifact(Some("text/html"), None)), "text/html");
        assert_eq!(
            served_type(&artifact(None, Some("a note"))),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            served_type(&artifact(None, None)),
            "application/octet-stream"
        );
    }

    #[test]
    fn only_images_plain_text_and_this_sites_frames_are_inline() {
        let none = HeaderMap::new();
        assert!(shown_inline("image/png", &none));
        assert!(shown_inline("text/plain; charset=utf-8", &none));
        assert!(!shown_inline("text/html", &none));
        assert!(!shown_inline("application/pdf", &none));
        let mut framed = HeaderMap::new();
        framed.insert("sec-fetch-dest", HeaderValue::from_static("iframe"));
        framed.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(shown_inline("text/html", &framed));
        framed.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!shown_inline("text/html", &framed));
        let mut visited = HeaderMap::new();
        visited.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        visited.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!shown_inline("text/html", &visited));
    }
}
