//! Reusable pieces of the pages.

pub mod layout;
pub mod status_badge;
