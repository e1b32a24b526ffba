//! Drives the real engine worker on the generated tiny Gemma 2, on the CPU.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use gemma_tui::engine::source::HubEnv;
use gemma_tui::engine::{
    self, ChatMessage, ChatRequest, DeviceChoice, EngineCommand, EngineEvent, EngineHandle, FinishReason, LoadedModel,
    ModelSpec, Quantization, SamplingSettings, TokenTranscript, Usage,
};
use tokio::sync::mpsc::UnboundedReceiver;

use super::goldens::{expected_answer, GoldenCase};
use super::tiny_gemma;

/// No test waits longer than this for an event; a hang fails instead of stalling CI.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The tiny Gemma 2 folder, written once per test binary.
pub fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tiny-gemma2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create fixture dir");
        tiny_gemma::write_tiny_gemma2(&dir).expect("write fixture");
        dir
    })
}

/// A copy of the fixture that a test may damage.
pub fn fixture_copy(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tiny-gemma2-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create copy dir");
    for entry in std::fs::read_dir(fixture()).expect("read fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
    }
    dir
}

/// Loads the folder `dir` on the CPU, unquantized: the exact (f32) mode.
pub fn load_on_cpu(dir: PathBuf) -> EngineCommand {
    EngineCommand::Load {
        spec: ModelSpec::Dir(dir),
        device: DeviceChoice::Cpu,
        quantization: Quantization::None,
    }
}

pub struct Engine {
    pub handle: EngineHandle,
    pub events: UnboundedReceiver<EngineEvent>,
    pub info: LoadedModel,
    next_gen: u64,
}

impl Engine {
    /// A worker that has just announced `info` as loaded.
    pub fn new(handle: EngineHandle, events: UnboundedReceiver<EngineEvent>, info: LoadedModel) -> Self {
        Self {
            handle,
            events,
            info,
            next_gen: 1,
        }
    }
}

pub async fn next_event(events: &mut UnboundedReceiver<EngineEvent>) -> EngineEvent {
    tokio::time::timeout(EVENT_TIMEOUT, events.recv())
        .await
        .expect("engine event timed out")
        .expect("engine stopped")
}

/// Spawns a worker and loads `dir`; returns the load error message on failure.
pub async fn try_load(dir: &Path) -> Result<Engine, String> {
    let (handle, mut events) = engine::spawn(HubEnv::default());
    handle.send(load_on_cpu(dir.to_path_buf()));
    loop {
        match next_event(&mut events).await {
            EngineEvent::Loaded(info) => {
                return Ok(Engine {
                    handle,
                    events,
                    info,
                    next_gen: 1,
                })
            }
            EngineEvent::Error { message, .. } => return Err(message),
            _ => {}
        }
    }
}

pub async fn load_fixture() -> Engine {
    try_load(fixture()).await.expect("the tiny model loads")
}

/// Everything one answer produced.
#[derive(Debug, Default)]
pub struct Answer {
    pub text: String,
    pub deltas: Vec<String>,
    pub reason: Option<FinishReason>,
    pub usage: Usage,
    pub tokens: TokenTranscript,
    pub error: Option<String>,
    pub prompt_tokens: Option<usize>,
    pub dropped_turns: Option<usize>,
}

pub fn greedy(repetition_penalty: f64, max_new_tokens: u32) -> SamplingSettings {
    SamplingSettings {
        repetition_penalty,
        max_new_tokens,
        ..Default::default()
    }
}

impl Engine {
    pub fn request(
        &mut self,
        system: Option<&str>,
        messages: Vec<ChatMessage>,
        sampling: SamplingSettings,
    ) -> ChatRequest {
        let gen_id = self.next_gen;
        self.next_gen += 1;
        ChatRequest {
            gen_id,
            system: system.map(String::from),
            messages,
            sampling,
        }
    }

    /// Sends a chat and collects its events until it finishes (or fails before starting).
    pub async fn ask(
        &mut self,
        system: Option<&str>,
        messages: Vec<ChatMessage>,
        sampling: SamplingSettings,
    ) -> Answer {
        let request = self.request(system, messages, sampling);
        self.ask_request(request).await
    }

    /// Asks a golden case's conversation with its settings, greedy as transformers ran it.
    pub async fn ask_case(&mut self, case: &GoldenCase) -> Answer {
        self.ask(
            None,
            case.messages.clone(),
            greedy(case.repetition_penalty, case.max_new_tokens),
        )
        .await
    }

    pub async fn ask_request(&mut self, request: ChatRequest) -> Answer {
        let gen_id = request.gen_id;
        self.handle.send(EngineCommand::Chat(request));
        let mut answer = Answer::default();
        loop {
            match next_event(&mut self.events).await {
                EngineEvent::Token { gen_id: g, delta } if g == gen_id => {
                    answer.text.push_str(&delta);
                    answer.deltas.push(delta);
                }
                EngineEvent::PromptReady {
                    gen_id: g,
                    prompt_tokens,
                    dropped_turns,
                    ..
                } if g == gen_id => {
                    answer.prompt_tokens = Some(prompt_tokens);
                    answer.dropped_turns = Some(dropped_turns);
                }
                EngineEvent::Finished {
                    gen_id: g,
                    reason,
                    usage,
                    tokens,
                } if g == gen_id => {
                    answer.reason = Some(reason);
                    answer.usage = usage;
                    // A local model reports its ids; a chat that failed before starting has none.
                    answer.tokens = tokens.unwrap_or_default();
                    return answer;
                }
                EngineEvent::Error {
                    gen_id: Some(g),
                    message,
                } if g == gen_id => answer.error = Some(message),
                _ => {}
            }
        }
    }
}

/// The answer equals transformers' for `case`: prompt ids, answer ids, finish and text.
pub fn assert_golden(answer: &Answer, case: &GoldenCase, label: &str) {
    let (ids, reason) = expected_answer(case);
    assert_eq!(answer.tokens.prompt, case.prompt_ids, "{label}: prompt ids");
    assert_eq!(answer.tokens.answer, ids, "{label}: answer ids");
    assert_eq!(answer.reason, Some(reason), "{label}: finish");
    assert_eq!(answer.text, case.text, "{label}: streamed text");
}
