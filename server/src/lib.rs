//! Runboard's server: configuration, start-up, and the command line tools.
#![recursion_limit = "512"]

pub mod alerts;
pub mod api;
pub mod backup;
pub mod bulk;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod outbox;
pub mod prune;
pub mod seed;
pub mod sessions;
pub mod site;
pub mod startup;
pub mod sweeper;
