//! Reading a streamed chat completion: server-sent events into [`RemoteChunk`]s, every wait
//! bounded, and a plain end before the answer finished reported as a disconnect.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::time::{timeout, timeout_at, Instant};

mod bom;

use super::error::{root_message, server_message, RemoteError};
use super::{RemoteChunk, RemoteUsage};
use crate::engine::FinishReason;

/// One `data:` payload of the stream, as far as we read it.
#[derive(Debug, Default, Deserialize)]
struct ChunkJson {
    #[serde(default)]
    choices: Vec<ChoiceJson>,
    #[serde(default)]
    usage: Option<UsageJson>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct ChoiceJson {
    #[serde(default)]
    delta: Option<DeltaJson>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaJson {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UsageJson {
    #[serde(default)]
    prompt_tokens: usize,
    #[serde(default)]
    completion_tokens: usize,
}

/// What one event says.
#[derive(Debug, PartialEq)]
pub(crate) enum Parsed {
    Done,
    Chunk {
        delta: Option<String>,
        finish: Option<FinishReason>,
        usage: Option<RemoteUsage>,
    },
    /// The server reported an error inside the stream.
    Error(String),
    /// Not JSON: mistral.rs sends a failed answer's message as plain text.
    Garbage(String),
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "length" | "max_tokens" | "model_length" => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

pub(crate) fn parse_event(data: &str) -> Parsed {
    let data = data.trim();
    if data == "[DONE]" {
        return Parsed::Done;
    }
    let chunk: ChunkJson = match serde_json::from_str(data) {
        Ok(c) => c,
        Err(_) => return Parsed::Garbage(data.to_string()),
    };
    if let Some(err) = chunk.error {
        return Parsed::Error(server_message(&serde_json::json!({ "error": err }).to_string()));
    }
    let choice = chunk.choices.into_iter().next().unwrap_or_default();
    Parsed::Chunk {
        delta: choice.delta.and_then(|d| d.content).filter(|c| !c.is_empty()),
        finish: choice.finish_reason.as_deref().map(finish_reason),
        usage: chunk.usage.map(|u| RemoteUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }),
    }
}

/// The transport's failure, already in words (reqwest's error, or a test's).
pub(crate) type TransportError = String;

type Events = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<TransportError>>> + Send>>;

/// A server's text as one short line of a message.
fn clip(text: &str) -> String {
    const MAX: usize = 300;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// The state of one answer's stream.
pub(crate) struct Reader {
    endpoint: String,
    events: Events,
    /// The first token must come by then.
    first_deadline: Instant,
    first_token_timeout: Duration,
    got_content: bool,
    finish: Option<FinishReason>,
    usage: Option<RemoteUsage>,
    done: bool,
}

impl Reader {
    pub(crate) fn new(
        endpoint: String,
        response: reqwest::Response,
        first_deadline: Instant,
        first_token_timeout: Duration,
    ) -> Self {
        let bytes = response.bytes_stream().map(|item| item.map_err(|e| root_message(&e)));
        Self::from_bytes(endpoint, bytes, first_deadline, first_token_timeout)
    }

    /// Reads any byte stream as a streamed answer (the recorded-stream tests feed it directly).
    pub(crate) fn from_bytes<B: AsRef<[u8]> + Send + 'static>(
        endpoint: String,
        bytes: impl Stream<Item = Result<B, TransportError>> + Send + 'static,
        first_deadline: Instant,
        first_token_timeout: Duration,
    ) -> Self {
        Self {
            endpoint,
            events: Box::pin(bom::guarded(bytes).eventsource()),
            first_deadline,
            first_token_timeout,
            got_content: false,
            finish: None,
            usage: None,
            done: false,
        }
    }

    fn finished(&mut self) -> Option<Result<RemoteChunk, RemoteError>> {
        self.done = true;
        Some(Ok(RemoteChunk::Finished {
            reason: self.finish.unwrap_or(FinishReason::Stop),
            usage: self.usage,
        }))
    }

    fn disconnected(&mut self, detail: String) -> Option<Result<RemoteChunk, RemoteError>> {
        self.done = true;
        Some(Err(RemoteError::Disconnected {
            endpoint: self.endpoint.clone(),
            detail,
        }))
    }

    /// The next chunk; `None` once the answer is over (after its `Finished` or an error).
    pub(crate) async fn next(&mut self) -> Option<Result<RemoteChunk, RemoteError>> {
        if self.done {
            return None;
        }
        loop {
            let event = if self.got_content || self.finish.is_some() {
                timeout(self.first_token_timeout, self.events.next()).await
            } else {
                timeout_at(self.first_deadline, self.events.next()).await
            };
            let event = match event {
                Ok(e) => e,
                Err(_) if self.finish.is_some() => return self.finished(),
                Err(_) => {
                    self.done = true;
                    let endpoint = self.endpoint.clone();
                    let timeout = self.first_token_timeout;
                    return Some(Err(if self.got_content {
                        RemoteError::Stalled { endpoint, timeout }
                    } else {
                        RemoteError::FirstTokenTimeout { endpoint, timeout }
                    }));
                }
            };
            let event = match event {
                None if self.finish.is_some() => return self.finished(),
                None if self.got_content => {
                    return self.disconnected("the stream ended without a finish reason".into())
                }
                None => return self.disconnected("the stream ended before any answer".into()),
                Some(Err(EventStreamError::Transport(e))) => {
                    if self.finish.is_some() {
                        return self.finished();
                    }
                    return self.disconnected(e);
                }
                // Cut inside a character: the connection ended, the bytes are not bad.
                Some(Err(EventStreamError::Utf8(e))) if e.utf8_error().error_len().is_none() => {
                    if self.finish.is_some() {
                        return self.finished();
                    }
                    return self.disconnected("the stream ended inside a character".into());
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(RemoteError::BadResponse {
                        endpoint: self.endpoint.clone(),
                        detail: e.to_string(),
                    }));
                }
                Some(Ok(event)) => event,
            };
            if event.event == "error" {
                self.done = true;
                return Some(Err(RemoteError::FailedMidAnswer {
                    endpoint: self.endpoint.clone(),
                    message: server_message(&event.data),
                }));
            }
            match parse_event(&event.data) {
                Parsed::Done => return self.finished(),
                Parsed::Error(message) => {
                    self.done = true;
                    return Some(Err(RemoteError::FailedMidAnswer {
                        endpoint: self.endpoint.clone(),
                        message,
                    }));
                }
                Parsed::Garbage(text) => {
                    // Some servers send non-JSON keep-alives as data; skip those that are blank.
                    if text.is_empty() {
                        continue;
                    }
                    // mistral.rs reports a failed answer as a plain-text `data:` line.
                    self.done = true;
                    return Some(Err(RemoteError::FailedMidAnswer {
                        endpoint: self.endpoint.clone(),
                        message: clip(&text),
                    }));
                }
                Parsed::Chunk { delta, finish, usage } => {
                    if usage.is_some() {
                        self.usage = usage;
                    }
                    if finish.is_some() {
                        self.finish = finish;
                    }
                    if let Some(text) = delta {
                        self.got_content = true;
                        return Some(Ok(RemoteChunk::Delta(text)));
                    }
                    if self.finish.is_some() && self.usage.is_some() {
                        return self.finished();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod recorded;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read() {
        assert_eq!(parse_event("[DONE]"), Parsed::Done);
        assert_eq!(
            parse_event(r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}"#),
            Parsed::Chunk {
                delta: Some("Hi".into()),
                finish: None,
                usage: None
            }
        );
        assert_eq!(
            parse_event(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#),
            Parsed::Chunk {
                delta: None,
                finish: None,
                usage: Some(RemoteUsage {
                    prompt_tokens: 3,
                    completion_tokens: 2
                })
            }
        );
        assert_eq!(
            parse_event(r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#),
            Parsed::Chunk {
                delta: None,
                finish: Some(FinishReason::Length),
                usage: None
            }
        );
        assert_eq!(
            parse_event(r#"{"error":{"message":"out of memory"}}"#),
            Parsed::Error("out of memory".into())
        );
        assert_eq!(parse_event(" nope "), Parsed::Garbage("nope".into()));
    }
}
