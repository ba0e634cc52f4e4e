//! Links to addresses that came from stored data (bundle and artifact URLs): only
//! an http(s) URL or a path of this site becomes a link (`model::link_target`, the
//! rule the server checks on write); anything else is shown as text.

use leptos::prelude::*;

/// The URL as a link that opens in a new tab, or as plain text when it may not be one.
#[component]
pub fn StoredLink(url: String) -> impl IntoView {
    match model::link_target(&url) {
        Some(href) => {
            let href = href.to_string();
            view! { <a href=href rel="noopener" target="_blank">{url}</a> }.into_any()
        }
        None => view! { <UnlinkedUrl url /> }.into_any(),
    }
}

/// A stored address that is not a link target, shown for what it is.
#[component]
pub fn UnlinkedUrl(url: String) -> impl IntoView {
    view! { <code class="unlinked-url" title="Not an http(s) address, so not a link">{url}</code> }
}
