//! The remote backend: Gemma through an OpenAI-compatible server (`mistralrs serve`, vLLM,
//! llama.cpp's server), plugged into the same worker as the local engine. "Loading" connects
//! and picks the server's model; a chat applies Gemma 2's turn rules and the context budget
//! here (counting with the server's tokenizer where it has an endpoint for it, else a
//! conservative estimate that the status line marks as one), then streams the answer.
//! Cancelling drops the stream, which closes the connection.

use futures::StreamExt;

use super::load::LoadRequest;
use super::model_dir::ModelFamily;
use super::model_spec::ModelSpec;
use super::prompt::{self, ChatMessage, PromptError};
use super::protocol::{ChatRequest, EngineEvent, FinishReason, LoadProgress, LoadedModel, Usage};
use super::remote::{RemoteChunk, RemoteClient, RemoteConfig, ServerKind};
use super::sampling::SamplingField;
use super::token_clock::TokenClock;
use super::worker::{Backend, Cancel, ChatEnd, Sink};

/// Tokens a server's model is taken to hold when it does not say: Gemma 2's own 8192.
const DEFAULT_CONTEXT: usize = 8192;

/// mistral.rs 0.8.1 slides every Gemma 2 layer's KV cache at the sliding window (4096), as
/// it does here: past it the answers drift, so a mistral.rs server gets the local budget.
const MISTRALRS_GEMMA2_CONTEXT: usize = 4096;

/// The context to budget for when the server does not say.
fn assumed_context(server: ServerKind, family: ModelFamily) -> usize {
    match (server, family) {
        (ServerKind::MistralRs, ModelFamily::Gemma2) => MISTRALRS_GEMMA2_CONTEXT,
        _ => DEFAULT_CONTEXT,
    }
}

pub struct RemoteBackend {
    config: RemoteConfig,
    client: Option<(RemoteClient, LoadedModel)>,
}

impl RemoteBackend {
    pub fn new(config: RemoteConfig) -> Self {
        Self { config, client: None }
    }

    /// The endpoint this backend talks to.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }
}

/// The model name to ask the server for: what the user wrote (a preset maps to its repo id,
/// which is what `mistralrs serve` and vLLM call it); a folder means "the server's own".
fn served_name(spec: &ModelSpec) -> Option<String> {
    match spec {
        ModelSpec::Repo(repo) => Some(repo.clone()),
        ModelSpec::Served(name) => name.clone(),
        ModelSpec::Dir(_) => None,
    }
}

fn family_of(model: &str) -> ModelFamily {
    if model.to_ascii_lowercase().contains("gemma-3") {
        ModelFamily::Gemma3
    } else {
        ModelFamily::Gemma2
    }
}

impl Backend for RemoteBackend {
    async fn load(&mut self, request: LoadRequest, sink: &Sink) {
        let mut config = self.config.clone();
        if let Some(name) = served_name(&request.spec) {
            config.model = Some(name);
        }
        sink.emit(EngineEvent::LoadProgress(LoadProgress::Resolving {
            model: request.spec.display_name(),
        }));
        match RemoteClient::connect(config).await {
            Ok((client, info)) => {
                let ignored = client
                    .ignored_settings()
                    .iter()
                    .filter_map(|name| SamplingField::all().find(|f| f.spec().name == *name))
                    .collect();
                let loaded = LoadedModel {
                    name: info.model.clone(),
                    dir: None,
                    family: family_of(&info.model),
                    usable_context: info
                        .context
                        .unwrap_or_else(|| assumed_context(info.server, family_of(&info.model))),
                    dtype: format!("as served by {}", info.server.label()),
                    device: info.endpoint.clone(),
                    quantization: None,
                    from_cache: false,
                    ignored_settings: ignored,
                };
                sink.emit(EngineEvent::Loaded(loaded.clone()));
                self.client = Some((client, loaded));
            }
            Err(e) => {
                sink.emit(EngineEvent::Error {
                    gen_id: None,
                    message: e.to_string(),
                });
                // A failed switch keeps the endpoint that worked.
                if let Some((_, kept)) = &self.client {
                    sink.emit(EngineEvent::Loaded(kept.clone()));
                }
            }
        }
    }

    fn loaded(&self) -> Option<LoadedModel> {
        self.client.as_ref().map(|(_, info)| info.clone())
    }

    fn unload(&mut self, sink: &Sink) {
        self.client = None;
        sink.emit(EngineEvent::Unloaded);
    }

    async fn chat(&mut self, request: ChatRequest, cancel: Cancel, sink: &Sink) -> ChatEnd {
        let Some((client, info)) = &self.client else {
            return ChatEnd::failed("not connected to a server: load a model first".into());
        };
        if let Err(e) = request.sampling.validate() {
            return ChatEnd::failed(e.to_string());
        }
        let fitted = match fit(client, info, &request).await {
            Ok(fitted) => fitted,
            Err(e) => return ChatEnd::failed(e.to_string()),
        };
        let gen_id = request.gen_id;
        sink.emit(EngineEvent::PromptReady {
            gen_id,
            prompt_tokens: fitted.0.prompt_tokens,
            usable_context: info.usable_context,
            dropped_turns: fitted.0.dropped_pairs * 2,
            exact: fitted.1,
        });
        let mut clock = TokenClock::new(std::time::Instant::now());
        let mut stream = Box::pin(client.chat(fitted.0.messages.clone(), &request.sampling));
        let mut reason = FinishReason::Stop;
        let mut error = None;
        let mut usage = None;
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    reason = FinishReason::Cancelled;
                    break;
                }
                item = stream.next() => match item {
                    Some(Ok(RemoteChunk::Delta(delta))) => {
                        clock.tick();
                        sink.emit(EngineEvent::Token { gen_id, delta });
                    }
                    Some(Ok(RemoteChunk::Finished { reason: r, usage: u })) => {
                        reason = r;
                        usage = u;
                        break;
                    }
                    Some(Err(e)) => {
                        reason = FinishReason::Error;
                        error = Some(e.to_string());
                        break;
                    }
                    None => break,
                },
            }
        }
        // Dropping the stream closes the connection: the server stops generating.
        drop(stream);
        let mut measured: Usage = clock.usage(fitted.0.prompt_tokens, fitted.0.dropped_pairs * 2);
        if let Some(u) = usage {
            measured.prompt_tokens = u.prompt_tokens;
            measured.completion_tokens = u.completion_tokens.max(measured.completion_tokens);
        }
        ChatEnd {
            reason,
            error,
            usage: measured,
            tokens: None,
        }
    }
}

/// Gemma 2's turn rules and the budget, counted by the server where it can (`exact`).
async fn fit(
    client: &RemoteClient,
    info: &LoadedModel,
    request: &ChatRequest,
) -> Result<(prompt::FittedPrompt, bool), PromptError> {
    let (system, turns) = prompt::normalize(request.system.as_deref(), &request.messages)?;
    let exact = std::sync::atomic::AtomicBool::new(true);
    let reserved = request.sampling.max_new_tokens as usize;
    let count = async |messages: Vec<ChatMessage>| -> Result<usize, PromptError> {
        let counted = client.count_tokens(&messages).await;
        if !counted.exact {
            exact.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(counted.tokens)
    };
    let fitted = prompt::fit_to_budget(system.as_deref(), &turns, info.usable_context, reserved, count).await?;
    Ok((fitted, exact.load(std::sync::atomic::Ordering::Relaxed)))
}
