//! The engine worker: the backend-neutral part. One task serves commands one at a time to a
//! [`Backend`] (mistral.rs on this machine, a remote server, or the scripted fake of the
//! tests): commands that arrive during an answer wait their turn, except that a cancel stops
//! it and a load or an unload stops it and then runs; and every chat ends with exactly one
//! `Finished` (after an `Error` if it failed), whatever the backend did.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

use super::load::LoadRequest;
use super::local::LocalBackend;
use super::protocol::{
    ChatRequest, EngineCommand, EngineEvent, FinishReason, GenId, LoadedModel, Place, TokenTranscript, Usage,
};
use super::source::HubEnv;

/// Sends commands to the worker. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    tx: UnboundedSender<EngineCommand>,
}

impl EngineHandle {
    pub fn send(&self, command: EngineCommand) {
        // The worker lives as long as any handle; a send can only fail during shutdown.
        let _ = self.tx.send(command);
    }
}

/// What the worker needs of the machine: where the Hugging Face cache is and who we are to the
/// hub, and where quantized weights are kept between starts (`None`: quantize every time).
#[derive(Debug, Clone, Default)]
pub struct EngineEnv {
    pub hub: HubEnv,
    pub quant_cache: Option<PathBuf>,
}

impl From<HubEnv> for EngineEnv {
    fn from(hub: HubEnv) -> Self {
        Self { hub, quant_cache: None }
    }
}

/// Where a backend reports events.
#[derive(Clone)]
pub struct Sink(UnboundedSender<EngineEvent>);

impl Sink {
    pub fn emit(&self, event: EngineEvent) {
        let _ = self.0.send(event);
    }
}

/// Stops an answer: a flag a backend checks between tokens (mistral.rs's logits processor reads
/// it), and a wake-up for a backend that waits on a network stream.
#[derive(Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    woken: Arc<Notify>,
}

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.woken.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// The flag itself, for code that must not await (a logits processor).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Resolves once the answer is cancelled.
    pub async fn cancelled(&self) {
        let woken = self.woken.notified();
        if self.is_cancelled() {
            return;
        }
        woken.await;
    }
}

/// What runs the model. The worker calls one method at a time.
pub trait Backend: Send + 'static {
    /// Loads `request` (replacing what is loaded), reporting progress, `Unloaded`, `Loaded` or
    /// the error through `sink`.
    fn load(&mut self, request: LoadRequest, sink: &Sink) -> impl Future<Output = ()> + Send;
    /// Frees the model and reports `Unloaded`.
    fn unload(&mut self, sink: &Sink);
    /// Answers `request`, reporting `PromptReady` and the tokens through `sink`, and returns
    /// how it ended; it stops soon after `cancel` fires. The worker reports the end.
    fn chat(&mut self, request: ChatRequest, cancel: Cancel, sink: &Sink) -> impl Future<Output = ChatEnd> + Send;
    /// What is loaded now, if anything.
    fn loaded(&self) -> Option<LoadedModel>;
    /// Where the next load runs. A backend that runs in one place only says it cannot move.
    fn place(&mut self, place: Place, sink: &Sink) {
        let _ = place;
        sink.emit(EngineEvent::Error {
            gen_id: None,
            message: "this engine runs in one place only".into(),
        });
    }
}

/// Starts the worker for mistral.rs on this machine; each `Load` says what to load and how.
pub fn spawn(env: impl Into<EngineEnv>) -> (EngineHandle, UnboundedReceiver<EngineEvent>) {
    let EngineEnv { hub, quant_cache } = env.into();
    spawn_backend(LocalBackend::new(hub, quant_cache))
}

/// Starts the app's worker: it runs models here (with `env`) or on a server, starting at
/// `place`; `EngineCommand::Place` moves it.
pub fn start(env: EngineEnv, place: Place) -> (EngineHandle, UnboundedReceiver<EngineEvent>) {
    spawn_backend(super::placed::PlacedBackend::new(env, place))
}

/// Starts the worker on the current tokio runtime for any backend.
pub fn spawn_backend<B: Backend>(backend: B) -> (EngineHandle, UnboundedReceiver<EngineEvent>) {
    let (tx, commands) = unbounded_channel();
    let (events, rx) = unbounded_channel();
    let worker = Worker {
        backend,
        sink: Sink(events),
        commands,
        pending: VecDeque::new(),
    };
    tokio::spawn(worker.run());
    (EngineHandle { tx }, rx)
}

struct Worker<B> {
    backend: B,
    sink: Sink,
    commands: UnboundedReceiver<EngineCommand>,
    /// Commands that arrived while an answer was streaming.
    pending: VecDeque<EngineCommand>,
}

impl<B: Backend> Worker<B> {
    async fn run(mut self) {
        loop {
            let command = match self.pending.pop_front() {
                Some(c) => c,
                None => match self.commands.recv().await {
                    Some(c) => c,
                    None => break,
                },
            };
            let answering = match &command {
                EngineCommand::Chat(request) => Some(request.gen_id),
                _ => None,
            };
            let handled = AssertUnwindSafe(crate::panic_hook::caught(self.handle(command)))
                .catch_unwind()
                .await;
            if let Err(payload) = handled {
                self.recover(answering, &crate::panic_hook::panic_message(payload.as_ref()));
            }
        }
    }

    async fn handle(&mut self, command: EngineCommand) {
        match command {
            EngineCommand::Load {
                spec,
                device,
                quantization,
            } => {
                let request = LoadRequest {
                    spec,
                    device,
                    quantization,
                };
                self.backend.load(request, &self.sink).await
            }
            EngineCommand::Chat(request) => self.chat(request).await,
            EngineCommand::Cancel { .. } => {} // nothing is running
            EngineCommand::Unload => self.backend.unload(&self.sink),
            EngineCommand::Place(place) => self.backend.place(place, &self.sink),
        }
    }

    /// A backend panicked (a bug, or mistral.rs on a malformed file): the answer that was
    /// running ends as failed, the model is let go (its state is unknown), and the worker goes
    /// on, so the chat screen can load a model again (F5 loads the last one).
    fn recover(&mut self, answering: Option<GenId>, why: &str) {
        tracing::error!("the engine panicked: {why}");
        if let Some(gen_id) = answering {
            let end = ChatEnd::failed(format!(
                "the engine failed mid-answer ({why}); the partial answer is kept"
            ));
            for event in end.into_events(gen_id) {
                self.sink.emit(event);
            }
        }
        self.backend.unload(&self.sink);
        self.sink.emit(EngineEvent::Error {
            gen_id: None,
            message: format!("the engine failed ({why}) and let the model go; see the log file"),
        });
    }

    /// Every chat ends with exactly one `Finished`, after an `Error` if it failed: the backend
    /// returns how it ended on every path, and only this function reports the end.
    async fn chat(&mut self, request: ChatRequest) {
        let gen_id = request.gen_id;
        let cancel = Cancel::default();
        let mut commands_open = true;
        let end = {
            let answering = self.backend.chat(request, cancel.clone(), &self.sink);
            tokio::pin!(answering);
            loop {
                tokio::select! {
                    biased;
                    command = self.commands.recv(), if commands_open => match command {
                        Some(EngineCommand::Cancel { gen_id: id }) if id == gen_id => cancel.cancel(),
                        Some(EngineCommand::Cancel { .. }) => {}
                        Some(other) => {
                            // A new load or unload ends this answer; a new chat waits its turn.
                            if !matches!(other, EngineCommand::Chat(_)) {
                                cancel.cancel();
                            }
                            self.pending.push_back(other);
                        }
                        None => {
                            commands_open = false;
                            cancel.cancel();
                        }
                    },
                    end = &mut answering => break end,
                }
            }
        };
        for event in end.into_events(gen_id) {
            self.sink.emit(event);
        }
    }
}

/// How one chat ended, on any path: what `Finished` reports, and the error before it.
#[derive(Debug)]
pub struct ChatEnd {
    pub reason: FinishReason,
    pub error: Option<String>,
    pub usage: Usage,
    pub tokens: Option<TokenTranscript>,
}

impl ChatEnd {
    pub fn failed(message: String) -> Self {
        Self {
            reason: FinishReason::Error,
            error: Some(message),
            usage: Usage::default(),
            tokens: None,
        }
    }

    /// The events that end chat `gen_id`: its `Error` if it failed, then its one `Finished`.
    fn into_events(self, gen_id: GenId) -> Vec<EngineEvent> {
        let error = self.error.map(|message| EngineEvent::Error {
            gen_id: Some(gen_id),
            message,
        });
        let finished = EngineEvent::Finished {
            gen_id,
            reason: self.reason,
            usage: self.usage,
            tokens: self.tokens,
        };
        error.into_iter().chain([finished]).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::ChatMessage;

    fn is_finished(event: &EngineEvent) -> bool {
        matches!(event, EngineEvent::Finished { .. })
    }

    #[tokio::test]
    async fn a_chat_that_fails_sends_its_error_then_exactly_one_finished() {
        let (engine, mut events) = spawn(HubEnv::default());
        engine.send(EngineCommand::Chat(ChatRequest {
            gen_id: 7,
            system: None,
            messages: vec![ChatMessage::user("hello")],
            sampling: Default::default(),
        }));
        // Commands are served in order: `Unloaded` comes after everything the chat sent.
        engine.send(EngineCommand::Unload);
        let mut seen = Vec::new();
        while let Some(event) = events.recv().await {
            if event == EngineEvent::Unloaded {
                break;
            }
            seen.push(event);
        }
        assert!(
            matches!(&seen[..], [EngineEvent::Error { gen_id: Some(7), message }, EngineEvent::Finished { gen_id: 7, reason: FinishReason::Error, .. }] if message.contains("no model")),
            "{seen:?}"
        );
    }

    /// A backend with a bug: it panics in the middle of an answer after one token.
    struct Panicking {
        loaded: bool,
    }

    impl Backend for Panicking {
        async fn load(&mut self, _request: LoadRequest, sink: &Sink) {
            self.loaded = true;
            sink.emit(EngineEvent::Loaded(
                crate::engine::fake::FakeBackend::answering(1, Default::default())
                    .loaded()
                    .unwrap(),
            ));
        }
        fn unload(&mut self, sink: &Sink) {
            self.loaded = false;
            sink.emit(EngineEvent::Unloaded);
        }
        async fn chat(&mut self, request: ChatRequest, _cancel: Cancel, sink: &Sink) -> ChatEnd {
            sink.emit(EngineEvent::Token {
                gen_id: request.gen_id,
                delta: "half".into(),
            });
            tokio::task::yield_now().await;
            panic!("index out of bounds in a test backend");
        }
        fn loaded(&self) -> Option<LoadedModel> {
            None
        }
    }

    #[tokio::test]
    async fn a_backend_that_panics_ends_the_answer_lets_the_model_go_and_the_worker_goes_on() {
        let (engine, mut events) = spawn_backend(Panicking { loaded: false });
        engine.send(EngineCommand::Load {
            spec: crate::engine::ModelSpec::Dir("/m".into()),
            device: Default::default(),
            quantization: Default::default(),
        });
        engine.send(chat(3));
        let seen = until_finished(&mut events, 3).await;
        assert!(
            matches!(&seen[..], [EngineEvent::Loaded(_), EngineEvent::Token { .. }, EngineEvent::Error { gen_id: Some(3), message }, EngineEvent::Finished { gen_id: 3, reason: FinishReason::Error, .. }] if message.contains("index out of bounds")),
            "{seen:?}"
        );
        assert_eq!(events.recv().await, Some(EngineEvent::Unloaded));
        assert!(
            matches!(events.recv().await, Some(EngineEvent::Error { gen_id: None, message }) if message.contains("let the model go"))
        );
        // The worker is still there: it loads again.
        engine.send(EngineCommand::Load {
            spec: crate::engine::ModelSpec::Dir("/m".into()),
            device: Default::default(),
            quantization: Default::default(),
        });
        assert!(matches!(events.recv().await, Some(EngineEvent::Loaded(_))));
    }

    fn chat(gen_id: GenId) -> EngineCommand {
        EngineCommand::Chat(ChatRequest {
            gen_id,
            system: None,
            messages: vec![ChatMessage::user("hello")],
            sampling: Default::default(),
        })
    }

    /// Events until (and with) the `Finished` of `gen_id`.
    async fn until_finished(events: &mut UnboundedReceiver<EngineEvent>, gen_id: GenId) -> Vec<EngineEvent> {
        let mut seen = Vec::new();
        while let Some(event) = events.recv().await {
            let done = matches!(event, EngineEvent::Finished { gen_id: g, .. } if g == gen_id);
            seen.push(event);
            if done {
                break;
            }
        }
        seen
    }

    #[tokio::test(start_paused = true)]
    async fn a_load_during_an_answer_cancels_it_and_queued_commands_run_in_order() {
        use crate::engine::fake::FakeBackend;
        use crate::engine::{DeviceChoice, ModelSpec, Quantization};
        let (engine, mut events) = spawn_backend(FakeBackend::answering(1000, Duration::from_millis(10)));
        engine.send(chat(1));
        tokio::time::sleep(Duration::from_millis(35)).await;
        engine.send(EngineCommand::Cancel { gen_id: 99 }); // another answer's: ignored
        engine.send(chat(2)); // waits
        engine.send(EngineCommand::Load {
            spec: ModelSpec::Dir("/m/other".into()),
            device: DeviceChoice::Cpu,
            quantization: Quantization::None,
        });
        let first = until_finished(&mut events, 1).await;
        let tokens = first.iter().filter(|e| matches!(e, EngineEvent::Token { .. })).count();
        assert!(
            (2..1000).contains(&tokens),
            "{tokens} tokens before the load stopped it"
        );
        assert!(matches!(
            first.last(),
            Some(EngineEvent::Finished {
                reason: FinishReason::Cancelled,
                ..
            })
        ));
        // Then the queued commands, in the order they came: the chat, then the load.
        let second = until_finished(&mut events, 2).await;
        assert_eq!(
            second
                .iter()
                .filter(|e| matches!(e, EngineEvent::Finished { .. }))
                .count(),
            1
        );
        assert!(matches!(events.recv().await, Some(EngineEvent::Loaded(info)) if info.name == "other"));
    }

    #[test]
    fn a_request_the_engine_refuses_still_ends_with_one_finished() {
        // The path where mistral.rs refuses the stream (its engine thread gone) ends this way.
        let events = ChatEnd::failed("the engine refused the request: closed".into()).into_events(3);
        assert_eq!(events.iter().filter(|e| is_finished(e)).count(), 1);
        assert!(matches!(&events[0], EngineEvent::Error { gen_id: Some(3), .. }));
        assert!(matches!(
            &events[1],
            EngineEvent::Finished {
                gen_id: 3,
                reason: FinishReason::Error,
                ..
            }
        ));
    }
}
