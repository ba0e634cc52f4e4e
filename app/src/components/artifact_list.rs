//! A run's artifacts: type, size and time, inline previews (images, text, JSON,
//! markdown sanitised on the server), downloads, and HTML only inside a sandboxed
//! frame. Only an http(s) URL or a path of this site is linked or loaded. A long
//! preview is clipped with a button that expands it; an image opens full size in
//! a dialog.

use crate::components::stored_link::UnlinkedUrl;
use crate::components::time::Ago;
use leptos::prelude::*;
use model::{ArtifactView, Preview};

/// Lines of text (or JSON) a preview shows before it is clipped.
const CLIPPED_LINES: usize = 16;
/// Characters of a preview beyond which it is clipped.
const CLIPPED_CHARS: usize = 1_600;

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
    // Previews longer than their box are clipped; the reader can expand them.
    let long = match &view.preview {
        Preview::Text { text } | Preview::Json { text } => {
            text.lines().count() > CLIPPED_LINES || text.len() > CLIPPED_CHARS
        }
        Preview::Markdown { html } => html.len() > CLIPPED_CHARS,
        Preview::None | Preview::Image | Preview::Html => false,
    };
    let expanded = RwSignal::new(false);
    let lightbox = NodeRef::<leptos::html::Dialog>::new();
    let preview = match view.preview {
        Preview::Image => url.clone().map(|src| {
            let full = src.clone();
            let open = move |_| {
                if let Some(dialog) = lightbox.get() {
                    let _ = dialog.show_modal();
                }
            };
            let close = move |_| {
                if let Some(dialog) = lightbox.get() {
                    dialog.close();
                }
            };
            view! {
                <button type="button" class="image-open" on:click=open aria-label=format!("Enlarge {name}")>
                    <img class="preview-image" src=src alt=name.clone() loading="lazy" />
                </button>
                <dialog class="lightbox" node_ref=lightbox aria-label=name.clone() on:click=close>
                    <img src=full alt=name.clone() />
                    <button type="button" class="button subtle lightbox-close" on:click=close>"Close"</button>
                </dialog>
            }
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
    let size = artifact.size_text();
    view! {
        <li class="artifact" data-artifact-id=artifact.id.to_string()>
            <div class="artifact-head">
                <strong>{name.clone()}</strong>
                <span class="tag">{artifact.artifact_type.clone()}</span>
                <span class="muted artifact-size">{size}</span>
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
            {preview.map(|preview| view! {
                <div class="artifact-preview" class:clipped=move || long && !expanded.get()>{preview}</div>
            })}
            {long.then(|| view! {
                <button type="button" class="link-button expand-preview" aria-expanded=move || expanded.get().to_string()
                    on:click=move |_| expanded.update(|open| *open = !*open)>
                    {move || if expanded.get() { "Show less" } else { "Show all" }}
                </button>
            })}
        </li>
    }
}
