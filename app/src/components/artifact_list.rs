//! A run's artifacts: type, size and time, inline previews (images, text, JSON,
//! markdown sanitised on the server), downloads, and HTML only inside a sandboxed
//! frame. Only an http(s) URL or a path of this site is linked or loaded.

use crate::components::stored_link::UnlinkedUrl;
use crate::components::time::Ago;
use leptos::prelude::*;
use model::{ArtifactView, Preview};

#[component]
pub fn ArtifactList(artifacts: Vec<ArtifactView>) -> impl IntoView {
    if artifacts.is_empty() {
        return view! { <p class="muted">"No artifacts."</p> }.into_any();
    }
    view! {
        <ul class="artifacts">
            {artifacts.into_iter().map(|view| view! { <ArtifactItem view /> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn ArtifactItem(view: ArtifactView) -> impl IntoView {
    let artifact = view.artifact;
    let name = artifact
        .name
        .clone()
        .unwrap_or_else(|| artifact.artifact_type.clone());
    let own_bytes = artifact.has_own_content();
    // A stored URL that may not be a link is shown as text, and nothing loads from it.
    let (url, unlinked) = match view.content_url {
        Some(url) if model::link_target(&url).is_some() => (Some(url), None),
        other => (None, other),
    };
    let preview = match view.preview {
        Preview::Image => url.clone().map(|src| {
            view! { <img class="preview-image" src=src alt=name.clone() loading="lazy" /> }
                .into_any()
        }),
        Preview::Text { text } => Some(view! { <pre class="preview-text">{text}</pre> }.into_any()),
        Preview::Json { text } => {
            Some(view! { <pre class="preview-text json">{text}</pre> }.into_any())
        }
        Preview::Markdown { html } => {
            Some(view! { <div class="preview-markdown" inner_html=html></div> }.into_any())
        }
        Preview::Html => url.clone().map(|src| {
            // No allow-scripts, no allow-same-origin: the page cannot run or reach us.
            view! { <iframe class="preview-html" sandbox="" src=src title=name.clone()></iframe> }
                .into_any()
        }),
        Preview::None => None,
    };
    view! {
        <li class="artifact" data-artifact-id=artifact.id.to_string()>
            <div class="artifact-head">
                <strong>{name.clone()}</strong>
                <span class="tag">{artifact.artifact_type.clone()}</span>
                {artifact.size_bytes.map(|size| view! { <span class="muted">{model::format_bytes(size)}</span> })}
                <Ago at=artifact.created_at />
                {url.map(|href| if own_bytes {
                    view! {
                        <a class="button subtle small" href=href download=name.clone() rel="noopener" target="_blank">"Download"</a>
                    }
                    .into_any()
                } else {
                    // A link the runner reported: opened, not downloaded.
                    view! {
                        <a class="button subtle small" href=href rel="noopener noreferrer" target="_blank">"Open"</a>
                    }
                    .into_any()
                })}
                {unlinked.map(|url| view! { <UnlinkedUrl url /> })}
            </div>
            {preview.map(|preview| view! { <div class="artifact-preview">{preview}</div> })}
        </li>
    }
}
