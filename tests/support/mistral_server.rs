//! A real mistral.rs server: `mistralrs-server-core` of the engine's own 0.8.1 release, serving
//! a tiny Gemma 2 folder on 127.0.0.1. It runs on a runtime of its own, so that a test can
//! stop it mid-answer the way a killed server stops: every connection dropped at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mistralrs_core::ModelSelected;
use mistralrs_server_core::mistralrs_for_server_builder::MistralRsForServerBuilder;
use mistralrs_server_core::mistralrs_server_router_builder::MistralRsServerRouterBuilder;

use super::tiny_gemma;

pub struct MistralServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The model id the server lists (the folder's path, as `mistralrs serve -m DIR` lists it).
    pub model: String,
    /// mistral.rs's request log: one `Response at` entry per chunk its stream sent.
    pub log: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
}

/// How the server is started.
#[derive(Default)]
pub struct Options {
    /// Every request must carry `Authorization: Bearer KEY` (as a reverse proxy in front of the
    /// server would demand; mistral.rs 0.8.1 itself has no key option).
    pub api_key: Option<String>,
    /// TCP_NODELAY on the server's sockets (axum's default is off, as `mistralrs serve` has
    /// it: small SSE writes then wait on the client's delayed ACK).
    pub nodelay: bool,
}

impl MistralServer {
    /// Serves `dir` (a tiny Gemma 2 written by `tiny_gemma`) on the CPU in f32, with Gemma 2's
    /// template less its `{{ bos_token }}` (the tokenizer adds it; see the README's note on
    /// `--jinja-explicit`), so that the server's prompt is transformers' prompt.
    pub async fn start(dir: &Path, options: Options) -> MistralServer {
        let log = dir.join(format!("server-{}.log", unique()));
        let template = dir.join(format!("server-{}.jinja", unique()));
        std::fs::write(&template, tiny_gemma::CHAT_TEMPLATE.replacen("{{ bos_token }}", "", 1)).unwrap();
        let model: ModelSelected = serde_json::from_value(serde_json::json!({
            "Plain": { "model_id": dir.to_string_lossy(), "dtype": "f32" }
        }))
        .unwrap();

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let log_path = log.to_string_lossy().into_owned();
        runtime.spawn(async move {
            let built = MistralRsForServerBuilder::new()
                .with_model(model)
                .with_cpu(true)
                .with_max_seqs(4)
                .with_jinja_explicit(template.to_string_lossy().into_owned())
                .with_log(log_path)
                .build()
                .await;
            let state = match built {
                Ok(state) => state,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            let mut router = MistralRsServerRouterBuilder::new()
                .with_mistralrs(state)
                .build()
                .await
                .unwrap();
            if let Some(key) = options.api_key {
                let wanted = format!("Bearer {key}");
                router = router.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
                    let wanted = wanted.clone();
                    async move { demand_key(&wanted, request, next).await }
                }));
            }
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let _ = ready_tx.send(Ok(url));
            if options.nodelay {
                use axum::serve::ListenerExt;
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let _ = axum::serve(listener, router).await;
            } else {
                let _ = axum::serve(listener, router).await;
            }
        });
        let url = tokio::time::timeout(Duration::from_secs(120), ready_rx)
            .await
            .expect("the server starts in time")
            .expect("the server task runs")
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        MistralServer {
            url,
            model: dir.to_string_lossy().into_owned(),
            log,
            runtime: Some(runtime),
        }
    }

    /// Stops the server as a crash would: its tasks and connections go at once.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// How many chunks the server's stream has sent so far, from its own log.
    pub fn chunks_sent(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|text| text.matches("Response at ").count())
            .unwrap_or(0)
    }
}

impl Drop for MistralServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn demand_key(wanted: &str, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given == Some(wanted) {
        return next.run(request).await;
    }
    let body = r#"{"error":{"message":"invalid or missing API key","type":"invalid_request_error"}}"#;
    (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], body).into_response()
}

fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
