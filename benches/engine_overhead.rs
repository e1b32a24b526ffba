//! What the engine worker costs on top of mistral.rs: decode tokens/s through the worker
//! (observer, own detokenizer, event channel) vs. streaming from mistral.rs directly, same tiny
//! Gemma 2, same prompt and greedy settings, interleaved in one run so machine noise hits both.
//!
//! Run: `cargo bench --bench engine_overhead` (prints medians and the worker/direct ratio).

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tiny_gemma.rs"]
mod tiny_gemma;

#[path = "support/decode_rate.rs"]
mod decode_rate;

use decode_rate::{median, rate, sampling, NEW_TOKENS, PROMPT};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gemma_tui::engine::source::HubEnv;
use gemma_tui::engine::{
    self, ChatMessage, ChatRequest, DeviceChoice, EngineCommand, EngineEvent, ModelSpec, Quantization,
};
use mistralrs::{
    Device, ModelBuilder, ModelDType, RequestBuilder, Response, TextMessageRole, TextMessages, TokenSource,
};

const ROUNDS: usize = 12;

async fn direct_model(dir: &Path) -> mistralrs::Model {
    // The same single-<bos> template the worker hands to mistral.rs.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer_config.json")).unwrap()).unwrap();
    let template = config["chat_template"]
        .as_str()
        .unwrap()
        .replacen("{{ bos_token }}", "", 1);
    let jinja = dir.join("bench-template.jinja");
    std::fs::write(&jinja, template).unwrap();
    ModelBuilder::new(dir.to_string_lossy())
        .with_token_source(TokenSource::None)
        .with_dtype(ModelDType::F32)
        .with_device(Device::Cpu)
        .with_max_num_seqs(1)
        .with_jinja_explicit(jinja.to_string_lossy().into_owned())
        .build()
        .await
        .unwrap()
}

async fn direct_run(model: &mistralrs::Model, stop_ids: &[u32]) -> (usize, f64) {
    let messages = TextMessages::new().add_message(TextMessageRole::User, PROMPT);
    let mut params = sampling().to_mistralrs(stop_ids.to_vec());
    params.max_len = Some(NEW_TOKENS as usize);
    let mut stream = model
        .stream_chat_request(RequestBuilder::from(messages).set_sampling(params))
        .await
        .unwrap();
    let mut first = None;
    let mut tokens = 0;
    while let Some(response) = stream.next().await {
        if let Response::Chunk(chunk) = response {
            first.get_or_insert_with(Instant::now);
            if let Some(usage) = chunk.usage {
                tokens = usage.completion_tokens;
            }
            if chunk.choices.first().is_some_and(|c| c.finish_reason.is_some()) {
                break;
            }
        }
    }
    (tokens, rate(tokens, first.unwrap(), Instant::now()))
}

async fn worker_run(
    handle: &engine::EngineHandle,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    gen_id: u64,
) -> (usize, f64) {
    handle.send(EngineCommand::Chat(ChatRequest {
        gen_id,
        system: None,
        messages: vec![ChatMessage::user(PROMPT)],
        sampling: sampling(),
    }));
    let mut first = None;
    loop {
        match events.recv().await.unwrap() {
            EngineEvent::Token { .. } => {
                first.get_or_insert_with(Instant::now);
            }
            EngineEvent::Finished { usage, .. } => {
                return (
                    usage.completion_tokens,
                    rate(usage.completion_tokens, first.unwrap(), Instant::now()),
                )
            }
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("gemma-tui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    tiny_gemma::write_tiny_gemma2(&dir).unwrap();

    let tokenizer = Arc::new(tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap());
    let stop_ids: Vec<u32> = ["<end_of_turn>", "<eos>"]
        .iter()
        .filter_map(|t| tokenizer.token_to_id(t))
        .collect();
    let direct = direct_model(&dir).await;
    let (handle, mut events) = engine::spawn(HubEnv::default());
    handle.send(EngineCommand::Load {
        spec: ModelSpec::Dir(dir.clone()),
        device: DeviceChoice::Cpu,
        quantization: Quantization::None,
    });
    loop {
        match events.recv().await.unwrap() {
            EngineEvent::Loaded(_) => break,
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }

    let (mut direct_rates, mut worker_rates) = (Vec::new(), Vec::new());
    let mut token_counts = (0, 0);
    for round in 0..ROUNDS + 2 {
        let (dn, dr) = direct_run(&direct, &stop_ids).await;
        let (wn, wr) = worker_run(&handle, &mut events, round as u64 + 1).await;
        if round >= 2 {
            // the first two rounds warm caches and allocators
            direct_rates.push(dr);
            worker_rates.push(wr);
            token_counts = (dn, wn);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (d, w) = (median(direct_rates), median(worker_rates));
    println!(
        "tokens per answer: direct {} / worker {}",
        token_counts.0, token_counts.1
    );
    println!("decode tokens/s, median of {ROUNDS} interleaved rounds: direct {d:.1}, worker {w:.1}");
    println!("worker / direct = {:.3}", w / d);
    let _ = std::fs::remove_dir_all(&dir);
}
