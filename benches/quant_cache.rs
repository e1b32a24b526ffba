//! Start time with and without the quantization cache: how long a `Load` takes from the command
//! to `Loaded` when it quantizes (no cache), when it quantizes and writes the cache entry (the
//! first start), and when it reads the entry (every later start). On the tiny Gemma 2 and on
//! the 2B-shaped checkpoint of the CPU speed bench (5.2 GB, written once under
//! `~/.cache/gemma-tui-bench/`; the largest model that fits a 24 GB machine unquantized).
//! Rounds are interleaved so machine noise hits every mode alike; medians are printed.
//!
//! Run: `cargo bench --profile dev --config 'profile.dev.opt-level=3' --bench quant_cache`
//! (`GEMMA_BENCH_QUANT_CACHE_ROUNDS`, default 3; `GEMMA_BENCH_ONLY=tiny` skips the 2B model).

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tiny_gemma.rs"]
mod tiny_gemma;

// Its parameter counts are for the speed bench; this one only needs the checkpoint.
#[allow(dead_code)]
#[path = "support/bench_gemma.rs"]
mod bench_gemma;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gemma_tui::engine::{self, DeviceChoice, EngineCommand, EngineEnv, EngineEvent, ModelSpec, Quantization};

/// One load on a fresh worker: its time to `Loaded`, and whether it read the cache.
async fn load(model: &Path, q: Quantization, cache: Option<&Path>) -> (Duration, bool) {
    let (handle, mut events) = engine::spawn(EngineEnv {
        hub: Default::default(),
        quant_cache: cache.map(Path::to_path_buf),
    });
    let started = Instant::now();
    handle.send(EngineCommand::Load {
        spec: ModelSpec::Dir(model.to_path_buf()),
        device: DeviceChoice::Cpu,
        quantization: q,
    });
    loop {
        match events.recv().await.expect("engine alive") {
            EngineEvent::Loaded(info) => return (started.elapsed(), info.from_cache),
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

async fn measure(name: &str, model: &Path, q: Quantization, rounds: usize) {
    let cache = tempfile::tempdir().expect("cache dir");
    let (mut plain, mut first, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        plain.push(load(model, q, None).await.0);
        let entry_root = cache.path().join("fresh");
        let _ = std::fs::remove_dir_all(&entry_root);
        let (cold, hit) = load(model, q, Some(&entry_root)).await;
        assert!(!hit);
        first.push(cold);
        let (again, hit) = load(model, q, Some(&entry_root)).await;
        assert!(hit, "the second start reads the cache");
        warm.push(again);
    }
    let (p, f, w) = (median(plain), median(first), median(warm));
    println!(
        "{name} {q}: no cache {:.2} s · first start (quantize + write) {:.2} s · later starts (read) {:.2} s · \
         read / no cache = {:.2}x",
        p.as_secs_f64(),
        f.as_secs_f64(),
        w.as_secs_f64(),
        w.as_secs_f64() / p.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("GEMMA_BENCH_QUANT_CACHE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let tiny: PathBuf = std::env::temp_dir().join(format!("gemma-tui-quant-bench-{}", std::process::id()));
    tiny_gemma::write_tiny_gemma2(&tiny).expect("tiny model");
    for q in [Quantization::Q8_0, Quantization::Q4K] {
        measure("tiny Gemma 2", &tiny, q, rounds).await;
    }
    let _ = std::fs::remove_dir_all(&tiny);
    if std::env::var("GEMMA_BENCH_ONLY").is_ok_and(|v| v == "tiny") {
        return;
    }
    let big = bench_gemma::default_dir();
    bench_gemma::ensure(&big).expect("the 2B-shaped checkpoint");
    for q in [Quantization::Q8_0, Quantization::Q4K] {
        measure("2B-shaped Gemma 2", &big, q, rounds).await;
    }
}
