//! The owner JSON API: one module per resource, each with its `router()`.

pub mod account;
pub mod agents;
pub mod auth;
pub mod campaigns;
pub mod envelope;
pub mod runs;
pub mod tokens;

use app::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(account::router())
        .merge(runs::router())
        .merge(campaigns::router())
        .merge(agents::router())
        .merge(tokens::router())
}
