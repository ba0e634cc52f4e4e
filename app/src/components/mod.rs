//! Reusable pieces of the pages.

pub mod artifact_list;
pub mod bulk_actions;
pub mod event_log;
pub mod json_view;
pub mod layout;
pub mod progress_bar;
pub mod query_box;
pub mod runs_chart;
pub mod status_badge;
pub mod step_timeline;
pub mod stored_link;
pub mod svg;
pub mod time;
pub mod views_sidebar;
