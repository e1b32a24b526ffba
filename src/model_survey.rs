//! What the settings pane offers, found out by the driver (this is IO: the Hugging Face cache,
//! model folders, free memory): the three presets with their size on disk and whether they are
//! in the cache, then the folders and repo ids used recently. Also keeps that recent list, a
//! small text file in the state folder, one name a line, newest first.

use std::path::{Path, PathBuf};

use crate::engine::memory::{self, ModelShape};
use crate::engine::model_spec::PRESETS;
use crate::engine::source::{self, HubEnv};
use crate::state::settings_pane::{ModelChoice, Survey};

/// How many recent models are kept.
const RECENT_KEPT: usize = 8;

/// The presets alone, knowing nothing of this machine.
pub fn presets() -> Vec<ModelChoice> {
    PRESETS
        .iter()
        .map(|(name, repo)| ModelChoice {
            name: name.to_string(),
            size_on_disk: None,
            on_disk: false,
            shape: ModelShape::of_preset(repo),
        })
        .collect()
}

/// Presets (with their cache state), recent models, free memory and GPUs.
pub fn survey(hub: &HubEnv, recent_file: &Path) -> Survey {
    let cache = hub.cache_dir();
    let mut models: Vec<ModelChoice> = PRESETS
        .iter()
        .map(|(name, repo)| {
            let snapshot = source::cached_snapshot(&cache, repo);
            ModelChoice {
                name: name.to_string(),
                size_on_disk: snapshot.as_deref().map(weights_size),
                on_disk: snapshot.is_some(),
                shape: ModelShape::of_preset(repo),
            }
        })
        .collect();
    for name in recent(recent_file) {
        if models.iter().any(|m| m.name == name) || PRESETS.iter().any(|(_, repo)| *repo == name) {
            continue;
        }
        let folder = PathBuf::from(&name);
        let dir = if folder.is_dir() {
            Some(folder)
        } else {
            source::cached_snapshot(&cache, &name)
        };
        models.push(ModelChoice {
            size_on_disk: dir.as_deref().map(weights_size),
            on_disk: dir.is_some(),
            shape: dir.as_deref().and_then(|d| ModelShape::of_folder(d).ok()),
            name,
        });
    }
    Survey {
        models,
        free_memory: memory::free_ram_bytes(),
        gpus: crate::engine::device::cuda_devices(),
        endpoints: Vec::new(),
    }
}

/// Bytes of `*.safetensors` in a folder (following the cache's symlinks).
fn weights_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
        .filter_map(|e| std::fs::metadata(e.path()).ok())
        .map(|m| m.len())
        .sum()
}

/// The recent models, newest first; a missing or unreadable file is an empty list.
pub fn recent(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Puts `name` first in the recent list. Failing to write only loses the list.
pub fn remember(file: &Path, name: &str) {
    let name = name.trim();
    if name.is_empty() || name.contains('\n') {
        return;
    }
    let mut names = recent(file);
    names.retain(|n| n != name);
    names.insert(0, name.to_string());
    names.truncate(RECENT_KEPT);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(file, names.join("\n") + "\n") {
        tracing::warn!(file = %file.display(), "cannot keep the recent models: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_models_are_newest_first_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state").join("recent-models");
        assert!(recent(&file).is_empty());
        remember(&file, "/models/a");
        remember(&file, "owner/b");
        remember(&file, "/models/a");
        assert_eq!(recent(&file), vec!["/models/a".to_string(), "owner/b".to_string()]);
    }

    #[test]
    fn the_survey_lists_presets_then_recent_folders_with_their_shape() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("my-모델");
        std::fs::create_dir_all(&model).unwrap();
        let config = r#"{"num_hidden_layers": 2, "hidden_size": 8, "intermediate_size": 16,
            "num_attention_heads": 2, "vocab_size": 10}"#;
        std::fs::write(model.join("config.json"), config).unwrap();
        std::fs::write(model.join("model.safetensors"), vec![0u8; 100]).unwrap();
        let file = dir.path().join("recent");
        remember(&file, &model.display().to_string());
        let hub = HubEnv {
            hf_hub_cache: Some(dir.path().join("no-cache")),
            ..Default::default()
        };
        let survey = survey(&hub, &file);
        let names: Vec<&str> = survey.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(&names[..3], ["gemma-2-2b", "gemma-2-9b", "gemma-2-27b"]);
        assert!(survey.models[..3].iter().all(|m| !m.on_disk && m.shape.is_some()));
        let folder = &survey.models[3];
        assert!(folder.on_disk && folder.size_on_disk == Some(100));
        assert_eq!(folder.shape.map(|s| s.layers), Some(2));
        assert!(survey.free_memory > 0);
    }
}
