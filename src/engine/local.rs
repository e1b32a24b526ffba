//! The local backend: Gemma through mistral.rs on this machine. It owns the loaded model; the
//! worker (`worker.rs`) serves it commands one at a time.
//!
//! Text reaches the user from token ids (see `observer`), decoded by our own tokenizer so that
//! it equals transformers' `decode(ids, skip_special_tokens=True)`. mistral.rs's stream is still
//! consumed (its channel holds one chunk; an unread stream would stall the engine) but only for
//! its end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use either::Either;
use mistralrs::{RequestBuilder, Response, TextMessageRole, TextMessages};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::detok::StreamDecoder;
use super::load::{self, uses_gemma2_rules, LoadRequest, LoadedEngine};
use super::observer::{Observed, ObserverConfig, Penalties, TokenObserver};
use super::prefix_budget;
use super::prompt::{self, ChatMessage, FittedPrompt, PromptError, Role};
use super::protocol::{ChatRequest, EngineEvent, FinishReason, LoadProgress, LoadedModel, TokenTranscript};
use super::source::HubEnv;
use super::token_clock::TokenClock;
use super::worker::{Backend, Cancel, ChatEnd, Sink};

/// mistral.rs on this machine.
pub struct LocalBackend {
    hub: HubEnv,
    /// Where quantized weights are kept between starts; `None`: quantize every time.
    quant_cache: Option<PathBuf>,
    loaded: Option<LoadedEngine>,
}

impl LocalBackend {
    pub fn new(hub: HubEnv, quant_cache: Option<PathBuf>) -> Self {
        Self {
            hub,
            quant_cache,
            loaded: None,
        }
    }
}

impl Backend for LocalBackend {
    async fn load(&mut self, request: LoadRequest, sink: &Sink) {
        LocalBackend::load(self, request, sink).await
    }

    fn unload(&mut self, sink: &Sink) {
        self.loaded = None;
        sink.emit(EngineEvent::Unloaded);
    }

    fn loaded(&self) -> Option<LoadedModel> {
        self.loaded.as_ref().map(|engine| engine.info.clone())
    }

    async fn chat(&mut self, request: ChatRequest, cancel: Cancel, sink: &Sink) -> ChatEnd {
        match self.start(&request, sink).await {
            Ok(fitted) => {
                let end = self.generate(request, fitted, cancel, sink).await;
                self.keep_prefix_cache_in_budget(&end).await;
                end
            }
            Err(message) => ChatEnd::failed(message),
        }
    }
}

/// How one generation ended, before usage is attached.
struct Outcome {
    reason: FinishReason,
    error: Option<String>,
}

impl LocalBackend {
    /// Checks the new model's files first, with the current model still loaded: a folder that
    /// is not a model, a gated repo or a bad tokenizer is refused and the current model goes
    /// on answering (it is announced as `Loaded` again). Only then is the current model freed
    /// (two large models rarely fit side by side) and the new one built.
    async fn load(&mut self, request: LoadRequest, sink: &Sink) {
        let (progress_tx, mut progress_rx) = unbounded_channel::<LoadProgress>();
        let prepared = {
            let preparing = load::prepare(&request, &self.hub, &progress_tx);
            forward_progress(preparing, &mut progress_rx, sink).await
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                tracing::warn!("load refused before unloading: {e}");
                sink.emit(EngineEvent::Error {
                    gen_id: None,
                    message: e.to_string(),
                });
                if let Some(kept) = &self.loaded {
                    sink.emit(EngineEvent::Loaded(kept.info.clone()));
                }
                return;
            }
        };
        if self.loaded.take().is_some() {
            sink.emit(EngineEvent::Unloaded);
        }
        let building = load::build_prepared(prepared, self.quant_cache.clone(), &progress_tx);
        let result = forward_progress(building, &mut progress_rx, sink).await;
        match result {
            Ok(engine) => {
                tracing::info!(model = %engine.info.name, device = %engine.info.device, "model loaded");
                sink.emit(EngineEvent::Loaded(engine.info.clone()));
                self.loaded = Some(engine);
            }
            Err(e) => {
                tracing::warn!("load failed: {e}");
                sink.emit(EngineEvent::Error {
                    gen_id: None,
                    message: e.to_string(),
                });
            }
        }
    }

    /// Counts the cache entry the answer left behind (CPU only) and empties the prefix cache
    /// once the entries pass the budget. The answer is already complete; a failed restart is
    /// logged, and the next request meets whatever engine mistral.rs has.
    async fn keep_prefix_cache_in_budget(&mut self, end: &ChatEnd) {
        let Some(engine) = self.loaded.as_mut() else { return };
        let (Some(budget), Some(tokens)) = (engine.prefix_budget.as_mut(), end.tokens.as_ref()) else {
            return;
        };
        if budget.record(tokens.prompt.len() + tokens.answer.len()) {
            tracing::info!(limit = budget.limit(), "prefix cache over budget: emptying it");
            if let Err(e) = prefix_budget::empty_prefix_cache(&engine.model).await {
                tracing::warn!("cannot empty the prefix cache: {e}");
            }
        }
    }

    /// Checks the request and fits its prompt; the error is the line to show the user.
    async fn start(&self, request: &ChatRequest, sink: &Sink) -> Result<FittedPrompt, String> {
        let engine = self.loaded.as_ref().ok_or("no model is loaded: load one first")?;
        request.sampling.validate().map_err(|e| e.to_string())?;
        let fitted = prepare_prompt(engine, request).await.map_err(|e| e.to_string())?;
        sink.emit(EngineEvent::PromptReady {
            gen_id: request.gen_id,
            prompt_tokens: fitted.prompt_tokens,
            usable_context: engine.info.usable_context,
            dropped_turns: fitted.dropped_pairs * 2,
            exact: true,
        });
        Ok(fitted)
    }

    async fn generate(&self, request: ChatRequest, fitted: FittedPrompt, cancel: Cancel, sink: &Sink) -> ChatEnd {
        let Some(engine) = self.loaded.as_ref() else {
            return ChatEnd::failed("no model is loaded: load one first".into());
        };
        let gen_id = request.gen_id;
        let cancelled = cancel.flag();
        let (observed_tx, mut observed) = unbounded_channel();
        // The prompt ids, for the penalties: mistral.rs's context hides the prefix-cached ones.
        let prompt = match engine
            .model
            .tokenize(Either::Left(to_text_messages(&fitted.messages)), None, true, true, None)
            .await
        {
            Ok(ids) => ids,
            Err(e) => return ChatEnd::failed(format!("the engine could not tokenize the prompt: {e}")),
        };
        let mut params = request.sampling.to_mistralrs(engine.stop_ids.clone());
        let penalties = Penalties {
            repetition: params.repetition_penalty.take().unwrap_or(1.0),
            frequency: params.frequency_penalty.take().unwrap_or(0.0),
            presence: params.presence_penalty.take().unwrap_or(0.0),
        };
        let observer = TokenObserver::new(
            ObserverConfig {
                prompt,
                max_new_tokens: request.sampling.max_new_tokens as usize,
                stop_id: engine.stop_ids[0],
                min_p: request.sampling.min_p_filter(),
                penalties,
            },
            cancelled.clone(),
            observed_tx,
        );
        let builder = RequestBuilder::from(to_text_messages(&fitted.messages))
            .set_sampling(params)
            // One more than asked: the observer ends the answer itself and must see the last token.
            .set_sampler_max_len(request.sampling.max_new_tokens as usize + 1)
            .add_logits_processor(Arc::new(observer));

        let started = Instant::now();
        let mut stats = TokenClock::new(started);
        let mut decoder = StreamDecoder::new(engine.tokenizer.clone());
        let mut length_reached = false;
        let mut prompt_ids = Vec::new();
        let mut stream = match engine.model.stream_chat_request(builder).await {
            Ok(s) => s,
            Err(e) => return ChatEnd::failed(format!("the engine refused the request: {e}")),
        };
        let events = sink.clone();
        let emit_token = |decoder: &mut StreamDecoder, stats: &mut TokenClock, id: u32, cancelled: &AtomicBool| {
            if cancelled.load(Ordering::Relaxed) {
                return; // the answer was stopped; tokens already in flight are not shown
            }
            stats.tick();
            match decoder.push(id) {
                Ok(Some(delta)) => {
                    events.emit(EngineEvent::Token { gen_id, delta });
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("cannot decode token {id}: {e}"),
            }
        };

        let outcome = loop {
            tokio::select! {
                Some(item) = observed.recv() => match item {
                    Observed::Prompt(ids) => prompt_ids = ids,
                    Observed::Token(id) => emit_token(&mut decoder, &mut stats, id, &cancelled),
                    Observed::LengthReached => length_reached = true,
                },
                response = stream.next() => {
                    if let Some(outcome) = stream_end(response) {
                        break outcome;
                    }
                }
            }
        };
        drop(stream);
        // Ids observed before the stream ended but not yet handled.
        while let Ok(item) = observed.try_recv() {
            match item {
                Observed::Prompt(ids) => prompt_ids = ids,
                Observed::Token(id) => emit_token(&mut decoder, &mut stats, id, &cancelled),
                Observed::LengthReached => length_reached = true,
            }
        }
        if let Ok(rest) = decoder.finish() {
            if !rest.is_empty() && !cancelled.load(Ordering::Relaxed) {
                sink.emit(EngineEvent::Token { gen_id, delta: rest });
            }
        }
        let reason = if cancelled.load(Ordering::Relaxed) {
            FinishReason::Cancelled
        } else if length_reached {
            FinishReason::Length
        } else {
            outcome.reason
        };
        if !prompt_ids.is_empty() && prompt_ids.len() != fitted.prompt_tokens {
            tracing::warn!(
                counted = fitted.prompt_tokens,
                fed = prompt_ids.len(),
                "prompt count differs from the prompt fed"
            );
        }
        ChatEnd {
            reason,
            error: outcome.error,
            usage: stats.usage(prompt_ids.len().max(fitted.prompt_tokens), fitted.dropped_pairs * 2),
            tokens: Some(TokenTranscript {
                prompt: prompt_ids,
                answer: decoder.ids().to_vec(),
            }),
        }
    }
}

/// Runs `work`, passing its progress reports on as events as they come.
async fn forward_progress<T>(
    work: impl std::future::Future<Output = T>,
    progress: &mut UnboundedReceiver<LoadProgress>,
    events: &Sink,
) -> T {
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            Some(p) = progress.recv() => events.emit(EngineEvent::LoadProgress(p)),
        }
    };
    while let Ok(p) = progress.try_recv() {
        events.emit(EngineEvent::LoadProgress(p));
    }
    result
}

/// `Some` when this stream item ends the answer.
fn stream_end(response: Option<Response>) -> Option<Outcome> {
    let stop = |reason| Some(Outcome { reason, error: None });
    match response {
        None => stop(FinishReason::Stop),
        Some(Response::Chunk(chunk)) => {
            let finish = chunk.choices.first().and_then(|c| c.finish_reason.clone())?;
            stop(if finish == "length" {
                FinishReason::Length
            } else {
                FinishReason::Stop
            })
        }
        Some(Response::Done(_)) => stop(FinishReason::Stop),
        Some(Response::ModelError(message, _)) | Some(Response::CompletionModelError(message, _)) => Some(Outcome {
            reason: FinishReason::Error,
            error: Some(format!("the model failed: {message}")),
        }),
        Some(Response::InternalError(e)) | Some(Response::ValidationError(e)) => Some(Outcome {
            reason: FinishReason::Error,
            error: Some(format!("the engine failed: {e}")),
        }),
        Some(_) => None,
    }
}

/// Applies the family's turn rules and trims the conversation to the usable context, counting
/// with the engine's own template and tokenizer (what it counts is exactly what it will run).
async fn prepare_prompt(engine: &LoadedEngine, request: &ChatRequest) -> Result<FittedPrompt, PromptError> {
    let (system, turns) = if uses_gemma2_rules(engine.info.family) {
        prompt::normalize(request.system.as_deref(), &request.messages)?
    } else {
        let mut all: Vec<ChatMessage> = request.system.iter().map(ChatMessage::system).collect();
        all.extend(request.messages.iter().cloned());
        (None, all)
    };
    let reserved = request.sampling.max_new_tokens as usize;
    let count = async |messages: Vec<ChatMessage>| -> Result<usize, PromptError> {
        let ids = engine
            .model
            .tokenize(Either::Left(to_text_messages(&messages)), None, true, true, None)
            .await
            .map_err(|e| PromptError::Count(e.to_string()))?;
        Ok(ids.len())
    };
    prompt::fit_to_budget(system.as_deref(), &turns, engine.info.usable_context, reserved, count).await
}

fn to_text_messages(messages: &[ChatMessage]) -> TextMessages {
    messages.iter().fold(TextMessages::new(), |acc, m| {
        let role = match m.role {
            Role::System => TextMessageRole::System,
            Role::User => TextMessageRole::User,
            Role::Model => TextMessageRole::Assistant,
        };
        acc.add_message(role, &m.text)
    })
}
