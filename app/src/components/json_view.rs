//! JSON shown readable: collapsible, pretty-printed, with a copy button.

use leptos::prelude::*;

/// Puts text on the clipboard (in the browser; a no-op while rendering on the server).
pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[component]
pub fn CopyButton(text: String, #[prop(default = "Copy")] label: &'static str) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    view! {
        <button
            type="button"
            class="button subtle small"
            on:click=move |_| {
                copy_to_clipboard(&text);
                set_copied.set(true);
            }
        >
            {move || if copied.get() { "Copied" } else { label }}
        </button>
    }
}

#[component]
pub fn JsonView(
    label: &'static str,
    value: serde_json::Value,
    #[prop(default = false)] open: bool,
) -> impl IntoView {
    let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
    let empty = value.is_null() || value.as_object().is_some_and(|map| map.is_empty());
    view! {
        <details class="json" open=open>
            <summary>
                <span>{label}</span>
                {empty.then(|| view! { <span class="muted">" (empty)"</span> })}
            </summary>
            <div class="json-body">
                <CopyButton text=pretty.clone() />
                <pre><code>{pretty}</code></pre>
            </div>
        </details>
    }
}
