//! The navigation shell around every signed-in page.

use crate::functions::auth::{signed_in_user, Logout};
use crate::live::{provide_live, LiveIndicator};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_navigate;
use model::AppError;

/// The run just started from the new-run form, and its runner token: the run page
/// shows the token this once (it is never put in a URL).
#[derive(Clone, Copy)]
pub struct JustStarted(pub RwSignal<Option<(String, String)>>);

#[component]
pub fn Layout() -> impl IntoView {
    let user = Resource::new(|| (), |_| signed_in_user());
    let logout = ServerAction::<Logout>::new();
    provide_live();

    // A session that ended while the app was open: go to the login form.
    Effect::new(move |_| {
        if let Some(Ok(None) | Err(AppError::Unauthorized)) = user.get() {
            use_navigate()("/login", Default::default());
        }
    });

    view! {
        <div class="app">
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Runboard"
                </A>
                <nav class="nav" aria-label="Main">
                    <A href="/" exact=true>"Runs"</A>
                    <A href="/runs/new">"New run"</A>
                    <A href="/campaigns">"Campaigns"</A>
                    <A href="/agents">"Agents"</A>
                    <A href="/settings">"Settings"</A>
                </nav>
                <div class="account">
                    <LiveIndicator />
                    <Transition>
                        {move || Suspend::new(async move {
                            user.await
                                .ok()
                                .flatten()
                                .map(|user| view! { <span class="who" title=user.account_name>{user.email}</span> })
                        })}
                    </Transition>
                    <ActionForm action=logout>
                        <button type="submit" class="button subtle">"Log out"</button>
                    </ActionForm>
                </div>
            </header>
            <Outlet />
        </div>
    }
}
