//! A Gemma 2 2B-shaped checkpoint for the CPU speed benchmark: the real `gemma-2-2b` config
//! (26 layers, hidden 2304, intermediate 9216, 8 heads, 4 KV heads, head dim 256, window 4096,
//! vocabulary 256000: 2.61 B parameters) with seeded random bf16 weights and the test tokenizer
//! of `tests/support/tiny_gemma.rs` padded to 256000 pieces (`<unusedN>`), so that every id a
//! random model emits decodes on both sides. Written once (5.2 GB) and cached outside the
//! repository; the `complete` marker makes a half-written folder count as missing.
//!
//! The rows of `<eos>` and `<end_of_turn>` in the (tied) embedding are zero: their logit is 0
//! while the best of 256k random logits is positive, so no engine stops early and every run
//! decodes the same number of tokens.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::tiny_gemma;

pub const VOCAB: usize = 256_000;
pub const HIDDEN: usize = 2304;
pub const INTERMEDIATE: usize = 9216;
pub const LAYERS: usize = 26;
pub const HEADS: usize = 8;
pub const KV_HEADS: usize = 4;
pub const HEAD_DIM: usize = 256;
pub const WINDOW: usize = 4096;
/// Bumped whenever the bytes written change.
const VERSION: u32 = 1;
const SEED: u64 = 0x9e11_a2b0;

/// The matrices' parameters: the linear layers, and the embedding (tied to the LM head).
pub fn linear_params() -> u64 {
    let per_layer = HIDDEN * HEADS * HEAD_DIM * 2 + HIDDEN * KV_HEADS * HEAD_DIM * 2 + 3 * HIDDEN * INTERMEDIATE;
    (per_layer * LAYERS) as u64
}

pub fn embedding_params() -> u64 {
    (VOCAB * HIDDEN) as u64
}

pub fn default_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/gemma-tui-bench")
        .join(format!("gemma2-2b-random-v{VERSION}"))
}

/// The folder, written first if it is missing or incomplete.
pub fn ensure(dir: &Path) -> std::io::Result<()> {
    if dir.join("complete").exists() {
        return Ok(());
    }
    eprintln!("writing the 2B-shaped checkpoint to {} (once, ~5.2 GB)", dir.display());
    std::fs::create_dir_all(dir)?;
    let tiny = dir.join("tiny");
    tiny_gemma::write_tiny_gemma2(&tiny)?;
    for name in ["generation_config.json", "special_tokens_map.json"] {
        std::fs::copy(tiny.join(name), dir.join(name))?;
    }
    let mut tok_config: Value = serde_json::from_slice(&std::fs::read(tiny.join("tokenizer_config.json"))?)?;
    tok_config["model_max_length"] = json!(8192);
    std::fs::write(
        dir.join("tokenizer_config.json"),
        serde_json::to_vec_pretty(&tok_config)?,
    )?;
    let mut tokenizer: Value = serde_json::from_slice(&std::fs::read(tiny.join("tokenizer.json"))?)?;
    let vocab = tokenizer["model"]["vocab"].as_object_mut().expect("BPE vocab");
    let used = vocab.len();
    for id in used..VOCAB {
        vocab.insert(format!("<unused{}>", id - used), json!(id));
    }
    std::fs::write(dir.join("tokenizer.json"), serde_json::to_vec(&tokenizer)?)?;
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config())?)?;
    write_weights(&dir.join("model.safetensors"))?;
    std::fs::remove_dir_all(&tiny)?;
    std::fs::write(dir.join("complete"), b"")?;
    Ok(())
}

fn config() -> Value {
    json!({
        "architectures": ["Gemma2ForCausalLM"],
        "attention_bias": false,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": 50.0,
        "bos_token_id": tiny_gemma::BOS,
        "cache_implementation": "hybrid",
        "eos_token_id": [tiny_gemma::EOS, tiny_gemma::END_OF_TURN],
        "final_logit_softcapping": 30.0,
        "head_dim": HEAD_DIM,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": 8192,
        "model_type": "gemma2",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "pad_token_id": tiny_gemma::PAD,
        "query_pre_attn_scalar": HEAD_DIM,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "sliding_window": WINDOW,
        "tie_word_embeddings": true,
        "torch_dtype": "bfloat16",
        "use_cache": true,
        "vocab_size": VOCAB,
    })
}

/// (name, shape, half-width of the uniform draw; 0 = zeros).
fn tensors() -> Vec<(String, Vec<usize>, f32)> {
    let dims = tiny_gemma::Dims {
        vocab: VOCAB,
        hidden: HIDDEN,
        intermediate: INTERMEDIATE,
        heads: HEADS,
        kv_heads: KV_HEADS,
        head_dim: HEAD_DIM,
        layers: LAYERS,
    };
    tiny_gemma::gemma2_layout(&dims)
        .into_iter()
        .map(|(name, shape)| {
            // Norms are zeros (gain 1); linear layers get unit-variance outputs: sqrt(3 / fan_in).
            let half_width = match shape[..] {
                _ if name == "model.embed_tokens.weight" => 0.03,
                [_] => 0.0,
                [_, fan_in] => (3.0 / fan_in as f32).sqrt(),
                _ => 0.0,
            };
            (name, shape, half_width)
        })
        .collect()
}

fn write_weights(path: &Path) -> std::io::Result<()> {
    let tensors = tensors();
    let mut out = BufWriter::with_capacity(1 << 22, std::fs::File::create(path)?);
    let prefix =
        tiny_gemma::bf16_safetensors_prefix(tensors.iter().map(|(name, shape, _)| (name.as_str(), shape.as_slice())));
    out.write_all(&prefix)?;
    let stops = [tiny_gemma::EOS as usize, tiny_gemma::END_OF_TURN as usize];
    let mut buf = Vec::with_capacity(1 << 22);
    for (t, (name, shape, half_width)) in tensors.iter().enumerate() {
        let n: usize = shape.iter().product();
        let mut state = SEED ^ (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let is_embed = name == "model.embed_tokens.weight";
        let mut i = 0;
        while i < n {
            buf.clear();
            let chunk = (n - i).min(1 << 20);
            for j in i..i + chunk {
                // xorshift64*: fast, seeded, the same bytes on every machine.
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                let u = (r >> 40) as f32 * (2.0 / 16_777_216.0) - 1.0;
                let zero = *half_width == 0.0 || (is_embed && stops.contains(&(j / HIDDEN)));
                let v = if zero { 0.0 } else { u * half_width };
                buf.extend_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes());
            }
            out.write_all(&buf)?;
            i += chunk;
        }
    }
    out.flush()
}
