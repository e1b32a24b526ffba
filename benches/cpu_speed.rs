//! gemma-tui against the seed's transformers recipe on a CPU, side by side in one run, on the
//! same 2B-shaped random-weight Gemma 2 (see `support/bench_gemma.rs`).
//!
//! Run (one command; builds our crate optimized against the already-optimized dependencies):
//!   cargo bench --profile dev --config 'profile.dev.opt-level=3' --bench cpu_speed
//! Options, as environment variables:
//!   GEMMA_BENCH_PYTHON   a python with torch + transformers (default: `python3`); without
//!                        them the table has gemma-tui alone and says so
//!   GEMMA_BENCH_ONLY     comma list of engines: tf-bf16,tf-f32,q4k,q6k,q8_0,f32 (default all)
//!   GEMMA_BENCH_ROUNDS   interleaved rounds; medians are reported (default 1)
//!   GEMMA_BENCH_EXTRA    0 skips the KV-cache and prefix-cache studies (default 1)
//!   GEMMA_BENCH_NEW      new tokens per run (default 32)
//!   GEMMA_BENCH_TASKS    comma list of short,long,chat (default all three)
//!
//! Every engine runs in its own process (one big model in memory at a time), which reports
//! its load time, time to first token, decode rate and peak RSS (VmHWM) as JSON; this parent
//! measures the copy bandwidth, interleaves the engines round by round and prints the table.

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tiny_gemma.rs"]
mod tiny_gemma;

#[path = "support/bench_gemma.rs"]
mod bench_gemma;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use gemma_tui::engine::source::HubEnv;
use gemma_tui::engine::{
    self, ChatMessage, ChatRequest, DeviceChoice, EngineCommand, EngineEvent, ModelSpec, Quantization, Role,
    SamplingSettings,
};
use serde_json::{json, Value};

const SENTENCES: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "Hello! How are you today? I am fine, thank you.",
    "The sea is calm and the sky is blue.",
    "What is the capital of France? The capital of France is Paris.",
    "Write a short poem about the moon and the stars.",
    "Tell me a joke about a cat that can read.",
    "There are three colors: red, green and blue.",
    "In the morning the sun rises over the hills, and at night the moon shines.",
    "Once upon a time, a little girl lived in a small house near the forest.",
    "Computers process information quickly; programmers write instructions.",
    "Please explain how photosynthesis works in green plants.",
    "Good question! Here is a simple answer with examples.",
];

/// Text of about `tokens` tokens (counted without special tokens), seeded by `salt`.
fn text(tokenizer: &tokenizers::Tokenizer, tokens: usize, salt: usize) -> String {
    let mut out = String::new();
    let mut i = salt * 7;
    while tokenizer.encode(out.as_str(), false).map(|e| e.len()).unwrap_or(0) < tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{} {}", i % 97, SENTENCES[(i * 5 + salt) % SENTENCES.len()]));
        i += 1;
    }
    out
}

fn msg(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

/// The conversation of the chat study: user turns of ~50 tokens, model turns of ~110.
fn chat_turn(tokenizer: &tokenizers::Tokenizer, turn: usize) -> Vec<Value> {
    let mut messages = Vec::new();
    for k in 1..turn {
        messages.push(msg("user", &text(tokenizer, 50, 100 + k)));
        messages.push(msg("assistant", &text(tokenizer, 110, 200 + k)));
    }
    messages.push(msg("user", &text(tokenizer, 50, 100 + turn)));
    messages
}

fn run(name: &str, messages: Vec<Value>, new_tokens: usize) -> Value {
    json!({"name": name, "messages": messages, "new_tokens": new_tokens})
}

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Transformers(&'static str),
    Ours(&'static str),
}

impl Engine {
    fn label(self) -> String {
        match self {
            Engine::Transformers(d) => format!("transformers {d}"),
            Engine::Ours(q) => format!("gemma-tui {q}"),
        }
    }
    fn key(self) -> String {
        match self {
            Engine::Transformers(d) => format!("tf-{d}"),
            Engine::Ours(q) => q.to_string(),
        }
    }
    /// Bytes of weights one decode step reads (the embedding row lookup aside). mistral.rs
    /// quantizes the tied LM head too and keeps the f32 embedding only for lookups.
    fn weight_bytes_per_token(self) -> f64 {
        let params = (bench_gemma::linear_params() + bench_gemma::embedding_params()) as f64;
        let bits = match self {
            Engine::Transformers("bf16") => 16.0,
            Engine::Transformers(_) | Engine::Ours("f32") => 32.0,
            Engine::Ours("q8_0") => 8.5,
            Engine::Ours("q6k") => 6.5625,
            Engine::Ours("q4k") => 4.5,
            Engine::Ours(_) => f64::NAN,
        };
        params * bits / 8.0
    }
}

// ---------------------------------------------------------------- child: one engine, in process

fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn child(quant: &str, dir: &Path, tasks: &Path) {
    let quantization = match quant {
        "f32" => Quantization::None,
        "q8_0" => Quantization::Q8_0,
        "q6k" => Quantization::Q6K,
        "q4k" => Quantization::Q4K,
        other => panic!("unknown mode {other}"),
    };
    let tasks: Value = serde_json::from_str(&std::fs::read_to_string(tasks).unwrap()).unwrap();
    // As the app runs: with the quantization cache (a first run quantizes and writes it; the
    // cache entry also holds Gemma 2's output layer quantized, which a fresh build lacks).
    let cache = dir.parent().unwrap_or(dir).join("quantized");
    let (handle, mut events) = engine::spawn(gemma_tui::engine::EngineEnv {
        hub: HubEnv::default(),
        quant_cache: Some(cache),
    });
    let started = Instant::now();
    handle.send(EngineCommand::Load {
        spec: ModelSpec::Dir(dir.to_path_buf()),
        device: DeviceChoice::Cpu,
        quantization,
    });
    loop {
        match events.recv().await.unwrap() {
            EngineEvent::Loaded(_) => break,
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    let load_s = started.elapsed().as_secs_f64();
    let mut result = json!({"engine": format!("gemma-tui {quant}"), "load_s": load_s,
        "after_load_mb": rss_mb().0, "runs": {}});
    for (gen_id, task) in tasks["runs"].as_array().unwrap().iter().enumerate() {
        let messages = task["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| ChatMessage {
                role: if m["role"] == "user" { Role::User } else { Role::Model },
                text: m["content"].as_str().unwrap().to_string(),
            })
            .collect();
        let sent = Instant::now();
        let mut first = None;
        handle.send(EngineCommand::Chat(ChatRequest {
            gen_id: gen_id as u64 + 1,
            system: None,
            messages,
            sampling: SamplingSettings {
                max_new_tokens: task["new_tokens"].as_u64().unwrap() as u32,
                ..Default::default()
            },
        }));
        let usage = loop {
            match events.recv().await.unwrap() {
                EngineEvent::Token { .. } => {
                    first.get_or_insert_with(|| sent.elapsed().as_secs_f64());
                }
                EngineEvent::Finished { usage, .. } => break usage,
                EngineEvent::Error { message, .. } => panic!("{message}"),
                _ => {}
            }
        };
        let r = json!({
            "prompt_tokens": usage.prompt_tokens,
            "tokens": usage.completion_tokens,
            // From the request (prompt fitting and tokenizing included) to the first token.
            "ttft_s": first,
            "decode_tps": usage.decode_tokens_per_second,
            "rss_mb": rss_mb().0,
        });
        eprintln!("  gemma-tui {quant} {}: {r}", task["name"].as_str().unwrap());
        result["runs"][task["name"].as_str().unwrap()] = r;
    }
    result["peak_mb"] = json!(rss_mb().1);
    println!("{result}");
}

// ---------------------------------------------------------------- parent

/// memcpy bandwidth with one thread per core over 1 GiB: bytes read + written per second.
fn copy_bandwidth() -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = (1usize << 30) / threads;
    let mut bufs: Vec<(Vec<u8>, Vec<u8>)> = (0..threads).map(|_| (vec![1u8; per], vec![0u8; per])).collect();
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = Instant::now();
        std::thread::scope(|s| {
            for (src, dst) in bufs.iter_mut() {
                s.spawn(move || dst.copy_from_slice(src));
            }
        });
        best = best.max(2.0 * (per * threads) as f64 / t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&bufs);
    best
}

fn python_with_transformers() -> Option<String> {
    let python = std::env::var("GEMMA_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import torch, transformers"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

fn spawn_engine(engine: Engine, dir: &Path, tasks: &Path, python: Option<&str>, env: &[(&str, &str)]) -> Option<Value> {
    let mut cmd = match engine {
        Engine::Transformers(dtype) => {
            let mut c = Command::new(python?);
            c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/cpu_speed_transformers.py"))
                .arg(dir)
                .arg(dtype)
                .arg(tasks);
            c
        }
        Engine::Ours(q) => {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.args(["--child", q]).arg(dir).arg(tasks);
            c
        }
    };
    for (k, v) in env {
        cmd.env(k, v);
    }
    eprintln!(
        "running {}{}",
        engine.label(),
        match env.iter().find(|(k, _)| *k == "GEMMA_TUI_PREFIX_CACHE") {
            Some((_, "off")) => " (prefix cache off)",
            Some(_) => " (prefix cache on)",
            None => "",
        }
    );
    let out = cmd.stderr(std::process::Stdio::inherit()).output().ok()?;
    if !out.status.success() {
        eprintln!("{} failed: {}", engine.label(), out.status);
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(|a, b| a.total_cmp(b));
    (!v.is_empty()).then(|| v[v.len() / 2])
}

fn stat(results: &[Value], path: &[&str]) -> Option<f64> {
    median(
        results
            .iter()
            .filter_map(|r| path.iter().try_fold(r, |v, k| v.get(*k)).and_then(Value::as_f64))
            .collect(),
    )
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "–".into(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(&args[i + 1], Path::new(&args[i + 2]), Path::new(&args[i + 3])).await;
    }
    let env_or = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let rounds: usize = env_or("GEMMA_BENCH_ROUNDS", "1").parse().unwrap();
    let new_tokens: usize = env_or("GEMMA_BENCH_NEW", "32").parse().unwrap();
    let extra = env_or("GEMMA_BENCH_EXTRA", "1") != "0";
    let only = env_or("GEMMA_BENCH_ONLY", "tf-bf16,q4k,q6k,q8_0,f32,tf-f32");
    let tasks = env_or("GEMMA_BENCH_TASKS", "short,long,chat");
    let wanted = |task: &str| tasks.split(',').any(|t| t == task);

    let dir = std::env::var_os("GEMMA_BENCH_DIR").map_or_else(bench_gemma::default_dir, PathBuf::from);
    bench_gemma::ensure(&dir).expect("write the benchmark checkpoint");
    let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let python = python_with_transformers();

    let short = run("short", vec![msg("user", &text(&tokenizer, 40, 1))], new_tokens);
    let long = run("long", vec![msg("user", &text(&tokenizer, 1640, 2))], new_tokens);
    let chat = |turns: &[usize]| -> Vec<Value> {
        turns
            .iter()
            .map(|&t| run(&format!("chat{t}"), chat_turn(&tokenizer, t), 16))
            .collect()
    };
    let write_tasks = |name: &str, runs: Vec<Value>| -> PathBuf {
        let path = dir.join(format!("tasks-{name}.json"));
        std::fs::write(&path, json!({"runs": runs}).to_string()).unwrap();
        path
    };
    let prompts: Vec<Value> = [("short", short.clone()), ("long", long.clone())]
        .into_iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, run)| run)
        .collect();
    let mut with_cache = prompts.clone();
    let mut rereads = prompts;
    if wanted("chat") {
        with_cache.extend(chat(&(1..=10).collect::<Vec<_>>()));
        rereads.extend(chat(&[1, 5, 10]));
    }
    let ours_tasks = write_tasks("ours", with_cache);
    let tf_tasks = write_tasks("transformers", rereads);

    let engines: Vec<Engine> = [
        Engine::Transformers("bf16"),
        Engine::Ours("q4k"),
        Engine::Ours("q6k"),
        Engine::Ours("q8_0"),
        Engine::Ours("f32"),
        Engine::Transformers("f32"),
    ]
    .into_iter()
    .filter(|e| only.split(',').any(|k| k == e.key()))
    .collect();

    let mut bandwidths = vec![copy_bandwidth()];
    eprintln!("copy bandwidth: {:.1} GB/s", bandwidths[0] / 1e9);
    let mut results: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for &e in &engines {
            let tasks = if matches!(e, Engine::Transformers(_)) {
                &tf_tasks
            } else {
                &ours_tasks
            };
            // Ours with the prefix cache on (the default, within its budget; see
            // `engine::prefix_budget`): each chat turn then prefills only what is new.
            let env: &[(&str, &str)] = match e {
                Engine::Ours(_) => &[("GEMMA_TUI_PREFIX_CACHE", "on")],
                Engine::Transformers(_) => &[],
            };
            if let Some(r) = spawn_engine(e, &dir, tasks, python.as_deref(), env) {
                results.entry(e.key()).or_default().push(r);
            }
        }
        bandwidths.push(copy_bandwidth());
    }
    let bandwidth = median(bandwidths.clone()).unwrap();

    let mut studies = json!({});
    if extra {
        // Item 5: the same chat with the prefix cache off (every turn re-reads the history).
        let off = write_tasks("ours-nocache", chat(&[1, 5, 10]));
        studies["prefix_cache_off"] = spawn_engine(
            Engine::Ours("q4k"),
            &dir,
            &off,
            None,
            &[("GEMMA_TUI_PREFIX_CACHE", "off")],
        )
        .unwrap_or(Value::Null);
        // Item 4: decode speed against the context length, and a short chat after the long one.
        let kv = write_tasks(
            "ours-kv",
            vec![
                run("ctx50", vec![msg("user", &text(&tokenizer, 40, 3))], new_tokens),
                run("ctx1000", vec![msg("user", &text(&tokenizer, 990, 4))], new_tokens),
                run("ctx3000", vec![msg("user", &text(&tokenizer, 2990, 5))], new_tokens),
                run(
                    "ctx50_after_3000",
                    vec![msg("user", &text(&tokenizer, 40, 6))],
                    new_tokens,
                ),
            ],
        );
        studies["kv_cache"] = spawn_engine(
            Engine::Ours("q4k"),
            &dir,
            &kv,
            None,
            &[("GEMMA_TUI_PREFIX_CACHE", "off")],
        )
        .unwrap_or(Value::Null);
    }

    let report = json!({"bandwidth_bytes_per_s": bandwidths, "results": results, "studies": studies});
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let saved = dir.join(format!("results-{stamp}.json"));
    std::fs::write(&saved, serde_json::to_vec_pretty(&report).unwrap()).unwrap();

    print_table(&engines, &results, bandwidth, python.is_some(), new_tokens);
    print_studies(&studies);
    println!("\nraw results: {}", saved.display());
}

fn print_table(engines: &[Engine], results: &BTreeMap<String, Vec<Value>>, bandwidth: f64, have_tf: bool, new: usize) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l[l.find(':').unwrap() + 2..].to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nmachine: {cpu}, {cores} cores; copy bandwidth {:.1} GB/s (read + write, {cores} threads)",
        bandwidth / 1e9
    );
    println!(
        "{new} greedy new tokens, repetition penalty 1.05; decode = tokens after the first / time after the first"
    );
    if !have_tf {
        println!(
            "transformers not found (set GEMMA_BENCH_PYTHON to a python with torch + transformers): gemma-tui alone"
        );
    }
    let tf = results.get("tf-bf16").map(Vec::as_slice).unwrap_or_default();
    for (ctx, label) in [("short", "short prompt"), ("long", "long prompt")] {
        let tf_tps = stat(tf, &["runs", ctx, "decode_tps"]);
        let tf_ttft = stat(tf, &["runs", ctx, "ttft_s"]);
        let prompt = engines
            .iter()
            .find_map(|e| stat(results.get(&e.key())?, &["runs", ctx, "prompt_tokens"]));
        println!("\n{label} ({} tokens)\n", fmt(prompt, 0));
        println!("| engine | decode tok/s | vs tf bf16 | vs bandwidth limit | first token s | vs tf bf16 | load s | peak RSS GB |");
        println!("|---|---|---|---|---|---|---|---|");
        for &e in engines {
            let Some(r) = results.get(&e.key()) else { continue };
            let tps = stat(r, &["runs", ctx, "decode_tps"]);
            let ttft = stat(r, &["runs", ctx, "ttft_s"]);
            let limit = bandwidth / e.weight_bytes_per_token();
            println!(
                "| {} | {} | {} | {:.0}% of {:.1} | {} | {} | {} | {} |",
                e.label(),
                fmt(tps, 2),
                ratio(tps, tf_tps),
                tps.map_or(f64::NAN, |t| 100.0 * t / limit),
                limit,
                fmt(ttft, 2),
                ratio(ttft, tf_ttft),
                fmt(stat(r, &["load_s"]), 1),
                fmt(stat(r, &["peak_mb"]).map(|m| m / 1024.0), 1),
            );
        }
    }
    println!("\nchat: time to first token (s) at turn 1 / 5 / 10 (prompt tokens at turn 10)\n");
    println!("| engine | turn 1 | turn 5 | turn 10 | turn 10 vs tf bf16 | prompt tokens |");
    println!("|---|---|---|---|---|---|");
    let tf10 = stat(tf, &["runs", "chat10", "ttft_s"]);
    for &e in engines {
        let Some(r) = results.get(&e.key()) else { continue };
        let t = |n: usize| stat(r, &["runs", &format!("chat{n}"), "ttft_s"]);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            e.label(),
            fmt(t(1), 2),
            fmt(t(5), 2),
            fmt(t(10), 2),
            ratio(t(10), tf10),
            fmt(stat(r, &["runs", "chat10", "prompt_tokens"]), 0)
        );
    }
}

fn print_studies(studies: &Value) {
    if let Some(off) = studies.get("prefix_cache_off").filter(|v| !v.is_null()) {
        let t = |n: usize| fmt(off["runs"][format!("chat{n}")]["ttft_s"].as_f64(), 2);
        println!(
            "\ngemma-tui q4k, prefix cache off: first token at turn 1 / 5 / 10: {} / {} / {} s; RSS after turn 10 {} MB",
            t(1),
            t(5),
            t(10),
            fmt(off["runs"]["chat10"]["rss_mb"].as_f64(), 0)
        );
    }
    if let Some(kv) = studies.get("kv_cache").filter(|v| !v.is_null()) {
        println!("\ngemma-tui q4k decode rate against context (prefix cache off):\n");
        println!("| run | prompt tokens | decode tok/s | first token s |");
        println!("|---|---|---|---|");
        for name in ["ctx50", "ctx1000", "ctx3000", "ctx50_after_3000"] {
            let r = &kv["runs"][name];
            println!(
                "| {name} | {} | {} | {} |",
                r["prompt_tokens"],
                fmt(r["decode_tps"].as_f64(), 2),
                fmt(r["ttft_s"].as_f64(), 2)
            );
        }
    }
}
