//! Types shared by the server, the browser and the JSON API: one name per concept.

mod run;
mod time;
mod user;

pub use run::{RunFilter, RunPage, RunRow, RunStatus, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use time::{format_duration_ms, format_timestamp};
pub use user::{CurrentUser, Role};
