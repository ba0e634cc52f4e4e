//! One module per route.

pub mod agent_health;
pub mod agents;
pub mod alerts;
pub mod audit;
pub mod campaigns;
pub mod invite;
pub mod login;
pub mod members;
pub mod new_run;
pub mod not_found;
pub mod retention;
pub mod run_compare;
pub mod run_detail;
pub mod run_list;
pub mod saved_view;
pub mod settings;
pub mod storage;
