//! A saved view's page (`/views/:id`): the runs list under the view's query and
//! columns, with its own address. Searching on it narrows the list without
//! changing the view; "Update view" stores the current search in it.

use crate::components::layout::SignedInRole;
use crate::components::views_sidebar::{views_version, ViewsSidebar};
use crate::functions::views::{delete_view, get_view, update_view};
use crate::pages::not_found::NotFound;
use crate::pages::run_list::RunsExplorer;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_navigate, use_params_map};
use model::{query_text, AppError, Role, SavedView};

#[component]
pub fn SavedViewPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let version = views_version();
    let saved = Resource::new(move || (id.get(), version.get()), |(id, _)| get_view(id));
    view! {
        <Suspense fallback=|| view! { <main class="page"><p class="muted">"Loading the view…"</p></main> }>
            {move || Suspend::new(async move {
                match saved.await {
                    Ok(saved) => view! { <ViewBody saved /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <main class="page"><p class="form-error">{error.to_string()}</p></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ViewBody(saved: SavedView) -> impl IntoView {
    let id = saved.id.to_string();
    let mut defaults = vec![("q".to_string(), saved.q.clone())];
    if let Some(columns) = &saved.columns {
        defaults.push(("fields".to_string(), columns.join(",")));
    }
    let role = use_context::<SignedInRole>().map(|SignedInRole(role)| role);
    let may_change = {
        let (mine, shared) = (saved.mine, saved.shared);
        move || mine || (shared && role.and_then(|role| role.get()) == Some(Role::Owner))
    };
    let (action_id, action_defaults) = (id.clone(), defaults.clone());
    let note = if saved.shared {
        format!("Shared with the account by {}", saved.author)
    } else {
        "Only you see this view".to_string()
    };
    view! {
        <Title text=saved.name.clone() />
        <main class="page page-wide">
            <div class="runs-layout">
                <ViewsSidebar current=Some(id.clone()) />
                <section class="runs-main">
                    <header class="page-header">
                        <div>
                            <h1>{saved.name.clone()}</h1>
                            <p class="muted view-note">
                                {note}
                                {(!saved.q.is_empty()).then(|| view! { " · " <code class="view-query">{saved.q.clone()}</code> })}
                            </p>
                        </div>
                        <Show when=may_change>
                            <ViewActions id=action_id.clone() defaults=action_defaults.clone() />
                        </Show>
                    </header>
                    <RunsExplorer base=format!("/views/{id}") fixed=Vec::new() defaults=defaults.clone() />
                </section>
            </div>
        </main>
    }
}

/// "Update view" (the current search and columns become the view's) and "Delete".
#[component]
fn ViewActions(id: String, defaults: Vec<(String, String)>) -> impl IntoView {
    let version = views_version();
    let location = use_location();
    let error = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(false);
    let update = {
        let id = id.clone();
        move |_| {
            let mut pairs: Vec<(String, String)> = form_urlencoded::parse(
                location
                    .search
                    .get_untracked()
                    .trim_start_matches('?')
                    .as_bytes(),
            )
            .into_owned()
            .collect();
            for (key, value) in &defaults {
                if !pairs.iter().any(|(name, _)| name == key) {
                    pairs.push((key.clone(), value.clone()));
                }
            }
            let q = query_text(
                pairs
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            );
            let fields = pairs
                .iter()
                .find(|(key, _)| key == "fields")
                .map(|(_, value)| value.clone())
                .unwrap_or_default();
            let (id, navigate) = (id.clone(), use_navigate());
            leptos::task::spawn_local(async move {
                match update_view(id.clone(), q, fields).await {
                    Ok(_) => {
                        error.set(None);
                        version.update(|version| *version += 1);
                        navigate(&format!("/views/{id}"), Default::default());
                    }
                    Err(failed) => error.set(Some(failed.to_string())),
                }
            });
        }
    };
    let remove = move |_| {
        let (id, navigate) = (id.clone(), use_navigate());
        leptos::task::spawn_local(async move {
            match delete_view(id).await {
                Ok(()) => {
                    version.update(|version| *version += 1);
                    navigate("/", Default::default());
                }
                Err(failed) => error.set(Some(failed.to_string())),
            }
        });
    };
    view! {
        <div class="view-actions">
            <button type="button" class="button subtle" on:click=update title="Store the current search and columns in this view">"Update view"</button>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="button subtle danger" on:click=move |_| confirming.set(true)>"Delete"</button>
                }
            >
                <span class="confirm">
                    "Delete this view? "
                    <button type="button" class="button danger" on:click=remove.clone()>"Delete view"</button>
                    <button type="button" class="button subtle" on:click=move |_| confirming.set(false)>"Keep"</button>
                </span>
            </Show>
            {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        </div>
    }
}
