//! Runboard's Leptos application: the pages and components the browser hydrates and
//! the server functions, which (with `ssr`) call the `store` crate, the storage the
//! dashboard and the JSON API share, so every rule lives once. The types every
//! interface shares are the `model` crate's.
#![recursion_limit = "512"]

pub mod app;
pub mod components;
pub mod functions;
pub mod live;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod state;

pub use app::{shell, App};
