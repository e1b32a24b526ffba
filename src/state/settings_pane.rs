//! The settings pane as plain data: the rows it shows, the draft it edits, what the driver
//! found out for it (models in the cache, free memory, GPUs), and what is being typed.
//! `update::settings_pane` moves it; `ui::settings` draws it. It must not do IO.

use crate::engine::memory::{self, Estimate, Fit, ModelShape};
use crate::engine::{DeviceChoice, Quantization, SamplingField};
use crate::settings::Settings;

/// One line of the pane, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsRow {
    /// This machine or a server.
    RunsOn,
    Model,
    Quantization,
    Device,
    Sampling(SamplingField),
    /// One key restores the seed's recipe (greedy, repetition penalty 1.05, 512 tokens).
    Greedy,
    SystemPrompt,
    Markdown,
    CodeTheme,
}

impl SettingsRow {
    pub fn all() -> Vec<Self> {
        let mut rows = vec![Self::RunsOn, Self::Model, Self::Quantization, Self::Device];
        rows.extend(SamplingField::all().map(Self::Sampling));
        rows.extend([Self::Greedy, Self::SystemPrompt, Self::Markdown, Self::CodeTheme]);
        rows
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::RunsOn => "Runs on",
            Self::Model => "Model",
            Self::Quantization => "Quantization",
            Self::Device => "Device",
            Self::Sampling(f) => f.spec().label,
            Self::Greedy => "Greedy recipe",
            Self::SystemPrompt => "System prompt",
            Self::Markdown => "Markdown",
            Self::CodeTheme => "Code theme",
        }
    }

    /// One line on what the row does, shown while it is selected.
    pub fn help(self) -> Option<&'static str> {
        Some(match self {
            Self::RunsOn => "this machine, or a server ([remote] or a URL typed with Enter); t tests it",
            Self::Model => "a preset, a folder or a repo id used before; Enter types another",
            Self::Quantization => "quantize while loading (in-situ): smaller and, on a CPU, faster",
            Self::Device => "where the model runs; auto takes the GPU of a cuda/metal build",
            Self::Sampling(f) => f.spec().help,
            Self::Greedy => "the recipe of the transformers script: exact, repeatable answers",
            Self::SystemPrompt => "folded into the first user turn (Gemma 2 has no system role)",
            Self::Markdown => "draw answers as Markdown, or as plain wrapped text",
            Self::CodeTheme => "code colours for a dark or a light terminal background",
        })
    }

    /// Whether changing it needs the model loaded again.
    pub fn needs_load(self) -> bool {
        matches!(self, Self::RunsOn | Self::Model | Self::Quantization | Self::Device)
    }
}

/// A model the pane offers: a preset, or a folder / repo id used before.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    /// What `/model` would take: a preset name, a repo id or a folder.
    pub name: String,
    /// Bytes of its weights on disk, when known (in the cache or a folder).
    pub size_on_disk: Option<u64>,
    /// Whether its files are on this machine already (the Hugging Face cache or a folder).
    pub on_disk: bool,
    /// For the memory planner; `None` when the shape could not be read.
    pub shape: Option<ModelShape>,
}

/// What the driver found out when the pane opened (it takes IO: the cache, sysinfo).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Survey {
    pub models: Vec<ModelChoice>,
    pub free_memory: u64,
    /// CUDA devices this build can use (0 on a CPU build).
    pub gpus: usize,
    /// The config's named endpoints (`[remote.endpoints]`).
    pub endpoints: Vec<String>,
}

pub use crate::engine::remote::EndpointReport;

/// Text being typed into a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typing {
    pub row: SettingsRow,
    pub text: String,
}

/// A question the pane asks before applying.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    /// The planner says the load will not fit; `instead` would.
    WillNotFit {
        estimate: String,
        instead: Option<Quantization>,
    },
}

/// Where an applied change is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This session only (saved with it).
    Session,
    /// The global default (written to config.toml) and this session.
    Default,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SettingsPane {
    pub rows: Vec<SettingsRow>,
    pub selected: usize,
    /// What applying would use; starts as the settings in force.
    pub draft: Settings,
    /// The global defaults (defaults + config file), to tell "default" from "this session".
    pub defaults: Settings,
    pub survey: Option<Survey>,
    pub typing: Option<Typing>,
    /// The system prompt is being edited in the message box; the box's own text waits here.
    pub editing_system: Option<String>,
    /// Why the last value was refused, or what applying did.
    pub message: Option<String>,
    pub confirm: Option<(Confirm, Scope)>,
    /// The models the drafted endpoint serves, once a connection test listed them.
    pub served_models: Vec<String>,
}

impl SettingsPane {
    pub fn new(current: Settings, defaults: Settings) -> Self {
        Self {
            rows: SettingsRow::all(),
            selected: 0,
            draft: current,
            defaults,
            survey: None,
            typing: None,
            editing_system: None,
            message: None,
            confirm: None,
            served_models: Vec::new(),
        }
    }

    /// Where the model may run: this machine (`None`), each configured endpoint, and the
    /// drafted one if it is a URL typed here.
    pub fn places(&self) -> Vec<Option<String>> {
        let mut all = vec![None];
        all.extend(self.survey.iter().flat_map(|s| s.endpoints.iter().cloned().map(Some)));
        if !all.contains(&self.draft.endpoint) {
            all.push(self.draft.endpoint.clone());
        }
        all
    }

    pub fn row(&self) -> SettingsRow {
        self.rows[self.selected.min(self.rows.len() - 1)]
    }

    /// The models to choose from: the survey's, with the draft's own first if it is not there.
    pub fn model_choices(&self) -> Vec<String> {
        let mut names: Vec<String> = if self.draft.endpoint.is_some() {
            // On a server: the server's own model, then what it lists.
            std::iter::once(String::new())
                .chain(self.served_models.iter().cloned())
                .collect()
        } else {
            self.survey
                .iter()
                .flat_map(|s| s.models.iter().map(|m| m.name.clone()))
                .collect()
        };
        if !names.contains(&self.draft.model) {
            names.insert(0, self.draft.model.clone());
        }
        names
    }

    fn chosen_model(&self) -> Option<&ModelChoice> {
        self.survey.as_ref()?.models.iter().find(|m| m.name == self.draft.model)
    }

    /// The devices to choose from on this build and machine.
    pub fn devices(&self) -> Vec<DeviceChoice> {
        let mut all = DeviceChoice::offered(self.survey.as_ref().map_or(0, |s| s.gpus));
        if !all.contains(&self.draft.device) {
            all.push(self.draft.device);
        }
        all
    }

    /// Whether the draft computes on a GPU (bf16) or the CPU (f32).
    pub fn on_gpu(&self) -> bool {
        let gpus = self.survey.as_ref().map_or(0, |s| s.gpus) > 0 || cfg!(feature = "metal");
        match self.draft.device {
            DeviceChoice::Cpu => false,
            DeviceChoice::Auto => gpus,
            DeviceChoice::Cuda(_) | DeviceChoice::Metal => true,
        }
    }

    /// Bytes per value the draft computes in: bf16 on a GPU, f32 on the CPU (mistral.rs 0.8.1
    /// has no bf16 matmul there).
    fn dtype_bytes(&self) -> u64 {
        if self.on_gpu() {
            2
        } else {
            4
        }
    }

    /// Free memory the survey found, in bytes (0 before the survey).
    pub fn free_memory(&self) -> f64 {
        self.survey.as_ref().map_or(0.0, |s| s.free_memory as f64)
    }

    /// The planner's view of `q` for the drafted model: its estimate and fit.
    pub fn plan(&self, q: Quantization) -> Option<(Estimate, Fit)> {
        let shape = self.chosen_model()?.shape?;
        self.survey.as_ref()?;
        let estimate = memory::estimate(&shape, q, self.dtype_bytes());
        Some((estimate, Fit::of(estimate.total(), self.free_memory())))
    }

    /// The largest quantization of the drafted model that fits the free memory.
    pub fn quantization_that_fits(&self) -> Option<Quantization> {
        let shape = self.chosen_model()?.shape?;
        memory::fitting_quantizations(&shape, self.dtype_bytes(), self.free_memory())
            .into_iter()
            .next()
    }

    /// Whether the draft differs from `current` in what needs a load.
    pub fn needs_load(&self, current: &Settings) -> bool {
        self.draft.model != current.model
            || self.draft.endpoint != current.endpoint
            || self.draft.device != current.device
            || self.draft.quantization != current.quantization
    }

    /// Whether `row`'s drafted value is the global default.
    pub fn is_default(&self, row: SettingsRow) -> bool {
        let (d, g) = (&self.draft, &self.defaults);
        match row {
            SettingsRow::RunsOn => d.endpoint == g.endpoint,
            SettingsRow::Model => d.model == g.model,
            SettingsRow::Quantization => d.quantization == g.quantization,
            SettingsRow::Device => d.device == g.device,
            SettingsRow::Sampling(f) => d.sampling.get(f) == g.sampling.get(f),
            SettingsRow::Greedy => d.sampling == g.sampling,
            SettingsRow::SystemPrompt => d.system_prompt == g.system_prompt,
            SettingsRow::Markdown => d.look.markdown == g.look.markdown,
            SettingsRow::CodeTheme => d.look.code_theme == g.look.code_theme,
        }
    }
}
