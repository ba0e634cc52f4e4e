//! Runboard's server: configuration, start-up, and the command line tools.

pub mod api;
pub mod cli;
pub mod config;
pub mod outbox;
pub mod runner;
pub mod seed;
pub mod startup;
