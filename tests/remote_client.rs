//! The remote client against a mock OpenAI-compatible server on 127.0.0.1: streaming, the
//! request each server kind gets, server detection, token counting, and every failure's message.
//! The mock writes canned HTTP/1.1 replies (one request per connection); nothing here reaches
//! any address but 127.0.0.1, and every test is bounded by a timeout.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use gemma_tui::engine::remote::{RemoteChunk, RemoteClient, RemoteConfig, RemoteError, RemoteUsage, ServerKind};
use gemma_tui::engine::{ChatMessage, FinishReason, SamplingSettings};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The bound on any one test.
const TEST_LIMIT: Duration = Duration::from_secs(10);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test ran past its time limit")
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// How the mock answers one request.
enum Reply {
    Json(u16, Value),
    Text(u16, &'static str, String),
    Sse {
        events: Vec<String>,
        end: End,
    },
    /// Reads the request, then says nothing.
    Silence,
}

enum End {
    /// Closes the connection after the last event.
    Close,
    /// Keeps the connection open, saying nothing more.
    Stall,
    /// Keeps it open until the client closes it, then notifies `Mock::closed`.
    AwaitClose,
}

type Route = dyn Fn(&Request) -> Reply + Send + Sync;

struct Mock {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    closed: Arc<Notify>,
}

impl Mock {
    async fn start(route: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(Notify::new());
        let route: Arc<Route> = Arc::new(route);
        let (reqs, notify) = (requests.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (route, reqs, notify) = (route.clone(), reqs.clone(), notify.clone());
                tokio::spawn(async move { serve(socket, route, reqs, notify).await });
            }
        });
        Mock { url, requests, closed }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn last(&self, path: &str) -> Request {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| r.path == path)
            .expect("request made")
    }

    fn config(&self) -> RemoteConfig {
        RemoteConfig {
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(3),
            ..RemoteConfig::new("gpu-box", format!("{}/v1", self.url))
        }
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

async fn serve(mut socket: TcpStream, route: Arc<Route>, reqs: Arc<Mutex<Vec<Request>>>, closed: Arc<Notify>) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let reply = route(&request);
    reqs.lock().unwrap().push(request);
    let whole = |status: u16, ctype: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            reason(status),
            body.len()
        )
    };
    match reply {
        Reply::Json(status, v) => {
            let _ = socket
                .write_all(whole(status, "application/json", &v.to_string()).as_bytes())
                .await;
        }
        Reply::Text(status, ctype, body) => {
            let _ = socket.write_all(whole(status, ctype, &body).as_bytes()).await;
        }
        Reply::Silence => tokio::time::sleep(Duration::from_secs(60)).await,
        Reply::Sse { events, end } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for e in events {
                if socket.write_all(e.as_bytes()).await.is_err() {
                    closed.notify_one();
                    return;
                }
                let _ = socket.flush().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            match end {
                End::Close => {}
                End::Stall => tokio::time::sleep(Duration::from_secs(60)).await,
                End::AwaitClose => {
                    let mut b = [0u8; 64];
                    loop {
                        match socket.read(&mut b).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    closed.notify_one();
                }
            }
        }
    }
}

fn data(v: Value) -> String {
    format!("data: {v}\n\n")
}

fn delta(text: &str) -> String {
    data(
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}),
    )
}

fn finish(reason: &str) -> String {
    data(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}))
}

fn usage(prompt: usize, completion: usize) -> String {
    data(
        json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}),
    )
}

const DONE: &str = "data: [DONE]\n\n";

fn models(owner: &str, ids: &[&str]) -> Value {
    json!({"object": "list", "data": ids.iter().map(|id| json!({"id": id, "object": "model", "owned_by": owner})).collect::<Vec<_>>()})
}

/// A vLLM-like server: one model with its context, answers with these events.
fn vllm(events: Vec<String>) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |r: &Request| match r.path.as_str() {
        "/v1/models" => Reply::Json(
            200,
            json!({"object": "list", "data": [{"id": "google/gemma-2-9b-it", "owned_by": "vllm", "max_model_len": 8192}]}),
        ),
        "/v1/chat/completions" => Reply::Sse {
            events: events.clone(),
            end: End::Close,
        },
        "/tokenize" => Reply::Json(200, json!({"count": 42, "max_model_len": 8192, "tokens": []})),
        _ => Reply::Json(404, json!({"detail": "Not Found"})),
    }
}

async fn collect(client: &RemoteClient, messages: Vec<ChatMessage>) -> Vec<Result<RemoteChunk, RemoteError>> {
    client.chat(messages, &SamplingSettings::default()).collect().await
}

fn text_of(items: &[Result<RemoteChunk, RemoteError>]) -> String {
    items
        .iter()
        .filter_map(|i| match i {
            Ok(RemoteChunk::Delta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn hi() -> Vec<ChatMessage> {
    vec![ChatMessage::user("Hi")]
}

#[tokio::test]
async fn streams_deltas_then_finish_with_usage() {
    bounded(async {
        let mock = Mock::start(vllm(vec![
            delta("Hel"),
            delta("lo!"),
            finish("stop"),
            usage(12, 3),
            DONE.into(),
        ]))
        .await;
        let (client, info) = RemoteClient::connect(mock.config()).await.unwrap();
        assert_eq!(info.model, "google/gemma-2-9b-it");
        assert_eq!(info.server, ServerKind::Vllm);
        assert_eq!(info.context, Some(8192));
        assert_eq!(info.endpoint, mock.url.trim_start_matches("http://"));
        let items = collect(&client, hi()).await;
        assert_eq!(text_of(&items), "Hello!");
        assert_eq!(
            items.last().unwrap().as_ref().unwrap(),
            &RemoteChunk::Finished {
                reason: FinishReason::Stop,
                usage: Some(RemoteUsage {
                    prompt_tokens: 12,
                    completion_tokens: 3
                })
            }
        );
        assert_eq!(items.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn length_finish_and_usage_in_the_same_chunk() {
    bounded(async {
        let last = data(json!({"choices": [{"delta": {}, "finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 512}}));
        // No [DONE] and the connection stays open: finish and usage together end the answer.
        let mock = Mock::start(move |r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("vllm", &["g"])),
            _ => Reply::Sse {
                events: vec![delta("a"), last.clone()],
                end: End::Stall,
            },
        })
        .await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let items = collect(&client, hi()).await;
        assert!(matches!(
            items.last().unwrap(),
            Ok(RemoteChunk::Finished {
                reason: FinishReason::Length,
                usage: Some(RemoteUsage {
                    completion_tokens: 512,
                    ..
                })
            })
        ));
    })
    .await;
}

#[tokio::test]
async fn done_without_usage_and_a_plain_end_after_finish() {
    bounded(async {
        for events in [
            vec![delta("ok"), finish("stop"), DONE.to_string()],
            vec![delta("ok"), finish("stop")],
        ] {
            let mock = Mock::start(vllm(events)).await;
            let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
            let items = collect(&client, hi()).await;
            assert_eq!(text_of(&items), "ok");
            assert_eq!(
                items.last().unwrap().as_ref().unwrap(),
                &RemoteChunk::Finished {
                    reason: FinishReason::Stop,
                    usage: None
                }
            );
        }
    })
    .await;
}

#[tokio::test]
async fn disconnect_mid_answer_keeps_the_partial_text() {
    bounded(async {
        let mock = Mock::start(vllm(vec![delta("Once upon"), delta(" a time")])).await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let items = collect(&client, hi()).await;
        assert_eq!(text_of(&items), "Once upon a time");
        let err = items.last().unwrap().as_ref().unwrap_err();
        assert!(matches!(err, RemoteError::Disconnected { .. }), "{err:?}");
        assert!(err.is_mid_answer());
        let msg = err.to_string();
        assert!(
            msg.starts_with("gpu-box:") && msg.contains("partial answer is kept"),
            "{msg}"
        );
    })
    .await;
}

async fn body_for(kind: ServerKind, sampling: &SamplingSettings) -> (Value, Vec<&'static str>) {
    let owner = match kind {
        ServerKind::LlamaCpp => "llamacpp",
        ServerKind::Vllm => "vllm",
        _ => "local",
    };
    let mock = Mock::start(move |r: &Request| match r.path.as_str() {
        "/v1/models" => Reply::Json(200, models(owner, &["gemma-2-2b-it"])),
        _ => Reply::Sse {
            events: vec![delta("x"), finish("stop"), DONE.into()],
            end: End::Close,
        },
    })
    .await;
    let config = RemoteConfig {
        server: kind,
        ..mock.config()
    };
    let (client, info) = RemoteClient::connect(config).await.unwrap();
    assert_eq!(info.server, kind);
    let messages = vec![
        ChatMessage::user("Hi"),
        ChatMessage::model("Hello"),
        ChatMessage::user("Bye"),
    ];
    let items: Vec<_> = client.chat(messages, sampling).collect().await;
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    let request = mock.last("/v1/chat/completions");
    assert_eq!(request.method, "POST");
    (request.json(), client.ignored_settings())
}

#[tokio::test]
async fn request_body_per_server_kind() {
    bounded(async {
        let greedy = SamplingSettings {
            top_k: Some(40),
            top_p: 0.9,
            ..Default::default()
        };
        for kind in [
            ServerKind::MistralRs,
            ServerKind::Vllm,
            ServerKind::LlamaCpp,
            ServerKind::OpenAi,
        ] {
            let (b, ignored) = body_for(kind, &greedy).await;
            assert_eq!(b["model"], "gemma-2-2b-it");
            assert_eq!(b["stream"], true);
            assert_eq!(b["stream_options"], json!({"include_usage": true}));
            assert_eq!(b["max_tokens"], 512);
            assert_eq!(b["temperature"], json!(0.0), "{kind:?}: an explicit greedy temperature");
            for knob in ["top_k", "top_p", "min_p", "frequency_penalty", "presence_penalty"] {
                assert!(b.get(knob).is_none(), "{kind:?} sent {knob} while greedy: {b}");
            }
            let roles: Vec<&str> = b["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["role"].as_str().unwrap())
                .collect();
            assert_eq!(roles, ["user", "assistant", "user"]);
            assert_eq!(b["messages"][1]["content"], "Hello");
            let (rep, repeat) = (b.get("repetition_penalty"), b.get("repeat_penalty"));
            match kind {
                ServerKind::MistralRs | ServerKind::Vllm => {
                    assert_eq!(rep, Some(&json!(1.05)), "{kind:?}");
                    assert!(repeat.is_none());
                    assert!(ignored.is_empty());
                }
                ServerKind::LlamaCpp => {
                    assert_eq!(repeat, Some(&json!(1.05)));
                    assert!(rep.is_none());
                    assert!(ignored.is_empty());
                }
                _ => {
                    assert!(
                        rep.is_none() && repeat.is_none(),
                        "a plain OpenAI server gets no penalty: {b}"
                    );
                    assert_eq!(ignored, ["top_k", "min_p", "repetition_penalty"]);
                }
            }
        }

        let sampled = SamplingSettings {
            temperature: 0.7,
            top_k: Some(40),
            top_p: 0.9,
            min_p: 0.05,
            repetition_penalty: 1.0,
            frequency_penalty: 0.5,
            presence_penalty: -0.5,
            max_new_tokens: 64,
        };
        let (b, _) = body_for(ServerKind::Vllm, &sampled).await;
        assert_eq!(b["temperature"], json!(0.7));
        assert_eq!(b["top_k"], 40);
        assert_eq!(b["top_p"], json!(0.9));
        assert_eq!(b["min_p"], json!(0.05));
        assert_eq!(b["frequency_penalty"], json!(0.5));
        assert_eq!(b["presence_penalty"], json!(-0.5));
        assert_eq!(b["max_tokens"], 64);
        assert!(b.get("repetition_penalty").is_none(), "1.0 is off: not sent");
        let (b, _) = body_for(ServerKind::OpenAi, &sampled).await;
        assert_eq!(b["top_p"], json!(0.9));
        assert!(b.get("top_k").is_none() && b.get("min_p").is_none(), "{b}");
    })
    .await;
}

#[tokio::test]
async fn a_system_turn_is_an_error_and_never_sent() {
    bounded(async {
        let mock = Mock::start(vllm(vec![delta("x"), finish("stop")])).await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let items = collect(&client, vec![ChatMessage::system("Be terse."), ChatMessage::user("Hi")]).await;
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().unwrap_err();
        assert!(matches!(err, RemoteError::SystemRole { .. }));
        assert!(err.to_string().contains("first user turn"));
        assert!(mock.requests().iter().all(|r| r.path != "/v1/chat/completions"));
    })
    .await;
}

#[tokio::test]
async fn detects_llama_cpp_and_reads_its_context() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("llamacpp", &["gemma-2-9b-it-Q4_K_M.gguf"])),
            "/props" => Reply::Json(
                200,
                json!({"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}),
            ),
            "/tokenize" => Reply::Json(
                200,
                json!({"tokens": [2, 106, 1645, 108, 4521, 107, 108, 106, 2516, 108]}),
            ),
            _ => Reply::Json(
                404,
                json!({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}),
            ),
        })
        .await;
        let (client, info) = RemoteClient::connect(mock.config()).await.unwrap();
        assert_eq!(info.server, ServerKind::LlamaCpp);
        assert_eq!(info.context, Some(4096));
        let count = client.count_tokens(&hi()).await;
        assert!(count.exact);
        assert_eq!(count.tokens, 10);
        let sent = mock.last("/tokenize").json();
        assert_eq!(
            sent["content"],
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
        );
        assert_eq!(sent["add_special"], false);
    })
    .await;
}

#[tokio::test]
async fn detects_mistralrs_and_names_its_real_model() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(
                200,
                json!({"object": "list", "data": [
                    {"id": "default", "object": "model", "created": 1, "owned_by": "local"},
                    {"id": "google/gemma-2-2b-it", "object": "model", "created": 1, "owned_by": "local", "status": "loaded"}
                ]}),
            ),
            _ => Reply::Text(404, "text/plain", String::new()),
        })
        .await;
        let (client, info) = RemoteClient::connect(mock.config()).await.unwrap();
        assert_eq!(info.server, ServerKind::MistralRs);
        assert_eq!(info.model, "google/gemma-2-2b-it");
        assert_eq!(info.context, None);
        // mistral.rs serve has no tokenize route: an estimate, said to be one.
        let count = client.count_tokens(&hi()).await;
        assert!(!count.exact);
        assert_eq!(count, gemma_tui::engine::remote::estimate(&hi()));
        assert!(mock.requests().iter().all(|r| r.path != "/tokenize"));
        let top_p_off = SamplingSettings {
            temperature: 0.8,
            min_p: 0.1,
            ..Default::default()
        };
        assert_eq!(client.ignored_for(&top_p_off), ["min_p"]);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_server_is_treated_as_plain_openai() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("someone", &["gemma2"])),
            _ => Reply::Json(404, json!({"error": "not found"})),
        })
        .await;
        let (client, info) = RemoteClient::connect(mock.config()).await.unwrap();
        assert_eq!(info.server, ServerKind::OpenAi);
        assert_eq!(client.ignored_for(&SamplingSettings::default()), ["repetition_penalty"]);
        assert!(!client.count_tokens(&hi()).await.exact);
    })
    .await;
}

#[tokio::test]
async fn vllm_tokenize_is_exact() {
    bounded(async {
        let mock = Mock::start(vllm(vec![])).await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let count = client.count_tokens(&hi()).await;
        assert_eq!((count.tokens, count.exact), (42, true));
        let sent = mock.last("/tokenize").json();
        assert_eq!(sent["model"], "google/gemma-2-9b-it");
        assert_eq!(sent["add_generation_prompt"], true);
        assert_eq!(sent["messages"], json!([{"role": "user", "content": "Hi"}]));
    })
    .await;
}

#[tokio::test]
async fn tokenize_failure_falls_back_to_the_estimate() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("vllm", &["g"])),
            _ => Reply::Json(500, json!({"message": "tokenizer broke"})),
        })
        .await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let count = client.count_tokens(&hi()).await;
        assert!(!count.exact);
    })
    .await;
}

#[tokio::test]
async fn listing_models_and_a_missing_model() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("vllm", &["gemma-2-2b-it", "gemma-2-9b-it"])),
            _ => Reply::Json(
                404,
                json!({"object": "error", "message": "The model `gemma-2-9b-it` does not exist."}),
            ),
        })
        .await;
        let config = RemoteConfig {
            model: Some("gemma-2-27b-it".into()),
            ..mock.config()
        };
        let err = RemoteClient::connect(config).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, RemoteError::ModelNotFound { .. }));
        assert!(
            msg.contains("gemma-2-27b-it") && msg.contains("gemma-2-2b-it, gemma-2-9b-it"),
            "{msg}"
        );

        let config = RemoteConfig {
            model: Some("gemma-2-9b-it".into()),
            ..mock.config()
        };
        let (client, info) = RemoteClient::connect(config).await.unwrap();
        assert_eq!(info.model, "gemma-2-9b-it");
        assert_eq!(client.models().await.unwrap(), ["gemma-2-2b-it", "gemma-2-9b-it"]);
        // The server answers 404 for a model it lists: its own message, not a made-up one.
        let items = collect(&client, hi()).await;
        let msg = items[0].as_ref().unwrap_err().to_string();
        assert!(msg.contains("404") && msg.contains("does not exist"), "{msg}");
    })
    .await;
}

#[tokio::test]
async fn a_model_gone_at_chat_time_lists_the_others() {
    bounded(async {
        let calls = Arc::new(Mutex::new(0));
        let mock = Mock::start(move |r: &Request| match r.path.as_str() {
            "/v1/models" => {
                let mut n = calls.lock().unwrap();
                *n += 1;
                let ids: &[&str] = if *n == 1 { &["old-model"] } else { &["new-model"] };
                Reply::Json(200, models("vllm", ids))
            }
            _ => Reply::Json(404, json!({"error": {"message": "model not found"}})),
        })
        .await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let items = collect(&client, hi()).await;
        let err = items[0].as_ref().unwrap_err();
        assert!(matches!(err, RemoteError::ModelNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("old-model") && err.to_string().contains("new-model"));
    })
    .await;
}

#[tokio::test]
async fn unauthorized_names_the_env_var() {
    bounded(async {
        let mock = Mock::start(|r: &Request| {
            if r.headers.get("authorization").map(String::as_str) == Some("Bearer s3cret") {
                Reply::Json(200, models("vllm", &["g"]))
            } else {
                Reply::Json(401, json!({"error": {"message": "invalid api key"}}))
            }
        })
        .await;
        // No key named at all.
        let err = RemoteClient::connect(mock.config()).await.unwrap_err();
        assert!(matches!(err, RemoteError::Unauthorized { status: 401, .. }));
        assert!(err.to_string().contains("api_key_env"), "{err}");
        // Named, but the variable is not set.
        let unset = RemoteConfig {
            api_key_env: Some("GEMMA_TUI_TEST_REMOTE_KEY_UNSET".into()),
            ..mock.config()
        };
        let msg = RemoteClient::connect(unset).await.unwrap_err().to_string();
        assert!(
            msg.contains("GEMMA_TUI_TEST_REMOTE_KEY_UNSET") && msg.contains("set"),
            "{msg}"
        );
        // Set: the key goes out as a bearer token.
        std::env::set_var("GEMMA_TUI_TEST_REMOTE_KEY_SET", "s3cret");
        let set = RemoteConfig {
            api_key_env: Some("GEMMA_TUI_TEST_REMOTE_KEY_SET".into()),
            ..mock.config()
        };
        let (_, info) = RemoteClient::connect(set).await.unwrap();
        assert_eq!(info.model, "g");
        // Set but wrong.
        std::env::set_var("GEMMA_TUI_TEST_REMOTE_KEY_WRONG", "nope");
        let wrong = RemoteConfig {
            api_key_env: Some("GEMMA_TUI_TEST_REMOTE_KEY_WRONG".into()),
            ..mock.config()
        };
        let msg = RemoteClient::connect(wrong).await.unwrap_err().to_string();
        assert!(
            msg.contains("did not accept the API key in GEMMA_TUI_TEST_REMOTE_KEY_WRONG"),
            "{msg}"
        );
        assert!(!msg.contains("nope"), "the key itself is never shown");
    })
    .await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_carry_the_servers_message() {
    bounded(async {
        for (status, body, want) in [
            (
                429,
                json!({"error": {"message": "Rate limit reached, retry in 20s"}}),
                "Rate limit reached, retry in 20s",
            ),
            (
                500,
                json!({"object": "error", "message": "CUDA out of memory"}),
                "CUDA out of memory",
            ),
            (
                503,
                json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
                "Loading model",
            ),
        ] {
            let mock = Mock::start(move |r: &Request| match r.path.as_str() {
                "/v1/models" => Reply::Json(200, models("vllm", &["g"])),
                _ => Reply::Json(status, body.clone()),
            })
            .await;
            let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
            let items = collect(&client, hi()).await;
            assert_eq!(items.len(), 1);
            let err = items[0].as_ref().unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("gpu-box:") && msg.contains(want), "{msg}");
            assert!(!msg.contains('\n'));
            if status == 429 {
                assert!(matches!(err, RemoteError::RateLimited { .. }));
            } else {
                assert!(matches!(err, RemoteError::Server { .. }));
                assert!(msg.contains(&status.to_string()));
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_error_inside_the_stream_is_reported() {
    bounded(async {
        let mock = Mock::start(vllm(vec![
            delta("par"),
            data(json!({"error": {"message": "engine died"}})),
        ]))
        .await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let items = collect(&client, hi()).await;
        assert_eq!(text_of(&items), "par");
        let err = items.last().unwrap().as_ref().unwrap_err();
        assert!(matches!(err, RemoteError::FailedMidAnswer { .. }), "{err:?}");
        assert!(err.is_mid_answer() && err.to_string().contains("engine died"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn connection_refused_says_to_check_the_server() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let config = RemoteConfig::new("gpu-box", format!("http://{addr}"));
        let err = RemoteClient::connect(config).await.unwrap_err();
        assert!(matches!(err, RemoteError::Refused { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("http://{addr}")) && msg.contains("is the server running"),
            "{msg}"
        );
    })
    .await;
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_failure() {
    bounded(async {
        // A plain HTTP server answers a TLS ClientHello with an HTTP 400, as real ones do.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut b = [0u8; 1024];
                let _ = socket.read(&mut b).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                    .await;
            }
        });
        let config = RemoteConfig {
            connect_timeout: Duration::from_secs(2),
            ..RemoteConfig::new("gpu-box", format!("https://{addr}"))
        };
        let err = RemoteClient::connect(config).await.unwrap_err();
        assert!(matches!(err, RemoteError::Tls { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("TLS") && msg.contains("http://"), "{msg}");
    })
    .await;
}

#[tokio::test]
async fn a_bad_base_url_is_said_at_once() {
    let err = RemoteClient::connect(RemoteConfig::new("gpu-box", "gpu-box:8080"))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::BadUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn a_wrong_path_is_not_an_openai_api() {
    bounded(async {
        let mock = Mock::start(|_: &Request| Reply::Text(404, "text/html", "<h1>nope</h1>".into())).await;
        let err = RemoteClient::connect(mock.config()).await.unwrap_err();
        assert!(matches!(err, RemoteError::NotOpenAi { status: 404, .. }), "{err:?}");
        assert!(err.to_string().contains("base_url"));
    })
    .await;
}

async fn first_token_timeout_case(end: Reply) {
    let end = Arc::new(Mutex::new(Some(end)));
    let mock = Mock::start(move |r: &Request| match r.path.as_str() {
        "/v1/models" => Reply::Json(200, models("vllm", &["g"])),
        _ => end.lock().unwrap().take().unwrap(),
    })
    .await;
    let config = RemoteConfig {
        first_token_timeout: Duration::from_millis(400),
        ..mock.config()
    };
    let (client, _) = RemoteClient::connect(config).await.unwrap();
    let started = Instant::now();
    let items = collect(&client, hi()).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(took >= Duration::from_millis(350), "took {took:?}");
    assert_eq!(items.len(), 1);
    let err = items[0].as_ref().unwrap_err();
    assert!(matches!(err, RemoteError::FirstTokenTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("first_token_timeout (0.4 s)"), "{err}");
}

#[tokio::test]
async fn first_token_timeout_when_the_server_sends_nothing() {
    bounded(first_token_timeout_case(Reply::Silence)).await;
}

#[tokio::test]
async fn first_token_timeout_when_the_stream_opens_but_stalls() {
    // A role-only first chunk is not a token.
    let role = data(json!({"choices": [{"delta": {"role": "assistant"}, "finish_reason": null}]}));
    bounded(first_token_timeout_case(Reply::Sse {
        events: vec![role],
        end: End::Stall,
    }))
    .await;
}

#[tokio::test]
async fn a_stall_after_the_first_token_is_bounded_too() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("vllm", &["g"])),
            _ => Reply::Sse {
                events: vec![delta("half")],
                end: End::Stall,
            },
        })
        .await;
        let config = RemoteConfig {
            first_token_timeout: Duration::from_millis(300),
            ..mock.config()
        };
        let (client, _) = RemoteClient::connect(config).await.unwrap();
        let items = collect(&client, hi()).await;
        assert_eq!(text_of(&items), "half");
        let err = items.last().unwrap().as_ref().unwrap_err();
        assert!(matches!(err, RemoteError::Stalled { .. }), "{err:?}");
        assert!(err.to_string().contains("partial answer is kept"));
    })
    .await;
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    bounded(async {
        let mock = Mock::start(|r: &Request| match r.path.as_str() {
            "/v1/models" => Reply::Json(200, models("vllm", &["g"])),
            _ => Reply::Sse {
                events: vec![delta("first")],
                end: End::AwaitClose,
            },
        })
        .await;
        let (client, _) = RemoteClient::connect(mock.config()).await.unwrap();
        let mut stream = Box::pin(client.chat(hi(), &SamplingSettings::default()));
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            RemoteChunk::Delta("first".into())
        );
        let closed = mock.closed.notified();
        drop(stream);
        tokio::time::timeout(Duration::from_secs(2), closed)
            .await
            .expect("the mock saw the connection close after the stream was dropped");
    })
    .await;
}
