//! What happens to the chat screen: terminal input, engine events, the driver's own reports.
//! Plain data, so `update` can be tested by feeding it messages.

use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::engine::{EngineEvent, ModelSpec, Place};
use crate::settings::SettingsPatch;
use crate::state::settings_pane::{EndpointReport, Survey};
use crate::state::Viewport;
use crate::store::{SearchHit, Session, SessionSummary, StoreEvent};

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    /// A bracketed paste, raw.
    Paste(String),
    /// Mouse wheel: positive scrolls down, negative up (lines).
    Wheel(i16),
    Resize {
        width: u16,
        height: u16,
    },
    /// `at` dates download progress, so the rate is computed without reading a clock in `update`.
    Engine {
        event: EngineEvent,
        at: Instant,
    },
    /// The transcript's size as drawn in the last frame.
    Drawn(Viewport),
    /// A model name (from `/model` or the settings pane) that the driver found: load it.
    ModelChosen {
        name: String,
        spec: ModelSpec,
        /// The endpoint it runs on as the user named it (`None`: here), and what that is.
        endpoint: Option<String>,
        place: Place,
    },
    /// Settings to use from now on (flags given with `--resume`, the settings pane); the
    /// system prompt and sampling are saved with the session.
    ApplySettings(SettingsPatch),
    /// What the driver found for the settings pane: models on disk, free memory, GPUs.
    Surveyed(Survey),
    /// What connecting to `endpoint` (for the settings pane) found.
    EndpointTested {
        endpoint: String,
        outcome: Result<EndpointReport, String>,
    },
    /// A note from the driver (clipboard result, a model name that did not parse).
    Notice(String),
    /// An error from the driver, shown in the banner.
    Failed(String),
    /// SIGTERM / SIGHUP, or the terminal went away: quit now, cancelling any answer.
    Terminate,
    /// The session store reporting back.
    Store(StoreMsg),
}

/// What the session store answers or reports.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreMsg {
    /// Saving failed for now, recovered, or a write was refused (from the store's actor).
    Event(StoreEvent),
    Listed(Vec<SessionSummary>),
    /// Search results for `query` (older queries' results are dropped).
    Found {
        query: String,
        hits: Vec<SearchHit>,
    },
    /// A session loaded to be shown (the pane's Enter, `--resume`).
    Opened(Session),
    /// A read failed; `what` names it ("listing sessions").
    ReadFailed {
        what: &'static str,
        message: String,
    },
}

impl Msg {
    pub fn engine(event: EngineEvent) -> Self {
        Self::Engine {
            event,
            at: Instant::now(),
        }
    }

    /// Whether the screen may change. `Drawn` only reports the last frame back.
    pub fn changes_screen(&self) -> bool {
        !matches!(self, Self::Drawn(_))
    }
}
