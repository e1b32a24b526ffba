//! Parity with the prefix cache on (this file alone, so the switch is set before any engine
//! thread reads it): a turn that repeats or extends an earlier conversation still equals
//! transformers. A guard, not a proof of the penalty fix: on this fixture's goldens the greedy
//! answer comes out the same even with mistral.rs's own penalty (checked by hand), so the
//! fix itself is shown by `observer`'s unit test of a cache-hit first step.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::goldens;
use support::harness::{self, greedy};

/// With the prefix cache on, a turn that extends an earlier conversation re-reads only its new
/// tokens, and mistral.rs's sampler context then lacks the cached ones; the repetition penalty
/// (ours) still covers the whole prompt, so the answer still equals transformers'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_served_from_the_prefix_cache_still_equals_transformers() {
    // The only test of this binary: no other thread reads the environment yet.
    std::env::set_var("GEMMA_TUI_PREFIX_CACHE", "on");
    let goldens = goldens::load();
    let mut engine = harness::load_fixture().await;
    let case = goldens.multi_turn_with_penalty();
    // The first user turn alone: its prompt and answer are then cached.
    let first = engine.ask(None, case.messages[..1].to_vec(), greedy(1.05, 8)).await;
    assert_eq!(first.error, None);
    for round in 0..2 {
        let answer = engine.ask_case(case).await;
        harness::assert_golden(&answer, case, &format!("round {round}"));
    }
}
