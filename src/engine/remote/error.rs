//! What can go wrong talking to a remote server, each said in one line that names the endpoint
//! and what to do about it.

use std::error::Error as _;
use std::time::Duration;

/// A remote failure. Every `Display` is one line: the endpoint's name, what happened, what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteError {
    #[error("{endpoint}: connection refused at {url}: is the server running there (and on that port)?")]
    Refused { endpoint: String, url: String },
    #[error("{endpoint}: cannot resolve the host name `{host}`: check the host name in base_url")]
    Dns { endpoint: String, host: String },
    #[error("{endpoint}: TLS failed with {url} ({detail}): check that the server speaks https, or use http://")]
    Tls {
        endpoint: String,
        url: String,
        detail: String,
    },
    #[error("{endpoint}: no connection to {url} within the connect timeout of {}: is the host up and reachable?", secs(*timeout))]
    ConnectTimeout {
        endpoint: String,
        url: String,
        timeout: Duration,
    },
    #[error("{endpoint}: base_url `{url}` is not an http(s) address: write it like http://gpu-box:8080")]
    BadUrl { endpoint: String, url: String },
    #[error("{endpoint}: no reply from {url} within {}: the server may be overloaded; try again", secs(*timeout))]
    NoReply {
        endpoint: String,
        url: String,
        timeout: Duration,
    },
    #[error("{endpoint}: the server refused the request ({status}): {hint}")]
    Unauthorized {
        endpoint: String,
        status: u16,
        hint: String,
    },
    #[error(
        "{endpoint}: the server has no model `{model}`; it has: {}; set model to one of them",
        list(available)
    )]
    ModelNotFound {
        endpoint: String,
        model: String,
        available: Vec<String>,
    },
    #[error("{endpoint}: the server lists no models: load one on the server first")]
    NoModels { endpoint: String },
    #[error("{endpoint}: too many requests (429): {message}; wait a moment and try again")]
    RateLimited { endpoint: String, message: String },
    #[error("{endpoint}: server error {status}: {message}; see the server's log, then try again")]
    Server {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: the server rejected the request ({status}): {message}")]
    Rejected {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: no OpenAI-compatible API at {url} ({status}): check base_url (the server's address, with or without /v1)")]
    NotOpenAi { endpoint: String, url: String, status: u16 },
    #[error("{endpoint}: no first token within first_token_timeout ({}): the server may be busy or the prompt long; raise the timeout or try again", secs(*timeout))]
    FirstTokenTimeout { endpoint: String, timeout: Duration },
    #[error("{endpoint}: the answer stalled for {} (first_token_timeout); the partial answer is kept; try again", secs(*timeout))]
    Stalled { endpoint: String, timeout: Duration },
    #[error("{endpoint}: the connection closed mid-answer ({detail}); the partial answer is kept; try again")]
    Disconnected { endpoint: String, detail: String },
    #[error("{endpoint}: the server failed mid-answer: {message}; the partial answer is kept; see the server's log")]
    FailedMidAnswer { endpoint: String, message: String },
    #[error("{endpoint}: the server's reply could not be read ({detail}): is this an OpenAI-compatible server?")]
    BadResponse { endpoint: String, detail: String },
    #[error("{endpoint}: Gemma 2 has no system role: fold the system prompt into the first user turn")]
    SystemRole { endpoint: String },
    #[error("{endpoint}: request failed: {detail}")]
    Network { endpoint: String, detail: String },
}

impl RemoteError {
    /// True for failures after part of an answer may have arrived (the caller keeps the text).
    pub fn is_mid_answer(&self) -> bool {
        matches!(
            self,
            Self::Stalled { .. } | Self::Disconnected { .. } | Self::FailedMidAnswer { .. }
        )
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

fn list(models: &[String]) -> String {
    if models.is_empty() {
        "none".to_string()
    } else {
        models.join(", ")
    }
}

/// One line, at most `max` characters: a server's message, fit for a status line.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The server's own message from an error body: OpenAI's `{"error":{"message"}}`, vLLM's older
/// `{"message"}`, `{"error":"..."}`, FastAPI's `{"detail"}`, or the plain text.
pub(crate) fn server_message(body: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => {
            let pick = |v: &serde_json::Value| -> Option<String> {
                match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                }
            };
            v.pointer("/error/message")
                .and_then(pick)
                .or_else(|| v.get("error").filter(|e| e.is_string()).and_then(pick))
                .or_else(|| v.get("message").and_then(pick))
                .or_else(|| v.get("detail").and_then(pick))
                .unwrap_or_else(|| body.to_string())
        }
        Err(_) => body.to_string(),
    };
    let text = one_line(&text, 300);
    if text.is_empty() {
        "no message".to_string()
    } else {
        text
    }
}

/// What a failed connection attempt was, read from reqwest's error and its sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectFailure {
    Refused,
    Dns,
    Timeout,
    Tls,
    Other,
}

/// Classifies a chain of error messages and I/O kinds (outermost first). Pure, so the rules are
/// tested without a network.
pub(crate) fn classify_connect(
    chain: &[(Option<std::io::ErrorKind>, String)],
    is_timeout: bool,
    https: bool,
) -> ConnectFailure {
    use std::io::ErrorKind;
    if chain.iter().any(|(k, _)| *k == Some(ErrorKind::ConnectionRefused)) {
        return ConnectFailure::Refused;
    }
    let text = chain
        .iter()
        .map(|(_, m)| m.to_lowercase())
        .collect::<Vec<_>>()
        .join(" | ");
    if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
        || text.contains("no such host")
        || text.contains("nodename nor servname")
    {
        return ConnectFailure::Dns;
    }
    if text.contains("connection refused") {
        return ConnectFailure::Refused;
    }
    if is_timeout || chain.iter().any(|(k, _)| *k == Some(ErrorKind::TimedOut)) {
        return ConnectFailure::Timeout;
    }
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") || https {
        return ConnectFailure::Tls;
    }
    ConnectFailure::Other
}

/// The messages (and I/O kinds) of an error and its sources, outermost first.
pub(crate) fn chain_of(err: &reqwest::Error) -> Vec<(Option<std::io::ErrorKind>, String)> {
    let mut out = vec![(None, err.to_string())];
    let mut source = err.source();
    while let Some(e) = source {
        let kind = e.downcast_ref::<std::io::Error>().map(|io| io.kind());
        out.push((kind, e.to_string()));
        source = e.source();
    }
    out
}

/// The innermost message of an error's chain: the one that says what really happened.
pub(crate) fn root_message(err: &reqwest::Error) -> String {
    let chain = chain_of(err);
    one_line(&chain.last().map(|(_, m)| m.clone()).unwrap_or_default(), 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn connect_failures_are_told_apart() {
        let refused = vec![
            (None, "error sending request".to_string()),
            (
                Some(ErrorKind::ConnectionRefused),
                "Connection refused (os error 111)".to_string(),
            ),
        ];
        assert_eq!(classify_connect(&refused, false, false), ConnectFailure::Refused);
        let dns = vec![
            (None, "error sending request".to_string()),
            (None, "client error (Connect)".to_string()),
            (None, "dns error".to_string()),
            (
                Some(ErrorKind::Other),
                "failed to lookup address information: Name or service not known".to_string(),
            ),
        ];
        assert_eq!(classify_connect(&dns, false, false), ConnectFailure::Dns);
        let timeout = vec![(None, "operation timed out".to_string())];
        assert_eq!(classify_connect(&timeout, true, false), ConnectFailure::Timeout);
        let tls = vec![(None, "received corrupt message of type InvalidContentType".to_string())];
        assert_eq!(classify_connect(&tls, false, true), ConnectFailure::Tls);
        assert_eq!(classify_connect(&tls, false, false), ConnectFailure::Other);
    }

    #[test]
    fn server_messages_are_read_from_each_shape() {
        assert_eq!(
            server_message(r#"{"error":{"message":"slow down","type":"x"}}"#),
            "slow down"
        );
        assert_eq!(
            server_message(r#"{"object":"error","message":"bad model"}"#),
            "bad model"
        );
        assert_eq!(server_message(r#"{"error":"oops"}"#), "oops");
        assert_eq!(server_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(server_message("plain\ntext"), "plain text");
        assert_eq!(server_message(""), "no message");
    }

    #[test]
    fn every_message_is_one_line_naming_the_endpoint() {
        let e = RemoteError::FirstTokenTimeout {
            endpoint: "gpu-box".into(),
            timeout: Duration::from_millis(1500),
        };
        let s = e.to_string();
        assert!(s.starts_with("gpu-box: "), "{s}");
        assert!(s.contains("1.5 s") && s.contains("first_token_timeout"), "{s}");
        assert!(!s.contains('\n'));
    }
}
