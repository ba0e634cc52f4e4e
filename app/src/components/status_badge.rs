//! The one status colour scheme, used wherever a run's or a step's status is shown.

use leptos::prelude::*;
use model::{RunStatus, StepStatus};

/// A status as the badge names it: a run's or a step's.
pub struct StatusName(&'static str);

impl From<RunStatus> for StatusName {
    fn from(status: RunStatus) -> Self {
        StatusName(status.as_str())
    }
}

impl From<StepStatus> for StatusName {
    fn from(status: StepStatus) -> Self {
        StatusName(status.as_str())
    }
}

#[component]
pub fn StatusBadge(#[prop(into)] status: StatusName) -> impl IntoView {
    let StatusName(name) = status;
    view! {
        <span class=format!("badge status-{name}")>
            <span class="dot" aria-hidden="true"></span>
            {name}
        </span>
    }
}
