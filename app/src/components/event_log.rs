//! A run's events log: loads page by page on demand (never the whole log), filters
//! by type and searches text, colours levels, expands metadata.

use crate::functions::run_page::run_events;
use crate::model::{format_timestamp, Event, EventPage};
use leptos::prelude::*;

/// `error`, `warning` or `info`, from the event type.
pub fn level(event_type: &str) -> &'static str {
    let lower = event_type.to_ascii_lowercase();
    if lower.contains("error") || lower.contains("fail") {
        "error"
    } else if lower.contains("warn") {
        "warning"
    } else {
        "info"
    }
}

#[component]
pub fn EventLog(run_id: String) -> impl IntoView {
    let event_type = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let first_page = Resource::new(
        {
            let run_id = run_id.clone();
            move || (run_id.clone(), event_type.get(), search.get())
        },
        |(run_id, event_type, q)| run_events(run_id, 0, event_type, q),
    );
    // Pages loaded with "Load more", after the first.
    let more = RwSignal::new(Vec::<EventPage>::new());
    let load_more = Action::new({
        let run_id = run_id.clone();
        move |after: &i64| {
            run_events(
                run_id.clone(),
                *after,
                event_type.get_untracked(),
                search.get_untracked(),
            )
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = load_more.value().get() {
            more.update(|pages| pages.push(page));
        }
    });
    // A new filter starts from the first page again.
    Effect::new(move |_| {
        event_type.track();
        search.track();
        more.set(Vec::new());
    });

    let type_input = NodeRef::<leptos::html::Input>::new();
    let search_input = NodeRef::<leptos::html::Input>::new();
    let apply = move |submit: leptos::ev::SubmitEvent| {
        submit.prevent_default();
        if let Some(input) = type_input.get() {
            event_type.set(input.value().trim().to_string());
        }
        if let Some(input) = search_input.get() {
            search.set(input.value().trim().to_string());
        }
    };

    view! {
        <form class="log-filters" on:submit=apply role="search">
            <input node_ref=type_input type="text" name="type" placeholder="Event type, e.g. error" aria-label="Event type" />
            <input node_ref=search_input type="search" name="q" placeholder="Search messages" aria-label="Search messages" />
            <button type="submit" class="button">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                match first_page.await {
                    Ok(first) => {
                        let extra = more.get();
                        let next = extra.last().map(|page| page.next_after).unwrap_or(first.next_after);
                        let events: Vec<Event> = first
                            .events
                            .into_iter()
                            .chain(extra.into_iter().flat_map(|page| page.events))
                            .collect();
                        view! { <EventRows events next load_more /> }.into_any()
                    }
                    Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EventRows(
    events: Vec<Event>,
    next: Option<i64>,
    load_more: Action<i64, Result<EventPage, crate::error::AppError>>,
) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="muted">"No events."</p> }.into_any();
    }
    let shown = events.len();
    view! {
        <ol class="log" aria-label="Events">
            {events
                .into_iter()
                .map(|event| {
                    let level = level(&event.event_type);
                    let metadata = event
                        .metadata
                        .as_ref()
                        .filter(|value| !value.is_null())
                        .map(|value| serde_json::to_string_pretty(value).unwrap_or_default());
                    view! {
                        <li class=format!("log-line level-{level}") data-seq=event.seq.to_string()>
                            <span class="seq">{event.seq}</span>
                            <time datetime=event.created_at.to_rfc3339()>{format_timestamp(event.created_at)}</time>
                            <span class="event-type">{event.event_type.clone()}</span>
                            <span class="message">{event.message.clone().unwrap_or_default()}</span>
                            {metadata.map(|metadata| view! {
                                <details class="metadata">
                                    <summary>"metadata"</summary>
                                    <pre>{metadata}</pre>
                                </details>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
        <div class="pager">
            <span class="muted">{if shown == 1 { "1 event shown".to_string() } else { format!("{shown} events shown") }}</span>
            {next.map(|after| view! {
                <button
                    type="button"
                    class="button"
                    disabled=move || load_more.pending().get()
                    on:click=move |_| { load_more.dispatch(after); }
                >
                    "Load more"
                </button>
            })}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn levels_come_from_the_event_type() {
        assert_eq!(level("error"), "error");
        assert_eq!(level("agent.failed"), "error");
        assert_eq!(level("warning"), "warning");
        assert_eq!(level("agent.progress"), "info");
    }
}
