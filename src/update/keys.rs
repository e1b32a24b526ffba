//! Keys and pastes: the keymap picks an action, unbound printable keys type into the box.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{chat, disarm, scroll, sessions, settings, settings_pane};
use crate::effect::Effect;
use crate::keymap::{Action, Layer};
use crate::state::input::MAX_PASTE_BYTES;
use crate::state::{AppState, Overlay};

pub(super) fn on_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    // Windows reports presses and releases; other platforms report presses only.
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    // Quit, interrupt and suspend are decided once, before any overlay sees the key.
    if let Some(action) = state.keymap.global(&key) {
        if state.code_pick().is_some() {
            state.overlay = None;
        }
        if action == Action::Suspend {
            disarm(state);
        }
        return on_action(state, action);
    }
    disarm(state);
    match &state.overlay {
        Some(Overlay::Help { scroll }) => {
            let scroll = *scroll;
            on_help_key(state, &key, scroll);
            Vec::new()
        }
        Some(Overlay::Sessions(_)) => sessions::on_key(state, key),
        Some(Overlay::Settings(_)) => settings_pane::on_key(state, key),
        Some(Overlay::CodePick(pick)) => {
            let pick = *pick;
            state.overlay = None;
            // Not a pick: the key cancels the pick and then acts as usual.
            chat::pick_code(state, pick, &key).unwrap_or_else(|| on_chat_key(state, &key))
        }
        None => on_chat_key(state, &key),
    }
}

fn on_chat_key(state: &mut AppState, key: &KeyEvent) -> Vec<Effect> {
    state.notice = None;
    match state.keymap.action(Layer::Chat, key, state.input.is_empty()) {
        Some(action) => on_action(state, action),
        None => {
            type_key(state, key);
            Vec::new()
        }
    }
}

/// The help overlay takes every key: arrows and pages scroll it, any other key closes it.
fn on_help_key(state: &mut AppState, key: &KeyEvent, scroll: u16) {
    let page = state.viewport.height.max(2) as u16 / 2;
    let most = state.viewport.help_max_scroll;
    let scroll = match key.code {
        KeyCode::Up => scroll.saturating_sub(1),
        KeyCode::Down => scroll.saturating_add(1),
        KeyCode::PageUp => scroll.saturating_sub(page),
        KeyCode::PageDown => scroll.saturating_add(page),
        KeyCode::Home => 0,
        _ => {
            state.overlay = None;
            return;
        }
    };
    // Never past the end: Up after a long press of Down moves at once.
    state.overlay = Some(Overlay::Help {
        scroll: scroll.min(most),
    });
}

pub(super) fn on_action(state: &mut AppState, action: Action) -> Vec<Effect> {
    match action {
        Action::Send => chat::send(state),
        Action::Stop => chat::stop(state),
        Action::Regenerate => chat::regenerate(state),
        Action::EditLast => chat::edit_last(state),
        Action::CopyAnswer => chat::copy_answer(state),
        Action::CopyCode => chat::copy_code(state),
        Action::Quit => chat::quit(state),
        Action::Interrupt => chat::interrupt(state),
        Action::Suspend => vec![Effect::Suspend],
        Action::Sessions => sessions::open_pane(state),
        Action::Settings => settings_pane::open(state),
        Action::LoadPrevious => settings::load_previous(state),
        Action::Help => {
            state.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::ToggleMouse => {
            state.mouse_capture = !state.mouse_capture;
            state.notice = Some(if state.mouse_capture {
                "mouse wheel on (text selection needs Shift, or press the key again)".into()
            } else {
                "mouse capture off: select text with the mouse; the wheel scrolls the terminal".into()
            });
            vec![Effect::SetMouseCapture(state.mouse_capture)]
        }
        Action::ScrollUp => scroll_effects(state, -1),
        Action::ScrollDown => scroll_effects(state, 1),
        Action::PageUp => scroll_effects(state, -page(state)),
        Action::PageDown => scroll_effects(state, page(state)),
        Action::Top => {
            scroll::top(state);
            Vec::new()
        }
        Action::Bottom => {
            scroll::bottom(state);
            Vec::new()
        }
        edit => {
            edit_input(state, edit);
            Vec::new()
        }
    }
}

/// A key while text is edited in the message box for something else (the system prompt):
/// editing keys edit, unbound keys type, other actions do nothing.
pub(super) fn edit_or_type(state: &mut AppState, key: &KeyEvent, action: Option<Action>) {
    match action {
        Some(
            edit @ (Action::Newline
            | Action::CaretLeft
            | Action::CaretRight
            | Action::CaretUp
            | Action::CaretDown
            | Action::LineStart
            | Action::LineEnd
            | Action::WordLeft
            | Action::WordRight
            | Action::DeleteBack
            | Action::DeleteForward
            | Action::DeleteWordBack
            | Action::ClearInput),
        ) => edit_input(state, edit),
        Some(_) => {}
        None => type_key(state, key),
    }
}

fn page(state: &AppState) -> i64 {
    state.viewport.height.saturating_sub(2).max(1) as i64
}

fn scroll_effects(state: &mut AppState, lines: i64) -> Vec<Effect> {
    scroll::by(state, lines);
    Vec::new()
}

fn edit_input(state: &mut AppState, action: Action) {
    let input = &mut state.input;
    match action {
        Action::Newline => {
            input.insert("\n", MAX_PASTE_BYTES);
        }
        Action::CaretLeft => input.left(),
        Action::CaretRight => input.right(),
        // On the first or last line of the box the arrows scroll the transcript instead.
        Action::CaretUp => {
            let moved = input.up();
            if !moved {
                scroll::by(state, -1);
            }
        }
        Action::CaretDown => {
            let moved = input.down();
            if !moved {
                scroll::by(state, 1);
            }
        }
        Action::LineStart => input.line_start(),
        Action::LineEnd => input.line_end(),
        Action::WordLeft => input.word_left(),
        Action::WordRight => input.word_right(),
        Action::DeleteBack => input.delete_back(),
        Action::DeleteForward => input.delete_forward(),
        Action::DeleteWordBack => input.delete_word_back(),
        Action::ClearInput => {
            input.take();
        }
        _ => {}
    }
}

/// An unbound key types its character, if it has one.
fn type_key(state: &mut AppState, key: &KeyEvent) {
    let KeyCode::Char(c) = key.code else {
        if key.code == KeyCode::Tab {
            state.input.insert("\t", MAX_PASTE_BYTES);
        }
        return;
    };
    // Ctrl+Alt together is AltGr on Windows: it types (`@` on a German keyboard).
    let ctrl_alt = KeyModifiers::CONTROL | KeyModifiers::ALT;
    let mods = key.modifiers & ctrl_alt;
    if mods.is_empty() || mods == ctrl_alt {
        let mut buf = [0u8; 4];
        state.input.insert(c.encode_utf8(&mut buf), MAX_PASTE_BYTES);
    }
}

pub(super) fn on_paste(state: &mut AppState, text: &str) {
    state.notice = None;
    if state.help_scroll().is_some() {
        state.overlay = None;
    }
    let inserted = state.input.insert(text, MAX_PASTE_BYTES);
    if inserted.dropped_bytes > 0 {
        state.notice = Some(format!(
            "the paste was {}: only its first {} KiB went into the message box",
            human_bytes(text.len() as u64),
            MAX_PASTE_BYTES / 1024
        ));
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
