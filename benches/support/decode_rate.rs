//! What the two overhead benches share: the question, the greedy settings, and how a decode
//! rate and a median are taken, so their ratios are computed the same way.

use std::time::Instant;

use gemma_tui::engine::SamplingSettings;

pub const PROMPT: &str = "Tell me a long story about the sea.";
pub const NEW_TOKENS: u32 = 96;

pub fn sampling() -> SamplingSettings {
    SamplingSettings {
        max_new_tokens: NEW_TOKENS,
        ..Default::default()
    }
}

/// Decode rate seen by a consumer: tokens after the first, over the time after the first.
pub fn rate(tokens: usize, first: Instant, last: Instant) -> f64 {
    (tokens.saturating_sub(1)) as f64 / (last - first).as_secs_f64()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
