//! The terminal's modes: raw mode, the alternate screen, bracketed paste, mouse capture, the
//! keyboard enhancement flags and the window title. Entering sets them; [`restore`] puts every
//! one back and is safe to call twice, from a panic hook, a signal path or a `Drop`.
//!
//! Only this module and the driver touch crossterm's terminal state. It must not draw.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen, SetTitle};
use crossterm::{cursor, execute};

use crate::sanitize::sanitize_title;

/// Whether our modes are set; `restore` acts only once per `enter`.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);

/// xterm's title stack: save the user's title on entry, bring it back on exit.
const PUSH_TITLE: &str = "\x1b[22;0t";
const POP_TITLE: &str = "\x1b[23;0t";

/// Restores the terminal when dropped, whatever way the chat screen ends.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Sets every mode. On failure the modes already set are restored.
pub fn enter(mouse: bool) -> io::Result<Guard> {
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    let result = (|| {
        execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
        write!(out, "{PUSH_TITLE}")?;
        out.flush()
    })();
    if let Err(e) = result {
        restore();
        return Err(e);
    }
    // Shift+Enter is told apart only under the kitty keyboard protocol; terminals without it
    // ignore the request (and Windows' console API rejects it), so a failure is no error.
    if cfg!(not(windows)) {
        let _ = execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        );
    }
    set_mouse_capture(mouse);
    Ok(Guard(()))
}

/// Puts the terminal back: cooked mode, main screen, no paste brackets, no mouse reports,
/// normal keyboard, visible cursor, the user's title. Errors are ignored: this runs on the way
/// out, often when stdout is already in trouble.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    if cfg!(not(windows)) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(out, DisableBracketedPaste, LeaveAlternateScreen, cursor::Show);
    let _ = write!(out, "{POP_TITLE}");
    let _ = out.flush();
    let _ = terminal::disable_raw_mode();
}

pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Turns mouse reports on (wheel scrolls the transcript) or off (the terminal selects text).
pub fn set_mouse_capture(on: bool) {
    if !is_active() || MOUSE.swap(on, Ordering::SeqCst) == on {
        return;
    }
    let mut out = io::stdout();
    let _ = if on {
        execute!(out, EnableMouseCapture)
    } else {
        execute!(out, DisableMouseCapture)
    };
}

/// Sets the window title from untrusted text (sanitized and shortened here).
pub fn set_title(text: &str) {
    let _ = execute!(io::stdout(), SetTitle(sanitize_title(text)));
}

/// Ctrl+Z: restore the terminal, stop the process the way the shell expects, and set the modes
/// again once `fg` continues it. The caller redraws the whole screen afterwards.
pub fn suspend(mouse: bool) -> io::Result<()> {
    restore();
    #[cfg(unix)]
    signal_hook::low_level::raise(signal_hook::consts::SIGTSTP)?;
    // Dropping the guard would undo the modes we just set again.
    std::mem::forget(enter(mouse)?);
    Ok(())
}
