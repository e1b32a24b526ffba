//! Chatting through a mistral.rs server against the local backend, side by side in one run on
//! the same tiny Gemma 2: the server is `mistralrs-server-core` 0.8.1 on 127.0.0.1 in this
//! process (its own runtime), the local backend is the app's. Rounds alternate so machine noise
//! hits both alike; medians are printed for the time to first token, the decode rate and the
//! whole answer (command sent to `Finished`, as the chat screen waits for it), with the
//! remote/local ratio. What the server path adds is HTTP, JSON and SSE per token.
//!
//! Run: `cargo bench --bench remote_vs_local` (`GEMMA_BENCH_REMOTE_ROUNDS`, default 15).

// A bench: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tiny_gemma.rs"]
mod tiny_gemma;

#[allow(dead_code)]
#[path = "../tests/support/mistral_server.rs"]
mod mistral_server;

use std::time::Instant;

use gemma_tui::engine::remote::RemoteConfig;
use gemma_tui::engine::{
    self, ChatMessage, ChatRequest, DeviceChoice, EngineCommand, EngineEnv, EngineEvent, EngineHandle, ModelSpec,
    Place, Quantization, SamplingSettings,
};
use tokio::sync::mpsc::UnboundedReceiver;

const NEW_TOKENS: u32 = 64;

struct Side {
    handle: EngineHandle,
    events: UnboundedReceiver<EngineEvent>,
    ttft_ms: Vec<f64>,
    decode: Vec<f64>,
    whole_ms: Vec<f64>,
    tokens: Vec<usize>,
}

impl Side {
    async fn start(place: Place, spec: ModelSpec) -> Side {
        let (handle, mut events) = engine::start(EngineEnv::default(), place);
        handle.send(EngineCommand::Load {
            spec,
            device: DeviceChoice::Cpu,
            quantization: Quantization::None,
        });
        loop {
            match events.recv().await.expect("engine") {
                EngineEvent::Loaded(_) => break,
                EngineEvent::Error { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
        Side {
            handle,
            events,
            ttft_ms: Vec::new(),
            decode: Vec::new(),
            whole_ms: Vec::new(),
            tokens: Vec::new(),
        }
    }

    async fn answer(&mut self, gen_id: u64) {
        let sampling = SamplingSettings {
            repetition_penalty: 1.0,
            max_new_tokens: NEW_TOKENS,
            ..Default::default()
        };
        let started = Instant::now();
        self.handle.send(EngineCommand::Chat(ChatRequest {
            gen_id,
            system: None,
            messages: vec![ChatMessage::user("More")],
            sampling,
        }));
        loop {
            match self.events.recv().await.expect("engine") {
                EngineEvent::Finished { usage, .. } => {
                    self.whole_ms.push(started.elapsed().as_secs_f64() * 1e3);
                    self.ttft_ms
                        .push(usage.time_to_first_token.unwrap_or_default().as_secs_f64() * 1e3);
                    self.decode.push(usage.decode_tokens_per_second.unwrap_or_default());
                    self.tokens.push(usage.completion_tokens);
                    return;
                }
                EngineEvent::Error { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("GEMMA_BENCH_REMOTE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let dir = std::env::temp_dir().join(format!("gemma-tui-remote-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    tiny_gemma::write_tiny_gemma2(&dir).unwrap();
    let nodelay = std::env::var("GEMMA_BENCH_NODELAY").is_ok_and(|v| v == "1");
    let options = mistral_server::Options {
        nodelay,
        ..Default::default()
    };
    let server = mistral_server::MistralServer::start(&dir, options).await;

    let mut local = Side::start(Place::Here, ModelSpec::Dir(dir.clone())).await;
    let mut remote = Side::start(
        Place::Server(RemoteConfig::new("bench", server.url.clone())),
        ModelSpec::Served(None),
    )
    .await;
    // One warm-up answer each, not counted.
    local.answer(0).await;
    remote.answer(0).await;
    for side in [&mut local, &mut remote] {
        side.ttft_ms.clear();
        side.decode.clear();
        side.whole_ms.clear();
        side.tokens.clear();
    }
    for round in 1..=rounds as u64 {
        local.answer(round).await;
        remote.answer(round).await;
    }
    println!(
        "tiny Gemma 2 on this CPU, {rounds} rounds, up to {NEW_TOKENS} new tokens, greedy; server TCP_NODELAY {}; medians",
        if nodelay { "on" } else { "off (axum's default)" }
    );
    println!(
        "{:<28} {:>10} {:>12} {:>12} {:>8}",
        "", "TTFT ms", "decode tok/s", "answer ms", "tokens"
    );
    for (name, side) in [
        ("local (mistral.rs here)", &local),
        ("remote (mistral.rs server)", &remote),
    ] {
        println!(
            "{name:<28} {:>10.2} {:>12.0} {:>12.2} {:>8.0}",
            median(&side.ttft_ms),
            median(&side.decode),
            median(&side.whole_ms),
            median(&side.tokens.iter().map(|t| *t as f64).collect::<Vec<_>>())
        );
    }
    println!(
        "remote / local: TTFT {:.2}x, decode rate {:.2}x, whole answer {:.2}x",
        median(&remote.ttft_ms) / median(&local.ttft_ms),
        median(&remote.decode) / median(&local.decode),
        median(&remote.whole_ms) / median(&local.whole_ms)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(0);
}
