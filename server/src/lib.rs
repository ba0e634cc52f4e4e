//! Runboard's server: configuration, start-up, and the command line tools.

pub mod config;
pub mod seed;
pub mod startup;
