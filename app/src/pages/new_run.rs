//! The new-run form (`/runs/new`): agent (picked or a new slug), JSON input checked
//! as it is typed, campaign, webhook URL. On success it opens the run, which shows
//! the runner token once.

use crate::components::layout::JustStarted;
use crate::functions::manage::{new_run_choices, StartRun};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

/// Why the input is not valid JSON, if it is not.
pub fn input_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(text)
        .err()
        .map(|error| format!("Not valid JSON: {error}"))
}

#[component]
pub fn NewRunPage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| new_run_choices());
    let start = ServerAction::<StartRun>::new();
    let input = RwSignal::new(String::from("{\n  \n}"));
    let problem = Memo::new(move |_| input_problem(&input.get()));
    let just_started = expect_context::<JustStarted>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(started)) = start.value().get() {
            just_started
                .0
                .set(Some((started.id.clone(), started.runner_token.clone())));
            navigate(&format!("/runs/{}", started.id), Default::default());
        }
    });
    let error = move || {
        start
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
    };

    view! {
        <Title text="New run" />
        <main class="page narrow-page">
            <header class="page-header"><h1>"New run"</h1></header>
            <ActionForm action=start attr:class="stack card">
                <label>
                    <span>"Agent"</span>
                    <input type="text" name="agent" required list="agent-slugs" placeholder="e.g. jobseek-add-company"
                        pattern="[A-Za-z0-9._\\-]{1,100}" title="letters, digits, '-', '_' or '.'" />
                </label>
                <label>
                    <span>"Input (JSON)"</span>
                    <textarea
                        name="input"
                        rows="8"
                        spellcheck="false"
                        class:invalid=move || problem.get().is_some()
                        prop:value=move || input.get()
                        on:input=move |event| input.set(event_target_value(&event))
                    >
                        {input.get_untracked()}
                    </textarea>
                </label>
                {move || problem.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                <label>
                    <span>"Summary (optional)"</span>
                    <input type="text" name="summary" placeholder="What this run is for" />
                </label>
                <label>
                    <span>"Campaign (optional)"</span>
                    <select name="campaign">
                        <option value="">"none"</option>
                        <Transition>
                            {move || Suspend::new(async move {
                                choices.await.ok().map(|choices| {
                                    choices
                                        .campaigns
                                        .into_iter()
                                        .map(|(id, name)| view! { <option value=id.to_string()>{name}</option> })
                                        .collect_view()
                                })
                            })}
                        </Transition>
                    </select>
                </label>
                <label>
                    <span>"Webhook URL (optional)"</span>
                    <input type="url" name="webhook_url" placeholder="https://example.com/hooks/runboard" />
                </label>
                <datalist id="agent-slugs">
                    <Transition>
                        {move || Suspend::new(async move {
                            choices.await.ok().map(|choices| {
                                choices.agents.into_iter().map(|agent| view! { <option value=agent></option> }).collect_view()
                            })
                        })}
                    </Transition>
                </datalist>
                {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                <button type="submit" class="button primary" disabled=move || start.pending().get() || problem.get().is_some()>
                    "Start run"
                </button>
            </ActionForm>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::input_problem;

    #[test]
    fn input_must_be_json_or_empty() {
        assert_eq!(input_problem(""), None);
        assert_eq!(input_problem("{\"a\": 1}"), None);
        assert!(input_problem("{a: 1}")
            .unwrap()
            .starts_with("Not valid JSON"));
    }
}
