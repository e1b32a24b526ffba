//! Switching models at run time through the real engine worker on two tiny Gemma 2s that differ
//! only in their seeded weights: after a switch the next greedy answer is the second model's
//! (equal to what a fresh worker on it answers), the first model was freed first, and a switch
//! to a folder that is not a model is refused while the first model keeps answering.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use gemma_tui::engine::{ChatMessage, EngineEvent, FinishReason};
use support::harness::{self, greedy, next_event, Engine};
use support::tiny_gemma::{self, Recipe, RECIPE};

/// The tiny model with other weights (seed 2): same tokenizer, template and shapes.
fn second_model() -> PathBuf {
    let dir = harness::fixture_copy("seed2");
    let recipe = Recipe {
        seed: 2,
        ..RECIPE.clone()
    };
    tiny_gemma::write_with_recipe(&dir, &recipe).expect("write the second model");
    dir
}

fn question() -> Vec<ChatMessage> {
    vec![ChatMessage::user("Tell me about the sea.")]
}

async fn answer_ids(engine: &mut Engine) -> Vec<u32> {
    let answer = engine.ask(None, question(), greedy(1.05, 12)).await;
    assert_eq!(answer.error, None);
    assert!(matches!(answer.reason, Some(FinishReason::Stop | FinishReason::Length)));
    answer.tokens.answer
}

/// Sends a load and returns the events up to its `Loaded` or its error.
async fn switch(engine: &mut Engine, dir: PathBuf) -> Vec<EngineEvent> {
    engine.handle.send(harness::load_on_cpu(dir));
    let mut seen = Vec::new();
    loop {
        let event = next_event(&mut engine.events).await;
        let done = matches!(event, EngineEvent::Loaded(_));
        let failed = matches!(event, EngineEvent::Error { gen_id: None, .. });
        seen.push(event);
        if done {
            return seen;
        }
        if failed {
            // A refused load announces the model that stays, right after its error.
            seen.push(next_event(&mut engine.events).await);
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_answer_after_a_switch_is_the_new_models() {
    let second = second_model();
    let mut alone = harness::try_load(&second).await.expect("second model loads");
    let second_alone = answer_ids(&mut alone).await;
    drop(alone);

    let mut engine = harness::load_fixture().await;
    let first_answer = answer_ids(&mut engine).await;
    assert_ne!(first_answer, second_alone, "the two seeds answer differently");

    let events = switch(&mut engine, second.clone()).await;
    let unloaded = events.iter().position(|e| *e == EngineEvent::Unloaded);
    let loaded = events.iter().position(|e| matches!(e, EngineEvent::Loaded(_)));
    assert!(
        matches!((unloaded, loaded), (Some(u), Some(l)) if u < l),
        "the first model is freed before the second is built: {events:?}"
    );
    assert_eq!(answer_ids(&mut engine).await, second_alone, "the second model answers");

    // Back again: the first model's answer comes back exactly.
    switch(&mut engine, harness::fixture().to_path_buf()).await;
    assert_eq!(answer_ids(&mut engine).await, first_answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_to_a_broken_folder_keeps_the_first_model_answering() {
    let mut engine = harness::load_fixture().await;
    let before = answer_ids(&mut engine).await;
    let broken = harness::fixture_copy("no-tokenizer");
    std::fs::remove_file(broken.join("tokenizer.json")).expect("remove");
    let events = switch(&mut engine, broken).await;
    assert!(
        !events.contains(&EngineEvent::Unloaded),
        "nothing was unloaded: {events:?}"
    );
    let error = events.iter().find_map(|e| match e {
        EngineEvent::Error { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert!(
        error.as_deref().is_some_and(|m| m.contains("tokenizer.json")),
        "{error:?}"
    );
    assert!(
        matches!(events.last(), Some(EngineEvent::Loaded(info)) if info.dir.as_deref() == Some(harness::fixture()))
    );
    assert_eq!(answer_ids(&mut engine).await, before, "the first model still answers");
}
