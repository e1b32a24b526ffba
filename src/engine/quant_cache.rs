//! Quantize once: a model loaded with in-situ quantization keeps its quantized weights (mistral.rs
//! UQFF, with the residual tensors and configs beside them) in a cache folder, keyed by the
//! model's files (path, names, sizes, modification times: a hub snapshot's path carries its
//! revision), the quantization, the device and this cache's format; the next start reads them
//! instead of quantizing again.
//!
//! An entry counts only once its manifest is written, after mistral.rs finished writing it; a
//! manifest that does not match what it describes, or an entry mistral.rs cannot load, is
//! removed and rebuilt, never loaded wrongly. Only this module touches the cache folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::quantization::Quantization;

pub mod lm_head;

/// Bump when what an entry holds changes meaning: older entries are then rebuilt.
/// 2: Gemma 2's output layer is quantized in CPU entries (see `lm_head`).
const FORMAT: u32 = 2;
const MANIFEST: &str = "gemma-tui-manifest.json";
/// mistral.rs names the shards `<stem>-<n>.uqff` and finds the rest from the first.
const STEM: &str = "weights";

/// What an entry was made from; equal inputs, equal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    model_dir: PathBuf,
    /// (file name, bytes, modified nanoseconds since the epoch) of every weight file: a file
    /// rewritten in place changes its time even when its size stays.
    weights: Vec<(String, u64, u64)>,
    quantization: String,
    device: String,
}

/// One model + quantization + device in the cache.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: PathBuf,
    manifest: Manifest,
}

impl Entry {
    /// The file `write_uqff` is given; it writes `weights-0.uqff`... beside it.
    pub fn target(&self) -> PathBuf {
        self.dir.join(format!("{STEM}.uqff"))
    }

    /// The first shard, which `from_uqff` is given.
    pub fn first_shard(&self) -> PathBuf {
        self.dir.join(format!("{STEM}-0.uqff"))
    }

    /// Whether the entry is complete and made from exactly these inputs.
    pub fn is_ready(&self) -> bool {
        let written = std::fs::read_to_string(self.dir.join(MANIFEST))
            .ok()
            .and_then(|text| serde_json::from_str::<Manifest>(&text).ok());
        written.as_ref() == Some(&self.manifest)
            && self.first_shard().is_file()
            && self.dir.join("residual.safetensors").is_file()
    }

    /// Makes room for a fresh write (a stale, damaged or half-written entry goes).
    pub fn clear(&self) {
        if self.dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                tracing::warn!(dir = %self.dir.display(), "cannot clear the quantization cache entry: {e}");
            }
        }
    }

    /// Removes the other entries of the same model folder, quantization and device: they were
    /// made from weights that have changed since, and each holds a model's worth of disk.
    pub fn prune_stale(&self) {
        let Some(root) = self.dir.parent() else { return };
        for sibling in std::fs::read_dir(root).into_iter().flatten().filter_map(Result::ok) {
            let path = sibling.path();
            if path == self.dir {
                continue;
            }
            let manifest = std::fs::read_to_string(path.join(MANIFEST))
                .ok()
                .and_then(|text| serde_json::from_str::<Manifest>(&text).ok());
            let same_slot = manifest.is_some_and(|m| {
                m.model_dir == self.manifest.model_dir
                    && m.quantization == self.manifest.quantization
                    && m.device == self.manifest.device
            });
            if same_slot {
                tracing::info!(entry = %path.display(), "removing a stale quantization cache entry");
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }

    /// Marks a finished write as usable. Until then the entry is ignored.
    pub fn commit(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.manifest).map_err(std::io::Error::other)?;
        std::fs::write(self.dir.join(MANIFEST), text)
    }
}

/// The entry for `model_dir` quantized with `q` on `device`; `None` when not quantizing.
pub fn entry(root: &Path, model_dir: &Path, weight_files: &[PathBuf], q: Quantization, device: &str) -> Option<Entry> {
    if q.is_none() {
        return None;
    }
    let model_dir = std::fs::canonicalize(model_dir).unwrap_or_else(|_| model_dir.to_path_buf());
    let mut weights: Vec<(String, u64, u64)> = weight_files
        .iter()
        .map(|file| {
            let meta = std::fs::metadata(file).ok();
            let modified = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            let name = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            (name, meta.map_or(0, |m| m.len()), modified)
        })
        .collect();
    weights.sort();
    let manifest = Manifest {
        format: FORMAT,
        model_dir,
        weights,
        quantization: q.config_name().to_string(),
        device: device.to_string(),
    };
    let name = manifest
        .model_dir
        .file_name()
        .map_or_else(|| "model".to_string(), |n| n.to_string_lossy().into_owned());
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let key = fnv1a(serde_json::to_string(&manifest).unwrap_or_default().as_bytes());
    let dir = root.join(format!("{safe}-{}-{device}-{key:016x}", q.config_name()));
    Some(Entry { dir, manifest })
}

/// FNV-1a 64: a stable folder name (std's hasher may change between Rust versions).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(dir: &Path) -> Vec<PathBuf> {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("model.safetensors");
        std::fs::write(&file, b"weights").unwrap();
        vec![file]
    }

    #[test]
    fn an_entry_is_ready_only_once_committed_and_complete() {
        let tmp = tempfile::tempdir().unwrap();
        let files = model(&tmp.path().join("m"));
        let e = entry(tmp.path(), &tmp.path().join("m"), &files, Quantization::Q4K, "cpu").unwrap();
        assert!(!e.is_ready());
        std::fs::create_dir_all(&e.dir).unwrap();
        std::fs::write(e.first_shard(), b"q").unwrap();
        std::fs::write(e.dir.join("residual.safetensors"), b"r").unwrap();
        assert!(!e.is_ready(), "written but not committed: a crash mid-write");
        e.commit().unwrap();
        assert!(e.is_ready());
        std::fs::remove_file(e.first_shard()).unwrap();
        assert!(!e.is_ready(), "a missing shard");
        e.clear();
        assert!(!e.dir.exists());
        assert!(entry(tmp.path(), &tmp.path().join("m"), &files, Quantization::None, "cpu").is_none());
    }

    #[test]
    fn changed_weights_another_type_or_device_are_other_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        let files = model(&dir);
        let q4 = entry(tmp.path(), &dir, &files, Quantization::Q4K, "cpu").unwrap();
        let q8 = entry(tmp.path(), &dir, &files, Quantization::Q8_0, "cpu").unwrap();
        let gpu = entry(tmp.path(), &dir, &files, Quantization::Q4K, "cuda:0").unwrap();
        assert_ne!(q4.dir, q8.dir);
        assert_ne!(q4.dir, gpu.dir);
        std::fs::create_dir_all(&q4.dir).unwrap();
        std::fs::write(q4.first_shard(), b"q").unwrap();
        std::fs::write(q4.dir.join("residual.safetensors"), b"r").unwrap();
        q4.commit().unwrap();
        std::fs::write(&files[0], b"other weights").unwrap();
        let after = entry(tmp.path(), &dir, &files, Quantization::Q4K, "cpu").unwrap();
        assert!(!after.is_ready(), "the weights changed: the old entry does not count");
        // A manifest that lies about its inputs is not trusted either.
        std::fs::write(q4.dir.join(MANIFEST), "{}").unwrap();
        assert!(!q4.is_ready());
    }
}
