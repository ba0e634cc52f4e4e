//! The HTTP edge, in one place: the APIs' error type and envelope ([`error`]),
//! the one way a JSON body is read ([`json`]), and every middleware layer
//! ([`layers`]). Handlers parse, authorize, call the storage crate and answer.

pub mod error;
pub mod json;
pub mod layers;

pub use error::{created, ok, ApiError, ApiResult, Envelope, ErrorDetail, ErrorEnvelope};
pub use json::ApiJson;
