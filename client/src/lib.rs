//! A typed client of Runboard's JSON APIs: the owner API ([`Owner`]: agents,
//! campaigns, runs, claims), the runner API ([`Runner`]: status, steps, events and
//! artifacts of one run) and, with the `sse` feature, the live stream
//! ([`sse::EventStream`]). The demo fleet, the benchmark and the integration tests
//! all call the server through it, so they call it one way.
//!
//! Answers arrive in the API's envelope (`{"ok": true, "data": …}` or
//! `{"ok": false, "error": {"code", "message"}}`); a call that gets another status
//! than the one it expects fails with [`Error::Status`], which keeps the body, so a
//! caller can tell `409 run_finished` from a 404 or a 500.

mod owner;
mod runner;
#[cfg(feature = "sse")]
pub mod sse;

pub use owner::{CampaignPage, Owner, RunCreated};
pub use runner::{Runner, Upload};

use serde_json::Value;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer: the connection failed, timed out or broke off.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with another status than the call expects.
    #[error("answered {status}: {body}")]
    Status { status: u16, body: Value },
    /// The answer's body is not what the call expects.
    #[error("unexpected answer ({reason}): {body}")]
    Body { reason: String, body: Value },
    /// The live stream is not well-formed server-sent events.
    #[error("the live stream is malformed: {0}")]
    Stream(String),
}

impl Error {
    /// The HTTP status of an unexpected answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error envelope's code (`run_finished`, `not_found`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Status { body, .. } => body["error"]["code"].as_str(),
            _ => None,
        }
    }
}

/// One Runboard server: its base URL and the HTTP client that reaches it.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:3000`; a trailing slash
    /// is ignored), sending through `http` (its timeouts, pool and user agent).
    pub fn new(http: reqwest::Client, base: &str) -> Client {
        Client {
            http,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of a path (`/api/runs`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /healthz`: `Ok` once the server serves.
    pub async fn health(&self) -> Result<(), Error> {
        let response = self.http.get(self.url("/healthz")).send().await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(Error::Status {
                status,
                body: Value::Null,
            })
        }
    }

    /// An owner API JWT (valid for an hour) for email and password, from
    /// `POST /api/auth/token`.
    pub async fn api_token(&self, email: &str, password: &str) -> Result<String, Error> {
        let request = self
            .http
            .post(self.url("/api/auth/token"))
            .json(&serde_json::json!({"email": email, "password": password}));
        let body = expect(send(request).await?, 200)?;
        text_at(&body, "/data/token")
    }

    /// The owner API, acting with an owner credential (an API JWT or an `rb_…` token).
    pub fn owner(&self, token: impl Into<String>) -> Owner<'_> {
        Owner::new(self, token.into())
    }

    /// The runner API of one run (`/api/runner/runs/<run_id>`), with its runner token.
    pub fn runner(&self, run_id: impl std::fmt::Display, token: &str) -> Runner {
        let callback = self.url(&format!("/api/runner/runs/{run_id}"));
        Runner::new(self.clone(), callback, token)
    }

    /// The runner API at a callback URL the server gave (a job request's
    /// `callbackUrl`), with the run's runner token.
    pub fn runner_at(&self, callback: &str, token: &str) -> Runner {
        Runner::new(
            self.clone(),
            callback.trim_end_matches('/').to_string(),
            token,
        )
    }
}

/// Sends a request: its status and JSON body (`Null` when empty, the text as a
/// string when it is not JSON).
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Value), Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}

/// The body of an answer with the `wanted` status, or [`Error::Status`].
pub(crate) fn expect((status, body): (u16, Value), wanted: u16) -> Result<Value, Error> {
    if status == wanted {
        Ok(body)
    } else {
        Err(Error::Status { status, body })
    }
}

/// The envelope's `data`, as `T`.
pub(crate) fn data<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, Error> {
    let Some(data) = body.get("data").cloned() else {
        return Err(Error::Body {
            reason: "no data".to_string(),
            body,
        });
    };
    serde_json::from_value(data).map_err(|error| Error::Body {
        reason: error.to_string(),
        body,
    })
}

fn text_at(body: &Value, pointer: &str) -> Result<String, Error> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Body {
            reason: format!("no {pointer}"),
            body: body.clone(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unexpected_answer_keeps_its_status_and_error_code() {
        let answer = (409, json!({"ok": false, "error": {"code": "run_finished"}}));
        let error = expect(answer, 200).unwrap_err();
        assert_eq!(error.status(), Some(409));
        assert_eq!(error.code(), Some("run_finished"));
        assert_eq!(expect((201, json!({"ok": true})), 201).unwrap()["ok"], true);
    }

    #[test]
    fn urls_and_callbacks_ignore_a_trailing_slash() {
        let client = Client::new(reqwest::Client::new(), "http://127.0.0.1:9/");
        assert_eq!(client.url("/api/runs"), "http://127.0.0.1:9/api/runs");
        let run = uuid::Uuid::nil();
        assert_eq!(
            client.runner(run, "t").callback(),
            format!("http://127.0.0.1:9/api/runner/runs/{run}")
        );
        assert_eq!(
            client
                .runner_at("http://h/api/runner/runs/x/", "t")
                .callback(),
            "http://h/api/runner/runs/x"
        );
    }

    #[test]
    fn data_is_read_from_the_envelope() {
        let page: CampaignPage =
            data(json!({"ok": true, "data": {"campaigns": [], "total": 3}})).unwrap();
        assert_eq!(page.total, 3);
        assert!(data::<CampaignPage>(json!({"ok": true})).is_err());
    }
}
