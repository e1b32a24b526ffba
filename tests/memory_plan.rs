//! The memory planner against a real load: a Gemma 2 checkpoint large enough to measure (6
//! layers, hidden 512, 24 M parameters, written here with the tiny model's tokenizer) is loaded
//! on the CPU, and the process's resident memory grows by about what the planner estimates for
//! its weights and KV cache. Its own test binary: no other test allocates meanwhile.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use gemma_tui::engine::memory::{self, ModelShape};
use gemma_tui::engine::Quantization;
use support::{harness, tiny_gemma};

const LAYERS: usize = 6;
const HIDDEN: usize = 512;
const INTERMEDIATE: usize = 2048;
const HEADS: usize = 8;
const KV_HEADS: usize = 4;
const HEAD_DIM: usize = 64;

/// The fixture's folder with its config and weights replaced by a larger model of the same
/// vocabulary; seeded small random bf16 weights.
fn write_sized_model(dir: &Path) {
    let config_file = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_file).expect("config")).expect("json");
    let vocab = config["vocab_size"].as_u64().expect("vocab") as usize;
    for (key, value) in [
        ("num_hidden_layers", LAYERS),
        ("hidden_size", HIDDEN),
        ("intermediate_size", INTERMEDIATE),
        ("num_attention_heads", HEADS),
        ("num_key_value_heads", KV_HEADS),
        ("head_dim", HEAD_DIM),
        ("query_pre_attn_scalar", HEAD_DIM),
    ] {
        config[key] = value.into();
    }
    std::fs::write(&config_file, config.to_string()).expect("write config");
    let tensors = tiny_gemma::gemma2_layout(&tiny_gemma::Dims {
        vocab,
        hidden: HIDDEN,
        intermediate: INTERMEDIATE,
        heads: HEADS,
        kv_heads: KV_HEADS,
        head_dim: HEAD_DIM,
        layers: LAYERS,
    });
    let mut bytes = tiny_gemma::bf16_safetensors_prefix(tensors.iter().map(|(n, s)| (n.as_str(), s.as_slice())));
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for (_, shape) in &tensors {
        for _ in 0..shape.iter().product::<usize>() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = ((state >> 40) as f32 / 16_777_216.0 - 0.5) * 0.1;
            bytes.extend_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes());
        }
    }
    std::fs::write(dir.join("model.safetensors"), bytes).expect("write weights");
}

fn resident_bytes() -> u64 {
    let pid = sysinfo::get_current_pid().expect("pid");
    let mut system = sysinfo::System::new();
    system.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
    system.process(pid).map_or(0, |p| p.memory())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loads_resident_memory_is_what_the_planner_estimated() {
    let dir = harness::fixture_copy("sized");
    write_sized_model(&dir);
    let shape = ModelShape::of_folder(&dir).expect("shape");
    assert_eq!(shape.layers, LAYERS as u64);
    let estimate = memory::estimate(&shape, Quantization::None, 4);
    let planned = estimate.weights + estimate.kv_cache;

    let before = resident_bytes();
    let engine = harness::try_load(&dir).await.expect("the sized model loads");
    let grown = resident_bytes().saturating_sub(before) as f64;
    println!(
        "planned weights + cache {:.1} MB, resident growth {:.1} MB ({:.2}x)",
        planned / 1e6,
        grown / 1e6,
        grown / planned
    );
    // The stated margin: the f32 weights are the bulk of what a load keeps; the bf16 file it
    // read may stay mapped (up to half the f32 size again) and the engine's threads and
    // tokenizer add a little. So growth lies between 0.8x and 1.8x of the estimate.
    assert!(
        grown >= 0.8 * planned && grown <= 1.8 * planned,
        "resident growth {grown} bytes against {planned} planned"
    );
    drop(engine);
}
