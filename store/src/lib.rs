//! Runboard's storage, with no Leptos and no HTTP: the SQLite database layer and
//! its migrations, the change log and its fan-out to the live stream, the
//! dashboard's view cache, signing keys, passwords and API tokens, the object
//! store for artifact files, pruning by the retention policy, bulk jobs' walks, and the outbound policy (where the server may send
//! requests of its own). The dashboard's server functions, the JSON API and
//! the command line all call it, so every rule lives once.

pub mod auth;
pub mod backup;
pub mod bulk;
pub mod compare;
pub mod db;
pub mod fanout;
pub mod keys;
pub mod login_limit;
pub mod metrics;
pub mod outbound;
pub mod preview;
pub mod prune;
pub mod storage;
