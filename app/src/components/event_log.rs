//! A run's events log: a window of at most [`MAX_ROWS`] events, read page by page
//! in either direction on demand (never the whole log), filtered by type and
//! searched, levels coloured, metadata expandable. While the reader is at the
//! bottom, new events arrive live and the log follows the tail; a reader who
//! scrolled up is told how many arrived instead of being moved.

use crate::components::time::TimeOfDay;
use crate::functions::run_page::run_events;
use crate::live::{on_change, Follow};
use leptos::prelude::*;
use model::{ChangeData, ChangeKind, Event, EventPage, LogFilter};
use uuid::Uuid;

/// The most events the log shows at once, whatever the run's size.
pub const MAX_ROWS: usize = 300;

/// The events the log shows, and whether there are more on either side.
#[derive(Clone, Debug, Default, PartialEq)]
struct Window {
    events: Vec<Event>,
    /// Events before the first shown exist (some were dropped or never loaded).
    earlier: bool,
    /// Where the next page starts, when events after the last shown may exist.
    next_after: Option<i64>,
}

impl Window {
    fn first(page: EventPage) -> Window {
        Window {
            events: page.events,
            earlier: false,
            next_after: page.next_after,
        }
    }

    fn last_seq(&self) -> i64 {
        self.events.last().map(|event| event.seq).unwrap_or(0)
    }

    /// Events after the last shown exist (they arrived while not followed, or may
    /// have been missed): "Load more" fetches them.
    fn expect_more(&mut self) {
        if self.next_after.is_none() {
            self.next_after = Some(self.last_seq());
        }
    }

    /// Adds a page after the last event, dropping the oldest beyond [`MAX_ROWS`].
    fn append(&mut self, events: Vec<Event>, next_after: Option<i64>) {
        let last = self.last_seq();
        self.events
            .extend(events.into_iter().filter(|event| event.seq > last));
        self.next_after = next_after;
        if self.events.len() > MAX_ROWS {
            self.events.drain(..self.events.len() - MAX_ROWS);
            self.earlier = true;
        }
    }

    /// Adds the page before the first event, dropping the newest beyond [`MAX_ROWS`].
    fn prepend(&mut self, page: EventPage, full: bool) {
        let first = self
            .events
            .first()
            .map(|event| event.seq)
            .unwrap_or(i64::MAX);
        let mut events: Vec<Event> = page
            .events
            .into_iter()
            .filter(|event| event.seq < first)
            .collect();
        events.append(&mut self.events);
        self.events = events;
        self.earlier = full;
        if self.events.len() > MAX_ROWS {
            self.events.truncate(MAX_ROWS);
            self.next_after = Some(self.last_seq());
        }
    }
}

/// The log of `run_id` under `filter` (the page's, kept in its address: the
/// log reloads when it changes), starting with `initial`; `opened_at_error` is
/// the first error a failed run's log opened at, shown and scrolled to.
#[component]
pub fn EventLog(
    run_id: Uuid,
    initial: EventPage,
    filter: RwSignal<LogFilter>,
    #[prop(optional_no_strip)] opened_at_error: Option<i64>,
) -> impl IntoView {
    let id = run_id.to_string();
    let mut first = Window::first(initial);
    // Opened at an error, the log starts past the run's first events.
    first.earlier = first.events.first().is_some_and(|event| event.seq > 1);
    let window = RwSignal::new(first);
    let loading = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    // The reader is at the bottom of the log: new events are shown and followed.
    let following = RwSignal::new(opened_at_error.is_none());
    let arrived = RwSignal::new(0_i64);
    let scroller = NodeRef::<leptos::html::Div>::new();

    let fetch = {
        let id = id.clone();
        move |after: i64, before: Option<i64>, apply: Box<dyn FnOnce(EventPage) + Send + Sync>| {
            let id = id.clone();
            let asked = filter.get_untracked();
            loading.set(true);
            leptos::task::spawn_local(async move {
                let result = run_events(id, after, before, asked.clone()).await;
                loading.set(false);
                // A page of a filter that is no longer the current one is dropped.
                if filter.get_untracked() != asked {
                    return;
                }
                match result {
                    Ok(page) => {
                        failure.set(None);
                        apply(page);
                    }
                    Err(error) => failure.set(Some(error.to_string())),
                }
            });
        }
    };
    let scroll_to_end = move || {
        request_animation_frame(move || {
            if let Some(scroller) = scroller.get_untracked() {
                scroller.set_scroll_top(scroller.scroll_height());
            }
        });
    };

    let load_later = {
        let fetch = fetch.clone();
        move || {
            let Some(after) = window.with_untracked(|window| window.next_after) else {
                return;
            };
            arrived.set(0);
            fetch(
                after,
                None,
                Box::new(move |page| {
                    window.update(|window| window.append(page.events, page.next_after))
                }),
            );
        }
    };
    let load_earlier = {
        let fetch = fetch.clone();
        move || {
            let Some(first) =
                window.with_untracked(|window| window.events.first().map(|event| event.seq))
            else {
                return;
            };
            fetch(
                0,
                Some(first),
                Box::new(move |page| {
                    let full = page.events.len() as i64 >= crate::functions::run_page::EVENTS_PAGE;
                    window.update(|window| window.prepend(page, full));
                }),
            );
        }
    };
    // A new filter (from the form, the step trace or the address) starts the log over.
    Effect::watch(
        move || filter.get(),
        {
            let fetch = fetch.clone();
            move |_, _, _| {
                arrived.set(0);
                following.set(true);
                fetch(
                    0,
                    None,
                    Box::new(move |page| window.set(Window::first(page))),
                );
            }
        },
        false,
    );
    // A failed run's log opened at its first error: show it there.
    if let Some(seq) = opened_at_error {
        Effect::new(move |_| {
            request_animation_frame(move || {
                let line = document()
                    .query_selector(&format!(".log-line[data-seq=\"{seq}\"]"))
                    .ok()
                    .flatten();
                if let Some(line) = line {
                    line.scroll_into_view_with_bool(true);
                }
            });
        });
    }

    // Live: new events of this run join the log while the reader is at the tail of
    // an unfiltered log; otherwise they are counted and "Load more" picks them up.
    on_change(Follow::one_run(run_id, &[ChangeKind::EventsAppended]), {
        let fetch = fetch.clone();
        move |change| {
            let appended = match &change.data {
                ChangeData::Resync(_) => {
                    // Events may have been missed: offer to load whatever follows.
                    window.update(Window::expect_more);
                    return;
                }
                ChangeData::EventsAppended(appended) if change.run_id == Some(run_id) => {
                    appended.clone()
                }
                ChangeData::EventsAppended(_)
                | ChangeData::RunCreated(_)
                | ChangeData::RunUpdated(_)
                | ChangeData::RunDeleted(_)
                | ChangeData::StepChanged(_)
                | ChangeData::ArtifactAdded(_)
                | ChangeData::CampaignChanged(_)
                | ChangeData::BulkJobChanged(_)
                | ChangeData::RunBrief(_) => return,
            };
            let at_tail = window.with_untracked(|window| window.next_after.is_none());
            let unfiltered = filter.with_untracked(LogFilter::is_empty);
            if !(at_tail && unfiltered && following.get_untracked()) {
                arrived.update(|count| *count += appended.count);
                window.update(Window::expect_more);
                return;
            }
            let last = window.with_untracked(Window::last_seq);
            if appended.complete && appended.first_seq <= last + 1 {
                window.update(|window| window.append(appended.events, None));
                scroll_to_end();
            } else {
                fetch(
                    last,
                    None,
                    Box::new(move |page| {
                        window.update(|window| window.append(page.events, page.next_after));
                        scroll_to_end();
                    }),
                );
            }
        }
    });

    let type_input = NodeRef::<leptos::html::Input>::new();
    let search_input = NodeRef::<leptos::html::Input>::new();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let value = |input: NodeRef<leptos::html::Input>| {
            input
                .get()
                .map(|input| input.value().trim().to_string())
                .unwrap_or_default()
        };
        filter.update(|filter| {
            filter.event_type = value(type_input);
            filter.q = value(search_input);
        });
    };
    let step_shown = move || {
        filter.with(|filter| filter.step.clone()).map(|(step, attempt)| {
            let label = match attempt {
                Some(attempt) => format!("{step} · attempt {attempt}"),
                None => step,
            };
            view! {
                <span class="tag step-filter" data-testid="log-step">
                    "While "<strong>{label}</strong>" ran"
                    <button type="button" class="clear-step" aria-label="Show the whole log"
                        on:click=move |_| filter.update(|filter| filter.step = None)>"×"</button>
                </span>
            }
        })
    };
    let on_scroll = move |_| {
        if let Some(scroller) = scroller.get_untracked() {
            let bottom =
                scroller.scroll_top() + scroller.client_height() >= scroller.scroll_height() - 24;
            following.set(bottom);
        }
    };

    view! {
        <form class="log-filters" on:submit=submit role="search">
            <input node_ref=type_input type="text" name="type" placeholder="Event type, e.g. agent" aria-label="Event type"
                prop:value=move || filter.with(|filter| filter.event_type.clone()) />
            <input node_ref=search_input type="search" name="q" placeholder="Search messages" aria-label="Search messages"
                prop:value=move || filter.with(|filter| filter.q.clone()) />
            <button type="submit" class="button">"Filter"</button>
            {step_shown}
        </form>
        {move || failure.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        {move || window.with(|window| window.earlier).then(|| {
            let load_earlier = load_earlier.clone();
            view! {
                <div class="pager">
                    <button type="button" class="button subtle" disabled=move || loading.get() on:click=move |_| load_earlier()>
                        "Load earlier"
                    </button>
                </div>
            }
        })}
        <div class="log-scroll" node_ref=scroller on:scroll=on_scroll>
            <Show
                when=move || window.with(|window| !window.events.is_empty())
                fallback=|| view! { <p class="muted">"No events."</p> }
            >
                <ol class="log" aria-label="Events">
                    <For
                        each=move || window.get().events
                        key=|event| event.seq
                        children=move |event| {
                            let first_error = opened_at_error == Some(event.seq);
                            view! { <EventRow event first_error /> }
                        }
                    />
                </ol>
            </Show>
        </div>
        <div class="pager">
            <span class="muted" data-testid="log-count">{move || window.with(|window| shown_text(&window.events))}</span>
            {move || (arrived.get() > 0).then(|| view! {
                <span class="tag new-events">{format!("{} new", arrived.get())}</span>
            })}
            {move || window.with(|window| window.next_after.is_some()).then(|| {
                let load_later = load_later.clone();
                view! {
                    <button type="button" class="button" disabled=move || loading.get() on:click=move |_| load_later()>
                        "Load more"
                    </button>
                }
            })}
        </div>
    }
}

/// "3 events shown", or the range when the window starts later.
fn shown_text(events: &[Event]) -> String {
    match (events.first(), events.last()) {
        (Some(first), Some(last)) if events.len() > 1 => {
            format!(
                "{} events shown (#{}–#{})",
                events.len(),
                first.seq,
                last.seq
            )
        }
        (Some(_), _) => "1 event shown".to_string(),
        _ => "0 events shown".to_string(),
    }
}

#[component]
fn EventRow(event: Event, first_error: bool) -> impl IntoView {
    let level = model::EventLevel::of(&event.event_type).as_str();
    let metadata = event
        .metadata
        .as_ref()
        .filter(|value| !value.is_null())
        .map(|value| serde_json::to_string_pretty(value).unwrap_or_default());
    // One line: number, time, level, type, message, and the metadata folded at
    // its end (it opens below the line).
    view! {
        <li class=format!("log-line level-{level}") class:first-error=first_error data-seq=event.seq.to_string()>
            <span class="seq">{event.seq}</span>
            <TimeOfDay at=event.created_at />
            <span class="level-chip">{level}</span>
            <span class="event-type">{event.event_type.clone()}</span>
            <span class="message">{event.message.clone().unwrap_or_default()}</span>
            {metadata.map(|metadata| view! {
                <details class="metadata">
                    <summary title="Metadata">"{…}"</summary>
                    <pre>{metadata}</pre>
                </details>
            })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(seqs: std::ops::RangeInclusive<i64>) -> Vec<Event> {
        seqs.map(|seq| Event {
            id: Uuid::nil(),
            seq,
            event_type: "agent.progress".to_string(),
            message: None,
            metadata: None,
            created_at: chrono::DateTime::default(),
        })
        .collect()
    }

    fn seqs(window: &Window) -> (i64, i64, usize) {
        (
            window.events.first().map(|e| e.seq).unwrap_or(0),
            window.last_seq(),
            window.events.len(),
        )
    }

    #[test]
    fn the_window_never_holds_more_than_max_rows_and_remembers_what_it_dropped() {
        let mut window = Window::first(EventPage {
            events: events(1..=100),
            next_after: Some(100),
        });
        for page in 1..=5 {
            let start = page * 100 + 1;
            window.append(events(start..=start + 99), Some(start + 99));
        }
        assert_eq!(seqs(&window), (301, 600, MAX_ROWS));
        assert!(window.earlier);
        assert_eq!(window.next_after, Some(600));

        // Reading backwards drops the newest instead, and the way forward returns.
        let earlier = EventPage {
            events: events(201..=300),
            next_after: Some(300),
        };
        window.prepend(earlier, true);
        assert_eq!(seqs(&window), (201, 500, MAX_ROWS));
        assert_eq!(window.next_after, Some(500));
        assert!(window.earlier);
    }

    #[test]
    fn a_repeated_or_overlapping_page_adds_no_duplicates() {
        let mut window = Window::first(EventPage {
            events: events(1..=10),
            next_after: None,
        });
        window.append(events(8..=12), None);
        assert_eq!(seqs(&window), (1, 12, 12));
        window.prepend(
            EventPage {
                events: events(1..=3),
                next_after: None,
            },
            false,
        );
        assert_eq!(seqs(&window), (1, 12, 12));
        assert!(!window.earlier);
    }
}
