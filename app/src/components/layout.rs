//! The navigation shell around every signed-in page, and [`IfRole`], which shows
//! people only what their role lets them do.

use crate::components::time::{provide_clock, ZoneSwitch};
use crate::functions::auth::{signed_in_user, Logout};
use crate::live::{provide_live, LiveIndicator};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::{use_location, use_navigate};
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
    let email = RwSignal::new(None::<String>);
    provide_clock(email.into());

    Effect::new(move |_| match user.get() {
        Some(Ok(Some(user))) => {
            role.set(Some(user.role));
            email.set(Some(user.email));
        }
        // A session that ended while the app was open: go to the login form.
        Some(Ok(None) | Err(AppError::Unauthorized)) => {
            role.set(None);
            use_navigate()("/login", Default::default());
        }
        _ => {}
    });

    // The skip link moves focus itself: the router would take `#main` for a
    // navigation and only scroll.
    let main = NodeRef::<leptos::html::Div>::new();
    let skip_to_main = move |event: leptos::ev::MouseEvent| {
        if let Some(main) = main.get() {
            event.prevent_default();
            let _ = main.focus();
        }
    };
    // The menu of a narrow screen: closed again on every navigation.
    let menu_open = RwSignal::new(false);
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        location.search.track();
        menu_open.set(false);
    });

    view! {
        <div class="app">
            <a class="skip-link" href="#main" on:click=skip_to_main>"Skip to content"</a>
            <header class="topbar" class:menu-open=move || menu_open.get()>
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Runboard"
                </A>
                <LiveIndicator />
                <button
                    type="button"
                    class="button subtle menu-toggle"
                    aria-controls="main-menu"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|open| *open = !*open)
                >
                    <span class="menu-icon" aria-hidden="true"></span>
                    "Menu"
                </button>
                <div class="menu" id="main-menu">
                    <nav class="nav" aria-label="Main">
                        <A href="/" exact=true>"Runs"</A>
                        <IfRole needed=Role::Member><A href="/runs/new">"New run"</A></IfRole>
                        <A href="/campaigns">"Campaigns"</A>
                        <A href="/agents">"Agents"</A>
                        <A href="/alerts">"Alerts"</A>
                        <A href="/settings">"Settings"</A>
                    </nav>
                    <div class="account">
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
                        <ZoneSwitch />
                        <ActionForm action=logout>
                            <button type="submit" class="button subtle">"Log out"</button>
                        </ActionForm>
                    </div>
                </div>
            </header>
            <div id="main" class="main" tabindex="-1" node_ref=main>
                <Outlet />
            </div>
        </div>
    }
}
