//! The invitation page (`/invite/<secret>`): someone an owner added without a
//! password chooses one here, once, and is signed in. An unknown, used or
//! expired link says so.

use crate::functions::team::{invitation, AcceptInvitation};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let secret = move || params.read().get("secret").unwrap_or_default();
    let invited = Resource::new(secret, invitation);
    let accept = ServerAction::<AcceptInvitation>::new();
    let error = move || {
        accept
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
    };

    view! {
        <Title text="Join Runboard" />
        <main class="centered">
            <div class="card narrow login-card">
                <div class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Runboard"
                </div>
                <Suspense fallback=|| view! { <p class="muted">"Checking the invitation…"</p> }>
                    {move || Suspend::new(async move {
                        match invited.await {
                            Ok(email) => view! {
                                <h1>"Choose a password"</h1>
                                <p class="muted">{format!("You were invited as {email}.")}</p>
                                <ActionForm action=accept attr:class="stack">
                                    <input type="hidden" name="secret" value=secret />
                                    <input type="email" name="email" value=email.clone() autocomplete="username" hidden readonly />
                                    <label>
                                        <span>"Password"</span>
                                        <input type="password" name="password" autocomplete="new-password" minlength="10" required autofocus />
                                    </label>
                                    <label>
                                        <span>"Password again"</span>
                                        <input type="password" name="repeat" autocomplete="new-password" minlength="10" required />
                                    </label>
                                    <p class="muted">"At least 10 characters, not a common password."</p>
                                    {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                                    <button type="submit" class="button primary" disabled=move || accept.pending().get()>"Join"</button>
                                </ActionForm>
                            }
                            .into_any(),
                            Err(_) => view! {
                                <h1>"This invitation cannot be used"</h1>
                                <p>"The link is unknown, was used already, or has expired (links last 72 hours). Ask an owner of the account for a new one."</p>
                                <a href="/login" class="button">"Log in"</a>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
