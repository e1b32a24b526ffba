//! What the status line reports: the model's phase, the last answer's speed, the context used.
//! Plain data; the numbers come from engine events in `update`.

use std::time::{Duration, Instant};

use crate::engine::SamplingField;

#[derive(Debug, Clone, PartialEq)]
pub enum ModelPhase {
    /// Nothing loaded and nothing asked.
    NotLoaded,
    Resolving,
    Downloading(Download),
    /// Reading weights; mistral.rs gives no finer progress.
    Loading,
    Ready,
    /// Loading failed; the banner says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub file: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// When the first progress report of this file arrived, and its byte count then.
    pub started: Instant,
    pub started_bytes: u64,
    pub last: Instant,
}

impl Download {
    pub fn bytes_per_second(&self) -> Option<f64> {
        let seconds = self.last.saturating_duration_since(self.started).as_secs_f64();
        (seconds >= 0.5).then(|| self.done_bytes.saturating_sub(self.started_bytes) as f64 / seconds)
    }

    pub fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            (self.done_bytes as f64 / self.total_bytes as f64).clamp(0.0, 1.0)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelStatus {
    /// Short name for the status line (preset or folder name).
    pub name: String,
    pub phase: ModelPhase,
    pub device: Option<String>,
    /// The quantization of the loaded model (`Q4K`), `None` when unquantized or unknown.
    pub quantization: Option<String>,
    pub usable_context: Option<usize>,
    /// The label of the model loaded now; `None` while nothing is.
    pub loaded: Option<String>,
    /// The label of the last model that finished loading, to see when it changes.
    pub last_loaded: Option<String>,
    /// Sampling settings the loaded backend does not apply.
    pub ignored_settings: Vec<SamplingField>,
    /// Where a server runs the model (`gpu-box:8080`); `None` when it runs here.
    pub endpoint: Option<String>,
}

impl ModelStatus {
    pub fn new(name: String) -> Self {
        Self {
            name,
            phase: ModelPhase::NotLoaded,
            device: None,
            quantization: None,
            usable_context: None,
            loaded: None,
            last_loaded: None,
            ignored_settings: Vec::new(),
            endpoint: None,
        }
    }

    /// "gemma-2-2b, Q4K, cpu": the name with what is known of how it runs. Saved with each
    /// answer, and shown where the model changes.
    pub fn label(&self) -> String {
        let mut parts = vec![self.name.clone()];
        parts.extend(self.quantization.clone());
        parts.extend(self.device.clone());
        parts.join(", ")
    }
}

/// Speed of the last finished answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnswerStats {
    pub tokens: usize,
    pub time_to_first_token: Option<Duration>,
    pub tokens_per_second: Option<f64>,
}

/// The prompt of the last request against the context window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextUse {
    pub prompt_tokens: usize,
    pub usable: usize,
    pub dropped_turns: usize,
    /// Counted by the model's tokenizer; false: an estimate (a server without a tokenizer).
    pub exact: bool,
}
