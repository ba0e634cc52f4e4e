//! A run's progress, 0–100 %: a bar, and where there is room (the run page) the
//! percentage beside it.

use leptos::prelude::*;

#[component]
pub fn ProgressBar(progress: f64, #[prop(optional)] show_percent: bool) -> impl IntoView {
    let percent = (progress.clamp(0.0, 1.0) * 100.0).round();
    let bar = view! {
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
    };
    if show_percent {
        view! {
            <div class="progress-with-percent">
                {bar}
                <span class="progress-percent" data-testid="progress-percent">{format!("{percent} %")}</span>
            </div>
        }
        .into_any()
    } else {
        bar.into_any()
    }
}
