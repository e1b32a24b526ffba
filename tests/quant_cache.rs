//! Quantize once, through the real engine on the tiny Gemma 2: the first Q8_0 load quantizes and
//! writes the cache entry, the next one reads it (and answers token for token the same), and a
//! damaged or stale entry is rebuilt rather than loaded.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use gemma_tui::engine::{
    self, ChatMessage, DeviceChoice, EngineCommand, EngineEnv, EngineEvent, LoadedModel, ModelSpec, Quantization,
};
use support::harness::{self, greedy, next_event, Engine};

async fn load_q8(model: &Path, cache: &Path) -> Engine {
    let (handle, mut events) = engine::spawn(EngineEnv {
        hub: Default::default(),
        quant_cache: Some(cache.to_path_buf()),
    });
    handle.send(EngineCommand::Load {
        spec: ModelSpec::Dir(model.to_path_buf()),
        device: DeviceChoice::Cpu,
        quantization: Quantization::Q8_0,
    });
    let info: LoadedModel = loop {
        match next_event(&mut events).await {
            EngineEvent::Loaded(info) => break info,
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    };
    Engine::new(handle, events, info)
}

async fn answer(engine: &mut Engine) -> Vec<u32> {
    let answer = engine
        .ask(
            None,
            vec![ChatMessage::user("Tell me a joke about a cat.")],
            greedy(1.05, 16),
        )
        .await;
    assert_eq!(answer.error, None);
    answer.tokens.answer
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// mistral.rs's UQFF layer kinds (the byte after the format version).
const GGUF: u8 = 0;

/// The kind of the entry's first layer, Gemma 2's output layer.
fn output_layer_kind(uqff: &Path) -> u8 {
    let bytes = std::fs::read(uqff).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let start = header["0"]["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[8 + len + start + 4]
}

fn first_shard(entry: &Path) -> PathBuf {
    entry.join("weights-0.uqff")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_load_reads_the_quantized_weights_and_answers_the_same() {
    let cache = tempfile::tempdir().expect("cache dir");
    let model = harness::fixture_copy("quant-cache");

    let mut first = load_q8(&model, cache.path()).await;
    assert!(!first.info.from_cache, "nothing cached yet");
    assert_eq!(first.info.quantization.as_deref(), Some("Q8_0"));
    let quantized = answer(&mut first).await;
    drop(first);
    let written = entries(cache.path());
    assert_eq!(written.len(), 1, "one entry: {written:?}");
    assert!(first_shard(&written[0]).is_file());
    assert_eq!(
        output_layer_kind(&first_shard(&written[0])),
        GGUF,
        "the tied output layer is quantized too"
    );

    let mut second = load_q8(&model, cache.path()).await;
    assert!(second.info.from_cache, "read from the cache");
    assert_eq!(
        answer(&mut second).await,
        quantized,
        "the same weights, the same answer"
    );
    drop(second);

    // A damaged entry (a truncated shard) is not loaded wrongly: it is rebuilt.
    let shard = first_shard(&written[0]);
    let bytes = std::fs::read(&shard).expect("shard");
    std::fs::write(&shard, &bytes[..bytes.len() / 3]).expect("truncate");
    let mut third = load_q8(&model, cache.path()).await;
    assert!(!third.info.from_cache, "quantized again");
    assert_eq!(answer(&mut third).await, quantized);
    drop(third);
    assert_eq!(std::fs::read(&shard).expect("rewritten").len(), bytes.len());

    // New weights in the folder make the entry stale: another entry, quantized afresh.
    let weights = model.join("model.safetensors");
    let mut data = std::fs::read(&weights).expect("weights");
    let last = data.len() - 1;
    data[last] ^= 0x01;
    std::fs::write(&weights, data).expect("change the weights");
    let fourth = load_q8(&model, cache.path()).await;
    assert!(!fourth.info.from_cache, "stale entry not used");
    let now = entries(cache.path());
    assert_eq!(now.len(), 1, "the stale entry was removed: {now:?}");
    assert_ne!(now[0], written[0]);
}
