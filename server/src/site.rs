//! The built site on disk (hydrate bundle, stylesheet, public files) and how it is
//! served: the bundle under its content-hashed name, cached for good, and as the
//! brotli or gzip copy the build wrote when the browser accepts one.
//!
//! `cargo xtask` builds the bundle as `pkg/runboard.<hash>.{js,wasm,css}` and
//! writes `<hash>` to `<site>/hash.txt`; the page then names those files through
//! Leptos' output name. A site laid out by cargo-leptos (`cargo leptos watch`,
//! which sets `LEPTOS_HASH_FILES=false`) has plain `pkg/runboard.*` names instead.

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::header::{HeaderValue, CACHE_CONTROL};
use std::path::Path;
use tower_http::services::ServeDir;

/// The bundle's base name (also `LEPTOS_OUTPUT_NAME` in `.cargo/config.toml`).
const BUNDLE_NAME: &str = "runboard";
/// The directory under the site root that holds the bundle.
pub const PKG_DIR: &str = "pkg";

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// The bundle's name as the pages refer to it: `runboard.<hash>` for a hashed
/// build, `runboard` otherwise.
pub fn bundle_name(site_root: &Path) -> String {
    let hashing_off = std::env::var("LEPTOS_HASH_FILES").is_ok_and(|value| value == "false");
    bundle_name_unless(hashing_off, site_root)
}

/// [`bundle_name`], told whether cargo-leptos switched hashing off.
fn bundle_name_unless(hashing_off: bool, site_root: &Path) -> String {
    if hashing_off {
        return BUNDLE_NAME.to_string();
    }
    match std::fs::read_to_string(site_root.join("hash.txt")) {
        Ok(text) if is_bundle_hash(text.trim()) => format!("{BUNDLE_NAME}.{}", text.trim()),
        _ => BUNDLE_NAME.to_string(),
    }
}

fn is_bundle_hash(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Serves `/pkg/…`: precompressed copies by `Accept-Encoding`, and the hashed bundle
/// files as `immutable` (a new build has new names); anything else there is
/// revalidated, since its name does not change with its content.
pub fn bundle_router<S: Clone + Send + Sync + 'static>(
    site_root: &Path,
    bundle: &str,
) -> Router<S> {
    let files = ServeDir::new(site_root.join(PKG_DIR))
        .precompressed_br()
        .precompressed_gzip();
    // Unhashed names (a cargo-leptos build) must never be cached for good.
    let hashed_prefix: Option<std::sync::Arc<str>> =
        (bundle != BUNDLE_NAME).then(|| format!("/{PKG_DIR}/{bundle}.").into());
    Router::new()
        .nest_service(&format!("/{PKG_DIR}"), files)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let hashed_prefix = hashed_prefix.clone();
            async move {
                let path = request.uri().path();
                let is_hashed = hashed_prefix
                    .as_deref()
                    .is_some_and(|prefix| path.starts_with(prefix));
                let mut response: Response = next.run(request).await;
                if response.status().is_success() {
                    let policy = if is_hashed { IMMUTABLE } else { REVALIDATE };
                    response.headers_mut().insert(CACHE_CONTROL, policy);
                }
                response
            }
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_file_names_the_hashed_bundle() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(bundle_name(dir.path()), "runboard");
        std::fs::write(dir.path().join("hash.txt"), "0123abcd\n").unwrap();
        assert_eq!(bundle_name(dir.path()), "runboard.0123abcd");
    }

    #[test]
    fn cargo_leptos_switching_hashing_off_wins_over_a_stale_hash_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hash.txt"), "0123abcd\n").unwrap();
        assert_eq!(bundle_name_unless(true, dir.path()), "runboard");
        assert_eq!(bundle_name_unless(false, dir.path()), "runboard.0123abcd");
    }

    #[test]
    fn a_hash_file_that_is_not_a_hash_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hash.txt"), "../../etc/passwd").unwrap();
        assert_eq!(bundle_name(dir.path()), "runboard");
    }
}
