//! A run's progress, 0–100 %.

use leptos::prelude::*;

#[component]
pub fn ProgressBar(progress: f64) -> impl IntoView {
    let percent = (progress.clamp(0.0, 1.0) * 100.0).round();
    view! {
        <div
            class="progress"
            role="progressbar"
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=percent.to_string()
            title=format!("{percent}%")
        >
            <span style=format!("width: {percent}%")></span>
        </div>
    }
}
