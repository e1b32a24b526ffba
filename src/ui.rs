//! Drawing the chat screen: `render(&AppState, &mut TranscriptCache, &mut Frame)`.
//!
//! Pure apart from the transcript's line cache, which is its own type: it reads the state and
//! draws. One pane per file. Layout: transcript (with the error banner over its top), the
//! message box, the status line; the help overlay above everything.

pub mod help;
pub mod input;
pub mod sessions;
pub mod settings;
pub mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_sessions;
#[cfg(test)]
mod tests_settings;
pub mod transcript;
pub mod wrap;

use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

use crate::state::{AppState, Overlay, Viewport};

pub use transcript::{BodyStyle, TranscriptCache, STREAM_INTERVAL};

/// Draws one frame and returns the transcript's size, which the driver reports back to
/// `update` (scrolling by page needs it).
pub fn render(state: &AppState, cache: &mut TranscriptCache, frame: &mut Frame) -> Viewport {
    let area = frame.area();
    // The message box may take at most half the screen, so the transcript never vanishes.
    let input_height = input::height_for(state, area.width)
        .min(area.height.saturating_sub(1) / 2)
        .max(1);
    let [body, message, status] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(input_height),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut viewport = transcript::draw(state, cache, frame, body);
    input::draw(state, frame, message);
    status::draw(state, frame, status);
    match &state.overlay {
        Some(Overlay::Sessions(_)) => sessions::draw(state, frame, area),
        Some(Overlay::Help { .. }) => viewport.help_max_scroll = help::draw(state, frame, area),
        // While the system prompt is edited, the message box below shows it.
        Some(Overlay::Settings(pane)) if pane.editing_system.is_none() => settings::draw(state, pane, frame, area),
        Some(Overlay::Settings(_)) => {}
        // The code pick is asked in the status line.
        Some(Overlay::CodePick(_)) | None => {}
    }
    viewport
}
