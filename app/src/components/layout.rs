//! The navigation shell around every signed-in page, and [`IfRole`], which shows
//! people only what their role lets them do.

use crate::functions::auth::{signed_in_user, Logout};
use crate::live::{provide_live, LiveIndicator};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_navigate;
use model::{AppError, CurrentUser, Role};

/// The run just started from the new-run form, and its runner token: the run page
/// shows the token this once (it is never put in a URL).
#[derive(Clone, Copy)]
pub struct JustStarted(pub RwSignal<Option<(String, String)>>);

/// The signed-in user as the layout loaded it, for the pages inside it.
#[derive(Clone, Copy)]
pub struct SignedIn(pub Resource<Result<Option<CurrentUser>, AppError>>);

/// Its children only when the signed-in user's role is `needed` or above
/// ([`Role::allows`]); the server checks every call again.
#[component]
pub fn IfRole(needed: Role, children: ChildrenFn) -> impl IntoView {
    let user = use_context::<SignedIn>();
    view! {
        <Transition fallback=|| ()>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    let allowed = match user {
                        Some(SignedIn(user)) => user
                            .await
                            .ok()
                            .flatten()
                            .is_some_and(|user| user.role.allows(needed)),
                        None => false,
                    };
                    allowed.then(|| children())
                })
            }}
        </Transition>
    }
}

#[component]
pub fn Layout() -> impl IntoView {
    let user = Resource::new(|| (), |_| signed_in_user());
    provide_context(SignedIn(user));
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
                    <IfRole needed=Role::Member><A href="/runs/new">"New run"</A></IfRole>
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
