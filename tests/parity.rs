//! Reference parity: the engine's greedy tokens and streamed text equal what Hugging Face
//! transformers produced with the user's recipe on the same tiny Gemma 2 (tests/reference/).

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use gemma_tui::engine::detok::StreamDecoder;
use support::goldens::{self, GoldenCase};
use support::harness::{self, greedy};
use support::tiny_gemma;

#[test]
fn the_fixture_is_the_one_the_goldens_were_made_from() {
    let goldens = goldens::load();
    let fingerprint = tiny_gemma::fingerprint(harness::fixture()).expect("fingerprint");
    assert_eq!(
        fingerprint, goldens.fingerprint,
        "the generated fixture changed: regenerate tests/reference/goldens.json (see tests/reference/README.md)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_tokens_and_text_equal_transformers() {
    let goldens = goldens::load();
    let mut engine = harness::load_fixture().await;
    assert!(goldens.cases.len() >= 6);
    for case in &goldens.cases {
        assert!(
            case.prompt_ids.len() + case.max_new_tokens as usize <= engine.info.usable_context,
            "{}",
            case.name
        );
        let answer = engine.ask_case(case).await;
        assert_eq!(answer.error, None, "{}", case.name);
        harness::assert_golden(&answer, case, &case.name);
        assert_eq!(
            answer.usage.completion_tokens,
            answer.tokens.answer.len(),
            "{}",
            case.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_bos_reaches_the_model() {
    let goldens = goldens::load();
    let mut engine = harness::load_fixture().await;
    let case = &goldens.cases[0];
    let answer = engine.ask(None, case.messages.clone(), greedy(1.05, 2)).await;
    let bos = tiny_gemma::BOS;
    assert_eq!(answer.tokens.prompt.first(), Some(&bos));
    assert_eq!(answer.tokens.prompt.iter().filter(|&&t| t == bos).count(), 1);
}

#[test]
fn the_goldens_cover_what_the_tests_rely_on() {
    let goldens = goldens::load();
    let has = |f: &dyn Fn(&GoldenCase) -> bool| goldens.cases.iter().any(f);
    assert!(has(&|c| c.finish == "stop"), "a case that ends on <end_of_turn>");
    assert!(has(&|c| c.finish == "length"), "a case that hits max_new_tokens");
    assert!(
        has(&|c| c.messages.iter().any(|m| m.text == "안녕하세요")),
        "the Korean greeting"
    );
    assert!(has(&|c| c.messages.len() >= 3), "a multi-turn case");
}

#[test]
fn incremental_decoding_equals_transformers_decode() {
    let goldens = goldens::load();
    let tokenizer =
        Arc::new(tokenizers::Tokenizer::from_file(harness::fixture().join("tokenizer.json")).expect("tokenizer"));
    let answers = goldens.cases.iter().map(|c| (c.output_ids.clone(), c.text.clone()));
    let decode_cases = goldens.decode_cases.iter().map(|c| (c.ids.clone(), c.text.clone()));
    let all: Vec<_> = answers.chain(decode_cases).collect();
    assert!(all.len() > goldens.cases.len(), "decode cases are present");
    for (ids, text) in all {
        let mut decoder = StreamDecoder::new(tokenizer.clone());
        let mut streamed = String::new();
        for &id in &ids {
            if let Some(delta) = decoder.push(id).expect("decode") {
                assert!(
                    !delta.contains('\u{FFFD}') || text.contains('\u{FFFD}'),
                    "no half characters mid-stream"
                );
                streamed.push_str(&delta);
            }
        }
        streamed.push_str(&decoder.finish().expect("finish"));
        assert_eq!(streamed, text, "ids {ids:?}");
    }
}
