//! The APIs' one error type and envelope: `{"ok": true, "data": …}` or
//! `{"ok": false, "error": {"code", "message", "field"?}}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::AppError;
use serde::Serialize;
use utoipa::ToSchema;

/// Any error of the API, answered in the envelope with its status code.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

/// A successful answer: `{"ok": true, "data": …}`.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always true.
    pub ok: bool,
    pub data: T,
}

/// A failed answer: `{"ok": false, "error": {…}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always false.
    pub ok: bool,
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `invalid`, `not_found`, `illegal_transition`,
    /// `run_finished`, `not_retryable`, `job_finished`, `payload_too_large`, `unavailable`, `internal`.
    pub code: String,
    /// For people; never carries server internals.
    pub message: String,
    /// The request field a validation error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Where in that field's text the problem is, as a 0-based character offset
    /// (a query `q` that does not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self.0, self.0.to_string())
    }
}

/// The answer to `error` (its status, code and field) with `message` for people:
/// the error's own text, or one that says more about this case.
pub fn error_response(error: &AppError, message: String) -> Response {
    let body = ErrorEnvelope {
        ok: false,
        error: ErrorDetail {
            code: error.code().to_string(),
            message,
            field: error.field().map(str::to_string),
            position: error.position(),
        },
    };
    let mut response = (error.status_code(), Json(body)).into_response();
    if let AppError::TooManyRequests { retry_after_secs } = error {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(*retry_after_secs),
        );
    }
    if error.status_code() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

pub type ApiResult = Result<Response, ApiError>;

/// `{"ok": true, "data": data}` with 200.
pub fn ok(data: impl Serialize) -> ApiResult {
    Ok(Json(Envelope { ok: true, data }).into_response())
}

/// `{"ok": true, "data": data}` with 201.
pub fn created(data: impl Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, Json(Envelope { ok: true, data })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use serde_json::{json, Value};

    async fn body_of(error: AppError) -> (StatusCode, Value) {
        let response = ApiError(error).into_response();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 10_000).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn server_faults_never_show_their_internals() {
        let error = AppError::from(sqlx::Error::Protocol(
            "near \"SELEC\": syntax error in runs".into(),
        ));
        let (status, body) = body_of(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("SELEC"), "{body}");

        let (status, body) = body_of(AppError::from(sqlx::Error::PoolTimedOut)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "unavailable");
    }

    #[tokio::test]
    async fn validation_errors_carry_the_field() {
        let (status, body) = body_of(AppError::invalid(
            "limit",
            "limit must be between 1 and 100",
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"ok": false, "error": {"code": "invalid", "message": "limit must be between 1 and 100", "field": "limit"}})
        );
    }

    #[tokio::test]
    async fn query_errors_carry_the_field_and_position() {
        let error = model::Query::parse("a status:").unwrap_err();
        let (status, body) = body_of(AppError::query("q", error)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(body["error"]["field"], "q");
        assert_eq!(body["error"]["position"], 9);
        assert_eq!(
            body["error"]["message"],
            "expected a status (requested, queued, running, completed, failed, cancelled) after \"status:\" at 9"
        );
    }
}
