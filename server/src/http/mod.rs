//! The HTTP edge, in one place: the APIs' error type and envelope ([`error`]),
//! the one way a JSON body is read ([`json`]), and every middleware layer
//! ([`layers`]). Handlers parse, authorize, call the storage crate and answer.

pub mod csrf;
pub mod error;
pub mod forwarded;
pub mod json;
pub mod layers;

pub use error::{created, ok, ApiError, ApiResult, Envelope, ErrorDetail, ErrorEnvelope};
pub use json::ApiJson;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The client's address (see [`app::session::client_ip`]), for the audit log
/// and login limits; `None` when the server runs without connection info.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(app::session::client_ip(&parts.extensions)))
    }
}
