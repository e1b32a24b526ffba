//! What happens to the chat screen: terminal input, engine events, the driver's own reports.
//! Plain data, so `update` can be tested by feeding it messages.

use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::engine::EngineEvent;
use crate::state::Viewport;

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
    /// A note from the driver (clipboard result, a model name that did not parse).
    Notice(String),
    /// An error from the driver, shown in the banner.
    Failed(String),
    /// SIGTERM / SIGHUP, or the terminal went away: quit now, cancelling any answer.
    Terminate,
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
