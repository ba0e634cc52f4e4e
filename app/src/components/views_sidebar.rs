//! Saved views beside the runs lists: every view the person sees, with how many
//! runs it matches now (kept live: counts follow the stream), and the form that
//! saves the list's current search as a view.

use crate::functions::views::{list_views, save_view, CountedView};
use crate::live::{debounced, on_change, Follow, RUN_LIST_CHANGES};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use model::{format_count, query_text, Role};

/// Bumped when a view is saved, changed or deleted, so the sidebar reads again.
#[derive(Clone, Copy)]
pub struct ViewsVersion(pub RwSignal<u32>);

/// The sidebar's version signal, provided by the first runs page that asks.
pub fn views_version() -> RwSignal<u32> {
    match use_context::<ViewsVersion>() {
        Some(ViewsVersion(version)) => version,
        None => {
            let version = RwSignal::new(0);
            provide_context(ViewsVersion(version));
            version
        }
    }
}

/// How long the counts wait after a change before they are read again.
const COUNTS_RELOAD_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// The list of views; `current` is the open view's id (`None`: all runs).
#[component]
pub fn ViewsSidebar(current: Option<String>) -> impl IntoView {
    let version = views_version();
    let views = Resource::new(move || version.get(), |_| list_views());
    let reload = debounced(COUNTS_RELOAD_DELAY, move || views.refetch());
    on_change(Follow::every_run(RUN_LIST_CHANGES), move |change| {
        if change.data.touches_run_list() {
            reload();
        }
    });
    let all_current = current.is_none().then_some("page");
    view! {
        <aside class="views-sidebar" aria-label="Saved views">
            <h2 class="views-title">"Views"</h2>
            <ul class="views-list">
                <li><a href="/" aria-current=all_current>"All runs"</a></li>
                <Transition fallback=|| view! { <li class="muted">"Loading views…"</li> }>
                    {move || {
                        let current = current.clone();
                        Suspend::new(async move {
                            match views.await {
                                Ok(list) if list.is_empty() => view! {
                                    <li class="muted views-hint">"Search, then “Save view” to keep a search here."</li>
                                }
                                .into_any(),
                                Ok(list) => list
                                    .into_iter()
                                    .map(|counted| view! { <ViewLink counted current=current.clone() /> })
                                    .collect_view()
                                    .into_any(),
                                Err(error) => view! { <li class="form-error">{error.to_string()}</li> }.into_any(),
                            }
                        })
                    }}
                </Transition>
            </ul>
        </aside>
    }
}

#[component]
fn ViewLink(counted: CountedView, current: Option<String>) -> impl IntoView {
    let id = counted.view.id.to_string();
    let is_current = current.as_deref() == Some(id.as_str());
    let count = if counted.exact {
        format_count(counted.count)
    } else {
        format!("{}+", format_count(counted.count))
    };
    let title = if counted.view.shared {
        format!("{} · shared by {}", counted.view.q, counted.view.author)
    } else {
        counted.view.q.clone()
    };
    view! {
        <li>
            <a href=format!("/views/{id}") aria-current=is_current.then_some("page") title=title data-view=id.clone()>
                <span class="view-name">{counted.view.name.clone()}</span>
                {counted.view.shared.then(|| view! { <span class="view-shared" aria-label="shared">"shared"</span> })}
                <span class="count">{count}</span>
            </a>
        </li>
    }
}

/// "Save view": names the list's current search (`query`, the URL's query
/// string) and saves it with the list's added columns, then opens the view.
#[component]
pub fn SaveViewForm(query: Signal<String>, role: Signal<Option<Role>>) -> impl IntoView {
    let version = views_version();
    let name = NodeRef::<leptos::html::Input>::new();
    let shared = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let open = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.get_untracked().trim_start_matches('?').as_bytes())
                .into_owned()
                .collect();
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
        let name = name.get().map(|input| input.value()).unwrap_or_default();
        let shared = shared.get().is_some_and(|input| input.checked());
        let navigate = use_navigate();
        leptos::task::spawn_local(async move {
            match save_view(name, q, fields, shared).await {
                Ok(view) => {
                    error.set(None);
                    open.set(false);
                    version.update(|version| *version += 1);
                    navigate(&format!("/views/{}", view.id), Default::default());
                }
                Err(failed) => error.set(Some(failed.to_string())),
            }
        });
    };
    let may_share = move || role.get().is_some_and(|role| role.allows(Role::Member));
    view! {
        <div class="save-view">
            <button type="button" class="button subtle" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|open| *open = !*open)>"Save view"</button>
            <Show when=move || open.get()>
                <form class="save-view-form inline-form" on:submit=submit aria-label="Save this search as a view">
                    <input node_ref=name type="text" name="name" required maxlength="80"
                        placeholder="View name" aria-label="View name" />
                    <Show when=may_share>
                        <label class="check"><input node_ref=shared type="checkbox" name="shared" />" Share with the account"</label>
                    </Show>
                    <button type="submit" class="button primary">"Save"</button>
                </form>
                {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            </Show>
        </div>
    }
}
