//! The engine worker through the real mistral.rs pipeline on the tiny Gemma 2: loading,
//! streaming, stopping, cancelling, Gemma 2's turn rules, the context budget, and every sampling
//! setting reaching the sampler.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use gemma_tui::engine::model_dir::ModelFamily;
use gemma_tui::engine::{ChatMessage, EngineCommand, EngineEvent, FinishReason, SamplingSettings};
use support::goldens;
use support::harness::{self, greedy, next_event};
use support::tiny_gemma;

fn user(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::user(text)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_reports_the_model_and_its_usable_context() {
    let engine = harness::load_fixture().await;
    assert_eq!(engine.info.family, ModelFamily::Gemma2);
    // max_position_embeddings is 512, but mistral.rs 0.8.1 slides every layer's cache.
    assert_eq!(engine.info.usable_context, tiny_gemma::SLIDING_WINDOW);
    assert_eq!(engine.info.device, "cpu");
    assert_eq!(engine.info.dtype, "f32");
    assert_eq!(engine.info.quantization, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stream_in_several_deltas_and_stop_at_end_of_turn() {
    let goldens = goldens::load();
    let case = goldens
        .cases
        .iter()
        .find(|c| c.finish == "stop")
        .expect("a stopping case");
    let mut engine = harness::load_fixture().await;
    let answer = engine.ask_case(case).await;
    assert_eq!(answer.reason, Some(FinishReason::Stop));
    assert!(answer.usage.completion_tokens < case.max_new_tokens as usize);
    assert!(!answer.tokens.answer.contains(&tiny_gemma::END_OF_TURN));
    if answer.usage.completion_tokens > 2 {
        assert!(answer.deltas.len() > 1, "text arrives as it is generated");
    }
    assert!(answer.usage.time_to_first_token.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_new_tokens_ends_the_answer_with_length() {
    let goldens = goldens::load();
    let long = goldens
        .cases
        .iter()
        .find(|c| c.finish == "length")
        .expect("a long case");
    let mut engine = harness::load_fixture().await;
    let answer = engine
        .ask(None, long.messages.clone(), greedy(long.repetition_penalty, 5))
        .await;
    assert_eq!(answer.reason, Some(FinishReason::Length));
    assert_eq!(answer.tokens.answer, long.output_ids[..5]);
    assert_eq!(answer.usage.completion_tokens, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_within_a_token_and_keeps_the_partial_text() {
    let mut engine = harness::load_fixture().await;
    let messages = user("Tell me a long story about the sea.");
    let sampling = SamplingSettings {
        repetition_penalty: 1.0,
        frequency_penalty: 0.5,
        ..greedy(1.0, 100)
    };
    let full = engine.ask(None, messages.clone(), sampling.clone()).await;

    let request = engine.request(None, messages, sampling);
    let gen_id = request.gen_id;
    engine.handle.send(EngineCommand::Chat(request));
    let mut partial = String::new();
    let mut seen = 0;
    let finished = loop {
        match next_event(&mut engine.events).await {
            EngineEvent::Token { delta, .. } => {
                partial.push_str(&delta);
                seen += 1;
                if seen == 3 {
                    engine.handle.send(EngineCommand::Cancel { gen_id });
                }
            }
            EngineEvent::Finished {
                reason, usage, tokens, ..
            } => break (reason, usage, tokens),
            _ => {}
        }
    };
    let (reason, usage, tokens) = finished;
    let tokens = tokens.expect("token ids");
    assert_eq!(reason, FinishReason::Cancelled);
    assert!(full.usage.completion_tokens > 20, "the uncancelled answer is long");
    assert!(
        usage.completion_tokens < full.usage.completion_tokens,
        "it stopped early"
    );
    assert!(
        usage.completion_tokens <= seen + 3,
        "within a token or so of the cancel"
    );
    assert!(full.text.starts_with(&partial), "the partial text is kept as streamed");
    assert_eq!(tokens.answer[..], full.tokens.answer[..tokens.answer.len()]);

    // The engine is ready for the next answer, and stale ids do not leak into it.
    let again = engine
        .ask(None, user("Tell me a long story about the sea."), greedy(1.05, 8))
        .await;
    assert_eq!(again.reason, Some(FinishReason::Length));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_prompt_is_folded_into_the_first_user_turn() {
    let mut engine = harness::load_fixture().await;
    // Gemma 2's template raises on a system role: an answer at all shows the fold happened.
    let with_system = engine
        .ask(Some("Answer briefly."), user("What is the sea?"), greedy(1.05, 12))
        .await;
    assert_eq!(with_system.error, None);
    let folded = engine
        .ask(None, user("Answer briefly.\n\nWhat is the sea?"), greedy(1.05, 12))
        .await;
    assert_eq!(with_system.tokens.prompt, folded.tokens.prompt);
    assert_eq!(with_system.tokens.answer, folded.tokens.answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_role_turns_are_merged() {
    let mut engine = harness::load_fixture().await;
    let split = vec![ChatMessage::user("Hello."), ChatMessage::user("How are you?")];
    let merged = user("Hello.\n\nHow are you?");
    let a = engine.ask(None, split, greedy(1.05, 6)).await;
    let b = engine.ask(None, merged, greedy(1.05, 6)).await;
    assert_eq!(a.error, None);
    assert_eq!(a.tokens.prompt, b.tokens.prompt);
}

fn long_conversation(pairs: usize) -> Vec<ChatMessage> {
    let mut messages = Vec::new();
    for i in 0..pairs {
        messages.push(ChatMessage::user(format!(
            "Question number {i} about the weather today?"
        )));
        messages.push(ChatMessage::model(format!("Answer number {i}: it is sunny and warm.")));
    }
    messages.push(ChatMessage::user("And tomorrow?"));
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_pairs_are_dropped_to_fit_the_usable_context() {
    let mut engine = harness::load_fixture().await;
    let usable = engine.info.usable_context;
    let messages = long_conversation(12);
    let answer = engine.ask(Some("Be kind."), messages.clone(), greedy(1.05, 16)).await;
    assert_eq!(answer.error, None);
    let dropped = answer.dropped_turns.expect("prompt ready");
    assert!(dropped > 0 && dropped % 2 == 0, "whole pairs dropped: {dropped}");
    let prompt_tokens = answer.prompt_tokens.expect("prompt ready");
    assert!(prompt_tokens + 16 <= usable);
    assert_eq!(
        answer.tokens.prompt.len(),
        prompt_tokens,
        "the count is what the model was fed"
    );
    assert_eq!(answer.usage.dropped_turns, dropped);

    // Exactly the same as asking with the kept turns: system text survives, newest turn too.
    let kept = messages[dropped..].to_vec();
    let direct = engine.ask(Some("Be kind."), kept, greedy(1.05, 16)).await;
    assert_eq!(direct.dropped_turns, Some(0));
    assert_eq!(direct.tokens.prompt, answer.tokens.prompt);
    assert_eq!(direct.tokens.answer, answer.tokens.answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_that_cannot_fit_is_refused_with_numbers() {
    let mut engine = harness::load_fixture().await;
    let answer = engine.ask(None, user(&"word ".repeat(200)), greedy(1.05, 16)).await;
    let error = answer.error.expect("refused");
    assert!(error.contains("tokens but only"), "{error}");
    assert!(error.contains("lower max-tokens"), "{error}");
    assert_eq!(answer.reason, Some(FinishReason::Error));
    assert_eq!(answer.usage.completion_tokens, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sampling_is_refused_naming_the_field() {
    let mut engine = harness::load_fixture().await;
    let bad = SamplingSettings {
        temperature: f64::NAN,
        ..Default::default()
    };
    let answer = engine.ask(None, user("hi"), bad).await;
    assert!(answer.error.expect("refused").contains("temperature"));
}

/// Each setting must reach the sampler: compared with plain greedy it changes the answer where
/// it should, and reproduces greedy where its definition says it must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sampling_setting_reaches_the_sampler() {
    let goldens = goldens::load();
    let mut engine = harness::load_fixture().await;
    let messages = user("Tell me about the sea and the sky.");
    let base = greedy(1.0, 24);
    let plain = engine.ask(None, messages.clone(), base.clone()).await.tokens.answer;
    let mut run = async |s: SamplingSettings| engine.ask(None, messages.clone(), s).await.tokens.answer;

    // Penalties change the greedy answer.
    let rep_case = goldens
        .cases
        .iter()
        .find(|c| c.repetition_penalty == 1.0)
        .expect("a rp=1.0 case");
    let rep_twin = goldens
        .cases
        .iter()
        .find(|c| c.messages == rep_case.messages && c.repetition_penalty != 1.0)
        .expect("the same prompt with rp=1.05");
    assert_ne!(
        rep_case.output_ids, rep_twin.output_ids,
        "the goldens show repetition penalty matters"
    );
    assert_ne!(
        run(SamplingSettings {
            frequency_penalty: 2.0,
            ..base.clone()
        })
        .await,
        plain,
        "frequency"
    );
    assert_ne!(
        run(SamplingSettings {
            presence_penalty: 2.0,
            ..base.clone()
        })
        .await,
        plain,
        "presence"
    );

    // Filters that leave a single candidate reproduce greedy even at temperature 1.
    let t1 = SamplingSettings {
        temperature: 1.0,
        ..base.clone()
    };
    assert_eq!(
        run(SamplingSettings {
            top_k: Some(1),
            ..t1.clone()
        })
        .await,
        plain,
        "top_k = 1"
    );
    assert_eq!(
        run(SamplingSettings {
            top_p: 1e-6,
            ..t1.clone()
        })
        .await,
        plain,
        "tiny top_p"
    );
    assert_eq!(
        run(SamplingSettings {
            min_p: 0.999,
            ..t1.clone()
        })
        .await,
        plain,
        "min_p near 1"
    );

    // Temperature really samples: at 5 the flattened distribution leaves the greedy path.
    let hot = run(SamplingSettings {
        temperature: 5.0,
        ..base.clone()
    })
    .await;
    assert_ne!(hot, plain, "temperature");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unload_frees_the_model_and_a_reload_works() {
    let mut engine = harness::load_fixture().await;
    engine.handle.send(EngineCommand::Unload);
    loop {
        if next_event(&mut engine.events).await == EngineEvent::Unloaded {
            break;
        }
    }
    let answer = engine.ask(None, user("hi"), greedy(1.05, 4)).await;
    assert!(answer.error.expect("no model").contains("no model is loaded"));

    engine
        .handle
        .send(harness::load_on_cpu(harness::fixture().to_path_buf()));
    loop {
        match next_event(&mut engine.events).await {
            EngineEvent::Loaded(_) => break,
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    let answer = engine.ask(None, user("hi"), greedy(1.05, 4)).await;
    assert_eq!(answer.reason, Some(FinishReason::Length));
}
