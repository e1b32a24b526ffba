//! The one value that says how the chat runs: which model, on which device, quantized how,
//! sampled how, with which system prompt, drawn how. Plain data; `update` changes it.
//!
//! Every source of settings is a [`SettingsPatch`] applied in one order by [`Settings::apply`]:
//! the defaults, then the config file, then the command-line flags, then a resumed session's
//! saved settings, then flags given with `--resume` (the user asked for them now), then the
//! settings pane.

use crate::cli::Cli;
use crate::engine::sampling::SamplingPatch;
use crate::engine::{DeviceChoice, EngineCommand, ModelSpec, Quantization, SamplingSettings};
use crate::markdown::CodeTheme;

/// The preset loaded when nothing else is said.
pub const DEFAULT_MODEL: &str = "gemma-2-9b";

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// A preset, a Hugging Face repo id or a folder, as the user wrote it; on a server, the
    /// server's name for the model (blank: its own).
    pub model: String,
    /// Where the model runs: `None` here, else a `[remote.endpoints]` name or a URL.
    pub endpoint: Option<String>,
    pub device: DeviceChoice,
    pub quantization: Quantization,
    pub sampling: SamplingSettings,
    /// Folded into the first user turn (Gemma 2 has no system role). `None`: no system prompt.
    pub system_prompt: Option<String>,
    pub look: Look,
}

/// How the transcript draws answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Render answers as Markdown (false: wrapped plain text).
    pub markdown: bool,
    pub code_theme: CodeTheme,
}

impl Default for Look {
    fn default() -> Self {
        Self {
            markdown: true,
            code_theme: CodeTheme::Dark,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            endpoint: None,
            device: DeviceChoice::Auto,
            quantization: Quantization::None,
            sampling: SamplingSettings::default(),
            system_prompt: None,
            look: Look::default(),
        }
    }
}

/// Some settings, each one optional: what one layer (file, flags, session, pane) says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    pub model: Option<String>,
    /// `Some(None)`: here; `Some(Some(name or URL))`: on that server.
    pub endpoint: Option<Option<String>>,
    pub device: Option<DeviceChoice>,
    pub quantization: Option<Quantization>,
    /// A blank prompt clears the system prompt.
    pub system_prompt: Option<String>,
    pub sampling: SamplingPatch,
    pub markdown: Option<bool>,
    pub code_theme: Option<CodeTheme>,
}

impl SettingsPatch {
    /// The part a session saves: its system prompt and sampling.
    pub fn session_part(&self) -> Self {
        Self {
            system_prompt: self.system_prompt.clone(),
            sampling: self.sampling.clone(),
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Settings {
    /// Lays `patch` over these settings: each field it sets wins.
    pub fn apply(&mut self, patch: &SettingsPatch) {
        if let Some(model) = &patch.model {
            self.model = model.clone();
        }
        if let Some(endpoint) = &patch.endpoint {
            self.endpoint = endpoint.clone().filter(|e| !e.trim().is_empty());
        }
        if let Some(device) = patch.device {
            self.device = device;
        }
        if let Some(q) = patch.quantization {
            self.quantization = q;
        }
        if let Some(prompt) = &patch.system_prompt {
            self.system_prompt = Some(prompt.clone()).filter(|p| !p.trim().is_empty());
        }
        patch.sampling.apply(&mut self.sampling);
        if let Some(markdown) = patch.markdown {
            self.look.markdown = markdown;
        }
        if let Some(theme) = patch.code_theme {
            self.look.code_theme = theme;
        }
    }

    /// The engine command that loads `spec` with these settings' device and quantization.
    pub fn load_command(&self, spec: ModelSpec) -> EngineCommand {
        EngineCommand::Load {
            spec,
            device: self.device,
            quantization: self.quantization,
        }
    }

    /// These settings with `patch` laid over them.
    pub fn patched(mut self, patch: &SettingsPatch) -> Self {
        self.apply(patch);
        self
    }
}

impl From<&Cli> for SettingsPatch {
    fn from(cli: &Cli) -> Self {
        Self {
            model: cli.model.clone(),
            endpoint: cli.remote.clone().map(Some),
            device: cli.device,
            quantization: cli.quantize,
            system_prompt: cli.system.clone(),
            sampling: SamplingPatch {
                temperature: cli.temperature,
                top_k: cli.top_k,
                top_p: cli.top_p,
                min_p: cli.min_p,
                repetition_penalty: cli.repetition_penalty,
                frequency_penalty: cli.frequency_penalty,
                presence_penalty: cli.presence_penalty,
                max_new_tokens: cli.max_tokens,
            },
            markdown: None,
            code_theme: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_sets_only_what_it_names() {
        let base = Settings {
            system_prompt: Some("be brief".into()),
            ..Settings::default()
        };
        assert_eq!(base.clone().patched(&SettingsPatch::default()), base);
        let patch = SettingsPatch {
            quantization: Some(Quantization::Q6K),
            sampling: SamplingPatch {
                temperature: Some(0.7),
                top_k: Some(0),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = base.clone().patched(&patch);
        assert_eq!(s.quantization, Quantization::Q6K);
        assert_eq!(s.sampling.temperature, 0.7);
        assert_eq!(s.sampling.top_k, None, "0 turns top-k off");
        assert_eq!(s.sampling.repetition_penalty, 1.05, "kept");
        assert_eq!(s.system_prompt.as_deref(), Some("be brief"), "kept");
        let cleared = s.patched(&SettingsPatch {
            system_prompt: Some("  ".into()),
            ..Default::default()
        });
        assert_eq!(cleared.system_prompt, None, "a blank prompt clears it");
    }

    #[test]
    fn flags_become_a_patch() {
        let cli = Cli {
            model: Some("gemma-2-2b".into()),
            max_tokens: Some(7),
            quantize: Some(Quantization::Q8_0),
            device: Some(DeviceChoice::Cpu),
            ..Default::default()
        };
        let s = Settings::default().patched(&SettingsPatch::from(&cli));
        assert_eq!(s.model, "gemma-2-2b");
        assert_eq!(s.sampling.max_new_tokens, 7);
        assert_eq!((s.device, s.quantization), (DeviceChoice::Cpu, Quantization::Q8_0));
        assert!(SettingsPatch::from(&Cli::default()).is_empty());
        let session = SettingsPatch::from(&cli).session_part();
        assert_eq!(
            (session.model, session.device, session.quantization),
            (None, None, None)
        );
        assert_eq!(session.sampling.max_new_tokens, Some(7));
    }
}
