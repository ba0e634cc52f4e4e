//! The one status colour scheme, used wherever a run status is shown.

use crate::model::RunStatus;
use leptos::prelude::*;

#[component]
pub fn StatusBadge(status: RunStatus) -> impl IntoView {
    view! {
        <span class=format!("badge status-{}", status.as_str())>
            <span class="dot" aria-hidden="true"></span>
            {status.as_str()}
        </span>
    }
}
