//! What `update` asks the driver to do. Imperatives; the driver performs them in order.

use crate::engine::EngineCommand;
use crate::settings::Settings;
use crate::store::{SessionId, WriteOp};

/// Not `PartialEq`: engine commands are not; tests match on the variants.
#[derive(Debug, Clone)]
pub enum Effect {
    Engine(EngineCommand),
    /// Put this (already sanitized) text on the clipboard; `what` names it for the notice.
    Copy {
        text: String,
        what: &'static str,
    },
    SetMouseCapture(bool),
    /// Set the window title (the driver sanitizes it).
    SetTitle(String),
    /// Load the model `name` (from `/model` or the pane) on `endpoint` (`None`: here); the
    /// driver parses the name and resolves the endpoint.
    LoadModel {
        name: String,
        endpoint: Option<String>,
    },
    /// Find out for the settings pane which models are on disk, how much memory is free and
    /// which GPUs there are; the answer comes back as `Msg::Surveyed`.
    Survey,
    /// Connect to this endpoint for the settings pane and list its models; the answer comes
    /// back as `Msg::EndpointTested`.
    TestEndpoint(String),
    /// Write these settings to config.toml as the defaults (keeping the file's comments).
    SaveDefaults(Box<Settings>),
    /// Stop the process (Ctrl+Z); the driver restores the terminal and redraws on resume.
    Suspend,
    /// Ask the session store something; answers come back as `Msg::Store`.
    Store(StoreRequest),
    Quit,
}

/// What `update` asks of the session store. The driver stamps writes with the wall-clock time
/// ([`WriteOp::stamp`]) because `update` reads no clock; their `at` fields are 0 until then.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreRequest {
    /// Queue a write (applied in order, retried while the disk refuses it).
    Write(WriteOp),
    /// All sessions, for the sessions pane (`StoreMsg::Listed`).
    List,
    /// Full-text search (`StoreMsg::Found`).
    Search { query: String },
    /// Load a session to show it (`StoreMsg::Opened`).
    Open { id: SessionId },
}
