//! The JSON API's one envelope: `{"ok": true, "data": …}` or
//! `{"ok": false, "error": {"code", "message", "field"?}}`, and the JSON body
//! extractor that turns malformed bodies into 400s naming the field (413 when too big).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::AppError;
use serde::de::DeserializeOwned;
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
    /// `run_finished`, `not_retryable`, `payload_too_large`, `unavailable`, `internal`.
    pub code: String,
    /// For people; never carries server internals.
    pub message: String,
    /// The request field a validation error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let body = ErrorEnvelope {
            ok: false,
            error: ErrorDetail {
                code: error.code().to_string(),
                message: error.to_string(),
                field: error.field().map(str::to_string),
            },
        };
        let mut response = (error.status_code(), Json(body)).into_response();
        if error.status_code() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
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

/// A JSON body; a bad one is a 400 whose message (and `field`) says what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

pub fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(error) => body_error(&error.body_text()),
        JsonRejection::JsonSyntaxError(_) => {
            AppError::invalid("body", "the body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => AppError::invalid(
            "body",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(_) => AppError::TooLarge("the body is too large".into()),
        _ => AppError::invalid("body", "the body could not be read"),
    }
}

/// serde's message (`events[2]: missing field `eventType` at line 1 column 9`)
/// as a 400 whose `field` is the path it names.
pub fn body_error(text: &str) -> AppError {
    let detail = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    // The path of the offending value comes first, when it is not the top level.
    let (path, message) = match detail.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (Some(path), rest),
        _ => (None, detail),
    };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (path, missing) {
        (Some(path), Some(name)) => format!("{path}.{name}"),
        (Some(path), None) => path.to_string(),
        (None, Some(name)) => name.to_string(),
        (None, None) => "body".to_string(),
    };
    AppError::invalid(field, detail.to_string())
}

#[cfg(test)]
mod tests {
    use super::body_error;
    use model::AppError;

    #[test]
    fn serde_messages_name_the_field() {
        let AppError::Invalid { field, message } = body_error(
            "Failed to deserialize the JSON body into the target type: missing field `agent` at line 1 column 2",
        ) else {
            panic!()
        };
        assert_eq!(field, "agent");
        assert!(message.starts_with("missing field `agent`"));
        let AppError::Invalid { field, .. } = body_error(
            "Failed to deserialize the JSON body into the target type: events[2]: missing field `eventType` at line 1 column 9",
        ) else {
            panic!()
        };
        assert_eq!(field, "events[2].eventType");
    }
}

#[cfg(test)]
mod envelope_tests {
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
}
