//! Gemma 2's output layer in a CPU cache entry, quantized.
//!
//! mistral.rs 0.8.1 quantizes Gemma 2 while it reads the weights, layer by layer. Gemma 2's
//! output layer (`lm_head`) is the tied embedding, built from the embedding tensor rather than
//! read as a linear layer, so it is never quantized: it stays f32, 256,000 x 2,304 values read
//! on every token (2.4 GB for the 2B model) through a matrix-vector product that runs on one
//! core. The UQFF file holds it as its first layer; here that layer is replaced by the
//! embedding quantized with candle, serialized the way mistral.rs's own quantized layers are,
//! so that a load from the entry gets a quantized output layer like every other.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device};
use mistralrs_quant::{GgufMatMul, QuantMethod, QuantMethodConfig, QuantizedSerde};

use crate::engine::quantization::Quantization;

/// The embedding's name in a Gemma 2 checkpoint.
const EMBEDDING: &str = "model.embed_tokens.weight";
/// The output layer's key in mistral.rs's UQFF: layers are numbered in `get_layers` order,
/// and Gemma 2 lists `lm_head` first.
const LM_HEAD_KEY: &str = "0";

/// The type the output layer gets for a model quantized with `q`: as llama.cpp's `*_K_M`
/// files keep it, at least 6 bits (it decides every token); `None` for types whose CPU path
/// is slow anyway (those are for GPUs).
pub fn lm_head_type(q: Quantization) -> Option<GgmlDType> {
    use Quantization as Q;
    Some(match q {
        Q::Q8_0 | Q::Q8_1 | Q::Q8K => GgmlDType::Q8_0,
        Q::Q6K | Q::Q5K | Q::Q4K | Q::Q3K | Q::Q2K | Q::Q4_0 | Q::Q4_1 | Q::Q5_0 | Q::Q5_1 => GgmlDType::Q6K,
        _ => return None,
    })
}

/// Replaces the f32 output layer in `uqff` (a Gemma 2 entry's first shard) by the embedding
/// of `weight_files` quantized to `ty`. The file is rewritten beside itself and renamed over
/// it, so a failure leaves the entry as mistral.rs wrote it.
pub fn quantize_into(uqff: &Path, weight_files: &[std::path::PathBuf], ty: GgmlDType) -> Result<(), String> {
    let layer = quantized_embedding(weight_files, ty)?;
    replace_tensor(uqff, LM_HEAD_KEY, &layer)
}

/// The embedding, quantized and serialized as a UQFF GGUF layer.
fn quantized_embedding(weight_files: &[std::path::PathBuf], ty: GgmlDType) -> Result<Vec<u8>, String> {
    for file in weight_files {
        // SAFETY of the map: the checkpoint is not written while a model loads from it (the
        // same assumption mistral.rs makes when it maps these files).
        let tensors = unsafe { candle_core::safetensors::MmapedSafetensors::new(file) }.map_err(|e| e.to_string())?;
        if tensors.get(EMBEDDING).is_err() {
            continue;
        }
        let weight = tensors
            .load(EMBEDDING, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| format!("{EMBEDDING}: {e}"))?;
        let quantized = QTensor::quantize(&weight, ty).map_err(|e| format!("quantizing {EMBEDDING}: {e}"))?;
        drop(weight);
        let layer = GgufMatMul::new(QuantMethodConfig::Gguf {
            q_weight: Arc::new(quantized),
            b: None,
        })
        .map_err(|e| e.to_string())?;
        return layer
            .serialize()
            .map(|bytes| bytes.into_owned())
            .map_err(|e| e.to_string());
    }
    Err(format!("no {EMBEDDING} in the model's weight files"))
}

/// Rewrites the safetensors file `path` with tensor `key`'s bytes replaced by `bytes` (a
/// UQFF layer is one `U8` tensor), copying the others as they are.
fn replace_tensor(path: &Path, key: &str, bytes: &[u8]) -> Result<(), String> {
    let shown = path.display();
    let mut input = File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let (header, data_start) = read_header(&mut input).map_err(|e| format!("{shown}: {e}"))?;
    let mut entries: Vec<(String, serde_json::Value)> = header
        .as_object()
        .ok_or_else(|| format!("{shown}: the header is not an object"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !entries.iter().any(|(k, _)| k == key) {
        return Err(format!("{shown}: no tensor `{key}`"));
    }
    // Keep the data in the file's order, so each copy reads forward.
    let offsets = |v: &serde_json::Value| {
        let o = &v["data_offsets"];
        (o[0].as_u64().unwrap_or(0), o[1].as_u64().unwrap_or(0))
    };
    entries.retain(|(k, _)| k != "__metadata__");
    entries.sort_by_key(|(_, v)| offsets(v).0);

    let mut new_header = serde_json::Map::new();
    let mut at = 0u64;
    for (k, v) in &entries {
        let (begin, end) = offsets(v);
        let len = if k == key { bytes.len() as u64 } else { end - begin };
        let mut v = v.clone();
        v["data_offsets"] = serde_json::json!([at, at + len]);
        if k == key {
            v["shape"] = serde_json::json!([bytes.len()]);
        }
        new_header.insert(k.clone(), v);
        at += len;
    }
    let mut header_bytes = serde_json::to_vec(&new_header).map_err(|e| e.to_string())?;
    // safetensors pads the header with spaces to a multiple of 8.
    while header_bytes.len() % 8 != 0 {
        header_bytes.push(b' ');
    }

    let temp = path.with_extension("uqff.partial");
    let written = (|| -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(&temp)?);
        out.write_all(&(header_bytes.len() as u64).to_le_bytes())?;
        out.write_all(&header_bytes)?;
        for (k, v) in &entries {
            if k == key {
                out.write_all(bytes)?;
                continue;
            }
            let (begin, end) = offsets(v);
            input.seek(SeekFrom::Start(data_start + begin))?;
            std::io::copy(&mut (&mut input).take(end - begin), &mut out)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("{shown}: {e}"));
    }
    Ok(())
}

/// The JSON header of a safetensors file, and where its data starts.
fn read_header(file: &mut File) -> std::io::Result<(serde_json::Value, u64)> {
    let mut len = [0u8; 8];
    file.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > 100 << 20 {
        return Err(std::io::Error::other("the header is implausibly large"));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header)?;
    let value = serde_json::from_slice(&header).map_err(std::io::Error::other)?;
    Ok((value, 8 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_safetensors(path: &Path, tensors: &[(&str, Vec<u8>)]) {
        let mut header = serde_json::Map::new();
        let mut at = 0;
        for (k, bytes) in tensors {
            header.insert(
                k.to_string(),
                serde_json::json!({"dtype": "U8", "shape": [bytes.len()], "data_offsets": [at, at + bytes.len()]}),
            );
            at += bytes.len();
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header);
        for (_, bytes) in tensors {
            out.extend(bytes);
        }
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn one_tensor_is_replaced_and_the_others_are_kept_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weights-0.uqff");
        write_safetensors(&path, &[("0", vec![1; 40]), ("1", vec![2, 3, 4]), ("10", vec![5; 7])]);
        replace_tensor(&path, "0", &[9, 9]).unwrap();
        let data = std::fs::read(&path).unwrap();
        let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(&path) }.unwrap();
        assert_eq!(st.get("0").unwrap().data(), &[9, 9]);
        assert_eq!(st.get("1").unwrap().data(), &[2, 3, 4]);
        assert_eq!(st.get("10").unwrap().data(), &[5; 7]);
        assert!(
            replace_tensor(&path, "nope", &[1]).is_err(),
            "a missing key changes nothing"
        );
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    #[test]
    fn the_output_layer_is_kept_at_six_bits_or_more() {
        assert_eq!(lm_head_type(Quantization::Q4K), Some(GgmlDType::Q6K));
        assert_eq!(lm_head_type(Quantization::Q8_0), Some(GgmlDType::Q8_0));
        assert_eq!(lm_head_type(Quantization::Hqq4), None);
    }
}
