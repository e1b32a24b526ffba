//! A failed call told in one line that names the endpoint and what to do: the transport
//! failures (refused, DNS, TLS, timeouts) and the server's answers (401/403, 404, 429, 5xx).

use super::error::{chain_of, classify_connect, root_message, server_message, ConnectFailure};
use tokio::time::timeout;

use super::{RemoteClient, RemoteError};

impl RemoteClient {
    pub(super) fn send_error(&self, err: reqwest::Error, url: &str) -> RemoteError {
        let endpoint = self.name();
        if err.is_connect() {
            return match classify_connect(&chain_of(&err), err.is_timeout(), self.https) {
                ConnectFailure::Refused => RemoteError::Refused {
                    endpoint,
                    url: self.root.clone(),
                },
                ConnectFailure::Dns => RemoteError::Dns {
                    endpoint,
                    host: self.host.clone(),
                },
                ConnectFailure::Timeout => RemoteError::ConnectTimeout {
                    endpoint,
                    url: self.root.clone(),
                    timeout: self.config.connect_timeout,
                },
                ConnectFailure::Tls => RemoteError::Tls {
                    endpoint,
                    url: self.root.clone(),
                    detail: root_message(&err),
                },
                ConnectFailure::Other => RemoteError::Network {
                    endpoint,
                    detail: format!("{url}: {}", root_message(&err)),
                },
            };
        }
        if err.is_timeout() {
            return RemoteError::NoReply {
                endpoint,
                url: url.to_string(),
                timeout: self.meta_timeout(),
            };
        }
        RemoteError::Network {
            endpoint,
            detail: format!("{url}: {}", root_message(&err)),
        }
    }

    /// The error for a non-success status (404 is the caller's to read first).
    pub(super) fn status_error(&self, status: reqwest::StatusCode, body: &str) -> RemoteError {
        let endpoint = self.name();
        let code = status.as_u16();
        match code {
            401 | 403 => RemoteError::Unauthorized {
                endpoint,
                status: code,
                hint: self.auth_hint(),
            },
            429 => RemoteError::RateLimited {
                endpoint,
                message: server_message(body),
            },
            500..=599 => RemoteError::Server {
                endpoint,
                status: code,
                message: server_message(body),
            },
            _ => RemoteError::Rejected {
                endpoint,
                status: code,
                message: server_message(body),
            },
        }
    }

    fn auth_hint(&self) -> String {
        match self.config.api_key_env.as_deref() {
            Some(var) if self.api_key().is_none() => {
                format!("it wants an API key: set the environment variable {var} (named by api_key_env) to it")
            }
            Some(var) => format!("it did not accept the API key in {var}: check the key"),
            None => "it wants an API key: put the key in an environment variable and set \
                     api_key_env to that variable's name"
                .to_string(),
        }
    }

    /// A whole (non-streamed) request: sent, status checked (404 is the caller's to read),
    /// body read, all within the bound.
    /// A 404 on a chat request: the model is gone (say which ones there are), or the route is.
    pub(super) async fn not_found(&self, body: &str) -> RemoteError {
        match timeout(self.meta_timeout(), self.models()).await {
            Ok(Ok(models)) if models.contains(&self.model) => RemoteError::Rejected {
                endpoint: self.name(),
                status: 404,
                message: server_message(body),
            },
            Ok(Ok(available)) => RemoteError::ModelNotFound {
                endpoint: self.name(),
                model: self.model.clone(),
                available,
            },
            _ => RemoteError::ModelNotFound {
                endpoint: self.name(),
                model: self.model.clone(),
                available: Vec::new(),
            },
        }
    }
}
