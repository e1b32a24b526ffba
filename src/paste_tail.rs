//! Keeps the rest of a paste a paste when the pasted text holds the bracketed-paste end marker.
//!
//! A terminal wraps a paste in `ESC [200~` … `ESC [201~`. Pasted text that itself contains
//! `ESC [201~` (a crafted web page, a log of a terminal session) ends the paste early in
//! crossterm, and every byte after the marker arrives as a key press: a `\r` there would send
//! the half-pasted message. Those bytes reach us in the same burst as the paste, within
//! microseconds; no one presses a key that soon after a paste. So key presses arriving within
//! [`PASTE_TAIL`] of a paste (or of the tail's previous key) are taken as more pasted text:
//! characters, Enter and Tab as themselves, anything else dropped, since the bytes that made it
//! were pasted, not typed. The stray closing marker at the end is dropped by crossterm's parser.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// How long after a paste key presses still belong to it. A terminal writes a paste in one go;
/// a large one reaches the program in reads a few microseconds apart.
pub const PASTE_TAIL: Duration = Duration::from_millis(30);

/// What to do with a key press, given what came before it.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyRoute {
    /// A key the user pressed.
    Typed,
    /// Pasted text that arrived as a key.
    Pasted(char),
    /// Part of the paste with no text (an arrow's bytes, a control byte): nothing to do.
    Dropped,
}

/// Watches the terminal's events for the tail of a paste cut short by its own end marker.
#[derive(Debug, Default)]
pub struct PasteTail {
    open_until: Option<Instant>,
}

impl PasteTail {
    /// A paste arrived at `now`: keys right after it are its tail.
    pub fn on_paste(&mut self, now: Instant) {
        self.open_until = Some(now + PASTE_TAIL);
    }

    /// Routes a key press arriving at `now`.
    pub fn route(&mut self, key: &KeyEvent, now: Instant) -> KeyRoute {
        match self.open_until {
            Some(until) if now <= until => {
                self.open_until = Some(now + PASTE_TAIL);
                match pasted_char(key) {
                    Some(c) => KeyRoute::Pasted(c),
                    None => KeyRoute::Dropped,
                }
            }
            _ => {
                self.open_until = None;
                KeyRoute::Typed
            }
        }
    }
}

/// The text a key's bytes stood for when they were pasted.
fn pasted_char(key: &KeyEvent) -> Option<char> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
    match key.code {
        KeyCode::Char(c) if plain => Some(c),
        KeyCode::Enter if plain => Some('\n'),
        KeyCode::Tab => Some('\t'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_in_the_same_burst_as_a_paste_are_its_text_and_enter_is_a_newline() {
        let start = Instant::now();
        let mut tail = PasteTail::default();
        tail.on_paste(start);
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(tail.route(&key(KeyCode::Char('r')), at(0)), KeyRoute::Pasted('r'));
        assert_eq!(
            tail.route(&KeyEvent::new(KeyCode::Char('M'), KeyModifiers::SHIFT), at(1)),
            KeyRoute::Pasted('M')
        );
        assert_eq!(tail.route(&key(KeyCode::Enter), at(2)), KeyRoute::Pasted('\n'));
        assert_eq!(tail.route(&key(KeyCode::Tab), at(3)), KeyRoute::Pasted('\t'));
        // An arrow's or a control byte's key has no text: it was pasted, so it does nothing.
        assert_eq!(tail.route(&key(KeyCode::Up), at(4)), KeyRoute::Dropped);
        assert_eq!(
            tail.route(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), at(5)),
            KeyRoute::Dropped
        );
        assert_eq!(tail.route(&key(KeyCode::Esc), at(6)), KeyRoute::Dropped);
    }

    #[test]
    fn the_tail_stays_open_while_keys_keep_coming_and_closes_after_a_pause() {
        let start = Instant::now();
        let mut tail = PasteTail::default();
        tail.on_paste(start);
        // A long tail: each key within the window of the one before it.
        let mut now = start;
        for _ in 0..100 {
            now += PASTE_TAIL / 2;
            assert_eq!(tail.route(&key(KeyCode::Char('x')), now), KeyRoute::Pasted('x'));
        }
        // The user's own Enter, a moment later, sends.
        now += PASTE_TAIL + Duration::from_millis(1);
        assert_eq!(tail.route(&key(KeyCode::Enter), now), KeyRoute::Typed);
        assert_eq!(
            tail.route(&key(KeyCode::Enter), now),
            KeyRoute::Typed,
            "closed for good"
        );
    }

    #[test]
    fn without_a_paste_every_key_is_typed_even_a_fast_burst() {
        // An IME commits a syllable and Enter in one write: that Enter must send.
        let now = Instant::now();
        let mut tail = PasteTail::default();
        assert_eq!(tail.route(&key(KeyCode::Char('요')), now), KeyRoute::Typed);
        assert_eq!(tail.route(&key(KeyCode::Enter), now), KeyRoute::Typed);
    }
}
