//! What `update` asks the driver to do. Imperatives; the driver performs them in order.

use crate::engine::EngineCommand;

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
    /// Load the model named by a `/model` command (the driver parses the name).
    LoadModel(String),
    /// Stop the process (Ctrl+Z); the driver restores the terminal and redraws on resume.
    Suspend,
    Quit,
}
