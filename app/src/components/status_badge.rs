//! The one status colour scheme, used wherever a run status is shown.

use leptos::prelude::*;
use model::RunStatus;

#[component]
pub fn StatusBadge(status: RunStatus) -> impl IntoView {
    view! {
        <span class=format!("badge status-{}", status.as_str())>
            <span class="dot" aria-hidden="true"></span>
            {status.as_str()}
        </span>
    }
}
