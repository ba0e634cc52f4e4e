//! The one way a JSON request body is read, for the owner API (as an extractor)
//! and the runner API (which reads the body after authorizing the call): a value
//! that does not fit is a 400 whose `field` is where serde_path_to_error found
//! the problem, a body over its limit a 413.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use model::AppError;
use serde::de::DeserializeOwned;
use serde_path_to_error::{Path, Segment};

use super::error::ApiError;

/// A JSON body. As an extractor (the owner API) it needs
/// `Content-Type: application/json` and keeps to the route's body limit; runner
/// callbacks read theirs with [`ApiJson::read`], without a content type (runners
/// of the original protocol send none).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> ApiJson<T> {
    /// Reads at most `limit` bytes of `body` (413 beyond) and parses them.
    pub async fn read(body: Body, limit: usize) -> Result<T, AppError> {
        let bytes = to_bytes(body, limit)
            .await
            .map_err(|_| AppError::TooLarge(format!("the body is larger than {limit} bytes")))?;
        Self::parse(&bytes)
    }

    /// Parses a whole body: one JSON value, nothing after it but whitespace.
    pub fn parse(bytes: &[u8]) -> Result<T, AppError> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| invalid(error, None))?;
        deserializer.end().map_err(|_| not_json())?;
        Ok(value)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError(AppError::invalid(
                "body",
                "send the body as JSON with Content-Type: application/json",
            )));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError(AppError::TooLarge("the body is too large".into())))?;
        Ok(ApiJson(Self::parse(&bytes)?))
    }
}

/// `application/json`, or any `application/…+json`, parameters aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn not_json() -> AppError {
    AppError::invalid("body", "the body is not valid JSON")
}

/// A value that did not deserialize, as a 400 naming the field: the path to the
/// value (under `within`, the path of the value that was parsed, when it was part
/// of a larger body), and for a missing field its name, which serde gives only in
/// its message. The message is serde's, after the path.
pub fn invalid(
    error: serde_path_to_error::Error<serde_json::Error>,
    within: Option<&str>,
) -> AppError {
    if !error.inner().is_data() {
        return not_json();
    }
    let path = field_path(error.path());
    let missing = missing_field(error.inner());
    let field = match (path, missing) {
        (Some(path), Some(name)) => Some(format!("{path}.{name}")),
        (Some(path), None) => Some(path),
        (None, Some(name)) => Some(name),
        (None, None) => None,
    };
    let field = match (within, field) {
        (Some(within), Some(field)) => format!("{within}.{field}"),
        (Some(within), None) => within.to_string(),
        (None, Some(field)) => field,
        (None, None) => "body".to_string(),
    };
    AppError::invalid(field, error.to_string())
}

/// `events[2].metadata`, or `None` at the top level.
fn field_path(path: &Path) -> Option<String> {
    let known = path
        .iter()
        .any(|segment| !matches!(segment, Segment::Unknown));
    known.then(|| path.to_string())
}

/// The name in serde's "missing field `name`".
fn missing_field(error: &serde_json::Error) -> Option<String> {
    let message = error.to_string();
    let name = message.strip_prefix("missing field `")?.split('`').next()?;
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Batch {
        #[allow(dead_code)]
        events: Vec<Event>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Event {
        #[allow(dead_code)]
        event_type: String,
        #[allow(dead_code)]
        seq: Option<i64>,
    }

    fn field_of(body: &str) -> (String, String) {
        match ApiJson::<Batch>::parse(body.as_bytes()) {
            Err(AppError::Invalid { field, message }) => (field, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_failing_field_is_the_path_to_it() {
        let (field, message) = field_of(r#"{"events": [{"eventType": "a"}, {"eventType": 5}]}"#);
        assert_eq!(field, "events[1].eventType");
        assert!(
            message.starts_with("events[1].eventType: invalid type"),
            "{message}"
        );
        assert_eq!(
            field_of(r#"{"events": [{"eventType": "a", "seq": "x"}]}"#).0,
            "events[0].seq"
        );
    }

    #[test]
    fn a_missing_field_is_named_under_its_parent() {
        assert_eq!(field_of(r#"{"events": [{}, {}]}"#).0, "events[0].eventType");
        let (field, message) = field_of("{}");
        assert_eq!(field, "events");
        assert!(message.starts_with("missing field `events`"), "{message}");
    }

    #[test]
    fn an_unknown_field_is_named_and_bad_json_concerns_the_body() {
        assert_eq!(field_of(r#"{"events": [], "extra": 1}"#).0, "extra");
        assert_eq!(
            field_of(r#"{"events": ["#),
            ("body".to_string(), "the body is not valid JSON".to_string())
        );
        assert_eq!(field_of(r#"{"events": []} trailing"#).0, "body");
    }

    #[test]
    fn a_part_of_a_larger_body_is_named_within_it() {
        let value = serde_json::json!({"eventType": 7});
        let error = serde_path_to_error::deserialize::<_, Event>(value).unwrap_err();
        let AppError::Invalid { field, .. } = invalid(error, Some("events[3]")) else {
            panic!()
        };
        assert_eq!(field, "events[3].eventType");
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn the_extractor_wants_a_json_content_type_and_keeps_to_the_limit() {
        let request = |content_type: &'static str, body: &'static str| {
            axum::http::Request::builder()
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap()
        };
        let ok = ApiJson::<Event>::from_request(
            request("application/json", r#"{"eventType":"a"}"#),
            &(),
        )
        .await;
        assert!(ok.is_ok());
        let refused =
            ApiJson::<Event>::from_request(request("text/plain", r#"{"eventType":"a"}"#), &())
                .await
                .unwrap_err();
        assert_eq!(refused.into_response().status(), StatusCode::BAD_REQUEST);
        let too_large = ApiJson::<Event>::read(Body::from(vec![b' '; 100]), 10)
            .await
            .unwrap_err();
        assert_eq!(too_large.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
