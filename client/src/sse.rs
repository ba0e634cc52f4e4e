//! The live stream (`GET /api/events/stream`) as messages, parsed by
//! `eventsource-stream`. Comment lines (the server's heartbeats) carry no message,
//! so the parser drops them; a reader made [`EventStream::with_comments`] also keeps
//! their text, for whoever checks that heartbeats arrive.

use crate::Error;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One server-sent message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The stream position it moves the client to (`id:`); `None` when no message
    /// so far had one (the first, `ready`).
    pub id: Option<String>,
    /// `event:` (`ready`, `run.updated`, `resync`…); `message` when absent.
    pub event: String,
    /// `data:` (the change as JSON).
    pub data: String,
}

impl Message {
    /// The position as a number (a change's `seq`).
    pub fn seq(&self) -> Option<i64> {
        self.id.as_deref().and_then(|id| id.parse().ok())
    }

    /// The data as JSON (a string when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|_| Value::String(self.data.clone()))
    }
}

type Events =
    BoxStream<'static, Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>;

/// The messages of one open stream.
pub struct EventStream {
    events: Events,
    comments: Option<Arc<Mutex<Comments>>>,
}

impl EventStream {
    /// Sends the request (`GET /api/events/stream` with a credential, and perhaps
    /// `Last-Event-ID`) and reads its answer when it is a 200.
    pub async fn open(request: reqwest::RequestBuilder) -> Result<EventStream, Error> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = send_body(response).await;
            return Err(Error::Status { status, body });
        }
        Ok(EventStream::new(response))
    }

    /// Reads the messages of an answer.
    pub fn new(response: reqwest::Response) -> EventStream {
        EventStream {
            events: response.bytes_stream().eventsource().boxed(),
            comments: None,
        }
    }

    /// Reads the messages of an answer and keeps its comment lines.
    pub fn with_comments(response: reqwest::Response) -> EventStream {
        let comments = Arc::new(Mutex::new(Comments::default()));
        let seen = comments.clone();
        let bytes = response.bytes_stream().inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                lock(&seen).feed(chunk);
            }
        });
        EventStream {
            events: bytes.eventsource().boxed(),
            comments: Some(comments),
        }
    }

    /// The next message; `Ok(None)` when the stream ended. Cancel-safe: a message
    /// half received stays buffered for the next call.
    pub async fn next(&mut self) -> Result<Option<Message>, Error> {
        match self.events.next().await {
            None => Ok(None),
            Some(Ok(event)) => Ok(Some(Message {
                id: Some(event.id).filter(|id| !id.is_empty()),
                event: event.event,
                data: event.data,
            })),
            Some(Err(EventStreamError::Transport(error))) => Err(Error::Http(error)),
            Some(Err(error)) => Err(Error::Stream(error.to_string())),
        }
    }

    /// The comment lines received so far, without the colon and surrounding
    /// blanks (`heartbeat`); empty unless made [`EventStream::with_comments`].
    pub fn comments(&self) -> Vec<String> {
        self.comments
            .as_ref()
            .map(|comments| lock(comments).lines.clone())
            .unwrap_or_default()
    }
}

async fn send_body(response: reqwest::Response) -> Value {
    match response.text().await {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Err(_) => Value::Null,
    }
}

fn lock(comments: &Mutex<Comments>) -> std::sync::MutexGuard<'_, Comments> {
    comments
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Comment lines, found in the raw bytes before they reach the parser.
#[derive(Default)]
struct Comments {
    /// The current line so far.
    partial: Vec<u8>,
    lines: Vec<String>,
}

impl Comments {
    fn feed(&mut self, bytes: &[u8]) {
        for byte in bytes {
            if *byte == b'\n' {
                if let Some(comment) = self.partial.strip_prefix(b":") {
                    let text = String::from_utf8_lossy(comment);
                    self.lines.push(text.trim().to_string());
                }
                self.partial.clear();
            } else {
                self.partial.push(*byte);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_found_across_chunks() {
        let mut comments = Comments::default();
        comments.feed(b": heart");
        comments.feed(b"beat\n\nid: 3\nevent: run.updated\ndata: {}\n\n:");
        comments.feed(b" heartbeat\r\n\n");
        assert_eq!(comments.lines, ["heartbeat", "heartbeat"]);
    }

    #[test]
    fn a_message_reads_its_position_and_json() {
        let message = Message {
            id: Some("42".into()),
            event: "run.updated".into(),
            data: r#"{"seq": 42}"#.into(),
        };
        assert_eq!(message.seq(), Some(42));
        assert_eq!(message.json()["seq"], 42);
    }
}
