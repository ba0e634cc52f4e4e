//! The error every server function returns. Messages are written for the person
//! reading them; database and other internal errors are logged on the server and
//! reach the client only as a generic `Internal`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum AppError {
    /// No valid session: the page sends the person to the login form.
    #[error("please log in")]
    Unauthorized,
    #[error("wrong email or password")]
    InvalidCredentials,
    /// Signed in, but the role does not allow this; the message says which role does.
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// Input that failed validation; the message names the field.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// Text of a field that does not parse (the runs query `q`): like `Invalid`,
    /// plus the 0-based character offset in the field's text where the problem is.
    /// A variant of its own so that every `Invalid { field, message }` stays as it was.
    #[error("{message}")]
    InvalidAt {
        field: String,
        message: String,
        position: usize,
    },
    /// The request conflicts with the state of the thing it names.
    #[error("{message}")]
    Conflict { code: ConflictCode, message: String },
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts (logins); the client may try again after this many seconds.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("something went wrong on the server; it has been logged")]
    Internal,
    /// The server function could not be called at all (network, encoding).
    #[error("could not reach the server: {0}")]
    Transport(String),
}

/// Why a request conflicts with what is stored: the `code` of a 409 answer.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ConflictCode {
    /// The run has ended; its runner should stop working on it.
    RunFinished,
    /// The status change would go backwards or out of a final status.
    IllegalTransition,
    /// Only a failed or cancelled run can be retried.
    NotRetryable,
    /// An account keeps at least one owner: the last one cannot be demoted or removed.
    LastOwner,
    /// Another user has this email already (emails are unique across accounts).
    EmailTaken,
    /// The bulk job is done, cancelled or failed already.
    JobFinished,
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(code: ConflictCode, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status that answers this error.
    pub fn status_code(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::Unauthorized | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Invalid { .. } | AppError::InvalidAt { .. } => StatusCode::BAD_REQUEST,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Transport(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The machine-readable code of the JSON API's error envelope.
    pub fn code(&self) -> &str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound => "not_found",
            AppError::Invalid { .. } | AppError::InvalidAt { .. } => "invalid",
            AppError::Conflict { code, .. } => code.into(),
            AppError::TooLarge(_) => "payload_too_large",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable => "unavailable",
            AppError::Internal => "internal",
            AppError::Transport(_) => "transport",
        }
    }

    /// The field a validation error is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } | AppError::InvalidAt { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Where in the field's text a validation error is (a 0-based character offset).
    pub fn position(&self) -> Option<usize> {
        match self {
            AppError::InvalidAt { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// A query (`field`'s text) that does not parse.
    pub fn query(field: impl Into<String>, error: crate::QueryError) -> Self {
        AppError::InvalidAt {
            field: field.into(),
            message: error.to_string(),
            position: error.position,
        }
    }
}

/// Server functions return `AppError` itself, JSON-encoded.
#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for AppError {
    type Encoder = server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "sqlx")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "database error");
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                AppError::Unavailable
            }
            _ => AppError::Internal,
        }
    }
}
