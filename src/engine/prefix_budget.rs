//! Keeps mistral.rs 0.8.1's prefix cache within a memory budget on a CPU.
//!
//! The prefix cache lets a chat turn read only what is new since the last answer. On a CPU that
//! is the difference between seconds and minutes at turn 10 of a chat: candle prefills quantized
//! weights a few tokens per second. But 0.8.1 keeps the whole KV cache of every finished answer
//! and evicts only from a GPU (its `evict_caches` skips CPU tensors), so on a CPU it would grow
//! with every answer until the model is unloaded. [`PrefixBudget`] counts what the cache holds
//! (one entry per answer: the sequence's KV cache, grown in 512-token blocks) and, past the
//! budget, [`empty_prefix_cache`] restarts mistral.rs's engine loop: the loaded weights stay,
//! the engine mistral.rs starts in its place has an empty prefix cache, and the next turn reads
//! the whole conversation once, as it would with no cache at all.

use std::time::Duration;

use mistralrs::Request;

use super::memory::ModelShape;

/// mistral.rs 0.8.1 grows a KV cache in blocks of this many tokens (`NormalCache::CACHE_GROW_SIZE`).
const GROW_TOKENS: u64 = 512;
/// The budget's share of the RAM free once the model is loaded, and its ceiling.
const SHARE_OF_FREE: u64 = 4;
const MAX_BUDGET: u64 = 4 << 30;

/// What the prefix cache holds, against what it may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixBudget {
    /// K and V of one token over all layers, in f32 (the KV dtype on a CPU).
    bytes_per_token: u64,
    limit: u64,
    held: u64,
}

impl PrefixBudget {
    /// A budget of a quarter of `free_ram` (what is free with the model loaded), at most 4 GiB.
    pub fn new(shape: &ModelShape, free_ram: u64) -> Self {
        Self::with_limit(shape, (free_ram / SHARE_OF_FREE).min(MAX_BUDGET))
    }

    pub fn with_limit(shape: &ModelShape, limit: u64) -> Self {
        Self {
            bytes_per_token: 2 * shape.layers * shape.kv_heads * shape.head_dim * 4,
            limit,
            held: 0,
        }
    }

    /// The cache entry an answer leaves behind when its sequence held `tokens` (prompt + answer).
    pub fn entry_bytes(&self, tokens: usize) -> u64 {
        (tokens as u64).div_ceil(GROW_TOKENS) * GROW_TOKENS * self.bytes_per_token
    }

    /// Counts an answer's entry; true when the cache is now over budget and must be emptied
    /// (the count starts again from nothing).
    pub fn record(&mut self, tokens: usize) -> bool {
        self.held += self.entry_bytes(tokens);
        if self.held > self.limit {
            self.held = 0;
            return true;
        }
        false
    }

    pub fn held(&self) -> u64 {
        self.held
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// How long the old engine loop may take to stop, and the new one to start.
const RESTART_WAIT: Duration = Duration::from_secs(10);

/// Stops mistral.rs's engine loop for `model`, dropping its prefix cache with it; mistral.rs
/// starts a new loop on the same loaded pipeline at the next request (its "reboot" of a dead
/// engine). Waits until that new loop takes requests, so the next chat finds it ready. Call
/// it between answers only: a running answer would be cut off.
pub async fn empty_prefix_cache(model: &mistralrs::Model) -> Result<(), String> {
    let runner = model.inner();
    let old = runner.get_sender(None).map_err(|e| e.to_string())?;
    old.send(Request::Terminate)
        .await
        .map_err(|_| "the engine had already stopped".to_string())?;
    // The loop owns the receiving end: it is dropped when the loop has stopped.
    tokio::time::timeout(RESTART_WAIT, old.closed())
        .await
        .map_err(|_| "the engine did not stop".to_string())?;
    // `get_sender` starts the new loop once the old thread has ended.
    let deadline = tokio::time::Instant::now() + RESTART_WAIT;
    loop {
        let sender = runner.get_sender(None).map_err(|e| e.to_string())?;
        if !sender.is_closed() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the engine did not start again".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::memory::PRESET_SHAPES;

    fn gemma2_2b() -> ModelShape {
        PRESET_SHAPES[0].1
    }

    #[test]
    fn an_entry_is_the_sequence_kv_cache_in_512_token_blocks() {
        let budget = PrefixBudget::with_limit(&gemma2_2b(), u64::MAX);
        // Gemma 2 2B: 26 layers x 4 KV heads x 256 dims, K and V, f32: 208 KiB a token.
        let per_token = 2 * 26 * 4 * 256 * 4;
        assert_eq!(per_token, 212_992);
        assert_eq!(budget.entry_bytes(1), 512 * per_token);
        assert_eq!(budget.entry_bytes(512), 512 * per_token);
        assert_eq!(
            budget.entry_bytes(1_773),
            2_048 * per_token,
            "about 436 MB at turn 10 of a chat"
        );
    }

    #[test]
    fn the_cache_is_emptied_when_its_entries_pass_the_budget_and_counting_starts_again() {
        let shape = gemma2_2b();
        let one_block = PrefixBudget::with_limit(&shape, 0).entry_bytes(1);
        let mut budget = PrefixBudget::with_limit(&shape, 3 * one_block);
        // A growing chat: 100, 400 and 500 tokens each fit one block.
        assert!(!budget.record(100));
        assert!(!budget.record(400));
        assert!(!budget.record(500));
        assert_eq!(budget.held(), 3 * one_block);
        assert!(budget.record(600), "a fourth entry (two blocks) passes the budget");
        assert_eq!(budget.held(), 0);
        assert!(!budget.record(700));
    }

    #[test]
    fn the_budget_is_a_quarter_of_free_ram_up_to_4_gib() {
        let shape = gemma2_2b();
        let gib = 1u64 << 30;
        assert_eq!(PrefixBudget::new(&shape, 8 * gib).limit, 2 * gib);
        assert_eq!(PrefixBudget::new(&shape, 64 * gib).limit, 4 * gib);
    }
}
