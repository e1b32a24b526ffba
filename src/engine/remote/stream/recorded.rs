//! The stream reader on recorded answers of mistral.rs, vLLM and llama.cpp (see
//! `tests/fixtures/sse/README.md`): whole, split at every byte, one byte at a time, with LF and
//! CRLF line endings, and cut short at every byte.

use std::time::Duration;

use tokio::time::Instant;

use super::Reader;
use crate::engine::remote::{RemoteChunk, RemoteError, RemoteUsage};
use crate::engine::FinishReason;

const MISTRALRS: &str = include_str!("../../../../tests/fixtures/sse/mistralrs.sse");
const VLLM: &str = include_str!("../../../../tests/fixtures/sse/vllm.sse");
const LLAMACPP: &str = include_str!("../../../../tests/fixtures/sse/llamacpp.sse");
const MULTILINE: &str = include_str!("../../../../tests/fixtures/sse/multiline.sse");
const MISTRALRS_ERROR: &str = include_str!("../../../../tests/fixtures/sse/mistralrs_error.sse");

const ANSWER: &str = "안녕하세요! Hi.";
const USAGE: Option<RemoteUsage> = Some(RemoteUsage {
    prompt_tokens: 17,
    completion_tokens: 4,
});

/// What the reader made of one stream: its items in words, so that runs compare whole.
#[derive(Debug, PartialEq)]
enum Item {
    Delta(String),
    Finished(FinishReason, Option<RemoteUsage>),
    Failed(String),
}

async fn read(pieces: Vec<Vec<u8>>) -> Vec<Item> {
    let bytes = futures::stream::iter(pieces.into_iter().map(Ok::<_, String>));
    let limit = Duration::from_secs(5);
    let mut reader = Reader::from_bytes("box".into(), bytes, Instant::now() + limit, limit);
    let mut items = Vec::new();
    while let Some(item) = reader.next().await {
        items.push(match item {
            Ok(RemoteChunk::Delta(text)) => Item::Delta(text),
            Ok(RemoteChunk::Finished { reason, usage }) => Item::Finished(reason, usage),
            Err(e) => Item::Failed(e.to_string()),
        });
    }
    items
}

fn text_of(items: &[Item]) -> String {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// The recording with LF and with CRLF line endings.
fn endings(recording: &str) -> [Vec<u8>; 2] {
    [
        recording.as_bytes().to_vec(),
        recording.replace('\n', "\r\n").into_bytes(),
    ]
}

/// Reads `recording` whole, then split in two at every byte, then a byte at a time: every
/// reading gives the same items. Returns them.
async fn read_every_way(recording: &str) -> Vec<Item> {
    let mut seen = None;
    for bytes in endings(recording) {
        let whole = read(vec![bytes.clone()]).await;
        for at in 0..=bytes.len() {
            let split = read(vec![bytes[..at].to_vec(), bytes[at..].to_vec()]).await;
            assert_eq!(split, whole, "split at byte {at}");
        }
        let trickle = read(bytes.iter().map(|b| vec![*b]).collect()).await;
        assert_eq!(trickle, whole, "one byte at a time");
        if let Some(seen) = &seen {
            assert_eq!(&whole, seen, "CRLF reads as LF");
        }
        seen = Some(whole);
    }
    seen.unwrap_or_default()
}

#[tokio::test]
async fn mistral_rs_answer() {
    let items = read_every_way(MISTRALRS).await;
    assert_eq!(text_of(&items), ANSWER);
    assert_eq!(items.last(), Some(&Item::Finished(FinishReason::Stop, USAGE)));
    // An empty closing delta is no delta.
    assert_eq!(items.len(), 4);
}

#[tokio::test]
async fn vllm_answer_with_usage_after_the_finish() {
    let items = read_every_way(VLLM).await;
    assert_eq!(text_of(&items), ANSWER);
    assert_eq!(items.last(), Some(&Item::Finished(FinishReason::Stop, USAGE)));
    assert_eq!(items.len(), 4);
}

#[tokio::test]
async fn llama_cpp_answer() {
    let items = read_every_way(LLAMACPP).await;
    assert_eq!(text_of(&items), ANSWER);
    assert_eq!(items.last(), Some(&Item::Finished(FinishReason::Stop, USAGE)));
}

#[tokio::test]
async fn multi_line_data_fields_and_comments() {
    let items = read_every_way(MULTILINE).await;
    assert_eq!(
        items,
        vec![
            Item::Delta("안녕하세요!".into()),
            Item::Delta(" Hi.".into()),
            Item::Finished(FinishReason::Length, USAGE),
        ]
    );
}

#[tokio::test]
async fn mistral_rs_plain_text_error_keeps_the_partial_answer() {
    let items = read_every_way(MISTRALRS_ERROR).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], Item::Delta("안녕".into()));
    let Item::Failed(message) = &items[1] else {
        panic!("{items:?}")
    };
    assert!(message.starts_with("box: the server failed mid-answer"), "{message}");
    assert!(message.contains("Cannot find tensor model.norm.weight"), "{message}");
}

/// A connection cut at any byte gives a prefix of the answer and then either its end (when
/// the finish had arrived) or a disconnect: never a hang, a panic or a made-up finish.
#[tokio::test]
async fn a_stream_cut_at_any_byte_ends_in_a_finish_or_a_disconnect() {
    for recording in [MISTRALRS, VLLM, LLAMACPP] {
        let bytes = recording.as_bytes();
        let finish_at = recording.find("\"finish_reason\":\"stop\"").unwrap_or(bytes.len());
        for cut in 0..bytes.len() {
            let items = read(vec![bytes[..cut].to_vec()]).await;
            assert!(ANSWER.starts_with(&text_of(&items)), "cut at {cut}: {items:?}");
            match items.last() {
                Some(Item::Finished(..)) => assert!(cut > finish_at, "cut at {cut} before the finish: {items:?}"),
                Some(Item::Failed(m)) => assert!(m.contains("closed mid-answer"), "{m}"),
                other => panic!("cut at {cut}: the answer did not end: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_transport_error_mid_answer_is_a_disconnect_with_the_partial_text() {
    let first = MISTRALRS.split("\n\n").next().unwrap_or_default().to_string() + "\n\n";
    let bytes = futures::stream::iter([Ok(first.into_bytes()), Err("connection reset by peer".to_string())]);
    let limit = Duration::from_secs(5);
    let mut reader = Reader::from_bytes("box".into(), bytes, Instant::now() + limit, limit);
    assert!(matches!(reader.next().await, Some(Ok(RemoteChunk::Delta(t))) if t == "안녕"));
    match reader.next().await {
        Some(Err(e @ RemoteError::Disconnected { .. })) => {
            assert!(e.to_string().contains("connection reset by peer"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(reader.next().await.is_none());
}
