//! The stream reader's fuzz targets (see `docs/reliability.md`): any bytes, and the recorded
//! answers of `tests/fixtures/sse` damaged and split anywhere, always read to exactly one end
//! (a finish or an error) and then `None`; and where the bytes are split never changes what is
//! read.

use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::{Reader, TransportError};
use crate::engine::remote::RemoteChunk;

const RECORDINGS: &[&str] = &[
    include_str!("../../../../tests/fixtures/sse/mistralrs.sse"),
    include_str!("../../../../tests/fixtures/sse/vllm.sse"),
    include_str!("../../../../tests/fixtures/sse/llamacpp.sse"),
    include_str!("../../../../tests/fixtures/sse/multiline.sse"),
    include_str!("../../../../tests/fixtures/sse/mistralrs_error.sse"),
];

/// What the reader made of a stream, in a form that compares.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Chunk(RemoteChunk),
    Failed(String),
}

impl Item {
    fn is_end(&self) -> bool {
        !matches!(self, Item::Chunk(RemoteChunk::Delta(_)))
    }
}

/// Reads `pieces` (then `error`, if any) to the end on a runtime of its own, whose clock
/// stands still unless everything waits, so no deadline passes while a case runs. Fails the
/// case if the reader does not end, or does not stay ended.
fn read(pieces: Vec<Vec<u8>>, error: Option<TransportError>) -> Result<Vec<Item>, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    // Each item but the end takes at least one byte.
    let most = pieces.iter().map(Vec::len).sum::<usize>() + 1;
    let bytes = futures::stream::iter(pieces.into_iter().map(Ok).chain(error.map(Err)));
    runtime.block_on(async move {
        let limit = Duration::from_secs(5);
        let mut reader = Reader::from_bytes("box".into(), bytes, Instant::now() + limit, limit);
        let mut items = Vec::new();
        while let Some(item) = reader.next().await {
            items.push(match item {
                Ok(chunk) => Item::Chunk(chunk),
                Err(e) => Item::Failed(e.to_string()),
            });
            prop_assert!(items.len() <= most, "no end after {} items: {:?}", items.len(), items);
        }
        prop_assert!(reader.next().await.is_none(), "came back after its end");
        let ends = items.iter().filter(|i| i.is_end()).count();
        prop_assert_eq!(ends, 1, "not exactly one end: {:?}", items);
        prop_assert!(
            items.last().is_some_and(Item::is_end),
            "the end is not last: {:?}",
            items
        );
        Ok(items)
    })
}

/// `bytes` cut at `cuts` (taken modulo its length) into pieces, empty ones included.
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.extend([0, bytes.len()]);
    points.sort_unstable();
    points.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

/// A recording with LF, CRLF or CR line endings.
fn recording() -> impl Strategy<Value = Vec<u8>> {
    let ending = prop::sample::select(vec!["\n", "\r\n", "\r"]);
    (prop::sample::select(RECORDINGS), ending).prop_map(|(text, end)| text.replace('\n', end).into_bytes())
}

/// A recording with a few bytes replaced, dropped or added.
fn damaged_recording() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<usize>(), 0..3u8, prop_oneof![9 => sse_byte(), 1 => byte()]);
    (recording(), prop::collection::vec(edit, 1..6)).prop_map(|(mut bytes, edits)| {
        for (at, kind, b) in edits {
            let at = at % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = b,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b),
            }
        }
        bytes
    })
}

/// Bytes that matter to SSE and JSON.
fn sse_byte() -> impl Strategy<Value = u8> {
    prop::sample::select(b"\n\r:{}[]\",0 dDaAtT".to_vec())
}

/// Those, bytes that break UTF-8, or any byte.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => sse_byte(),
        1 => prop::sample::select(vec![0x00, 0x80, 0xbf, 0xc0, 0xe2, 0xed, 0xf0, 0xf4, 0xff]),
        1 => any::<u8>(),
    ]
}

/// Pieces of the protocol in any order: fields, events, JSON chunks, broken UTF-8.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        60 => prop::sample::select(vec![
            "data: ", "data:", "\n", "\n\n", "\r\n", "\r", ": ping\n", "event: error\n", "event: message\n",
            "id: 7\n", "retry: 10\n", "[DONE]", "{\"choices\":[{\"delta\":{\"content\":\"", "\"}}]}",
            "{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}", "{\"choices\":[{\"delta\":{\"content\":\"",
            "{\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", "{\"error\":{\"message\":\"x\"}}",
            "{\"error\":null}", "{}", "안녕", "\u{feff}", "data: \u{0}\n", "null", "{\"choices\":7}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        4 => prop::collection::vec(byte(), 1..8),
        1 => prop::sample::select(vec![vec![0xe2, 0x82], vec![0xff], vec![0xed, 0xa0, 0x80], vec![0xf0, 0x9f]]),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Any bytes a server, a proxy or a broken connection could send.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => soup(),
        4 => damaged_recording(),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..16)
}

proptest! {
    #![proptest_config(crate::fuzzing::config(256))]

    #[test]
    fn fuzz_recordings_split_anywhere_read_the_same(bytes in recording(), cuts in cuts()) {
        let whole = read(vec![bytes.clone()], None)?;
        prop_assert_eq!(read(split(&bytes, &cuts), None)?, whole);
    }

    #[test]
    fn fuzz_any_bytes_end_once_and_split_anywhere_read_the_same(bytes in stream_bytes(), cuts in cuts()) {
        let whole = read(vec![bytes.clone()], None)?;
        prop_assert_eq!(read(split(&bytes, &cuts), None)?, whole);
    }

    #[test]
    fn fuzz_a_broken_connection_anywhere_ends_the_answer(bytes in stream_bytes(), cut in any::<usize>()) {
        let whole = read(vec![bytes.clone()], None)?;
        let cut = cut % (bytes.len() + 1);
        let broken = read(vec![bytes[..cut].to_vec()], Some("connection reset".into()))?;
        // What came before the break was read as it is read whole.
        let before = &broken[..broken.len() - 1];
        prop_assert_eq!(before, &whole[..before.len().min(whole.len())]);
    }
}

/// Found by `fuzz_any_bytes_end_once_and_split_anywhere_read_the_same`: a stream that began
/// with a byte-order mark panicked inside eventsource-stream.
#[test]
fn a_leading_byte_order_mark_is_skipped_however_it_arrives() {
    let answer = RECORDINGS[0].as_bytes();
    let plain = read(vec![answer.to_vec()], None).expect("read");
    let marked = [b"\xEF\xBB\xBF", answer].concat();
    for at in 0..=4 {
        let pieces = vec![marked[..at].to_vec(), marked[at..].to_vec()];
        assert_eq!(read(pieces, None).expect("read"), plain, "split at {at}");
    }
    let alone = read(vec![b"\xEF\xBB\xBF".to_vec()], None).expect("read");
    assert!(
        matches!(&alone[..], [Item::Failed(m)] if m.contains("closed")),
        "{alone:?}"
    );
    // Only one mark is the stream's; a second starts the first line, which then means nothing.
    let twice = read(vec![[b"\xEF\xBB\xBF", &marked[..]].concat()], None).expect("read");
    assert_eq!(twice, plain[1..]);
}
