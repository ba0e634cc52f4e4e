//! What every request handler and server function shares.

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use store::db::alerts::Delivery;
use store::db::Db;
use store::fanout::Fanout;
use store::keys::Keys;
use store::login_limit::LoginLimiter;
use store::storage::Store;

#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    pub keys: Arc<Keys>,
    pub store: Store,
    pub limits: Limits,
    /// Base URL runners and webhooks use to reach this server (no trailing slash).
    pub public_url: Arc<str>,
    /// Committed changes, for the live stream's subscribers.
    pub live: Arc<Fanout>,
    /// Failed logins of the last minute, per address and per email.
    pub logins: Arc<LoginLimiter>,
    /// What alert notifications this server can send (email needs an SMTP relay).
    pub alert_delivery: Delivery,
}

/// Size limits on what callers may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_event_bytes: usize,
    pub max_batch_bytes: usize,
    pub max_upload_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_event_bytes: 256 * 1024,
            max_batch_bytes: 3 * 1024 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
        }
    }
}
