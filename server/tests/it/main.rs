//! Black-box tests against a spawned server, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![recursion_limit = "512"]

mod accounts;
mod alerts;
mod api_runs;
mod artifacts;
mod artifacts_s3;
mod backup;
mod binary;
mod bulk;
mod campaigns;
mod compare;
mod csrf;
mod database;
mod demo;
mod export;
mod health;
mod helpers;
mod live;
mod login;
mod metrics;
mod openapi;
mod outbox;
mod query;
mod query_plans;
mod retention;
mod roles;
mod run_input;
mod runner;
mod runs_page;
mod site;
mod sweeper;
mod tags;
mod team;
mod text_pieces;
mod views;
