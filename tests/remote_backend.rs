//! The remote backend behind the real worker, against a small OpenAI-compatible server on
//! 127.0.0.1 written here (canned HTTP/1.1 replies; the client under test is reqwest): loading
//! connects and names where the model runs, an answer streams with its count marked exact or
//! not, and a cancel ends the answer at once and closes the connection.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gemma_tui::engine::remote::RemoteConfig;
use gemma_tui::engine::remote_backend::RemoteBackend;
use gemma_tui::engine::{
    spawn_backend, ChatMessage, ChatRequest, DeviceChoice, EngineCommand, EngineEvent, FinishReason, ModelSpec,
    Quantization, SamplingSettings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

const LIMIT: Duration = Duration::from_secs(10);

/// Reads one request; returns its path.
async fn read_path(socket: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    head.split_whitespace().nth(1).map(String::from)
}

async fn reply(socket: &mut TcpStream, ctype: &str, body: &str) {
    let text = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(text.as_bytes()).await;
}

fn chunk(delta: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{delta}\"}},\"finish_reason\":null}}]}}\n\n")
}

/// A vLLM-like server: `words` deltas, one every `every`; sets `closed` when a stream's
/// connection is dropped before its end.
async fn server(words: usize, every: Duration, closed: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let closed = closed.clone();
            tokio::spawn(async move {
                let Some(path) = read_path(&mut socket).await else {
                    return;
                };
                match path.as_str() {
                    "/v1/models" => {
                        let models = r#"{"object":"list","data":[{"id":"google/gemma-2-27b-it","object":"model","owned_by":"vllm","max_model_len":8192}]}"#;
                        reply(&mut socket, "application/json", models).await;
                    }
                    "/tokenize" => reply(&mut socket, "application/json", r#"{"count":21,"max_model_len":8192}"#).await,
                    "/v1/chat/completions" => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        for i in 0..words {
                            if !every.is_zero() {
                                tokio::time::sleep(every).await;
                            }
                            let sent = socket.write_all(chunk(&format!("w{i} ")).as_bytes()).await;
                            if sent.is_err() || socket.flush().await.is_err() {
                                closed.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                        let end = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
                        let _ = socket.write_all(end.as_bytes()).await;
                    }
                    _ => reply(&mut socket, "application/json", "{}").await,
                }
            });
        }
    });
    url
}

async fn next(events: &mut UnboundedReceiver<EngineEvent>) -> EngineEvent {
    tokio::time::timeout(LIMIT, events.recv())
        .await
        .expect("in time")
        .expect("an event")
}

fn ask(gen_id: u64) -> EngineCommand {
    EngineCommand::Chat(ChatRequest {
        gen_id,
        system: Some("Answer briefly.".into()),
        messages: vec![ChatMessage::user("Hello?")],
        sampling: SamplingSettings::default(),
    })
}

fn load() -> EngineCommand {
    EngineCommand::Load {
        spec: ModelSpec::Repo("google/gemma-2-27b-it".into()),
        device: DeviceChoice::Auto,
        quantization: Quantization::None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_answer_streams_through_the_worker_with_an_exact_count() {
    let url = server(2, Duration::ZERO, Arc::default()).await;
    let (engine, mut events) = spawn_backend(RemoteBackend::new(RemoteConfig::new("box", url.clone())));
    engine.send(load());
    let info = loop {
        match next(&mut events).await {
            EngineEvent::Loaded(info) => break info,
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    };
    assert_eq!(info.name, "google/gemma-2-27b-it");
    assert_eq!(info.dir, None);
    assert_eq!(info.usable_context, 8192);
    assert_eq!(url, format!("http://{}", info.device), "where it runs");
    engine.send(ask(1));
    let mut text = String::new();
    loop {
        match next(&mut events).await {
            EngineEvent::PromptReady {
                prompt_tokens, exact, ..
            } => {
                assert_eq!((prompt_tokens, exact), (21, true), "counted by the server's /tokenize");
            }
            EngineEvent::Token { delta, .. } => text.push_str(&delta),
            EngineEvent::Finished {
                reason, usage, tokens, ..
            } => {
                assert_eq!(reason, FinishReason::Stop);
                assert_eq!(usage.prompt_tokens, 21);
                assert_eq!(tokens, None, "a server gives no token ids");
                break;
            }
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    assert_eq!(text, "w0 w1 ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_remote_answer_ends_it_at_once_and_closes_the_connection() {
    let closed = Arc::new(AtomicBool::new(false));
    let url = server(1000, Duration::from_millis(20), closed.clone()).await;
    let (engine, mut events) = spawn_backend(RemoteBackend::new(RemoteConfig::new("box", url)));
    engine.send(load());
    while !matches!(next(&mut events).await, EngineEvent::Loaded(_)) {}
    engine.send(ask(7));
    let mut tokens = 0;
    let reason = loop {
        match next(&mut events).await {
            EngineEvent::Token { .. } => {
                tokens += 1;
                if tokens == 3 {
                    engine.send(EngineCommand::Cancel { gen_id: 7 });
                }
            }
            EngineEvent::Finished { reason, .. } => break reason,
            _ => {}
        }
    };
    assert_eq!(reason, FinishReason::Cancelled);
    assert!(tokens < 10, "{tokens} tokens: it stopped at once");
    // The server finds the connection gone at its next write.
    tokio::time::timeout(LIMIT, async {
        while !closed.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection was closed");
}

/// Runs `gemma-tui ARGS` headlessly with its folders under `home` (config in `home/config`),
/// never reaching the hub; returns stdout and stderr once it succeeded.
async fn run_headless(home: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gemma-tui"))
        .args(args)
        .env("GEMMA_TUI_CONFIG_DIR", home.join("config"))
        .env("GEMMA_TUI_DATA_DIR", home.join("data"))
        .env("GEMMA_TUI_STATE_DIR", home.join("state"))
        .env("GEMMA_TUI_CACHE_DIR", home.join("cache"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .output();
    let out = tokio::time::timeout(LIMIT, out).await.expect("in time").expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_mode_answers_through_a_server_with_remote() {
    let url = server(3, Duration::ZERO, Arc::default()).await;
    let home = tempfile::tempdir().unwrap();
    let args = [
        "--remote",
        &url,
        "--model",
        "google/gemma-2-27b-it",
        "--prompt",
        "Hello?",
    ];
    let (stdout, stderr) = run_headless(home.path(), &args).await;
    assert_eq!(stdout, "w0 w1 w2 \n");
    assert!(stderr.contains("google/gemma-2-27b-it on 127.0.0.1:"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_named_in_the_config_is_used_without_a_flag() {
    let url = server(2, Duration::ZERO, Arc::default()).await;
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = format!("[remote]\nuse = \"box\"\n\n[remote.endpoints.box]\nurl = \"{url}\"\nserver = \"vllm\"\n");
    std::fs::write(config_dir.join("config.toml"), config).unwrap();
    let (stdout, _) = run_headless(home.path(), &["--prompt", "Hello?"]).await;
    assert_eq!(stdout, "w0 w1 \n");
}
