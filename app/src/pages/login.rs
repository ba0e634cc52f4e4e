//! The login form. It works before the wasm loads (a plain form post) and, once
//! hydrated, without a page reload.

use crate::functions::auth::Login;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let error = move || {
        login
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
    };

    view! {
        <Title text="Log in" />
        <main class="centered">
            <div class="card narrow login-card">
                <div class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Runboard"
                </div>
                <h1>"Log in"</h1>
                <ActionForm action=login attr:class="stack">
                    <input type="hidden" name="next" value=next />
                    <label>
                        <span>"Email"</span>
                        <input type="email" name="email" autocomplete="username" required autofocus />
                    </label>
                    <label>
                        <span>"Password"</span>
                        <input type="password" name="password" autocomplete="current-password" required />
                    </label>
                    {move || {
                        error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })
                    }}
                    <button type="submit" class="button primary" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Logging in…" } else { "Log in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
