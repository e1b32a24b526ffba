//! Everything the chat screen knows, as plain data: the transcript, the message box, the model's
//! status, scrolling, overlays and notices. No tokio, no terminal, no Frame: `update` changes it,
//! `ui` reads it.

pub mod input;
pub mod sessions;
pub mod settings_pane;
pub mod status;
pub mod transcript;

use crate::engine::{DeviceChoice, GenId, ModelSpec, Place, Quantization};
use crate::keymap::{Action, Keymap};
use crate::settings::Settings;

pub use input::InputBox;
pub use sessions::{IdSource, PaneMode, PaneRow, SessionLink, SessionsPane};
pub use settings_pane::{SettingsPane, SettingsRow};
pub use status::{AnswerStats, ContextUse, Download, ModelPhase, ModelStatus};
pub use transcript::{Generation, Speaker, Transcript, Turn, TurnStatus};

/// How the transcript is scrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scroll {
    /// Showing the newest lines and following new tokens.
    #[default]
    Follow,
    /// The first visible line, counted from the top; new text below does not move it.
    Pinned { top: usize },
}

/// The transcript's size as last drawn, reported back by the driver after each frame. Scrolling
/// by page and leaving `Follow` need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewport {
    pub total_lines: usize,
    pub height: usize,
    /// The first line shown. A pinned view's top moves when a turn above it is rendered
    /// taller or shorter than it was estimated, so the text in view stays put.
    pub top: usize,
    /// How far the help overlay can scroll at this frame's size (0 when it is closed), so
    /// `update` never scrolls it past its end.
    pub help_max_scroll: u16,
}

impl Viewport {
    pub fn max_top(&self) -> usize {
        self.total_lines.saturating_sub(self.height)
    }
}

/// Choosing which code block of the last answer to copy: blocks are labelled `[1]`..`[count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePick {
    /// The model turn the blocks belong to.
    pub turn: u64,
    pub count: usize,
}

/// What is drawn over the chat screen and takes its keys. One at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// The keys, scrolled down `scroll` rows (it can be taller than a small terminal).
    Help {
        scroll: u16,
    },
    Sessions(SessionsPane),
    Settings(Box<SettingsPane>),
    /// The copy-code key found several blocks in the last answer: the next key picks one.
    CodePick(CodePick),
}

/// A model load as asked: what to offer back when a later load fails.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadChoice {
    /// As the user wrote it (preset, repo id or folder; a server's name for it).
    pub name: String,
    pub spec: ModelSpec,
    /// Where it runs, as the user named it (`None`: here), and what that resolved to.
    pub endpoint: Option<String>,
    pub place: Place,
    pub device: DeviceChoice,
    pub quantization: Quantization,
}

impl LoadChoice {
    /// `spec` at `place`, with the device and quantization of `settings`.
    pub fn new(name: String, spec: ModelSpec, endpoint: Option<String>, place: Place, settings: &Settings) -> Self {
        Self {
            name,
            spec,
            endpoint,
            place,
            device: settings.device,
            quantization: settings.quantization,
        }
    }
}

/// A second press is needed to quit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuitArm {
    /// Ctrl+C once.
    Interrupt,
    /// Quit asked while the message box holds unsent text.
    UnsentDraft,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub transcript: Transcript,
    pub input: InputBox,
    pub model: ModelStatus,
    pub generation: Option<Generation>,
    pub next_gen_id: GenId,
    pub scroll: Scroll,
    pub viewport: Viewport,
    /// The overlay over the chat screen, if one is open: it gets the keys first.
    pub overlay: Option<Overlay>,
    /// An error that stays until dismissed (Esc) or replaced.
    pub banner: Option<String>,
    /// A short note in the status line, cleared by the next key.
    pub notice: Option<String>,
    pub quit_armed: Option<QuitArm>,
    pub mouse_capture: bool,
    pub last_answer: Option<AnswerStats>,
    pub context: Option<ContextUse>,
    pub keymap: Keymap,
    /// Model, device, quantization, sampling, system prompt and look: what the next load and
    /// the next answer use.
    pub settings: Settings,
    /// The global defaults (built-in + config file): what "save as default" changes.
    pub defaults: Settings,
    /// The load asked for and not finished yet.
    pub pending_load: Option<LoadChoice>,
    /// The last load that worked, offered back when a later one fails.
    pub last_good_load: Option<LoadChoice>,
    pub should_quit: bool,
    /// Which saved session the transcript is, and what of it is saved.
    pub session: SessionLink,
}

impl AppState {
    /// `model_name` is what the status line calls the model until it has loaded.
    pub fn new(model_name: String, keymap: Keymap, settings: Settings) -> Self {
        Self {
            transcript: Transcript::default(),
            input: InputBox::default(),
            model: ModelStatus::new(model_name),
            generation: None,
            next_gen_id: 1,
            scroll: Scroll::Follow,
            viewport: Viewport::default(),
            overlay: None,
            banner: None,
            notice: None,
            quit_armed: None,
            mouse_capture: true,
            last_answer: None,
            context: None,
            keymap,
            defaults: settings.clone(),
            settings,
            pending_load: None,
            last_good_load: None,
            should_quit: false,
            session: SessionLink::new(IdSource::random()),
        }
    }

    pub fn sessions_pane(&self) -> Option<&SessionsPane> {
        match &self.overlay {
            Some(Overlay::Sessions(pane)) => Some(pane),
            _ => None,
        }
    }

    pub fn sessions_pane_mut(&mut self) -> Option<&mut SessionsPane> {
        match &mut self.overlay {
            Some(Overlay::Sessions(pane)) => Some(pane),
            _ => None,
        }
    }

    /// How far the help overlay is scrolled, if it is open.
    pub fn settings_pane(&self) -> Option<&SettingsPane> {
        match &self.overlay {
            Some(Overlay::Settings(pane)) => Some(pane),
            _ => None,
        }
    }

    pub fn settings_pane_mut(&mut self) -> Option<&mut SettingsPane> {
        match &mut self.overlay {
            Some(Overlay::Settings(pane)) => Some(pane),
            _ => None,
        }
    }

    pub fn help_scroll(&self) -> Option<u16> {
        match self.overlay {
            Some(Overlay::Help { scroll }) => Some(scroll),
            _ => None,
        }
    }

    pub fn code_pick(&self) -> Option<CodePick> {
        match self.overlay {
            Some(Overlay::CodePick(pick)) => Some(pick),
            _ => None,
        }
    }

    pub fn is_generating(&self) -> bool {
        self.generation.is_some()
    }

    /// The first chord of `action`, for hints in the status line and banners.
    pub fn hint(&self, action: Action) -> String {
        self.keymap.hint(action, action.name())
    }
}
