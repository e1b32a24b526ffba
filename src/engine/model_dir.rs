//! What is in a model folder: is it complete, is it intact, which Gemma is it, and how much
//! context can it really use. Checked before mistral.rs sees the folder, because mistral.rs 0.8.1
//! panics or prints vague errors on missing and malformed files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    Gemma2,
    /// Gemma 3 text-only checkpoints (`Gemma3ForCausalLM`); their own template handles turns.
    Gemma3,
}

impl ModelFamily {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gemma2 => "Gemma 2",
            Self::Gemma3 => "Gemma 3",
        }
    }
}

/// A model folder that passed inspection.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub path: PathBuf,
    pub family: ModelFamily,
    pub usable_context: usize,
    pub weight_files: Vec<PathBuf>,
    /// Bytes of tensor data on disk.
    pub weight_bytes: u64,
    /// The on-disk dtype of the weights (`BF16`, `F32`, ...), from the first tensor.
    pub weight_dtype: String,
    /// The chat template from `tokenizer_config.json`, when there is one.
    pub chat_template: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelDirError {
    #[error("model folder {0} does not exist: pass a folder holding config.json, tokenizer.json and *.safetensors")]
    NotFound(PathBuf),
    #[error(
        "{path} is not a model folder: it lacks {missing} (a Hugging Face model folder holds \
         config.json, tokenizer.json and *.safetensors weights)"
    )]
    NotAModel { path: PathBuf, missing: String },
    #[error("{file} is corrupt ({reason}): download it again or restore the folder")]
    Corrupt { file: PathBuf, reason: String },
    /// Files that read fine but cannot hold a Gemma chat (no turn tokens, a template that fails).
    #[error("{file}: {reason}")]
    NotAChat { file: PathBuf, reason: String },
    #[error("{path} holds a `{architecture}` model: gemma-tui runs Gemma 2 and Gemma 3 text models")]
    Unsupported { path: PathBuf, architecture: String },
}

/// The files a complete folder lacks (empty when complete). Used for HF cache snapshots too.
pub fn missing_files(dir: &Path) -> Vec<String> {
    let mut missing: Vec<String> = ["config.json", "tokenizer.json"]
        .into_iter()
        .filter(|f| !dir.join(f).is_file())
        .map(String::from)
        .collect();
    match weight_files(dir) {
        Ok(files) if files.is_empty() => missing.push("*.safetensors weights".into()),
        Ok(files) => missing.extend(
            files
                .iter()
                .filter(|f| !f.is_file())
                .map(|f| f.file_name().unwrap_or_default().to_string_lossy().into_owned()),
        ),
        Err(_) => missing.push("a readable model.safetensors.index.json".into()),
    }
    missing
}

/// Weight files as named by the shard index when there is one, else every `*.safetensors`.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, ModelDirError> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let json = read_json(&index)?;
        let mut shards: Vec<String> = json
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| corrupt(&index, "no weight_map"))?
            .values()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        shards.sort();
        shards.dedup();
        return Ok(shards.into_iter().map(|s| dir.join(s)).collect());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "safetensors"));
    files.sort();
    Ok(files)
}

fn corrupt(file: &Path, reason: impl Into<String>) -> ModelDirError {
    ModelDirError::Corrupt {
        file: file.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_json(file: &Path) -> Result<Value, ModelDirError> {
    let text = std::fs::read_to_string(file).map_err(|e| corrupt(file, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| corrupt(file, format!("invalid JSON: {e}")))
}

/// Inspects a folder: complete, intact, a supported Gemma. Reads only headers, never weights.
pub fn inspect(dir: &Path) -> Result<ModelDir, ModelDirError> {
    if !dir.is_dir() {
        return Err(ModelDirError::NotFound(dir.to_path_buf()));
    }
    let missing = missing_files(dir);
    if !missing.is_empty() {
        return Err(ModelDirError::NotAModel {
            path: dir.to_path_buf(),
            missing: missing.join(", "),
        });
    }
    let config_path = dir.join("config.json");
    let config = read_json(&config_path)?;
    let family = family_of(dir, &config)?;
    let usable_context = usable_context(family, &config)
        .ok_or_else(|| corrupt(&config_path, "no max_position_embeddings / sliding_window"))?;

    let tokenizer_path = dir.join("tokenizer.json");
    tokenizers::Tokenizer::from_file(&tokenizer_path).map_err(|e| corrupt(&tokenizer_path, e.to_string()))?;
    let chat_template = chat_template(dir)?;

    let weight_files = weight_files(dir)?;
    let mut weight_bytes = 0;
    let mut weight_dtype = String::new();
    for file in &weight_files {
        let header = safetensors_header(file)?;
        weight_bytes += header.data_bytes;
        if weight_dtype.is_empty() {
            weight_dtype = header.first_dtype;
        }
    }
    Ok(ModelDir {
        path: dir.to_path_buf(),
        family,
        usable_context,
        weight_files,
        weight_bytes,
        weight_dtype,
        chat_template,
    })
}

fn family_of(dir: &Path, config: &Value) -> Result<ModelFamily, ModelDirError> {
    let architecture = config
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .or_else(|| config.get("model_type").and_then(Value::as_str))
        .unwrap_or("unknown");
    match architecture {
        "Gemma2ForCausalLM" | "gemma2" => Ok(ModelFamily::Gemma2),
        "Gemma3ForCausalLM" | "gemma3_text" => Ok(ModelFamily::Gemma3),
        other => Err(ModelDirError::Unsupported {
            path: dir.to_path_buf(),
            architecture: other.to_string(),
        }),
    }
}

/// Tokens that prompt plus answer may occupy.
///
/// Gemma 2 was trained for 8K tokens, attending globally on every other layer. mistral.rs 0.8.1
/// builds its Gemma 2 KV cache as a sliding cache on *every* layer, so once a sequence passes
/// `sliding_window` (4096) the global layers silently forget the oldest tokens and the output
/// drifts from transformers. Until that is fixed upstream the honest budget is the window.
/// Gemma 3's cache in 0.8.1 keeps global layers global, so it gets its full length.
pub fn usable_context(family: ModelFamily, config: &Value) -> Option<usize> {
    let get = |key: &str| config.get(key).and_then(Value::as_u64).map(|v| v as usize);
    let max_positions = get("max_position_embeddings")?;
    match family {
        ModelFamily::Gemma2 => Some(get("sliding_window").map_or(max_positions, |w| w.min(max_positions))),
        ModelFamily::Gemma3 => Some(max_positions),
    }
}

fn chat_template(dir: &Path) -> Result<Option<String>, ModelDirError> {
    let path = dir.join("tokenizer_config.json");
    if !path.is_file() {
        return Ok(None);
    }
    let json = read_json(&path)?;
    Ok(json.get("chat_template").and_then(Value::as_str).map(String::from))
}

struct SafetensorsHeader {
    data_bytes: u64,
    first_dtype: String,
}

/// Reads and checks a safetensors header: its length, its JSON, and that every tensor's bytes
/// lie inside the file. A truncated download fails here with a clear message.
fn safetensors_header(file: &Path) -> Result<SafetensorsHeader, ModelDirError> {
    let mut f = File::open(file).map_err(|e| corrupt(file, e.to_string()))?;
    let file_len = f.metadata().map_err(|e| corrupt(file, e.to_string()))?.len();
    let mut len_bytes = [0u8; 8];
    f.read_exact(&mut len_bytes)
        .map_err(|_| corrupt(file, "shorter than a safetensors header"))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > 100 << 20 || 8 + header_len > file_len {
        return Err(corrupt(file, "the header length does not fit the file"));
    }
    let mut header = vec![0u8; header_len as usize];
    f.read_exact(&mut header).map_err(|e| corrupt(file, e.to_string()))?;
    let json: Value = serde_json::from_slice(&header).map_err(|e| corrupt(file, format!("unreadable header: {e}")))?;
    let tensors = json
        .as_object()
        .ok_or_else(|| corrupt(file, "the header is not a JSON object"))?;
    let data_len = file_len - 8 - header_len;
    let mut end_max = 0;
    let mut first_dtype = String::new();
    for (name, info) in tensors.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let offsets = info.get("data_offsets").and_then(Value::as_array);
        let end = match offsets.map(|o| (o.first().and_then(Value::as_u64), o.get(1).and_then(Value::as_u64))) {
            Some((Some(start), Some(end))) if start <= end => end,
            _ => return Err(corrupt(file, format!("tensor {name} has no valid data_offsets"))),
        };
        if end > data_len {
            return Err(corrupt(
                file,
                format!("tensor {name} ends past the end of the file (truncated download?)"),
            ));
        }
        end_max = end_max.max(end);
        if first_dtype.is_empty() {
            first_dtype = info.get("dtype").and_then(Value::as_str).unwrap_or("?").to_string();
        }
    }
    Ok(SafetensorsHeader {
        data_bytes: end_max,
        first_dtype,
    })
}
