//! A tiny, seeded Gemma 2 checkpoint for offline tests.
//!
//! Real Gemma 2 weights are gigabytes behind the Hugging Face hub, which tests cannot reach.
//! [`write_tiny_gemma2`] writes a ~0.4 MB folder with the same file set, tensor names, config keys,
//! tokenizer structure and chat template as `google/gemma-2-2b-it`, so the real loading and
//! generation path runs in well under a second. Everything comes from a fixed seed, a hand-written
//! PRNG and a hand-written JSON/safetensors writer, so the bytes are identical on every run and
//! platform. `tests/reference/goldens.json` holds transformers' greedy outputs for this model.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const PAD: u32 = 0;
pub const EOS: u32 = 1;
pub const BOS: u32 = 2;
pub const UNK: u32 = 3;
pub const START_OF_TURN: u32 = 4;
pub const END_OF_TURN: u32 = 5;
/// Byte-fallback token `<0xXX>` has id `BYTE_BASE + XX`.
pub const BYTE_BASE: u32 = 6;
/// Non-special added tokens, as Gemma has them (`"special": false, "normalized": false`).
pub const NEWLINE2: u32 = 262;
pub const NEWLINE3: u32 = 263;
pub const BR: u32 = 264;
pub const U_OPEN: u32 = 265;
pub const U_CLOSE: u32 = 266;
pub const TABLE: u32 = 267;
/// `▁` (the space piece); then `\n`, ASCII `!`..`~`, the [`HANGUL`] syllables, then BPE merges.
pub const SPACE_PIECE: u32 = 268;
pub const NEWLINE: u32 = 269;
pub const HANGUL: [char; 10] = ['안', '녕', '하', '세', '요', '는', '이', '다', '니', '습'];
pub const HANGUL_BASE: u32 = NEWLINE + 1 + 94;
pub const NUM_MERGES: usize = 256;
pub const VOCAB_SIZE: usize = HANGUL_BASE as usize + HANGUL.len() + NUM_MERGES;

pub const HIDDEN: usize = 64;
pub const HEAD_DIM: usize = 16;
pub const HEADS: usize = 4;
pub const KV_HEADS: usize = 2;
pub const INTERMEDIATE: usize = 128;
pub const LAYERS: usize = 4;
pub const SLIDING_WINDOW: usize = 128;
pub const MAX_POSITIONS: usize = 512;

/// Files written by [`write_tiny_gemma2`], in the order [`fingerprint`] hashes them.
pub const FILES: [&str; 6] = [
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
];

pub const CHAT_TEMPLATE: &str = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

/// How the weights are drawn. [`RECIPE`] is the one the goldens were made with.
#[derive(Clone, Debug)]
pub struct Recipe {
    pub seed: u64,
    /// Half-width of the uniform init of the (tied) embedding.
    pub embed_scale: f32,
    /// `1 + w` of the post-attention / post-feedforward norms: how loud each block is.
    pub block_gain: f32,
    /// `1 + w` of the final norm: scales all logits.
    pub final_gain: f32,
    /// Multiplier on the q/k init: sharper or flatter attention.
    pub attn_sharpness: f32,
    /// Scale of the 256 byte-fallback rows: small keeps replies mostly readable pieces.
    pub byte_rows: f32,
    /// Embedding rows scaled after drawing, to steer greedy decoding.
    pub boosted_rows: &'static [(u32, f32)],
}

pub const RECIPE: Recipe = Recipe {
    seed: 1,
    embed_scale: 0.4,
    block_gain: 3.0,
    // Negative: with tied embeddings a random model's top logit is the token it just read, so it
    // echoes forever; flipping the logits makes that the least likely choice instead.
    final_gain: -9.0,
    attn_sharpness: 2.0,
    byte_rows: 0.5,
    // Slightly louder `<end_of_turn>`, `<br>`, `\n\n` and `안`, so replies end and mix scripts.
    boosted_rows: &[(END_OF_TURN, 1.3), (BR, 1.3), (NEWLINE2, 1.3), (HANGUL_BASE, 1.3)],
};

const SPECIAL: [&str; 6] = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"];
const ADDED: [&str; 6] = ["\n\n", "\n\n\n", "<br>", "<u>", "</u>", "<table>"];

/// BPE training text: (weight, line). `user` / `model` are weighted so the chat roles become pieces.
const CORPUS: &[(u64, &str)] = &[
    (30, "user"),
    (30, "model"),
    (3, "The quick brown fox jumps over the lazy dog."),
    (3, "Hello! How are you today? I am fine, thank you."),
    (2, "The sea is calm and the sky is blue."),
    (2, "What is the capital of France? The capital of France is Paris."),
    (2, "Write a short poem about the moon and the stars."),
    (2, "Tell me a joke about a cat that can read."),
    (2, "There are three colors: red, green and blue."),
    (
        1,
        "In the morning the sun rises over the hills, and at night the moon shines.",
    ),
    (1, "Thank you for the help. Have a nice day!"),
    (1, "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"),
    (
        1,
        "Once upon a time, a little girl lived in a small house near the forest.",
    ),
    (
        1,
        "Computers process information quickly; programmers write instructions.",
    ),
    (1, "Please explain how photosynthesis works in green plants."),
    (1, "Good question! Here is a simple answer with examples."),
    (4, "안녕하세요 반갑습니다"),
    (2, "저는 학생입니다 이것은 책이다"),
    (2, "안녕히 가세요 감사합니다"),
    (1, "오늘 날씨가 좋네요 하늘이 파랗다"),
];

/// Writes the complete model folder into `dir` (created if missing).
pub fn write_tiny_gemma2(dir: &Path) -> std::io::Result<()> {
    write_with_recipe(dir, &RECIPE)
}

/// Like [`write_tiny_gemma2`] but with other weights; only for tuning the fixture.
pub fn write_with_recipe(dir: &Path, recipe: &Recipe) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in build_files(recipe) {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// FNV-1a 64 over each file of [`FILES`] in order: its name, a NUL byte, its bytes.
pub fn fingerprint(dir: &Path) -> std::io::Result<u64> {
    let mut hash = Fnv::new();
    for name in FILES {
        hash.write(name.as_bytes());
        hash.write(&[0]);
        hash.write(&std::fs::read(dir.join(name))?);
    }
    Ok(hash.0)
}

fn build_files(recipe: &Recipe) -> Vec<(&'static str, Vec<u8>)> {
    let pieces = vocabulary();
    let files = vec![
        ("config.json", pretty(&config())),
        ("generation_config.json", pretty(&generation_config())),
        ("model.safetensors", safetensors(recipe)),
        ("special_tokens_map.json", pretty(&special_tokens_map())),
        ("tokenizer.json", pretty(&tokenizer_json(&pieces))),
        ("tokenizer_config.json", pretty(&tokenizer_config())),
    ];
    debug_assert!(files.iter().map(|f| f.0).eq(FILES));
    files
}

// ---------------------------------------------------------------- randomness

struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1); the top 24 bits make every step exact in f32.
    fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (2.0 / 16_777_216.0) - 1.0
    }
}

/// `n` values uniform in [-half_width, half_width), from a stream keyed by the tensor name.
fn draw(recipe: &Recipe, name: &str, n: usize, half_width: f32) -> Vec<f32> {
    let mut key = Fnv::new();
    key.write(name.as_bytes());
    let mut rng = SplitMix64(recipe.seed ^ key.0);
    (0..n).map(|_| rng.uniform() * half_width).collect()
}

/// f32 -> bf16 bits, rounding to nearest even (inputs are finite).
fn bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

// ---------------------------------------------------------------- weights

fn tensors(recipe: &Recipe) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let mut embed = draw(
        recipe,
        "model.embed_tokens.weight",
        VOCAB_SIZE * HIDDEN,
        recipe.embed_scale,
    );
    for (row, factor) in (0..256)
        .map(|b| (BYTE_BASE + b, recipe.byte_rows))
        .chain(recipe.boosted_rows.iter().copied())
    {
        let start = row as usize * HIDDEN;
        embed[start..start + HIDDEN].iter_mut().for_each(|v| *v *= factor);
    }
    out.push(("model.embed_tokens.weight".to_string(), vec![VOCAB_SIZE, HIDDEN], embed));
    let norm = |name: String, gain: f32| {
        let w: Vec<f32> = draw(recipe, &name, HIDDEN, 0.1)
            .iter()
            .map(|v| v + gain - 1.0)
            .collect();
        (name, vec![HIDDEN], w)
    };
    out.push(norm("model.norm.weight".into(), recipe.final_gain));
    // Uniform half-width sqrt(3 / fan_in) gives unit variance outputs for unit-RMS inputs.
    let linear = |name: String, rows: usize, cols: usize, gain: f32| {
        let half_width = gain * (3.0 / cols as f32).sqrt();
        let w = draw(recipe, &name, rows * cols, half_width);
        (name, vec![rows, cols], w)
    };
    for i in 0..LAYERS {
        let p = format!("model.layers.{i}");
        out.push(norm(format!("{p}.input_layernorm.weight"), 1.0));
        out.push(norm(format!("{p}.post_attention_layernorm.weight"), recipe.block_gain));
        out.push(norm(format!("{p}.pre_feedforward_layernorm.weight"), 1.0));
        out.push(norm(
            format!("{p}.post_feedforward_layernorm.weight"),
            recipe.block_gain,
        ));
        let qk = recipe.attn_sharpness;
        out.push(linear(
            format!("{p}.self_attn.q_proj.weight"),
            HEADS * HEAD_DIM,
            HIDDEN,
            qk,
        ));
        out.push(linear(
            format!("{p}.self_attn.k_proj.weight"),
            KV_HEADS * HEAD_DIM,
            HIDDEN,
            qk,
        ));
        out.push(linear(
            format!("{p}.self_attn.v_proj.weight"),
            KV_HEADS * HEAD_DIM,
            HIDDEN,
            1.0,
        ));
        out.push(linear(
            format!("{p}.self_attn.o_proj.weight"),
            HIDDEN,
            HEADS * HEAD_DIM,
            1.0,
        ));
        out.push(linear(format!("{p}.mlp.gate_proj.weight"), INTERMEDIATE, HIDDEN, 1.0));
        out.push(linear(format!("{p}.mlp.up_proj.weight"), INTERMEDIATE, HIDDEN, 1.0));
        out.push(linear(format!("{p}.mlp.down_proj.weight"), HIDDEN, INTERMEDIATE, 1.0));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The sizes of a Gemma 2 checkpoint.
pub struct Dims {
    pub vocab: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub layers: usize,
}

/// Every tensor of a Gemma 2 checkpoint of these sizes (tied embedding), by name and shape,
/// sorted by name as a safetensors writer lays them out.
pub fn gemma2_layout(d: &Dims) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![
        ("model.embed_tokens.weight".to_string(), vec![d.vocab, d.hidden]),
        ("model.norm.weight".to_string(), vec![d.hidden]),
    ];
    for i in 0..d.layers {
        let p = format!("model.layers.{i}");
        for norm in [
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            out.push((format!("{p}.{norm}.weight"), vec![d.hidden]));
        }
        let (q, kv) = (d.heads * d.head_dim, d.kv_heads * d.head_dim);
        out.push((format!("{p}.self_attn.q_proj.weight"), vec![q, d.hidden]));
        out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, d.hidden]));
        out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, d.hidden]));
        out.push((format!("{p}.self_attn.o_proj.weight"), vec![d.hidden, q]));
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![d.intermediate, d.hidden]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![d.intermediate, d.hidden]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![d.hidden, d.intermediate]));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The start of a safetensors file of bf16 tensors stored in this order: the header's length
/// (8 bytes, little-endian) and the header, padded to 8 bytes. The data follows it.
pub fn bf16_safetensors_prefix<'a>(tensors: impl Iterator<Item = (&'a str, &'a [usize])>) -> Vec<u8> {
    let mut header = String::from(r#"{"__metadata__":{"format":"pt"}"#);
    let mut offset = 0;
    for (name, shape) in tensors {
        let end = offset + 2 * shape.iter().product::<usize>();
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        header += &format!(
            r#","{name}":{{"dtype":"BF16","shape":[{}],"data_offsets":[{offset},{end}]}}"#,
            dims.join(",")
        );
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

fn safetensors(recipe: &Recipe) -> Vec<u8> {
    let tensors = tensors(recipe);
    let mut out = bf16_safetensors_prefix(tensors.iter().map(|(name, shape, _)| (name.as_str(), shape.as_slice())));
    for (_, _, values) in &tensors {
        for &v in values {
            out.extend_from_slice(&bf16_bits(v).to_le_bytes());
        }
    }
    out
}

// ---------------------------------------------------------------- tokenizer

/// Every vocabulary piece by id, plus the merges that built the learned ones.
struct Pieces {
    vocab: Vec<String>,
    merges: Vec<(String, String)>,
}

fn vocabulary() -> Pieces {
    let mut vocab: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    vocab.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
    vocab.extend(ADDED.iter().map(|s| s.to_string()));
    vocab.push("▁".into());
    vocab.push("\n".into());
    vocab.extend((b'!'..=b'~').map(|b| char::from(b).to_string()));
    vocab.extend(HANGUL.iter().map(|c| c.to_string()));
    debug_assert_eq!(vocab.len(), HANGUL_BASE as usize + HANGUL.len());
    let merges = train_bpe(&vocab);
    vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
    debug_assert_eq!(vocab.len(), VOCAB_SIZE);
    Pieces { vocab, merges }
}

/// Classic BPE on [`CORPUS`]: words start at `▁`, `\n` stands alone, characters outside the
/// base alphabet split words (they will be byte-fallback). Ties go to the smallest pair, and a
/// pair is skipped if its concatenation is already a piece, so each merge adds exactly one piece.
fn train_bpe(base: &[String]) -> Vec<(String, String)> {
    let mut known: BTreeSet<String> = base.iter().cloned().collect();
    let mut words: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for &(weight, line) in CORPUS {
        let mut word: Vec<String> = Vec::new();
        for ch in line.replace(' ', "▁").chars() {
            let s = ch.to_string();
            let alone = ch == '\n' || !known.contains(&s);
            if (alone || ch == '▁') && !word.is_empty() {
                *words.entry(std::mem::take(&mut word)).or_default() += weight;
            }
            if !alone {
                word.push(s);
            }
        }
        if !word.is_empty() {
            *words.entry(word).or_default() += weight;
        }
    }
    let mut merges = Vec::new();
    while merges.len() < NUM_MERGES {
        let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for (word, n) in &words {
            for pair in word.windows(2) {
                *counts.entry((&pair[0], &pair[1])).or_default() += n;
            }
        }
        let best = counts
            .iter()
            .filter(|((a, b), _)| !known.contains(&format!("{a}{b}")))
            .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
            .map(|((a, b), _)| (a.to_string(), b.to_string()))
            .expect("corpus too small for NUM_MERGES");
        let joined = format!("{}{}", best.0, best.1);
        let mut merged = BTreeMap::new();
        for (word, n) in words {
            let mut out: Vec<String> = Vec::with_capacity(word.len());
            for piece in word {
                if out.last() == Some(&best.0) && piece == best.1 {
                    *out.last_mut().expect("non-empty") = joined.clone();
                } else {
                    out.push(piece);
                }
            }
            *merged.entry(out).or_default() += n;
        }
        words = merged;
        known.insert(joined);
        merges.push(best);
    }
    merges
}

fn added_token(id: usize, content: &str) -> Value {
    json!({
        "id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
        "normalized": false, "special": id < SPECIAL.len(),
    })
}

fn added_ids() -> impl Iterator<Item = (usize, &'static str)> {
    let added = ADDED.iter().enumerate().map(|(i, s)| (NEWLINE2 as usize + i, *s));
    SPECIAL.iter().copied().enumerate().chain(added)
}

fn tokenizer_json(pieces: &Pieces) -> Value {
    let vocab: serde_json::Map<String, Value> = pieces
        .vocab
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), json!(i)))
        .collect();
    let merges: Vec<String> = pieces.merges.iter().map(|(a, b)| format!("{a} {b}")).collect();
    let bos = |type_id: u32| json!({"SpecialToken": {"id": "<bos>", "type_id": type_id}});
    let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_ids().map(|(id, s)| added_token(id, s)).collect::<Vec<_>>(),
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": null,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [bos(0), seq("A", 0)],
            "pair": [bos(0), seq("A", 0), bos(1), seq("B", 1)],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": "<unk>",
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    })
}

fn token_entry(content: &str) -> Value {
    json!({"content": content, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false})
}

fn tokenizer_config() -> Value {
    let decoder: serde_json::Map<String, Value> = added_ids()
        .map(|(id, s)| {
            let mut entry = token_entry(s);
            entry["special"] = json!(id < SPECIAL.len());
            (id.to_string(), entry)
        })
        .collect();
    json!({
        "add_bos_token": true,
        "add_eos_token": false,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
        "bos_token": "<bos>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": false,
        "eos_token": "<eos>",
        "model_max_length": MAX_POSITIONS,
        "pad_token": "<pad>",
        "padding_side": "left",
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": false,
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": false,
    })
}

fn special_tokens_map() -> Value {
    json!({
        "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
        "bos_token": token_entry("<bos>"),
        "eos_token": token_entry("<eos>"),
        "pad_token": token_entry("<pad>"),
        "unk_token": token_entry("<unk>"),
    })
}

// ---------------------------------------------------------------- configs

fn config() -> Value {
    json!({
        "architectures": ["Gemma2ForCausalLM"],
        "attention_bias": false,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": 50.0,
        "bos_token_id": BOS,
        "cache_implementation": "hybrid",
        "eos_token_id": [EOS, END_OF_TURN],
        "final_logit_softcapping": 30.0,
        "head_dim": HEAD_DIM,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_POSITIONS,
        "model_type": "gemma2",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "pad_token_id": PAD,
        "query_pre_attn_scalar": HEAD_DIM,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "sliding_window": SLIDING_WINDOW,
        "torch_dtype": "bfloat16",
        "use_cache": true,
        "vocab_size": VOCAB_SIZE,
    })
}

fn generation_config() -> Value {
    json!({"bos_token_id": BOS, "eos_token_id": [EOS, END_OF_TURN], "pad_token_id": PAD})
}

// ---------------------------------------------------------------- JSON

/// Pretty JSON with sorted keys, independent of serde_json's `preserve_order` feature.
fn pretty(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    emit(value, 0, &mut out);
    out.push('\n');
    out.into_bytes()
}

fn emit(value: &Value, depth: usize, out: &mut String) {
    let indent = |out: &mut String, d: usize| out.extend(std::iter::repeat_n("  ", d));
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push_str(": ");
                emit(&map[key.as_str()], depth + 1, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                emit(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Number(n) if n.is_f64() => out.push_str(&format!("{:?}", n.as_f64().unwrap_or(0.0))),
        other => out.push_str(&other.to_string()),
    }
}
