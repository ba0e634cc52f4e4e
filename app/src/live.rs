//! The browser's end of the live stream: one `EventSource` per tab on
//! `/api/events/stream`, whose changes pages subscribe to with [`on_change`]
//! while they are mounted, and whose state the navigation bar shows. The browser
//! reconnects by itself with `Last-Event-ID`; when it gives up, this module
//! reconnects with the last id it saw, so no change is lost either way.

use leptos::prelude::*;
use model::Change;

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

/// Calls `handler` with every change that arrives while the calling component is
/// mounted (in the browser; on the server nothing streams).
pub fn on_change(handler: impl Fn(&Change) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let id = browser::add_handler(Box::new(handler));
        on_cleanup(move || browser::remove_handler(id));
    }
    #[cfg(not(feature = "hydrate"))]
    drop(handler);
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
    use super::Connection;
    use leptos::prelude::*;
    use model::{Change, ChangeKind};
    use std::cell::{Cell, RefCell};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    type Handler = Box<dyn Fn(&Change)>;

    thread_local! {
        static HANDLERS: RefCell<Vec<(u64, Handler)>> = const { RefCell::new(Vec::new()) };
        static NEXT_ID: Cell<u64> = const { Cell::new(0) };
        /// The id of the last change received: where a new connection resumes.
        static LAST_SEEN: Cell<Option<i64>> = const { Cell::new(None) };
        static SOURCE: RefCell<Option<EventSource>> = const { RefCell::new(None) };
    }

    pub fn add_handler(handler: Handler) -> u64 {
        let id = NEXT_ID.with(|next| {
            let id = next.get();
            next.set(id + 1);
            id
        });
        HANDLERS.with(|handlers| handlers.borrow_mut().push((id, handler)));
        id
    }

    pub fn remove_handler(id: u64) {
        HANDLERS.with(|handlers| handlers.borrow_mut().retain(|(each, _)| *each != id));
    }

    fn dispatch(change: &Change) {
        // Handlers may (un)register others while running: call a snapshot of ids.
        let ids: Vec<u64> =
            HANDLERS.with(|handlers| handlers.borrow().iter().map(|(id, _)| *id).collect());
        for id in ids {
            HANDLERS.with(|handlers| {
                if let Some((_, handler)) = handlers.borrow().iter().find(|(each, _)| *each == id) {
                    handler(change);
                }
            });
        }
    }

    /// Opens the stream; one per tab (a second call while one is open does nothing).
    pub fn connect(state: RwSignal<Connection>) {
        if SOURCE.with(|source| source.borrow().is_some()) {
            return;
        }
        let url = match LAST_SEEN.with(Cell::get) {
            Some(seq) => format!("/api/events/stream?lastEventId={seq}"),
            None => "/api/events/stream".to_string(),
        };
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

        let on_ready = Closure::<dyn Fn()>::new(move || state.set(Connection::Live));
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
