//! Times as people read them: how long ago ("3 min ago") with the exact time on
//! hover, exact times in the reader's own zone or in UTC (a switch remembered
//! for each user in this browser), and elapsed times that tick while a run runs.
//!
//! The server renders exact UTC times (it knows neither the reader's zone nor
//! when the page will be read); once the page has hydrated, the [`Clock`] starts
//! and every time here turns relative or local. Both renders agree on the first
//! pass, so hydration never meets a different text.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use leptos::prelude::*;
use model::{format_age, format_duration_ms, format_timestamp_at};

/// Which zone exact times are shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Local,
    Utc,
}

impl Zone {
    fn offset(self, at: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Utc => Utc.fix(),
            Zone::Local => local_offset(at),
        }
    }

    fn stored(self) -> &'static str {
        match self {
            Zone::Local => "local",
            Zone::Utc => "utc",
        }
    }
}

/// This computer's offset from UTC at `at` (summer time included), as the
/// browser knows it.
#[cfg(feature = "hydrate")]
fn local_offset(at: DateTime<Utc>) -> FixedOffset {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        at.timestamp_millis() as f64
    ));
    // Minutes to add to local time to reach UTC.
    let minutes = date.get_timezone_offset() as i32;
    FixedOffset::west_opt(minutes * 60).unwrap_or_else(|| Utc.fix())
}

#[cfg(not(feature = "hydrate"))]
fn local_offset(_at: DateTime<Utc>) -> FixedOffset {
    Utc.fix()
}

/// The page's clock: `None` until the page has hydrated (the server's render and
/// the first one in the browser), then the time now, every second.
#[derive(Clone, Copy)]
pub struct Clock {
    now: RwSignal<Option<DateTime<Utc>>>,
    zone: RwSignal<Zone>,
}

impl Clock {
    /// The time now, every second once the page has hydrated (tracked).
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.now.get()
    }

    /// An exact time as the reader chose to see it (UTC before hydration).
    pub fn exact(&self, at: DateTime<Utc>) -> String {
        match self.now.get() {
            // The server's render (and the first in the browser) is UTC.
            None => model::format_timestamp(at),
            Some(_) => format_timestamp_at(at, self.offset(at)),
        }
    }

    /// The offset times are shown at: the reader's zone once hydrated, UTC before.
    fn offset(&self, at: DateTime<Utc>) -> FixedOffset {
        match self.now.get() {
            None => Utc.fix(),
            Some(_) => self.zone.get().offset(at),
        }
    }

    /// The time of day of `at` (`14:03:27`) in the reader's zone (UTC before hydration).
    pub fn time_of_day(&self, at: DateTime<Utc>) -> String {
        use chrono::Timelike;
        let local = at.with_timezone(&self.offset(at));
        format!(
            "{:02}:{:02}:{:02}",
            local.hour(),
            local.minute(),
            local.second()
        )
    }

    /// How long ago `at` was; the exact time before hydration.
    pub fn ago(&self, at: DateTime<Utc>) -> String {
        match self.now.get() {
            None => model::format_timestamp(at),
            Some(now) => format_age(at, now),
        }
    }

    /// The time from `since` to now, ticking; `before` until hydration.
    pub fn elapsed(&self, since: DateTime<Utc>, before: &str) -> String {
        match self.now.get() {
            None => before.to_string(),
            Some(now) => format_duration_ms((now - since).num_milliseconds()),
        }
    }
}

/// The local-storage key of a user's zone choice.
fn zone_key(user: &str) -> String {
    format!("runboard.timeZone.{user}")
}

/// Provides the [`Clock`]; in the browser it starts once the page has hydrated
/// and reads `user`'s zone choice when known.
pub fn provide_clock(user: Signal<Option<String>>) {
    let clock = Clock {
        now: RwSignal::new(None),
        zone: RwSignal::new(Zone::Local),
    };
    provide_context(clock);
    Effect::new(move |_| {
        clock.now.set(Some(Utc::now()));
        if let Ok(handle) = set_interval_with_handle(
            move || clock.now.set(Some(Utc::now())),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    Effect::new(move |_| {
        if let Some(user) = user.get() {
            if stored(&zone_key(&user)).as_deref() == Some(Zone::Utc.stored()) {
                clock.zone.set(Zone::Utc);
            }
        }
    });
    provide_context(ZoneOwner(user));
}

/// Whose zone choice the switch stores.
#[derive(Clone, Copy)]
struct ZoneOwner(Signal<Option<String>>);

fn stored(key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()?
            .local_storage()
            .ok()??
            .get_item(key)
            .ok()?
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

fn store(key: &str, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) =
        web_sys::window().and_then(|window| window.local_storage().ok().flatten())
    {
        let _ = storage.set_item(key, value);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// The page's clock (a stopped one outside the layout).
pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(|| Clock {
        now: RwSignal::new(None),
        zone: RwSignal::new(Zone::Utc),
    })
}

/// A past time as "3 min ago", the exact time on hover ("—" for none).
#[component]
pub fn Ago(#[prop(into)] at: Option<DateTime<Utc>>) -> impl IntoView {
    let clock = use_clock();
    at.map(|at| {
        view! {
            <time datetime=at.to_rfc3339() title=move || clock.exact(at) class="ago">
                {move || clock.ago(at)}
            </time>
        }
        .into_any()
    })
    .unwrap_or_else(|| view! { <time class="none">"—"</time> }.into_any())
}

/// An exact time in the reader's zone, how long ago on hover ("—" for none).
#[component]
pub fn Exact(#[prop(into)] at: Option<DateTime<Utc>>) -> impl IntoView {
    let clock = use_clock();
    at.map(|at| {
        view! {
            <time datetime=at.to_rfc3339() title=move || clock.ago(at) class="exact">
                {move || clock.exact(at)}
            </time>
        }
        .into_any()
    })
    .unwrap_or_else(|| view! { <time class="none">"—"</time> }.into_any())
}

/// A time of day (`14:03:27`) in the reader's zone, the exact time on hover:
/// for lines of one run's log, which share a day.
#[component]
pub fn TimeOfDay(at: DateTime<Utc>) -> impl IntoView {
    let clock = use_clock();
    view! {
        <time datetime=at.to_rfc3339() title=move || clock.exact(at) class="time-of-day">
            {move || clock.time_of_day(at)}
        </time>
    }
}

/// The time since `since`, ticking every second.
#[component]
pub fn Elapsed(since: DateTime<Utc>) -> impl IntoView {
    let clock = use_clock();
    view! {
        <span class="elapsed" title=move || format!("running since {}", clock.exact(since))>
            {move || clock.elapsed(since, "running…")}
        </span>
    }
}

/// The switch between local time and UTC, remembered for the signed-in user.
#[component]
pub fn ZoneSwitch() -> impl IntoView {
    let clock = use_clock();
    let owner = use_context::<ZoneOwner>();
    let toggle = move |_| {
        let next = match clock.zone.get_untracked() {
            Zone::Local => Zone::Utc,
            Zone::Utc => Zone::Local,
        };
        clock.zone.set(next);
        if let Some(user) = owner.and_then(|ZoneOwner(user)| user.get_untracked()) {
            store(&zone_key(&user), next.stored());
        }
    };
    view! {
        <button
            type="button"
            class="button subtle zone-switch"
            on:click=toggle
            title="Show exact times in UTC or in this computer's time zone"
            data-zone=move || clock.zone.get().stored()
        >
            {move || match clock.zone.get() {
                Zone::Local => "Local time",
                Zone::Utc => "UTC",
            }}
        </button>
    }
}
