//! Runboard's Leptos application: the pages and components the browser hydrates, the
//! server functions, and (with `ssr`) the database layer that the dashboard and the
//! JSON API both call, so every rule lives once. The types every interface shares
//! are the `model` crate's.
#![recursion_limit = "512"]

pub mod app;
pub mod components;
pub mod functions;
pub mod live;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod fanout;
#[cfg(feature = "ssr")]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod storage;

pub use app::{shell, App};
