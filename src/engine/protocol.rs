//! The engine's message protocol: commands in, events out. Plain data, no mistral.rs types,
//! so the UI, scripts and tests can speak it without knowing the engine.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::device::DeviceChoice;
use super::model_spec::ModelSpec;
use super::prompt::ChatMessage;
use super::quantization::Quantization;
use super::sampling::{SamplingField, SamplingSettings};

/// Identifies one answer. Events of an older generation may still be queued after a cancel;
/// receivers drop those whose id is not the current one.
pub type GenId = u64;

#[derive(Debug, Clone)]
pub enum EngineCommand {
    /// Unload whatever is loaded, then load this model on this device, quantized so.
    Load {
        spec: ModelSpec,
        device: DeviceChoice,
        quantization: Quantization,
    },
    Chat(ChatRequest),
    Cancel {
        gen_id: GenId,
    },
    Unload,
    /// Where the next `Load` runs: here, or on a server. Takes effect at that load, and only
    /// if it succeeds: a server that cannot be reached leaves the model that was answering.
    Place(Place),
}

/// Where the model runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Place {
    /// mistral.rs on this machine.
    #[default]
    Here,
    /// An OpenAI-compatible server.
    Server(super::remote::RemoteConfig),
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub gen_id: GenId,
    /// Folded into the first user turn for Gemma 2 (its template has no system role).
    pub system: Option<String>,
    /// The conversation so far, ending with the user turn to answer.
    pub messages: Vec<ChatMessage>,
    pub sampling: SamplingSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    LoadProgress(LoadProgress),
    Loaded(LoadedModel),
    /// The prompt was counted and trimmed; generation starts.
    PromptReady {
        gen_id: GenId,
        prompt_tokens: usize,
        usable_context: usize,
        dropped_turns: usize,
        /// Counted by the model's own tokenizer (false: an estimate, shown as one).
        exact: bool,
    },
    Token {
        gen_id: GenId,
        delta: String,
    },
    Finished {
        gen_id: GenId,
        reason: FinishReason,
        usage: Usage,
        /// The exact ids, where the backend knows them (a local model does, a server may not).
        tokens: Option<TokenTranscript>,
    },
    /// Something failed. `gen_id` is set when it was an answer that failed.
    Error {
        gen_id: Option<GenId>,
        message: String,
    },
    Unloaded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadProgress {
    /// Looking for the model (cache, folder).
    Resolving { model: String },
    Downloading {
        file: String,
        done_bytes: u64,
        total_bytes: u64,
    },
    /// Weights are being read into memory; mistral.rs gives no finer progress.
    Loading { model: String },
}

#[derive(Debug, Clone, PartialEq)]
/// A loaded model, from any backend.
pub struct LoadedModel {
    pub name: String,
    /// The model's folder when it runs here; `None` when a server runs it.
    pub dir: Option<PathBuf>,
    pub family: super::model_dir::ModelFamily,
    /// Tokens the prompt plus the answer may use (see `model_dir::usable_context`).
    pub usable_context: usize,
    /// What the backend reports of them; "unknown" where it says nothing.
    pub dtype: String,
    /// Where it runs: `cpu`, `cuda:0`, or a server's `host:port`.
    pub device: String,
    pub quantization: Option<String>,
    /// The quantized weights came from the quantization cache (no quantizing this time).
    pub from_cache: bool,
    /// Sampling settings this backend does not apply (a server without a repetition penalty):
    /// said to the user rather than dropped silently.
    pub ignored_settings: Vec<SamplingField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model ended its turn (`<end_of_turn>` or `<eos>`).
    Stop,
    /// The answer reached `max_new_tokens`.
    Length,
    Cancelled,
    Error,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Cancelled => "cancelled",
            Self::Error => "error",
        }
    }
}

/// The exact ids of one exchange: what the model was fed and what it answered (without the
/// terminator). For tests, benchmarks and exact replays; the UI needs only the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenTranscript {
    pub prompt: Vec<u32>,
    pub answer: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// From sending the request to the first token reaching the worker.
    pub time_to_first_token: Option<Duration>,
    /// Tokens after the first, divided by the time after the first.
    pub decode_tokens_per_second: Option<f64>,
    pub dropped_turns: usize,
}
