//! Keys as data: which chord triggers which [`Action`], the defaults embedded here, the user's
//! `[keys]` table merged over them per action, and the rows of the help overlay.
//!
//! It owns chord parsing and display and the lookup of a key event. It must not perform an
//! action or know about state beyond the one rule that a plain character bound to an action
//! fires only while the input is empty (otherwise nobody could type that character).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can do. The snake_case name is the config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Send,
    Newline,
    Stop,
    Regenerate,
    EditLast,
    CopyAnswer,
    CopyCode,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    ToggleMouse,
    Help,
    Sessions,
    Quit,
    Interrupt,
    Suspend,
    CaretLeft,
    CaretRight,
    CaretUp,
    CaretDown,
    LineStart,
    LineEnd,
    WordLeft,
    WordRight,
    DeleteBack,
    DeleteForward,
    DeleteWordBack,
    ClearInput,
}

/// Where an action is listed in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Chat,
    Scroll,
    Edit,
    App,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Self::Chat => "Chat",
            Self::Scroll => "Scroll",
            Self::Edit => "Editing",
            Self::App => "Application",
        }
    }
}

/// Name, default chords, section and one-line description of every action, in overlay order.
#[rustfmt::skip]
const DEFAULTS: &[(Action, &str, &[&str], Section, &str)] = &[
    (Action::Send, "send", &["enter"], Section::Chat, "send the message"),
    (Action::Newline, "newline", &["ctrl-j", "shift-enter", "alt-enter"], Section::Chat, "new line in the message"),
    (Action::Stop, "stop", &["esc"], Section::Chat, "stop the answer, keep its text; close a banner"),
    (Action::Regenerate, "regenerate", &["ctrl-r"], Section::Chat, "answer the last message again"),
    (Action::EditLast, "edit_last", &["ctrl-e"], Section::Chat, "edit the last message and resend it"),
    (Action::CopyAnswer, "copy_answer", &["ctrl-y"], Section::Chat, "copy the last answer"),
    (Action::CopyCode, "copy_code", &["alt-y"], Section::Chat, "copy a code block of the last answer"),
    (Action::ScrollUp, "scroll_up", &["ctrl-up", "shift-up"], Section::Scroll, "scroll up a line (or the mouse wheel)"),
    (Action::ScrollDown, "scroll_down", &["ctrl-down", "shift-down"], Section::Scroll, "scroll down a line"),
    (Action::PageUp, "page_up", &["pageup"], Section::Scroll, "scroll up a page"),
    (Action::PageDown, "page_down", &["pagedown"], Section::Scroll, "scroll down a page"),
    (Action::Top, "top", &["ctrl-home"], Section::Scroll, "go to the first message"),
    (Action::Bottom, "bottom", &["ctrl-end"], Section::Scroll, "go to the newest text and follow it"),
    (Action::ToggleMouse, "toggle_mouse", &["f2", "alt-m"], Section::App, "mouse capture on/off (off: select text)"),
    (Action::Help, "help", &["f1", "?"], Section::App, "this help"),
    (Action::Sessions, "sessions", &["ctrl-o"], Section::App, "saved sessions: open, search, manage"),
    (Action::Quit, "quit", &["ctrl-q"], Section::App, "quit (asks again if the message box holds text)"),
    (Action::Interrupt, "interrupt", &["ctrl-c"], Section::App, "stop the answer; twice quits"),
    (Action::Suspend, "suspend", &["ctrl-z"], Section::App, "suspend to the shell (`fg` resumes)"),
    (Action::CaretLeft, "left", &["left"], Section::Edit, "caret left"),
    (Action::CaretRight, "right", &["right"], Section::Edit, "caret right"),
    (Action::CaretUp, "up", &["up"], Section::Edit, "caret up a line"),
    (Action::CaretDown, "down", &["down"], Section::Edit, "caret down a line"),
    (Action::LineStart, "line_start", &["home", "ctrl-a"], Section::Edit, "start of the line"),
    (Action::LineEnd, "line_end", &["end"], Section::Edit, "end of the line"),
    (Action::WordLeft, "word_left", &["ctrl-left", "alt-b"], Section::Edit, "previous word"),
    (Action::WordRight, "word_right", &["ctrl-right", "alt-f"], Section::Edit, "next word"),
    (Action::DeleteBack, "delete_back", &["backspace"], Section::Edit, "delete the character before the caret"),
    (Action::DeleteForward, "delete_forward", &["delete"], Section::Edit, "delete the character after the caret"),
    (Action::DeleteWordBack, "delete_word_back", &["ctrl-w", "alt-backspace"], Section::Edit, "delete the word before the caret"),
    (Action::ClearInput, "clear_input", &["ctrl-u"], Section::Edit, "clear the message box"),
];

impl Action {
    fn entry(self) -> &'static (Action, &'static str, &'static [&'static str], Section, &'static str) {
        // Every action has exactly one row; the test `every_action_has_a_row` guards this.
        DEFAULTS.iter().find(|row| row.0 == self).unwrap_or(&DEFAULTS[0])
    }
    pub fn name(self) -> &'static str {
        self.entry().1
    }
    pub fn description(self) -> &'static str {
        self.entry().4
    }
    pub fn section(self) -> Section {
        self.entry().3
    }
    pub fn from_name(name: &str) -> Option<Self> {
        DEFAULTS.iter().find(|row| row.1 == name).map(|row| row.0)
    }
}

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
        let key = KeyEvent::new(code, mods);
        Ok(Self::from_event(&key))
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

/// The merged keymap: chord -> action, plus each action's chords for the overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    by_chord: HashMap<Chord, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut by_chord = HashMap::new();
        for (action, _, chords, _, _) in DEFAULTS {
            for chord in *chords {
                // The defaults are tested to parse.
                if let Ok(chord) = Chord::parse(chord) {
                    by_chord.insert(chord, *action);
                }
            }
        }
        Self { by_chord }
    }
}

impl Keymap {
    /// The defaults with the user's `[keys]` table over them. An action named there loses its
    /// default chords; a chord named there is taken from whichever action had it.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut map = Self::default();
        for (name, chords) in overrides {
            let action = Action::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = DEFAULTS.iter().map(|row| row.1).collect();
                format!("[keys] unknown action `{name}`: the actions are {}", names.join(", "))
            })?;
            map.by_chord.retain(|_, a| *a != action);
            for text in chords {
                let chord = Chord::parse(text).map_err(|e| format!("[keys] {name}: {e}"))?;
                map.by_chord.insert(chord, action);
            }
        }
        Ok(map)
    }

    /// The action for a key, if any. `input_empty` decides plain-character bindings.
    pub fn action(&self, key: &KeyEvent, input_empty: bool) -> Option<Action> {
        let chord = Chord::from_event(key);
        if chord.is_plain_char() && !input_empty {
            return None;
        }
        self.by_chord.get(&chord).copied()
    }

    /// Chords bound to `action`, in a stable order for display.
    pub fn chords(&self, action: Action) -> Vec<Chord> {
        let defaults = action.entry().2;
        let rank = |c: &Chord| {
            defaults
                .iter()
                .position(|d| Chord::parse(d).ok() == Some(*c))
                .unwrap_or(usize::MAX)
        };
        let mut chords: Vec<Chord> = self
            .by_chord
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(c, _)| *c)
            .collect();
        chords.sort_by_key(|c| (rank(c), c.to_string()));
        chords
    }

    /// The first chord of `action` as text, for hints ("F1 help"); `fallback` if unbound.
    pub fn hint(&self, action: Action, fallback: &str) -> String {
        self.chords(action)
            .first()
            .map_or_else(|| fallback.to_string(), Chord::to_string)
    }

    /// Help overlay rows by section: (section, [(keys, description)]).
    pub fn help_rows(&self) -> Vec<(Section, Vec<(String, &'static str)>)> {
        let mut sections: Vec<(Section, Vec<(String, &'static str)>)> = Vec::new();
        for (action, _, _, section, description) in DEFAULTS {
            let keys: Vec<String> = self.chords(*action).iter().map(Chord::to_string).collect();
            let keys = if keys.is_empty() {
                "(unbound)".to_string()
            } else {
                keys.join(" / ")
            };
            match sections.iter_mut().find(|(s, _)| s == section) {
                Some((_, rows)) => rows.push((keys, description)),
                None => sections.push((*section, vec![(keys, description)])),
            }
        }
        sections
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_default_parses_and_every_action_has_a_row() {
        for (action, name, chords, _, _) in DEFAULTS {
            assert_eq!(Action::from_name(name), Some(*action));
            for chord in *chords {
                Chord::parse(chord).unwrap();
            }
        }
        assert_eq!(DEFAULTS.len(), Action::ClearInput as usize + 1);
    }

    #[test]
    fn lookups_fold_shift_into_characters() {
        let map = Keymap::default();
        assert_eq!(
            map.action(&key(KeyCode::Char('?'), KeyModifiers::SHIFT), true),
            Some(Action::Help)
        );
        assert_eq!(map.action(&key(KeyCode::Char('?'), KeyModifiers::SHIFT), false), None);
        assert_eq!(
            map.action(
                &key(KeyCode::Char('Q'), KeyModifiers::CONTROL | KeyModifiers::SHIFT),
                false
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(&key(KeyCode::Char('j'), KeyModifiers::CONTROL), false),
            Some(Action::Newline)
        );
        assert_eq!(
            map.action(&key(KeyCode::Enter, KeyModifiers::SHIFT), false),
            Some(Action::Newline)
        );
        assert_eq!(
            map.action(&key(KeyCode::Enter, KeyModifiers::NONE), false),
            Some(Action::Send)
        );
        let mut release = key(KeyCode::Enter, KeyModifiers::NONE);
        release.kind = KeyEventKind::Release; // the caller filters kinds; the map does not care
        assert_eq!(map.action(&release, false), Some(Action::Send));
    }

    #[test]
    fn overrides_replace_an_actions_chords_and_steal_the_chord() {
        let mut keys = BTreeMap::new();
        keys.insert("regenerate".to_string(), vec!["ctrl-g".to_string()]);
        keys.insert("quit".to_string(), vec!["ctrl-r".to_string(), "ctrl-q".to_string()]);
        let map = Keymap::with_overrides(&keys).unwrap();
        assert_eq!(
            map.action(&key(KeyCode::Char('g'), KeyModifiers::CONTROL), false),
            Some(Action::Regenerate)
        );
        assert_eq!(
            map.action(&key(KeyCode::Char('r'), KeyModifiers::CONTROL), false),
            Some(Action::Quit)
        );
        assert_eq!(map.hint(Action::Regenerate, "-"), "Ctrl+G");
    }

    #[test]
    fn bad_overrides_name_the_action_and_the_chord() {
        let mut keys = BTreeMap::new();
        keys.insert("quitt".to_string(), vec!["ctrl-q".to_string()]);
        assert!(Keymap::with_overrides(&keys).unwrap_err().contains("quitt"));
        let mut keys = BTreeMap::new();
        keys.insert("quit".to_string(), vec!["ctl-q".to_string()]);
        let err = Keymap::with_overrides(&keys).unwrap_err();
        assert!(err.contains("quit") && err.contains("ctl-q"), "{err}");
    }

    #[test]
    fn chords_display_as_people_write_them() {
        assert_eq!(Chord::parse("ctrl-q").unwrap().to_string(), "Ctrl+Q");
        assert_eq!(Chord::parse("shift-enter").unwrap().to_string(), "Shift+Enter");
        assert_eq!(Chord::parse("f1").unwrap().to_string(), "F1");
        assert_eq!(Chord::parse("?").unwrap().to_string(), "?");
        assert_eq!(Chord::parse("ctrl--").unwrap().to_string(), "Ctrl+-");
    }
}
