//! The remote backend's client: Gemma 2 through an OpenAI-compatible server (`mistralrs serve`,
//! vLLM, llama.cpp's `llama-server`, or a plain OpenAI-style API).
//!
//! Self-contained: it speaks HTTP (reqwest) and server-sent events (eventsource-stream), knows
//! each server's dialect (how it names the repetition penalty, where it says its context size,
//! how it counts tokens), and reports every failure in one line that names the endpoint and what
//! to do. Every network wait is bounded by the configured timeouts. Cancelling an answer is
//! dropping its stream: the connection closes and the server stops generating.
//!
//! Gemma 2 has no system role: the caller folds the system prompt into the first user turn
//! ([`crate::engine::prompt::normalize`]); a system message passed here is an error, never sent.

mod body;
mod discover;
mod error;
mod failures;
mod stream;
mod tokens;

use std::time::Duration;

use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::time::{timeout_at, Instant};

pub use error::RemoteError;
pub use tokens::{estimate, TokenCount};

use crate::engine::{ChatMessage, FinishReason, Role, SamplingSettings};
use discover::{choose_model, detect, n_ctx, normalize_base};
use error::root_message;
use stream::Reader;

/// The server software behind an endpoint. `Auto` is detected on connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    #[default]
    Auto,
    #[serde(alias = "mistral.rs", alias = "mistral-rs")]
    MistralRs,
    Vllm,
    #[serde(alias = "llama.cpp", alias = "llama-cpp", alias = "llama-server")]
    LlamaCpp,
    OpenAi,
}

impl ServerKind {
    /// The name for status lines.
    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "unknown server",
            Self::MistralRs => "mistral.rs",
            Self::Vllm => "vLLM",
            Self::LlamaCpp => "llama.cpp",
            Self::OpenAi => "OpenAI-compatible",
        }
    }
}

/// One remote endpoint as the config describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    /// The endpoint's name in the config ("gpu-box"); every error message starts with it.
    pub name: String,
    /// "http://gpu-box:8080", with or without a trailing `/v1`.
    pub base_url: String,
    /// `None`: the server's only (or first) model.
    pub model: Option<String>,
    /// The NAME of an environment variable holding the API key; the key itself is read when a
    /// request is sent and never stored.
    pub api_key_env: Option<String>,
    pub server: ServerKind,
    pub connect_timeout: Duration,
    /// How long the first token may take (prompt processing included); also the longest pause
    /// allowed between two later chunks.
    pub first_token_timeout: Duration,
}

impl RemoteConfig {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_FIRST_TOKEN_TIMEOUT: Duration = Duration::from_secs(120);

    /// An endpoint with the default timeouts, the first model and server detection.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            model: None,
            api_key_env: None,
            server: ServerKind::Auto,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            first_token_timeout: Self::DEFAULT_FIRST_TOKEN_TIMEOUT,
        }
    }
}

/// What connecting found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInfo {
    pub model: String,
    /// The detected (or configured) kind; never `Auto`.
    pub server: ServerKind,
    /// "gpu-box:8080", for status lines.
    pub endpoint: String,
    /// The context size, where the server says it (llama.cpp's `/props`, vLLM's
    /// `max_model_len`).
    pub context: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RemoteChunk {
    Delta(String),
    Finished {
        reason: FinishReason,
        /// `None`: the server sent no usage; the caller estimates and says so.
        usage: Option<RemoteUsage>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteUsage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

/// A connected endpoint. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct RemoteClient {
    http: reqwest::Client,
    config: RemoteConfig,
    /// The base URL without `/v1` and without a trailing slash.
    root: String,
    https: bool,
    host: String,
    endpoint: String,
    model: String,
    kind: ServerKind,
}

/// A whole reply to a call that is not an answer.
struct Reply {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    /// The body as JSON, if the call succeeded.
    fn json(&self) -> Option<serde_json::Value> {
        self.status
            .is_success()
            .then(|| serde_json::from_str(&self.text).ok())
            .flatten()
    }
}

/// What connecting to an endpoint found (the settings pane's connection test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointReport {
    /// The server kind, in words ("mistral.rs", "vLLM"...).
    pub server: String,
    /// Where it is (host:port).
    pub at: String,
    /// The model names it serves.
    pub models: Vec<String>,
    pub millis: u128,
}

/// Connects to `config`'s server and lists its models, whatever model `config` names.
pub async fn probe(mut config: RemoteConfig) -> Result<EndpointReport, String> {
    let started = std::time::Instant::now();
    config.model = None;
    let (client, info) = RemoteClient::connect(config).await.map_err(|e| e.to_string())?;
    let mut models = client.models().await.map_err(|e| e.to_string())?;
    // mistral.rs lists "default" beside its models: an alias, not a model.
    if info.server == ServerKind::MistralRs {
        models.retain(|m| m != "default");
    }
    Ok(EndpointReport {
        server: info.server.label().to_string(),
        at: info.endpoint,
        models,
        millis: started.elapsed().as_millis(),
    })
}

impl RemoteClient {
    /// Lists the server's models, chooses one, detects the server kind (where `Auto`) and reads
    /// the context size where the server says it.
    pub async fn connect(config: RemoteConfig) -> Result<(RemoteClient, RemoteInfo), RemoteError> {
        let (root, url) = normalize_base(&config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("gemma-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteError::Network {
                endpoint: config.name.clone(),
                detail: root_message(&e),
            })?;
        let host = url.host_str().unwrap_or_default().to_string();
        let endpoint = match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let mut client = RemoteClient {
            http,
            https: url.scheme() == "https",
            host,
            endpoint,
            root,
            model: String::new(),
            kind: config.server,
            config,
        };
        let listing = client.list().await?;
        let mut props = None;
        if client.kind == ServerKind::Auto {
            client.kind = match detect(&listing) {
                Some(kind) => kind,
                None => {
                    props = client.props().await;
                    if props.is_some() {
                        ServerKind::LlamaCpp
                    } else {
                        ServerKind::OpenAi
                    }
                }
            };
        }
        client.model = choose_model(&client.config, client.kind, &listing.entries)?;
        let context = match client.kind {
            ServerKind::Vllm => listing
                .entries
                .iter()
                .find(|m| m.id == client.model)
                .and_then(|m| m.max_model_len),
            ServerKind::LlamaCpp => {
                if props.is_none() {
                    props = client.props().await;
                }
                props.as_ref().and_then(n_ctx)
            }
            _ => None,
        };
        let info = RemoteInfo {
            model: client.model.clone(),
            server: client.kind,
            endpoint: client.endpoint.clone(),
            context,
        };
        Ok((client, info))
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn server(&self) -> ServerKind {
        self.kind
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The ids of the models the server lists.
    pub async fn models(&self) -> Result<Vec<String>, RemoteError> {
        Ok(self.list().await?.entries.into_iter().map(|m| m.id).collect())
    }

    /// The prompt's token count: exact where the server tokenizes (vLLM's and llama.cpp's
    /// `POST /tokenize`), otherwise (mistral.rs serve and OpenAI expose no tokenizer, or the call
    /// failed) a conservative [`estimate`].
    pub async fn count_tokens(&self, messages: &[ChatMessage]) -> TokenCount {
        let exact = match self.kind {
            ServerKind::Vllm => self.tokenize_vllm(messages).await,
            ServerKind::LlamaCpp => self.tokenize_llama(messages).await,
            _ => None,
        };
        exact
            .map(|tokens| TokenCount { tokens, exact: true })
            .unwrap_or_else(|| estimate(messages))
    }

    /// Streams one answer. Cancel by dropping the stream: the connection closes.
    pub fn chat(
        &self,
        messages: Vec<ChatMessage>,
        sampling: &SamplingSettings,
    ) -> impl Stream<Item = Result<RemoteChunk, RemoteError>> + Send + 'static {
        enum State {
            Start(Box<(RemoteClient, Vec<ChatMessage>, SamplingSettings)>),
            Reading(Box<Reader>),
            Done,
        }
        let start = State::Start(Box::new((self.clone(), messages, sampling.clone())));
        futures::stream::unfold(start, |state| async move {
            let mut reader = match state {
                State::Done => return None,
                State::Reading(reader) => reader,
                State::Start(start) => {
                    let (client, messages, sampling) = *start;
                    match client.start_chat(&messages, &sampling).await {
                        Ok(reader) => Box::new(reader),
                        Err(e) => return Some((Err(e), State::Done)),
                    }
                }
            };
            reader.next().await.map(|item| (item, State::Reading(reader)))
        })
    }

    /// The settings this server ignores whatever their value (said to the user, not dropped
    /// silently): `top_k`, `min_p`, `repetition_penalty` on a plain OpenAI server.
    pub fn ignored_settings(&self) -> Vec<&'static str> {
        body::unsupported(self.kind)
    }

    /// The settings set in `sampling` that this server will not apply (a subset of
    /// [`ignored_settings`](Self::ignored_settings), plus mistral.rs's min-p without top-p).
    pub fn ignored_for(&self, sampling: &SamplingSettings) -> Vec<&'static str> {
        body::ignored_for(self.kind, sampling)
    }

    fn name(&self) -> String {
        self.config.name.clone()
    }

    /// The bound on a call that is not an answer (model list, props, tokenize).
    fn meta_timeout(&self) -> Duration {
        self.config.connect_timeout + self.config.first_token_timeout.min(Duration::from_secs(30))
    }

    fn with_auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.api_key() {
            Some(key) => rb.bearer_auth(key),
            None => rb,
        }
    }

    fn api_key(&self) -> Option<String> {
        let var = self.config.api_key_env.as_deref()?;
        std::env::var(var).ok().filter(|k| !k.trim().is_empty())
    }

    async fn call(&self, rb: reqwest::RequestBuilder, url: &str) -> Result<Reply, RemoteError> {
        let response = self
            .with_auth(rb)
            .timeout(self.meta_timeout())
            .send()
            .await
            .map_err(|e| self.send_error(e, url))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| self.send_error(e, url))?;
        if !status.is_success() && status != reqwest::StatusCode::NOT_FOUND {
            return Err(self.status_error(status, &text));
        }
        Ok(Reply { status, headers, text })
    }

    async fn tokenize_vllm(&self, messages: &[ChatMessage]) -> Option<usize> {
        let url = format!("{}/tokenize", self.root);
        let body = serde_json::json!({
            "model": self.model,
            "messages": body::messages_json(messages)?,
            "add_generation_prompt": true,
        });
        let reply = self.call(self.http.post(&url).json(&body), &url).await.ok()?;
        let v = reply.json()?;
        v.get("count")
            .and_then(|c| c.as_u64())
            .map(|c| c as usize)
            .or_else(|| v.get("tokens").and_then(|t| t.as_array()).map(Vec::len))
    }

    async fn tokenize_llama(&self, messages: &[ChatMessage]) -> Option<usize> {
        if messages.iter().any(|m| m.role == Role::System) {
            return None;
        }
        let url = format!("{}/tokenize", self.root);
        // The prompt text already holds `<bos>`: parse special tokens, add none.
        let body = serde_json::json!({
            "content": tokens::gemma_prompt(messages),
            "add_special": false,
            "parse_special": true,
        });
        let reply = self.call(self.http.post(&url).json(&body), &url).await.ok()?;
        let v = reply.json()?;
        v.get("tokens").and_then(|t| t.as_array()).map(Vec::len)
    }

    async fn start_chat(&self, messages: &[ChatMessage], sampling: &SamplingSettings) -> Result<Reader, RemoteError> {
        let body = body::chat_body(self.kind, &self.model, messages, sampling)
            .ok_or_else(|| RemoteError::SystemRole { endpoint: self.name() })?;
        let url = format!("{}/v1/chat/completions", self.root);
        let limit = self.config.first_token_timeout;
        let deadline = Instant::now() + limit;
        let first_token_timeout = || RemoteError::FirstTokenTimeout {
            endpoint: self.name(),
            timeout: limit,
        };
        let request = self
            .with_auth(self.http.post(&url))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        let response = timeout_at(deadline, request.send())
            .await
            .map_err(|_| first_token_timeout())?
            .map_err(|e| self.send_error(e, &url))?;
        let status = response.status();
        if !status.is_success() {
            let text = timeout_at(deadline, response.text())
                .await
                .map_err(|_| first_token_timeout())?
                .unwrap_or_default();
            if status == reqwest::StatusCode::NOT_FOUND {
                return Err(self.not_found(&text).await);
            }
            return Err(self.status_error(status, &text));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !content_type.starts_with("text/event-stream") {
            return Err(RemoteError::BadResponse {
                endpoint: self.name(),
                detail: format!("the answer was not streamed (content type `{content_type}`)"),
            });
        }
        Ok(Reader::new(self.name(), response, deadline, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_v1_and_slashes() {
        let mut c = RemoteConfig::new("box", "http://gpu-box:8080/v1/");
        assert_eq!(normalize_base(&c).unwrap().0, "http://gpu-box:8080");
        c.base_url = "https://example.org/api".into();
        assert_eq!(normalize_base(&c).unwrap().0, "https://example.org/api");
        c.base_url = "gpu-box:8080".into();
        assert!(matches!(normalize_base(&c), Err(RemoteError::BadUrl { .. })));
    }

    #[test]
    fn server_kinds_parse_lowercase() {
        #[derive(Deserialize)]
        struct W {
            server: ServerKind,
        }
        for (text, kind) in [
            ("auto", ServerKind::Auto),
            ("mistralrs", ServerKind::MistralRs),
            ("vllm", ServerKind::Vllm),
            ("llamacpp", ServerKind::LlamaCpp),
            ("llama.cpp", ServerKind::LlamaCpp),
            ("openai", ServerKind::OpenAi),
        ] {
            let w: W = toml::from_str(&format!("server = \"{text}\"")).unwrap();
            assert_eq!(w.server, kind);
        }
    }
}
