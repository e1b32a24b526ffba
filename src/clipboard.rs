//! Copying text for the user, only ever on an explicit action: the system clipboard where
//! there is one (arboard), else the terminal's clipboard through OSC 52 (which also reaches the
//! user's own machine over SSH). It must not read the clipboard.

use std::io::Write;

use base64::Engine as _;

/// Where copied text went, for the notice.
pub const SYSTEM: &str = "system clipboard";
pub const TERMINAL: &str = "terminal's clipboard (OSC 52)";

#[derive(Default)]
pub struct Clipboard {
    /// Kept alive: on X11 the copied text is served by this object until another program
    /// takes the clipboard.
    system: Option<arboard::Clipboard>,
    system_failed: bool,
}

impl Clipboard {
    /// Copies `text` (already sanitized) and says where it went.
    pub fn copy(&mut self, text: &str) -> Result<&'static str, String> {
        // Over SSH the system clipboard is the remote machine's, which the user cannot see.
        let remote = std::env::var_os("SSH_CONNECTION").is_some() || std::env::var_os("SSH_TTY").is_some();
        if !remote && !self.system_failed {
            match self.system_copy(text) {
                Ok(()) => return Ok(SYSTEM),
                Err(e) => {
                    tracing::info!("system clipboard unavailable, using OSC 52: {e}");
                    self.system_failed = true;
                }
            }
        }
        osc52(text)
            .map(|()| TERMINAL)
            .map_err(|e| format!("writing OSC 52 to the terminal failed: {e}"))
    }

    fn system_copy(&mut self, text: &str) -> Result<(), arboard::Error> {
        if self.system.is_none() {
            self.system = Some(arboard::Clipboard::new()?);
        }
        match self.system.as_mut() {
            Some(clipboard) => clipboard.set_text(text.to_string()),
            None => Err(arboard::Error::ClipboardNotSupported),
        }
    }
}

/// The OSC 52 sequence that asks the terminal to put `text` on its clipboard.
pub fn osc52_sequence(text: &str) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{payload}\x07")
}

fn osc52(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    out.write_all(osc52_sequence(text).as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_carries_base64() {
        assert_eq!(super::osc52_sequence("hi"), "\x1b]52;c;aGk=\x07");
    }
}
