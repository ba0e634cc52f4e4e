//! The browser's end of the live stream: one `EventSource` per tab on
//! `/api/events/stream`, whose changes pages subscribe to with [`on_change`]
//! while they are mounted, and whose state the navigation bar shows. The browser
//! reconnects by itself with `Last-Event-ID`; when it gives up, this module
//! reconnects with the last id it saw, so no change is lost either way.
//!
//! The stream carries only what the mounted pages [`Follow`]: a list of runs
//! asks for run-level changes (no step, event or artifact traffic), a run's page
//! for that run's changes. When the pages change, the stream is opened again
//! from the last change seen, under the new filter.

use leptos::prelude::*;
use model::{Change, ChangeKind};
use std::borrow::Cow;
use uuid::Uuid;

/// What a page follows on the live stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follow {
    pub kinds: &'static [ChangeKind],
    /// Only this run's changes (`None`: every run of the account).
    pub run: Option<Uuid>,
}

/// The changes that move a list of runs: rows appear, change and go (in
/// brief: a list needs no run's input or context).
pub const RUN_LIST_CHANGES: &[ChangeKind] = &[ChangeKind::RunBrief, ChangeKind::RunDeleted];

impl Follow {
    /// These kinds of change of every run.
    pub const fn every_run(kinds: &'static [ChangeKind]) -> Follow {
        Follow { kinds, run: None }
    }

    /// These kinds of change of one run.
    pub const fn one_run(run: Uuid, kinds: &'static [ChangeKind]) -> Follow {
        Follow {
            kinds,
            run: Some(run),
        }
    }

    /// `change` as this follower takes it (a resync always), if at all: a
    /// follower of briefs gets one when the stream, asked for whole runs by
    /// another page of the tab, carries the whole run.
    pub fn wanted<'c>(&self, change: &'c Change) -> Option<Cow<'c, Change>> {
        let kind = change.data.kind();
        if kind != ChangeKind::Resync && self.run.is_some_and(|run| change.run_id != Some(run)) {
            return None;
        }
        match kind.sent_as(self.kinds)? {
            ChangeKind::RunBrief if kind != ChangeKind::RunBrief => change.brief().map(Cow::Owned),
            _ => Some(Cow::Borrowed(change)),
        }
    }

    /// The stream's query for everything `follows` want together: the union of
    /// their kinds, and one run when they all follow the same one.
    pub fn stream_query(follows: &[Follow]) -> String {
        let kinds: Vec<&str> = ChangeKind::ALL
            .iter()
            .filter(|kind| follows.iter().any(|follow| follow.kinds.contains(kind)))
            .map(|kind| kind.as_str())
            .collect();
        let mut query = format!("kinds={}", kinds.join(","));
        if let Some(run) = follows.first().and_then(|first| first.run) {
            if follows.iter().all(|follow| follow.run == Some(run)) {
                query.push_str(&format!("&runId={run}"));
            }
        }
        query
    }
}

/// The stream's state, as the connection indicator shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting,
}

impl Connection {
    fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "Connecting…",
            Connection::Live => "Live",
            Connection::Reconnecting => "Reconnecting…",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Connection::Connecting => "live-indicator connecting",
            Connection::Live => "live-indicator live",
            Connection::Reconnecting => "live-indicator reconnecting",
        }
    }
}

#[derive(Clone, Copy)]
struct LiveState(RwSignal<Connection>);

/// Opens the stream (in the browser) and makes its state available to the page.
pub fn provide_live() {
    let state = RwSignal::new(Connection::Connecting);
    provide_context(LiveState(state));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::connect(state));
}

/// A small badge saying whether updates are arriving live.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let state = use_context::<LiveState>()
        .map(|state| state.0)
        .unwrap_or_else(|| RwSignal::new(Connection::Connecting));
    view! {
        <span class=move || state.get().class() role="status" aria-live="polite" data-live=move || format!("{:?}", state.get()).to_lowercase()>
            <span class="dot" aria-hidden="true"></span>
            {move || state.get().label()}
        </span>
    }
}

/// Calls `handler` with every change that `follow` wants (and every resync)
/// while the calling component is mounted (in the browser; on the server
/// nothing streams).
pub fn on_change(follow: Follow, handler: impl Fn(&Change) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let id = browser::add_handler(follow, Box::new(handler));
        on_cleanup(move || browser::remove_handler(id));
    }
    #[cfg(not(feature = "hydrate"))]
    drop((follow, handler));
}

/// Runs `action` at most once per `delay`, after the first call of a burst: many
/// changes in a row become one reload.
pub fn debounced(delay: std::time::Duration, action: impl Fn() + Clone + 'static) -> impl Fn() {
    let pending = StoredValue::new(false);
    move || {
        if pending.get_value() {
            return;
        }
        pending.set_value(true);
        let action = action.clone();
        set_timeout(
            move || {
                pending.set_value(false);
                action();
            },
            delay,
        );
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{Connection, Follow};
    use leptos::prelude::*;
    use model::{Change, ChangeKind};
    use std::cell::{Cell, RefCell};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    type Handler = Box<dyn Fn(&Change)>;

    thread_local! {
        static HANDLERS: RefCell<Vec<(u64, Follow, Handler)>> = const { RefCell::new(Vec::new()) };
        static NEXT_ID: Cell<u64> = const { Cell::new(0) };
        /// The id of the last change received: where a new connection resumes.
        static LAST_SEEN: Cell<Option<i64>> = const { Cell::new(None) };
        static SOURCE: RefCell<Option<EventSource>> = const { RefCell::new(None) };
        /// The filter the open stream was asked for.
        static FOLLOWING: RefCell<String> = const { RefCell::new(String::new()) };
        /// The indicator's state, once the first connection was made.
        static STATE: Cell<Option<RwSignal<Connection>>> = const { Cell::new(None) };
        /// A check of the filter against the handlers is due (after the page
        /// change that added and removed handlers has settled).
        static CHECK_DUE: Cell<bool> = const { Cell::new(false) };
    }

    pub fn add_handler(follow: Follow, handler: Handler) -> u64 {
        let id = NEXT_ID.with(|next| {
            let id = next.get();
            next.set(id + 1);
            id
        });
        HANDLERS.with(|handlers| handlers.borrow_mut().push((id, follow, handler)));
        check_filter_soon();
        id
    }

    pub fn remove_handler(id: u64) {
        HANDLERS.with(|handlers| handlers.borrow_mut().retain(|(each, _, _)| *each != id));
        check_filter_soon();
    }

    fn wanted_query() -> String {
        let follows: Vec<Follow> = HANDLERS.with(|handlers| {
            handlers
                .borrow()
                .iter()
                .map(|(_, follow, _)| *follow)
                .collect()
        });
        Follow::stream_query(&follows)
    }

    /// Opens the stream again, from the last change seen, when the handlers
    /// now want something else than it was asked for.
    fn check_filter_soon() {
        if CHECK_DUE.with(|due| due.replace(true)) {
            return;
        }
        set_timeout(
            || {
                CHECK_DUE.with(|due| due.set(false));
                let Some(state) = STATE.with(Cell::get) else {
                    return;
                };
                if FOLLOWING.with(|following| *following.borrow() == wanted_query()) {
                    return;
                }
                if let Some(source) = SOURCE.with(|source| source.borrow_mut().take()) {
                    source.close();
                }
                connect(state);
            },
            std::time::Duration::from_millis(50),
        );
    }

    fn dispatch(change: &Change) {
        // Handlers may (un)register others while running: call a snapshot of ids.
        let ids: Vec<u64> =
            HANDLERS.with(|handlers| handlers.borrow().iter().map(|(id, _, _)| *id).collect());
        for id in ids {
            HANDLERS.with(|handlers| {
                if let Some((_, follow, handler)) =
                    handlers.borrow().iter().find(|(each, _, _)| *each == id)
                {
                    if let Some(change) = follow.wanted(change) {
                        handler(&change);
                    }
                }
            });
        }
    }

    /// Opens the stream; one per tab (a second call while one is open does nothing).
    pub fn connect(state: RwSignal<Connection>) {
        STATE.with(|slot| slot.set(Some(state)));
        if SOURCE.with(|source| source.borrow().is_some()) {
            return;
        }
        let following = wanted_query();
        let url = match LAST_SEEN.with(Cell::get) {
            Some(seq) => format!("/api/events/stream?{following}&lastEventId={seq}"),
            None => format!("/api/events/stream?{following}"),
        };
        FOLLOWING.with(|slot| *slot.borrow_mut() = following);
        let Ok(source) = EventSource::new(&url) else {
            state.set(Connection::Reconnecting);
            return;
        };

        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            if let Ok(change) = serde_json::from_str::<Change>(&text) {
                LAST_SEEN.with(|last| last.set(Some(change.seq)));
                dispatch(&change);
            }
        });
        for kind in ChangeKind::ALL {
            let _ = source.add_event_listener_with_callback(
                kind.as_str(),
                on_message.as_ref().unchecked_ref(),
            );
        }
        on_message.forget();

        let on_ready = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            // Where the stream began: a stream opened again under another filter
            // before any change arrived resumes from there.
            let position = event
                .data()
                .as_string()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|ready| ready.get("position").and_then(serde_json::Value::as_i64));
            if let Some(position) = position {
                LAST_SEEN.with(|last| {
                    if last.get().is_none() {
                        last.set(Some(position));
                    }
                });
            }
            state.set(Connection::Live);
        });
        let _ = source.add_event_listener_with_callback("ready", on_ready.as_ref().unchecked_ref());
        on_ready.forget();

        let on_error = Closure::<dyn Fn()>::new(move || {
            state.set(Connection::Reconnecting);
            let closed = SOURCE.with(|source| {
                source
                    .borrow()
                    .as_ref()
                    .is_some_and(|source| source.ready_state() == EventSource::CLOSED)
            });
            if closed {
                // The browser gave up (the server was away too long): start again
                // from the last change seen.
                SOURCE.with(|source| source.borrow_mut().take());
                set_timeout(move || connect(state), std::time::Duration::from_secs(2));
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();

        SOURCE.with(|slot| *slot.borrow_mut() = Some(source));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use model::{ChangeData, DeletedRun, Run};

    fn updated(run: Uuid) -> Change {
        let run: Run = serde_json::from_value(serde_json::json!({
            "id": run, "agent": "bot", "campaignId": null, "status": "running",
            "progress": 0.5, "initiator": null, "summary": null, "input": {}, "context": {},
            "error": null, "createdAt": "2026-12-03T06:00:00Z", "startedAt": null,
            "completedAt": null, "updatedAt": "2026-12-03T06:00:00Z", "durationMs": null,
            "webhookUrl": null, "webhookStatus": "none", "retryOf": null, "attempt": 1,
            "lastSeenAt": null, "leaseExpiresAt": null, "retryAt": null
        }))
        .unwrap();
        Change {
            seq: 1,
            run_id: Some(run.id),
            data: ChangeData::RunUpdated(run),
        }
    }

    #[test]
    fn a_list_takes_whole_run_changes_in_brief_and_a_run_page_whole() {
        let id = Uuid::from_u128(1);
        let change = updated(id);
        let list = Follow::every_run(RUN_LIST_CHANGES);
        let taken = list.wanted(&change).unwrap();
        assert_eq!(taken.kind(), ChangeKind::RunBrief);
        assert_eq!(taken.brief(), None);
        let page = Follow::one_run(id, &[ChangeKind::RunUpdated]);
        assert_eq!(page.wanted(&change).as_deref(), Some(&change));
        let other_page = Follow::one_run(Uuid::from_u128(2), &[ChangeKind::RunUpdated]);
        assert!(other_page.wanted(&change).is_none());
        let deleted = Change {
            seq: 2,
            run_id: Some(id),
            data: ChangeData::RunDeleted(DeletedRun { id }),
        };
        assert_eq!(list.wanted(&deleted).as_deref(), Some(&deleted));
        assert!(page.wanted(&deleted).is_none());
    }

    #[test]
    fn the_stream_asks_for_what_the_mounted_pages_follow() {
        let id = Uuid::from_u128(1);
        let list = Follow::every_run(RUN_LIST_CHANGES);
        assert_eq!(Follow::stream_query(&[list]), "kinds=run.deleted,run.brief");
        let page = Follow::one_run(id, &[ChangeKind::RunUpdated]);
        assert_eq!(
            Follow::stream_query(&[page]),
            format!("kinds=run.updated&runId={id}")
        );
        assert_eq!(
            Follow::stream_query(&[list, page]),
            "kinds=run.updated,run.deleted,run.brief"
        );
    }
}
