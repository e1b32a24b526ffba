//! Keys as data: which chord triggers which [`Action`] in which [`Layer`], the defaults (one
//! table in `actions`), the user's `[keys]` table merged over them per action (`[keys]` for the
//! chat screen and the global keys, `[keys.sessions]` for the sessions pane), and the rows of
//! the help overlay.
//!
//! It owns chord parsing and display and the lookup of a key event. It must not perform an
//! action or know about state beyond the one rule that a plain character bound to an action
//! fires only while the input is empty (otherwise nobody could type that character).

mod actions;
mod chord;

use std::collections::{BTreeMap, HashMap};

use crossterm::event::KeyEvent;
use serde::{Deserialize, Serialize};

use actions::DEFAULTS;
pub use actions::{Action, Layer, Section};
pub use chord::Chord;

/// One entry of the config's `[keys]` table: an action's chords, or a pane's own table of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyBinding {
    Chords(Vec<String>),
    Pane(BTreeMap<String, Vec<String>>),
}

/// The config's `[keys]` table.
pub type KeyOverrides = BTreeMap<String, KeyBinding>;

/// The panes whose keys have a table of their own.
const PANE_LAYERS: &[Layer] = &[Layer::Sessions, Layer::Settings];

/// The merged keymap: (layer, chord) -> action.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    by_chord: HashMap<(Layer, Chord), Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut by_chord = HashMap::new();
        for b in DEFAULTS {
            for chord in b.chords {
                // The defaults are tested to parse.
                if let Ok(chord) = Chord::parse(chord) {
                    by_chord.insert((b.layer, chord), b.action);
                }
            }
        }
        Self { by_chord }
    }
}

impl Keymap {
    /// The defaults with the user's `[keys]` table over them. An action named there loses its
    /// default chords; a chord named there is taken from whichever action of that layer had it.
    pub fn with_overrides(overrides: &KeyOverrides) -> Result<Self, String> {
        let mut map = Self::default();
        for (name, entry) in overrides {
            match entry {
                KeyBinding::Chords(chords) => map.rebind("[keys]", &[Layer::Global, Layer::Chat], name, chords)?,
                KeyBinding::Pane(table) => {
                    let layer = PANE_LAYERS
                        .iter()
                        .find(|l| l.table() == Some(name.as_str()))
                        .ok_or_else(|| {
                            let panes: Vec<&str> = PANE_LAYERS.iter().filter_map(|l| l.table()).collect();
                            format!(
                                "[keys.{name}]: no such pane; the panes with keys are {}",
                                panes.join(", ")
                            )
                        })?;
                    let place = format!("[keys.{name}]");
                    for (action, chords) in table {
                        map.rebind(&place, &[*layer], action, chords)?;
                    }
                }
            }
        }
        Ok(map)
    }

    fn rebind(&mut self, place: &str, layers: &[Layer], name: &str, chords: &[String]) -> Result<(), String> {
        let binding = actions::find(layers, name).ok_or_else(|| {
            let names: Vec<&str> = DEFAULTS
                .iter()
                .filter(|b| layers.contains(&b.layer))
                .map(|b| b.name)
                .collect();
            format!("{place} unknown action `{name}`: the actions are {}", names.join(", "))
        })?;
        let (layer, action) = (binding.layer, binding.action);
        self.by_chord.retain(|(l, _), a| !(*l == layer && *a == action));
        for text in chords {
            let chord = Chord::parse(text).map_err(|e| format!("{place} {name}: {e}"))?;
            self.by_chord.insert((layer, chord), action);
        }
        Ok(())
    }

    /// The action for a key in `layer`, if any. `input_empty` decides plain-character bindings.
    pub fn action(&self, layer: Layer, key: &KeyEvent, input_empty: bool) -> Option<Action> {
        let chord = Chord::from_event(key);
        if chord.is_plain_char() && !input_empty {
            return None;
        }
        self.by_chord.get(&(layer, chord)).copied()
    }

    /// Quit, interrupt or suspend: decided before any pane or overlay sees the key.
    pub fn global(&self, key: &KeyEvent) -> Option<Action> {
        self.by_chord.get(&(Layer::Global, Chord::from_event(key))).copied()
    }

    /// Chords bound to `action` in `layer`, in a stable order for display.
    pub fn chords(&self, layer: Layer, action: Action) -> Vec<Chord> {
        let defaults = DEFAULTS
            .iter()
            .find(|b| b.layer == layer && b.action == action)
            .map_or(&[][..], |b| b.chords);
        let rank = |c: &Chord| {
            defaults
                .iter()
                .position(|d| Chord::parse(d).ok() == Some(*c))
                .unwrap_or(usize::MAX)
        };
        let mut chords: Vec<Chord> = self
            .by_chord
            .iter()
            .filter(|((l, _), a)| *l == layer && **a == action)
            .map(|((_, c), _)| *c)
            .collect();
        chords.sort_by_key(|c| (rank(c), c.to_string()));
        chords
    }

    /// The first chord of `action` (in the layer of its first row) as text, for hints
    /// ("F1 help"); `fallback` if unbound.
    pub fn hint(&self, action: Action, fallback: &str) -> String {
        self.chords(actions::binding(action).layer, action)
            .first()
            .map_or_else(|| fallback.to_string(), Chord::to_string)
    }

    /// Help overlay rows by section: (section, [(keys, description)]).
    pub fn help_rows(&self) -> Vec<(Section, Vec<(String, &'static str)>)> {
        let mut sections: Vec<(Section, Vec<(String, &'static str)>)> = Vec::new();
        for b in DEFAULTS {
            let keys: Vec<String> = self.chords(b.layer, b.action).iter().map(Chord::to_string).collect();
            let keys = if keys.is_empty() {
                "(unbound)".to_string()
            } else {
                keys.join(" / ")
            };
            match sections.iter_mut().find(|(s, _)| *s == b.section) {
                Some((_, rows)) => rows.push((keys, b.description)),
                None => sections.push((b.section, vec![(keys, b.description)])),
            }
        }
        sections
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_default_parses_and_every_action_has_a_row() {
        for b in DEFAULTS {
            let same_table = match b.layer {
                Layer::Global | Layer::Chat => vec![Layer::Global, Layer::Chat],
                other => vec![other],
            };
            assert_eq!(
                actions::find(&same_table, b.name).map(|f| f.action),
                Some(b.action),
                "{}",
                b.name
            );
            for chord in b.chords {
                Chord::parse(chord).unwrap();
            }
        }
        for n in 0..=Action::SaveDefault as usize {
            assert!(DEFAULTS.iter().any(|b| b.action as usize == n), "action {n} has no row");
        }
    }

    #[test]
    fn each_layer_has_its_own_keys_and_global_keys_work_in_all() {
        let map = Keymap::default();
        let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(map.action(Layer::Sessions, &n, true), Some(Action::NewChat));
        assert_eq!(map.action(Layer::Chat, &n, true), None);
        let up = key(KeyCode::Up, KeyModifiers::NONE);
        assert_eq!(map.action(Layer::Sessions, &up, true), Some(Action::ListUp));
        assert_eq!(map.action(Layer::Chat, &up, true), Some(Action::CaretUp));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map.global(&ctrl_c), Some(Action::Interrupt));
        assert_eq!(map.global(&up), None);
    }

    #[test]
    fn a_pane_table_rebinds_that_panes_keys_only() {
        let overrides: KeyOverrides = toml::from_str("quit = [\"ctrl-x\"]\n[sessions]\nnew = [\"ctrl-n\"]\n").unwrap();
        let map = Keymap::with_overrides(&overrides).unwrap();
        let ctrl_n = key(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert_eq!(map.action(Layer::Sessions, &ctrl_n, false), Some(Action::NewChat));
        let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(map.action(Layer::Sessions, &n, true), None, "the default chord is gone");
        assert_eq!(
            map.global(&key(KeyCode::Char('x'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        let rows = map.help_rows();
        let pane = rows
            .iter()
            .find(|(s, _)| *s == Section::SessionsPane)
            .expect("pane section");
        assert!(pane
            .1
            .iter()
            .any(|(keys, what)| keys == "Ctrl+N" && what.contains("new chat")));
        let bad: KeyOverrides = toml::from_str("[sessions]\nnwe = [\"n\"]\n").unwrap();
        let err = Keymap::with_overrides(&bad).unwrap_err();
        assert!(
            err.contains("[keys.sessions]") && err.contains("nwe") && err.contains("rename"),
            "{err}"
        );
        let bad: KeyOverrides = toml::from_str("[setings]\nx = [\"n\"]\n").unwrap();
        assert!(Keymap::with_overrides(&bad).unwrap_err().contains("setings"));
    }

    #[test]
    fn lookups_fold_shift_into_characters() {
        let map = Keymap::default();
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Char('?'), KeyModifiers::SHIFT), true),
            Some(Action::Help)
        );
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Char('?'), KeyModifiers::SHIFT), false),
            None
        );
        assert_eq!(
            map.global(&key(KeyCode::Char('Q'), KeyModifiers::CONTROL | KeyModifiers::SHIFT)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Char('j'), KeyModifiers::CONTROL), false),
            Some(Action::Newline)
        );
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Enter, KeyModifiers::SHIFT), false),
            Some(Action::Newline)
        );
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Enter, KeyModifiers::NONE), false),
            Some(Action::Send)
        );
        let mut release = key(KeyCode::Enter, KeyModifiers::NONE);
        release.kind = KeyEventKind::Release; // the caller filters kinds; the map does not care
        assert_eq!(map.action(Layer::Chat, &release, false), Some(Action::Send));
    }

    #[test]
    fn overrides_replace_an_actions_chords_and_steal_the_chord() {
        let keys: KeyOverrides = toml::from_str("regenerate = [\"ctrl-g\"]\nstop = [\"ctrl-r\", \"esc\"]\n").unwrap();
        let map = Keymap::with_overrides(&keys).unwrap();
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Char('g'), KeyModifiers::CONTROL), false),
            Some(Action::Regenerate)
        );
        assert_eq!(
            map.action(Layer::Chat, &key(KeyCode::Char('r'), KeyModifiers::CONTROL), false),
            Some(Action::Stop)
        );
        assert_eq!(map.hint(Action::Regenerate, "-"), "Ctrl+G");
    }

    #[test]
    fn bad_overrides_name_the_action_and_the_chord() {
        let keys: KeyOverrides = toml::from_str("quitt = [\"ctrl-q\"]").unwrap();
        assert!(Keymap::with_overrides(&keys).unwrap_err().contains("quitt"));
        let keys: KeyOverrides = toml::from_str("quit = [\"ctl-q\"]").unwrap();
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
