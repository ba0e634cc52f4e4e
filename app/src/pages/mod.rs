//! One module per route.

pub mod agents;
pub mod campaigns;
pub mod login;
pub mod new_run;
pub mod not_found;
pub mod run_detail;
pub mod run_list;
pub mod settings;
