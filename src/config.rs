//! The config file: defaults in code, the user's `config.toml` over them, command-line flags
//! over both. `config.example.toml` at the top of the repo documents every key and is tested to
//! equal the defaults, so the two cannot drift apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::Cli;
use crate::engine::{DeviceChoice, Quantization, SamplingSettings};
use crate::markdown::CodeTheme;
use crate::ui::BodyStyle;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub model: ModelConfig,
    pub sampling: SamplingSettings,
    pub chat: ChatConfig,
    /// Key overrides for the chat screen: action name -> chords (see `keymap`). An action named
    /// here loses its default chords.
    pub keys: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// A preset (gemma-2-2b / gemma-2-9b / gemma-2-27b), a Hugging Face repo id, or a folder.
    pub name: String,
    pub device: DeviceChoice,
    /// "none", "q4" or "q8".
    pub quantize: QuantizeSetting,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            name: "gemma-2-9b".into(),
            device: DeviceChoice::Auto,
            quantize: QuantizeSetting::None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuantizeSetting {
    #[default]
    None,
    Q4,
    Q8,
}

impl QuantizeSetting {
    pub fn to_quantization(self) -> Option<Quantization> {
        match self {
            Self::None => None,
            Self::Q4 => Some(Quantization::Q4),
            Self::Q8 => Some(Quantization::Q8),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
        Self {
            system_prompt: String::new(),
            markdown: true,
            code_theme: CodeTheme::Dark,
        }
    }
}

impl ChatConfig {
    /// How the transcript draws answers.
    pub fn body_style(&self) -> BodyStyle {
        if self.markdown {
            BodyStyle::Markdown(self.code_theme)
        } else {
            BodyStyle::Plain
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

impl Config {
    /// Reads `file`; a missing file means the defaults.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
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

    /// Parses and validates; the message names the line or the key at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
        config.sampling.validate().map_err(|e| format!("[sampling] {e}"))?;
        crate::keymap::Keymap::with_overrides(&config.keys)?;
        Ok(config)
    }

    /// Command-line flags override the file. Validation happens where the settings are used.
    pub fn apply_flags(&mut self, cli: &Cli) {
        if let Some(model) = &cli.model {
            self.model.name = model.clone();
        }
        if let Some(device) = cli.device {
            self.model.device = device.into();
        }
        if let Some(q) = cli.quantize {
            self.model.quantize = match q.to_quantization() {
                None => QuantizeSetting::None,
                Some(Quantization::Q4) => QuantizeSetting::Q4,
                Some(Quantization::Q8) => QuantizeSetting::Q8,
            };
        }
        if let Some(system) = &cli.system {
            self.chat.system_prompt = system.clone();
        }
        let s = &mut self.sampling;
        s.max_new_tokens = cli.max_tokens.unwrap_or(s.max_new_tokens);
        s.temperature = cli.temperature.unwrap_or(s.temperature);
        s.top_k = cli.top_k.or(s.top_k);
        s.top_p = cli.top_p.unwrap_or(s.top_p);
        s.min_p = cli.min_p.unwrap_or(s.min_p);
        s.repetition_penalty = cli.repetition_penalty.unwrap_or(s.repetition_penalty);
        s.frequency_penalty = cli.frequency_penalty.unwrap_or(s.frequency_penalty);
        s.presence_penalty = cli.presence_penalty.unwrap_or(s.presence_penalty);
    }

    pub fn system_prompt(&self) -> Option<&str> {
        Some(self.chat.system_prompt.as_str()).filter(|s| !s.trim().is_empty())
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
        assert_eq!(
            Config::default().chat.body_style(),
            BodyStyle::Markdown(CodeTheme::Dark)
        );
        let light = Config::parse("[chat]\ncode_theme = \"light\"\n").unwrap();
        assert_eq!(light.chat.body_style(), BodyStyle::Markdown(CodeTheme::Light));
        let plain = Config::parse("[chat]\nmarkdown = false\n").unwrap();
        assert_eq!(plain.chat.body_style(), BodyStyle::Plain);
        let err = Config::parse("[chat]\ncode_theme = \"solarized\"\n").unwrap_err();
        assert!(err.to_string().contains("code_theme"), "{err}");
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
        let err = Config::parse("[model]\nnmae = \"x\"\n").unwrap_err();
        assert!(err.contains("nmae"), "{err}");
        let err = Config::parse("[sampling\n").unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn key_overrides_are_checked_when_read() {
        let config = Config::parse("[keys]\nquit = [\"ctrl-x\"]\n").unwrap();
        assert_eq!(config.keys["quit"], vec!["ctrl-x".to_string()]);
        let err = Config::parse("[keys]\nquit = [\"hyper-x\"]\n").unwrap_err();
        assert!(err.contains("[keys] quit") && err.contains("hyper-x"), "{err}");
    }

    #[test]
    fn flags_override_the_file() {
        let mut config = Config::parse("[sampling]\ntemperature = 0.7\nmax_new_tokens = 100\n").unwrap();
        let cli = Cli {
            max_tokens: Some(7),
            model: Some("gemma-2-2b".into()),
            ..Default::default()
        };
        config.apply_flags(&cli);
        assert_eq!(config.sampling.max_new_tokens, 7);
        assert_eq!(config.sampling.temperature, 0.7);
        assert_eq!(config.model.name, "gemma-2-2b");
    }
}
