//! The CPU prefix cache kept within its budget, on the real engine and the tiny Gemma 2.
//! mistral.rs 0.8.1 never evicts that cache on a CPU; gemma-tui empties it past a budget by
//! restarting mistral.rs's engine loop on the loaded model (see `engine::prefix_budget`).
//! One test in this binary: it sets the budget variable before any engine reads it.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use gemma_tui::engine::load::{self, LoadRequest};
use gemma_tui::engine::prefix_budget::empty_prefix_cache;
use gemma_tui::engine::source::HubEnv;
use gemma_tui::engine::{DeviceChoice, ModelSpec, Quantization};
use mistralrs::{RequestBuilder, SamplingParams, TextMessageRole};
use support::goldens;
use support::harness::{self, greedy};

/// The log lines written so far, for the ones the engine writes when it empties the cache.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn count(&self, line: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap()).matches(line).count()
    }
}

async fn greedy_answer(model: &mistralrs::Model, question: &str) -> String {
    let request = RequestBuilder::new()
        .add_message(TextMessageRole::User, question)
        .set_sampling(SamplingParams {
            max_len: Some(12),
            ..SamplingParams::deterministic()
        });
    let response = model.send_chat_request(request).await.expect("an answer");
    response.choices[0].message.content.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefix_cache_is_emptied_past_its_budget_and_answers_stay_exact() {
    // A budget of 0 MB: every answer's cache entry passes it. Set before any engine starts.
    std::env::set_var("GEMMA_TUI_PREFIX_CACHE_MB", "0");
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    // The mechanism, on a model built directly: the old engine loop stops (its channel is
    // closed), a new one serves the same loaded weights, and gives the same greedy answer.
    let (progress, _progress_rx) = tokio::sync::mpsc::unbounded_channel();
    let request = LoadRequest {
        spec: ModelSpec::Dir(harness::fixture().to_path_buf()),
        device: DeviceChoice::Cpu,
        quantization: Quantization::None,
    };
    let prepared = load::prepare(&request, &HubEnv::default(), &progress)
        .await
        .expect("prepare");
    let engine = load::build_prepared(prepared, None, &progress).await.expect("build");
    let budget = engine
        .prefix_budget
        .as_ref()
        .expect("a CPU load has a prefix cache budget");
    assert_eq!(budget.limit(), 0, "GEMMA_TUI_PREFIX_CACHE_MB is read");
    let before = greedy_answer(&engine.model, "Hello there").await;
    let old = engine.model.inner().get_sender(None).expect("sender");
    empty_prefix_cache(&engine.model).await.expect("emptied");
    assert!(old.is_closed(), "the engine loop that held the cache has stopped");
    let new = engine.model.inner().get_sender(None).expect("sender");
    assert!(!new.is_closed() && !new.same_channel(&old), "a new loop takes requests");
    assert_eq!(greedy_answer(&engine.model, "Hello there").await, before);
    drop(engine);

    // Through the worker: a multi-turn chat whose every answer empties the cache still equals
    // transformers token for token, and each answer did empty it.
    let goldens = goldens::load();
    let mut engine = harness::load_fixture().await;
    let case = goldens.multi_turn_with_penalty();
    let emptied = "prefix cache over budget: emptying it";
    let first = engine.ask(None, case.messages[..1].to_vec(), greedy(1.05, 8)).await;
    assert_eq!(first.error, None);
    for round in 0..2 {
        let answer = engine.ask_case(case).await;
        harness::assert_golden(&answer, case, &format!("round {round}"));
    }
    assert_eq!(logs.count(emptied), 3, "one emptying per answer at a 0 MB budget");
}
