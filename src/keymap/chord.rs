//! A key with its modifiers, as written in the config (`ctrl-q`, `shift-enter`, `f1`, `?`):
//! parsing, display, and the chord of a key event.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key with its modifiers, as written in the config (`ctrl-q`, `shift-enter`, `f1`, `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chord {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Chord {
    /// The chord of a key event. Shift is folded into characters (`?` arrives as Shift+`?`).
    pub fn from_event(key: &KeyEvent) -> Self {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT;
        let mut mods = key.modifiers & relevant;
        let code = match key.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                // Ctrl+Shift+Q arrives as `Q`; a binding says `ctrl-q`.
                if mods.is_empty() {
                    KeyCode::Char(c)
                } else {
                    KeyCode::Char(c.to_ascii_lowercase())
                }
            }
            other => other,
        };
        Self { code, mods }
    }

    /// Whether this is a character typed without Ctrl or Alt: such a binding yields to typing.
    pub fn is_plain_char(&self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && !self.mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("unknown key `{text}`: write chords like ctrl-q, alt-enter, shift-up, f1, pageup, ?");
        let (mut mods, mut rest) = (KeyModifiers::NONE, text);
        // A chord ending in `-` (`ctrl--`) binds the minus key itself.
        while let Some((head, tail)) = rest.split_once('-').filter(|(_, tail)| !tail.is_empty()) {
            mods |= match head.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => KeyModifiers::CONTROL,
                "alt" | "meta" | "option" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                _ => return Err(bad()),
            };
            rest = tail;
        }
        let code = parse_key(rest).ok_or_else(bad)?;
        let key = KeyEvent::new(shifted(code, mods), mods);
        Ok(Self::from_event(&key))
    }
}

/// The key a terminal reports for `code` pressed with `mods`: Shift+a arrives as `A`, so
/// `shift-a` must bind `A` (it bound plain `a`).
fn shifted(code: KeyCode, mods: KeyModifiers) -> KeyCode {
    let KeyCode::Char(c) = code else { return code };
    if !mods.contains(KeyModifiers::SHIFT) {
        return code;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => KeyCode::Char(u),
        _ => code,
    }
}

fn parse_key(name: &str) -> Option<KeyCode> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyCode::Char(c));
    }
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" => KeyCode::Insert,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "space" => KeyCode::Char(' '),
        f if f.starts_with('f') => KeyCode::F(f[1..].parse().ok().filter(|n| (1..=24).contains(n))?),
        _ => return None,
    })
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, name) in [
            (KeyModifiers::CONTROL, "Ctrl+"),
            (KeyModifiers::ALT, "Alt+"),
            (KeyModifiers::SHIFT, "Shift+"),
        ] {
            if self.mods.contains(flag) {
                f.write_str(name)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.mods.is_empty() => write!(f, "{c}"),
            KeyCode::Char(c) => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Backspace => f.write_str("Backspace"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The fuzz target of chord parsing (see `docs/reliability.md`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    const MODIFIERS: &[&str] = &[
        "ctrl", "control", "alt", "meta", "option", "shift", "Ctrl", "SHIFT", "hyper", "",
    ];

    const KEYS: &[&str] = &[
        "enter",
        "Return",
        "esc",
        "ESCAPE",
        "tab",
        "backtab",
        "backspace",
        "delete",
        "del",
        "insert",
        "up",
        "down",
        "left",
        "right",
        "home",
        "end",
        "pageup",
        "PgUp",
        "pagedown",
        "pgdn",
        "space",
        "f0",
        "f1",
        "F12",
        "f24",
        "f25",
        "f255",
        "f256",
        "f+1",
        "f-1",
        "f01",
        "f",
        "-",
        "",
        "?",
        "+",
        "é",
        "한",
        "ß",
        "ǅ",
    ];

    /// What a user might write in `[keys]`: modifiers and a key joined by `-`, or any text.
    fn chordish() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            3 => prop::sample::select(KEYS).prop_map(str::to_owned),
            2 => any::<char>().prop_map(String::from),
            1 => "[a-zA-Z0-9]{2,6}",
        ];
        let written = (prop::collection::vec(prop::sample::select(MODIFIERS), 0..4), key)
            .prop_map(|(mods, key)| mods.iter().map(|m| format!("{m}-")).collect::<String>() + &key);
        prop_oneof![4 => written, 1 => any::<String>()]
    }

    /// The help's `Ctrl+Q` back in the config's `ctrl-q`.
    fn as_written(shown: &str) -> String {
        let mut rest = shown;
        let mut out = String::new();
        while let Some((name, tail)) = ["Ctrl+", "Alt+", "Shift+"]
            .iter()
            .find_map(|p| rest.strip_prefix(p).map(|tail| (p, tail)))
        {
            out += &format!("{}-", name.trim_end_matches('+').to_lowercase());
            rest = tail;
        }
        out + rest
    }

    /// The event a terminal sends for `chord`: Shift turns a letter into its capital.
    fn event_for(chord: Chord) -> KeyEvent {
        let code = match chord.code {
            KeyCode::Char(c) if chord.mods.contains(KeyModifiers::SHIFT) => KeyCode::Char(capital(c)),
            other => other,
        };
        KeyEvent::new(code, chord.mods)
    }

    fn capital(c: char) -> char {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => u,
            _ => c,
        }
    }

    /// The modifiers and the key as written, without `Chord::parse`'s folding.
    fn written(text: &str) -> Option<Chord> {
        let (mut mods, mut rest) = (KeyModifiers::NONE, text);
        while let Some((head, tail)) = rest.split_once('-').filter(|(_, tail)| !tail.is_empty()) {
            mods |= match head.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => KeyModifiers::CONTROL,
                "alt" | "meta" | "option" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                _ => return None,
            };
            rest = tail;
        }
        Some(Chord {
            code: parse_key(rest)?,
            mods,
        })
    }

    /// Found by `fuzz_a_chord_matches_the_key_a_terminal_sends_for_it`.
    #[test]
    fn shift_and_a_letter_is_its_capital() {
        let shift_a = Chord::parse("shift-a");
        assert_eq!(shift_a, Chord::parse("A"));
        let pressed = KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT);
        assert_eq!(shift_a, Ok(Chord::from_event(&pressed)));
        assert_eq!(Chord::parse("shift-é"), Chord::parse("É"));
        assert_eq!(Chord::parse("ctrl-shift-a"), Chord::parse("ctrl-a"));
        assert_eq!(Chord::parse("shift-1"), Chord::parse("1"), "no layout-free capital");
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config(2000))]

        #[test]
        fn fuzz_chords_parse_or_say_why(text in chordish()) {
            match Chord::parse(&text) {
                Ok(chord) => {
                    prop_assert_eq!(Chord::from_event(&KeyEvent::new(chord.code, chord.mods)), chord);
                    let shown = chord.to_string();
                    prop_assert!(!shown.is_empty());
                    prop_assert_eq!(Chord::parse(&as_written(&shown)), Ok(chord), "shown as {}", shown);
                }
                Err(message) => prop_assert!(message.contains(&format!("`{text}`")), "{}", message),
            }
        }

        #[test]
        fn fuzz_a_chord_matches_the_key_a_terminal_sends_for_it(text in chordish()) {
            if let (Ok(chord), Some(pressed)) = (Chord::parse(&text), written(&text)) {
                prop_assert_eq!(Chord::from_event(&event_for(pressed)), chord, "{}", text);
            }
        }

        #[test]
        fn fuzz_different_chords_look_different(a in chordish(), b in chordish()) {
            if let (Ok(a), Ok(b)) = (Chord::parse(&a), Chord::parse(&b)) {
                prop_assert_eq!(a == b, a.to_string() == b.to_string(), "{:?} {:?}", a, b);
            }
        }
    }
}
