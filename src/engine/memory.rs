//! The memory planner: what a model needs before it is loaded — weights at the chosen dtype and
//! quantization, the KV cache for the usable context, activations — against what the device
//! has free. Needs no download: the three presets' shapes are in a table (their published
//! `config.json`), and a folder's shape is read from its own `config.json`.
//!
//! The figures are estimates for a decision ("fits / tight / will not fit"), not a promise;
//! `tests/memory_plan.rs` checks one against the memory a real load takes.

use std::path::Path;

use serde_json::Value;

use super::quantization::Quantization;

const GIB: f64 = (1u64 << 30) as f64;

/// The parts of a Gemma config that size its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelShape {
    pub layers: u64,
    pub hidden: u64,
    pub intermediate: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub vocab: u64,
    /// Tokens the KV cache holds at most (mistral.rs 0.8.1: the sliding window on every layer).
    pub cache_tokens: u64,
}

/// Gemma 2 2B / 9B / 27B instruction-tuned, from their published `config.json`.
pub const PRESET_SHAPES: [(&str, ModelShape); 3] = [
    (
        "google/gemma-2-2b-it",
        ModelShape {
            layers: 26,
            hidden: 2304,
            intermediate: 9216,
            heads: 8,
            kv_heads: 4,
            head_dim: 256,
            vocab: 256_000,
            cache_tokens: 4096,
        },
    ),
    (
        "google/gemma-2-9b-it",
        ModelShape {
            layers: 42,
            hidden: 3584,
            intermediate: 14336,
            heads: 16,
            kv_heads: 8,
            head_dim: 256,
            vocab: 256_000,
            cache_tokens: 4096,
        },
    ),
    (
        "google/gemma-2-27b-it",
        ModelShape {
            layers: 46,
            hidden: 4608,
            intermediate: 36864,
            heads: 32,
            kv_heads: 16,
            head_dim: 128,
            vocab: 256_000,
            cache_tokens: 4096,
        },
    ),
];

impl ModelShape {
    pub fn of_preset(repo: &str) -> Option<Self> {
        PRESET_SHAPES.iter().find(|(r, _)| *r == repo).map(|(_, s)| *s)
    }

    /// Reads a model folder's `config.json` (Gemma 2 or 3 text; Gemma 3 nests it).
    pub fn of_folder(dir: &Path) -> Result<Self, String> {
        let file = dir.join("config.json");
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
        Self::from_config(json.get("text_config").unwrap_or(&json)).ok_or_else(|| {
            format!(
                "{} lacks a size field (num_hidden_layers, hidden_size, intermediate_size, \
                 num_attention_heads, vocab_size)",
                file.display()
            )
        })
    }

    fn from_config(c: &Value) -> Option<Self> {
        let get = |k: &str| c.get(k).and_then(Value::as_u64);
        let hidden = get("hidden_size")?;
        let heads = get("num_attention_heads")?;
        let window = get("sliding_window");
        let positions = get("max_position_embeddings").unwrap_or(8192);
        Some(Self {
            layers: get("num_hidden_layers")?,
            hidden,
            intermediate: get("intermediate_size")?,
            heads,
            kv_heads: get("num_key_value_heads").unwrap_or(heads),
            head_dim: get("head_dim").unwrap_or(hidden / heads.max(1)),
            vocab: get("vocab_size")?,
            cache_tokens: window.map_or(positions, |w| w.min(positions)),
        })
    }

    /// The embedding table (Gemma ties it to the output head).
    pub fn embedding_params(&self) -> u64 {
        self.vocab * self.hidden
    }

    /// The weights of the linear layers: attention projections and the gated MLP.
    pub fn linear_params(&self) -> u64 {
        let attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads);
        let mlp = 3 * self.hidden * self.intermediate;
        self.layers * (attention + mlp)
    }

    /// Every parameter, norms included.
    pub fn params(&self) -> u64 {
        let norms = self.layers * 4 * self.hidden + self.hidden;
        self.embedding_params() + self.linear_params() + norms
    }
}

/// What a load is expected to take, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub weights: f64,
    pub kv_cache: f64,
    pub activations: f64,
}

impl Estimate {
    pub fn total(&self) -> f64 {
        self.weights + self.kv_cache + self.activations
    }

    pub fn total_gib(&self) -> f64 {
        self.total() / GIB
    }
}

/// Estimates a load of `shape` quantized with `q`, computing in `dtype_bytes` per value.
///
/// - Weights: unquantized, every parameter at `dtype_bytes`. Quantized, the linear layers and
///   the output head (mistral.rs quantizes its copy of the tied embedding) at the type's bits
///   per weight; the embedding table and norms stay at `dtype_bytes`.
/// - KV cache: keys and values of every layer for `cache_tokens`, at `dtype_bytes`.
/// - Activations: one prefill of the whole usable context, with eager attention scores
///   (heads x tokens x tokens, f32) and the MLP's two intermediate tensors.
pub fn estimate(shape: &ModelShape, q: Quantization, dtype_bytes: u64) -> Estimate {
    let dtype = dtype_bytes as f64;
    let weights = match q.bits_per_weight() {
        None => shape.params() as f64 * dtype,
        Some(bits) => {
            let quantized = (shape.linear_params() + shape.embedding_params()) as f64 * bits / 8.0;
            let dense = (shape.params() - shape.linear_params()) as f64 * dtype;
            quantized + dense
        }
    };
    let tokens = shape.cache_tokens as f64;
    let kv_cache = (2 * shape.layers * shape.kv_heads * shape.head_dim) as f64 * tokens * dtype;
    let scores = shape.heads as f64 * tokens * tokens * 4.0;
    let mlp = 2.0 * tokens * shape.intermediate as f64 * dtype;
    Estimate {
        weights,
        kv_cache,
        activations: scores + mlp,
    }
}

/// How an estimate sits against the memory that is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Leaves at least a fifth of the free memory.
    Fits,
    /// Fits, but with little room: other programs may push it out (or into swap).
    Tight,
    WillNotFit,
}

impl Fit {
    pub fn of(needed: f64, free: f64) -> Self {
        if needed > free {
            Self::WillNotFit
        } else if needed > free * 0.8 {
            Self::Tight
        } else {
            Self::Fits
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Fits => "fits",
            Self::Tight => "tight",
            Self::WillNotFit => "will not fit",
        }
    }
}

/// Memory the system has free for a new load (RAM, which a CPU load uses), in bytes.
pub fn free_ram_bytes() -> u64 {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    system.available_memory()
}

/// The quantizations that would fit in `free` bytes, smallest change first (largest that fits).
pub fn fitting_quantizations(shape: &ModelShape, dtype_bytes: u64, free: f64) -> Vec<Quantization> {
    let mut fitting: Vec<(f64, Quantization)> = [
        Quantization::Q8_0,
        Quantization::Q6K,
        Quantization::Q5K,
        Quantization::Q4K,
        Quantization::Q3K,
        Quantization::Q2K,
    ]
    .into_iter()
    .map(|q| (estimate(shape, q, dtype_bytes).total(), q))
    .filter(|(need, _)| Fit::of(*need, free) != Fit::WillNotFit)
    .collect();
    fitting.sort_by(|a, b| b.0.total_cmp(&a.0));
    fitting.into_iter().map(|(_, q)| q).collect()
}

/// "27B in bf16 ~50.7 GiB: will not fit in 23.1 GiB free; Q4K (~16.3 GiB) would".
pub fn describe(
    name: &str,
    q: Quantization,
    estimate: &Estimate,
    free: f64,
    fallback: Option<(Quantization, f64)>,
) -> String {
    let fit = Fit::of(estimate.total(), free);
    let mut line = format!(
        "{name} {}: ~{:.1} GiB ({:.1} weights + {:.1} cache + {:.1} work) — {} in {:.1} GiB free",
        if q.is_none() {
            "unquantized".to_string()
        } else {
            q.to_string()
        },
        estimate.total_gib(),
        estimate.weights / GIB,
        estimate.kv_cache / GIB,
        estimate.activations / GIB,
        fit.label(),
        free / GIB
    );
    if let (Fit::WillNotFit, Some((q, need))) = (fit, fallback) {
        line.push_str(&format!("; {q} (~{:.1} GiB) would fit", need / GIB));
    }
    line
}

#[cfg(test)]
mod tests;
