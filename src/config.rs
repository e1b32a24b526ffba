//! The config file: defaults in code, the user's `config.toml` over them, command-line flags
//! over both. `config.example.toml` at the top of the repo documents every key and is tested to
//! equal the defaults, so the two cannot drift apart.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod fuzz;
pub mod remote;
mod save;
pub use remote::{Endpoint, RemoteSection};
pub use save::save_defaults;

use crate::engine::sampling::SamplingPatch;
use crate::engine::{DeviceChoice, Quantization, SamplingSettings};
use crate::keymap::KeyOverrides;
use crate::markdown::CodeTheme;
use crate::settings::{Look, Settings, SettingsPatch};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub model: ModelConfig,
    pub sampling: SamplingSettings,
    pub chat: ChatConfig,
    /// Key overrides: action name -> chords for the chat screen and the global keys, and a
    /// table per pane (`[keys.sessions]`). An action named here loses its default chords.
    pub keys: KeyOverrides,
    /// Named OpenAI-compatible endpoints, and which one to chat through.
    pub remote: RemoteSection,
    /// Keys the file has that gemma-tui does not know (`[model] nmae`): warned about, not fatal.
    #[serde(skip)]
    pub unknown_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    /// A preset (gemma-2-2b / gemma-2-9b / gemma-2-27b), a Hugging Face repo id, or a folder.
    pub name: String,
    pub device: DeviceChoice,
    /// "none" or an in-situ quantization type ("q8_0", "q6k", "q4k", ...).
    pub quantize: Quantization,
}

impl Default for ModelConfig {
    fn default() -> Self {
        let defaults = Settings::default();
        Self {
            name: defaults.model,
            device: defaults.device,
            quantize: defaults.quantization,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatConfig {
    /// Empty means none.
    pub system_prompt: String,
    /// Render the model's answers as Markdown (false: wrapped plain text).
    pub markdown: bool,
    /// Code colours: "dark" for a dark terminal background, "light" for a light one.
    pub code_theme: CodeTheme,
}

impl Default for ChatConfig {
    fn default() -> Self {
        let look = Look::default();
        Self {
            system_prompt: String::new(),
            markdown: look.markdown,
            code_theme: look.code_theme,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {file}: {source}")]
    Unreadable { file: PathBuf, source: std::io::Error },
    #[error("the config file {file} is invalid: {message} (fix it, or move it aside to use the defaults)")]
    Invalid { file: PathBuf, message: String },
}

/// The largest config file read (the example config is under 10 KB).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads `file`; a missing file means the defaults.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        // A config is a few KB; a huge one is another file given by mistake (a log, a model),
        // and a TOML error would quote its giant line back.
        if let Some(meta) = std::fs::metadata(file)
            .ok()
            .filter(|m| m.is_file() && m.len() > MAX_CONFIG_BYTES)
        {
            return Err(ConfigError::Invalid {
                file: file.to_path_buf(),
                message: format!(
                    "it is {:.1} MB, and a config file is a few KB: is it the right file?",
                    meta.len() as f64 / 1e6
                ),
            });
        }
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    file: file.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            file: file.to_path_buf(),
            message,
        })
    }

    /// Parses and validates; the message names the line and column, or the key, at fault and
    /// what is expected there. Unknown keys are collected in `unknown_keys`, not refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let one_line = |e: toml::de::Error| e.to_string().trim().replace('\n', " ");
        let mut unknown = Vec::new();
        let deserializer = toml::Deserializer::parse(text).map_err(one_line)?;
        let mut config: Self =
            serde_ignored::deserialize(deserializer, |path| unknown.push(path.to_string())).map_err(one_line)?;
        config.unknown_keys = unknown;
        config.sampling.validate().map_err(|e| format!("[sampling] {e}"))?;
        crate::keymap::Keymap::with_overrides(&config.keys)?;
        config.remote.validate()?;
        Ok(config)
    }

    /// The file's settings over the defaults; flags and the rest are patched over these.
    /// One line per unknown key, naming the file, for stderr or a notice.
    pub fn warnings(&self, file: &Path) -> Vec<String> {
        self.unknown_keys
            .iter()
            .map(|key| {
                format!(
                    "{}: unknown key `{key}` ignored (a typo? see config.example.toml)",
                    file.display()
                )
            })
            .collect()
    }

    pub fn settings(&self) -> Settings {
        Settings::default().patched(&SettingsPatch {
            model: Some(self.model.name.clone()),
            endpoint: Some(self.remote.use_endpoint.clone()),
            device: Some(self.model.device),
            quantization: Some(self.model.quantize),
            system_prompt: Some(self.chat.system_prompt.clone()),
            sampling: SamplingPatch::all_of(&self.sampling),
            markdown: Some(self.chat.markdown),
            code_theme: Some(self.chat.code_theme),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_documents_exactly_the_defaults() {
        let example = include_str!("../config.example.toml");
        assert_eq!(Config::parse(example).unwrap(), Config::default());
    }

    #[test]
    fn the_answer_style_comes_from_the_chat_table() {
        assert_eq!(Config::default().settings().look, Look::default());
        let light = Config::parse("[chat]\ncode_theme = \"light\"\n").unwrap();
        assert_eq!(light.settings().look.code_theme, CodeTheme::Light);
        let plain = Config::parse("[chat]\nmarkdown = false\n").unwrap();
        assert!(!plain.settings().look.markdown);
        let err = Config::parse("[chat]\ncode_theme = \"solarized\"\n").unwrap_err();
        assert!(err.to_string().contains("code_theme"), "{err}");
    }

    #[test]
    fn the_defaults_are_the_settings_defaults() {
        assert_eq!(Config::default().settings(), Settings::default());
    }

    #[test]
    fn model_device_and_quantization_read_from_the_model_table() {
        let config = Config::parse("[model]\ndevice = \"cuda:1\"\nquantize = \"q6k\"\n").unwrap();
        let s = config.settings();
        assert_eq!((s.device, s.quantization), (DeviceChoice::Cuda(1), Quantization::Q6K));
        let old = Config::parse("[model]\nquantize = \"q4\"\n").unwrap();
        assert_eq!(
            old.settings().quantization,
            Quantization::Q4K,
            "the older name still reads"
        );
        let err = Config::parse("[model]\ndevice = \"tpu\"\n").unwrap_err();
        assert!(err.contains("tpu"), "{err}");
    }

    #[test]
    fn a_missing_file_means_defaults() {
        let config = Config::load(Path::new("/nonexistent/gemma-tui/config.toml")).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn errors_name_the_line_or_the_key() {
        let err = Config::parse("[sampling]\ntemperature = \"hot\"\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = Config::parse("[sampling]\ntop_p = 0.0\n").unwrap_err();
        assert!(err.contains("top_p"), "{err}");
        let err = Config::parse("[sampling]\nmax_new_tokens = -1\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("column"), "{err}");
        let err = Config::parse("[sampling\n").unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn an_unknown_key_warns_and_the_rest_still_reads() {
        let config = Config::parse("[model]\nnmae = \"x\"\nname = \"gemma-2-2b\"\n[extra]\nz = 1\n").unwrap();
        assert_eq!(config.model.name, "gemma-2-2b");
        assert_eq!(config.unknown_keys, vec!["extra".to_string(), "model.nmae".to_string()]);
        let warnings = config.warnings(Path::new("/c/config.toml"));
        assert!(warnings[1].contains("/c/config.toml") && warnings[1].contains("model.nmae"));
    }

    #[test]
    fn odd_files_never_panic_and_say_what_is_wrong() {
        assert_eq!(
            Config::parse("").unwrap(),
            Config::default(),
            "an empty file is the defaults"
        );
        for (text, expect) in [
            ("[sampling]\ntemperature = nan\n", "temperature"),
            ("[sampling]\ntemperature = inf\n", "temperature"),
            ("[sampling]\ntop_p = 1e309\n", "top_p"),
            ("[sampling]\nmax_new_tokens = 1e3\n", "line 2"),
            ("model = 3\n", "line 1"),
            ("[chat]\nmarkdown = \"yes\"\n", "line 2"),
            ("\u{0}\u{1}", "line 1"),
        ] {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(expect), "{text:?}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "a directory: {err}");
    }

    #[test]
    fn a_10_mb_file_is_refused_in_one_short_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        // One 10 MB line: a TOML error would quote it whole.
        std::fs::write(&file, format!("[model]\nname = \"{}", "x".repeat(10 << 20))).unwrap();
        let err = Config::load(&file).unwrap_err().to_string();
        assert!(err.contains("10.5 MB") && err.contains("is it the right file"), "{err}");
        assert!(err.len() < 300, "one short line: {} bytes", err.len());
        // Just under the limit is read (and here parsed fine).
        std::fs::write(
            &file,
            format!("# {}\n[model]\nname = \"gemma-2-2b\"\n", "x".repeat(1_000_000)),
        )
        .unwrap();
        assert_eq!(Config::load(&file).unwrap().model.name, "gemma-2-2b");
    }

    #[test]
    fn an_unreadable_file_is_named_with_the_reason() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A path through a regular file can never be read, whoever runs the test.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let err = Config::load(&blocker.join("config.toml")).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read the config file") && err.contains("Not a directory"),
            "{err}"
        );

        let file = dir.path().join("config.toml");
        std::fs::write(&file, "[model]\nname = \"gemma-2-2b\"\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&file).is_ok() {
            eprintln!("note: running as root, a mode-000 file is still readable; the path above covers it");
            return;
        }
        let err = Config::load(&file).unwrap_err().to_string();
        assert!(
            err.contains("Permission denied") && err.contains(&file.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn key_overrides_are_checked_when_read() {
        let config = Config::parse("[keys]\nquit = [\"ctrl-x\"]\n").unwrap();
        assert_eq!(
            config.keys["quit"],
            crate::keymap::KeyBinding::Chords(vec!["ctrl-x".to_string()])
        );
        let err = Config::parse("[keys]\nquit = [\"hyper-x\"]\n").unwrap_err();
        assert!(err.contains("[keys] quit") && err.contains("hyper-x"), "{err}");
    }

    #[test]
    fn flags_override_the_file() {
        let config = Config::parse("[sampling]\ntemperature = 0.7\nmax_new_tokens = 100\n").unwrap();
        let cli = crate::cli::Cli {
            max_tokens: Some(7),
            model: Some("gemma-2-2b".into()),
            ..Default::default()
        };
        let s = config.settings().patched(&SettingsPatch::from(&cli));
        assert_eq!(s.sampling.max_new_tokens, 7);
        assert_eq!(s.sampling.temperature, 0.7);
        assert_eq!(s.model, "gemma-2-2b");
    }
}
