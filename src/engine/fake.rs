//! A scripted backend for the tests of the chat screen and the driver (and their benches): it
//! answers every chat with numbered words (`w0 w1 …`), one every `every` under tokio's clock
//! (paused in tests), and stops at once when cancelled. It runs behind the real worker, so the
//! command queue, cancelling and the one `Finished` per chat are the real ones. Never used by
//! the app itself.

use std::time::Duration;

use super::load::LoadRequest;
use super::model_dir::ModelFamily;
use super::protocol::{ChatRequest, EngineEvent, FinishReason, LoadedModel, Usage};
use super::worker::{Backend, Cancel, ChatEnd, Sink};

pub struct FakeBackend {
    /// Words in each answer.
    pub words: usize,
    /// Time between words; zero sends them all at once.
    pub every: Duration,
    /// Context the fake model says it has.
    pub usable_context: usize,
    loaded: bool,
}

impl FakeBackend {
    /// A fake that is loaded from the start (as if `Load` had already happened).
    pub fn answering(words: usize, every: Duration) -> Self {
        Self {
            words,
            every,
            usable_context: 512,
            loaded: true,
        }
    }
}

impl Backend for FakeBackend {
    async fn load(&mut self, request: LoadRequest, sink: &Sink) {
        self.loaded = true;
        sink.emit(EngineEvent::Loaded(LoadedModel {
            name: request.spec.display_name(),
            dir: None,
            family: ModelFamily::Gemma2,
            usable_context: self.usable_context,
            dtype: "fake".into(),
            device: "fake".into(),
            quantization: (!request.quantization.is_none()).then(|| request.quantization.to_string()),
            from_cache: false,
            ignored_settings: Vec::new(),
        }));
    }

    fn loaded(&self) -> Option<LoadedModel> {
        self.loaded.then(|| LoadedModel {
            name: "fake".into(),
            dir: None,
            family: ModelFamily::Gemma2,
            usable_context: self.usable_context,
            dtype: "fake".into(),
            device: "fake".into(),
            quantization: None,
            from_cache: false,
            ignored_settings: Vec::new(),
        })
    }

    fn unload(&mut self, sink: &Sink) {
        self.loaded = false;
        sink.emit(EngineEvent::Unloaded);
    }

    async fn chat(&mut self, request: ChatRequest, cancel: Cancel, sink: &Sink) -> ChatEnd {
        if !self.loaded {
            return ChatEnd::failed("no model is loaded: load one first".into());
        }
        let gen_id = request.gen_id;
        sink.emit(EngineEvent::PromptReady {
            gen_id,
            prompt_tokens: 9,
            usable_context: self.usable_context,
            dropped_turns: 0,
            exact: false,
        });
        let mut sent = 0;
        while sent < self.words && !cancel.is_cancelled() {
            if !self.every.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(self.every) => {}
                    _ = cancel.cancelled() => break,
                }
            }
            sink.emit(EngineEvent::Token {
                gen_id,
                delta: format!("w{sent} "),
            });
            sent += 1;
        }
        ChatEnd {
            reason: if cancel.is_cancelled() {
                FinishReason::Cancelled
            } else {
                FinishReason::Stop
            },
            error: None,
            usage: Usage {
                completion_tokens: sent,
                ..Default::default()
            },
            tokens: None,
        }
    }
}
