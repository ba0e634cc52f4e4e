//! The navigation shell around every signed-in page, and [`IfRole`], which shows
//! people only what their role lets them do.

use crate::functions::auth::{signed_in_user, Logout};
use crate::live::{provide_live, LiveIndicator};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_navigate;
use model::{AppError, Role};

/// The run just started from the new-run form, and its runner token: the run page
/// shows the token this once (it is never put in a URL).
#[derive(Clone, Copy)]
pub struct JustStarted(pub RwSignal<Option<(String, String)>>);

/// The signed-in user's role, for [`IfRole`]. Set once the page has hydrated (an
/// effect), so the server's HTML and the first render in the browser agree: the
/// role's controls appear right after, and never for a role that may not use them.
#[derive(Clone, Copy)]
pub struct SignedInRole(pub RwSignal<Option<Role>>);

/// Its children only when the signed-in user's role is `needed` or above
/// ([`Role::allows`]); the server checks every call again.
#[component]
pub fn IfRole(needed: Role, children: ChildrenFn) -> impl IntoView {
    let role = use_context::<SignedInRole>();
    move || {
        role.and_then(|SignedInRole(role)| role.get())
            .is_some_and(|role| role.allows(needed))
            .then(|| children())
    }
}

#[component]
pub fn Layout() -> impl IntoView {
    let user = Resource::new(|| (), |_| signed_in_user());
    let role = RwSignal::new(None);
    provide_context(SignedInRole(role));
    let logout = ServerAction::<Logout>::new();
    provide_live();

    Effect::new(move |_| match user.get() {
        Some(Ok(Some(user))) => role.set(Some(user.role)),
        // A session that ended while the app was open: go to the login form.
        Some(Ok(None) | Err(AppError::Unauthorized)) => {
            role.set(None);
            use_navigate()("/login", Default::default());
        }
        _ => {}
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
                    <IfRole needed=Role::Member><A href="/runs/new">"New run"</A></IfRole>
                    <A href="/campaigns">"Campaigns"</A>
                    <A href="/agents">"Agents"</A>
                    <A href="/alerts">"Alerts"</A>
                    <A href="/settings">"Settings"</A>
                </nav>
                <div class="account">
                    <LiveIndicator />
                    <Transition>
                        {move || Suspend::new(async move {
                            user.await
                                .ok()
                                .flatten()
                                .map(|user| view! {
                                    <span class="who" title=user.account_name>{user.email}</span>
                                    <span class="role" data-role=user.role.as_str()>{user.role.as_str()}</span>
                                })
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
