//! The sessions pane's transitions and the store's answers: open and close the pane, move
//! through it, search, open a session, new / rename / delete (after y) / duplicate, and what
//! the store reports (lists, hits, a loaded session, saving failing or recovering).
//!
//! The pane's keys are the keymap's `Sessions` layer (`[keys.sessions]` rebinds them). Plain
//! letters are commands only while no search is typed (the keymap's plain-key rule); any other
//! character starts a search. Typing a new title and the y of "delete?" are text, not keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::save;
use crate::effect::{Effect, StoreRequest};
use crate::keymap::{Action, Layer};
use crate::msg::StoreMsg;
use crate::state::{AppState, Overlay, PaneMode, SessionsPane};
use crate::store::{StoreEvent, WriteOp};

/// Search results asked for at most.
pub const SEARCH_LIMIT: usize = 50;

fn ask(request: StoreRequest) -> Effect {
    Effect::Store(request)
}

pub(super) fn open_pane(state: &mut AppState) -> Vec<Effect> {
    let mut pane = SessionsPane::default();
    if state.session.unavailable {
        pane.list = Some(Vec::new());
        pane.error = Some("sessions are not being saved in this window (see the banner)".into());
        state.overlay = Some(Overlay::Sessions(pane));
        return Vec::new();
    }
    state.overlay = Some(Overlay::Sessions(pane));
    vec![ask(StoreRequest::List)]
}

/// Every key while the pane is open (quit, interrupt and suspend were handled before).
pub(super) fn on_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    let Some(mode) = state.sessions_pane().map(|p| p.mode.clone()) else {
        return Vec::new();
    };
    state.notice = None;
    let action = state
        .keymap
        .action(Layer::Sessions, &key, matches!(mode, PaneMode::Browse));
    match mode {
        PaneMode::Rename { id, title } => on_rename_key(state, key, id, title),
        PaneMode::ConfirmDelete { id, title } => on_confirm_key(state, key, id, title),
        PaneMode::Search => on_search_key(state, key, action),
        PaneMode::Browse => on_browse_key(state, key, action),
    }
}

fn pane(state: &mut AppState) -> Option<&mut SessionsPane> {
    state.sessions_pane_mut()
}

/// Moves the selection if `action` is a move; true if it was.
fn moved(state: &mut AppState, action: Option<Action>) -> bool {
    let Some(p) = pane(state) else { return false };
    let last = p.rows().len().saturating_sub(1);
    p.selected = match action {
        Some(Action::ListUp) => p.selected.saturating_sub(1),
        Some(Action::ListDown) => (p.selected + 1).min(last),
        Some(Action::ListPageUp) => p.selected.saturating_sub(10),
        Some(Action::ListPageDown) => (p.selected + 10).min(last),
        Some(Action::ListFirst) => 0,
        Some(Action::ListLast) => last,
        _ => return false,
    };
    true
}

fn plain_char(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => Some(c),
        _ => None,
    }
}

fn close(state: &mut AppState) -> Vec<Effect> {
    state.overlay = None;
    Vec::new()
}

fn on_browse_key(state: &mut AppState, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    if moved(state, action) {
        return Vec::new();
    }
    match action {
        Some(Action::Close) => close(state),
        Some(Action::Open) => open_selected(state),
        Some(Action::NewChat) => new_chat(state),
        Some(Action::Rename) => start_rename(state),
        Some(Action::Delete) => start_delete(state),
        Some(Action::Duplicate) => duplicate(state),
        Some(Action::Search) => {
            if let Some(p) = pane(state) {
                p.mode = PaneMode::Search;
            }
            Vec::new()
        }
        _ => match plain_char(&key) {
            Some(c) => {
                if let Some(p) = pane(state) {
                    p.mode = PaneMode::Search;
                }
                edit_query(state, |q| q.push(c))
            }
            None => Vec::new(),
        },
    }
}

fn on_search_key(state: &mut AppState, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    if moved(state, action) {
        return Vec::new();
    }
    match action {
        Some(Action::Open) => open_selected(state),
        Some(Action::Close) => {
            if let Some(p) = pane(state) {
                p.query.clear();
                p.hits.clear();
                p.mode = PaneMode::Browse;
                p.selected = 0;
            }
            Vec::new()
        }
        _ if key.code == KeyCode::Backspace => edit_query(state, |q| {
            q.pop();
        }),
        _ => match plain_char(&key) {
            Some(c) => edit_query(state, |q| q.push(c)),
            None => Vec::new(),
        },
    }
}

fn edit_query(state: &mut AppState, edit: impl FnOnce(&mut String)) -> Vec<Effect> {
    let Some(p) = pane(state) else { return Vec::new() };
    edit(&mut p.query);
    p.selected = 0;
    if !p.is_searching() {
        p.hits.clear();
        return Vec::new();
    }
    vec![ask(StoreRequest::Search { query: p.query.clone() })]
}

/// Whether the chat may be replaced now; if not, says why.
fn chat_replaceable(state: &mut AppState, doing: &str) -> bool {
    if state.is_generating() {
        state.notice = Some(format!(
            "an answer is still coming: {} stops it, then {doing}",
            state.hint(Action::Stop)
        ));
        return false;
    }
    true
}

fn open_selected(state: &mut AppState) -> Vec<Effect> {
    let Some(id) = state
        .sessions_pane()
        .and_then(|p| p.selected_row().map(|r| r.session_id().clone()))
    else {
        return Vec::new();
    };
    if !chat_replaceable(state, "open the session") {
        return Vec::new();
    }
    vec![ask(StoreRequest::Open { id })]
}

fn new_chat(state: &mut AppState) -> Vec<Effect> {
    if !chat_replaceable(state, "start a new chat") {
        return Vec::new();
    }
    save::clear_chat(state);
    state.overlay = None;
    state.notice = Some("new chat: it is saved once you send the first message".into());
    vec![Effect::SetTitle("gemma-tui".into())]
}

fn selected(state: &AppState) -> Option<(crate::store::SessionId, String)> {
    let row = state.sessions_pane()?.selected_row()?;
    Some((row.session_id().clone(), row.title().to_string()))
}

fn start_rename(state: &mut AppState) -> Vec<Effect> {
    if let Some((id, title)) = selected(state) {
        if let Some(p) = pane(state) {
            p.mode = PaneMode::Rename { id, title };
        }
    }
    Vec::new()
}

fn start_delete(state: &mut AppState) -> Vec<Effect> {
    if let Some((id, title)) = selected(state) {
        if let Some(p) = pane(state) {
            p.mode = PaneMode::ConfirmDelete { id, title };
        }
    }
    Vec::new()
}

fn duplicate(state: &mut AppState) -> Vec<Effect> {
    let Some((from, title)) = selected(state) else {
        return Vec::new();
    };
    let to = state.session.ids.session_id();
    state.notice = Some(format!("duplicated “{title}”"));
    vec![
        ask(StoreRequest::Write(WriteOp::Duplicate { from, to, at: 0 })),
        ask(StoreRequest::List),
    ]
}

fn back_to_browse(state: &mut AppState) {
    if let Some(p) = pane(state) {
        p.mode = if p.is_searching() {
            PaneMode::Search
        } else {
            PaneMode::Browse
        };
    }
}

fn on_rename_key(state: &mut AppState, key: KeyEvent, id: crate::store::SessionId, mut title: String) -> Vec<Effect> {
    match key.code {
        KeyCode::Esc => {
            back_to_browse(state);
            return Vec::new();
        }
        KeyCode::Enter => {
            let title = title.trim().to_string();
            if title.is_empty() {
                state.notice = Some("a title cannot be empty: type one, or Esc keeps the old title".into());
                return Vec::new();
            }
            back_to_browse(state);
            state.notice = Some(format!("renamed to “{title}”"));
            return vec![
                ask(StoreRequest::Write(WriteOp::Rename {
                    session: id,
                    title,
                    at: 0,
                })),
                ask(StoreRequest::List),
            ];
        }
        KeyCode::Backspace => {
            title.pop();
        }
        _ => match plain_char(&key) {
            Some(c) => title.push(c),
            None => return Vec::new(),
        },
    }
    if let Some(p) = pane(state) {
        p.mode = PaneMode::Rename { id, title };
    }
    Vec::new()
}

fn on_confirm_key(state: &mut AppState, key: KeyEvent, id: crate::store::SessionId, title: String) -> Vec<Effect> {
    let yes = matches!(plain_char(&key), Some('y' | 'Y'));
    back_to_browse(state);
    if !yes {
        state.notice = Some(format!("kept “{title}”"));
        return Vec::new();
    }
    let current = state.session.id.as_ref() == Some(&id);
    if current && !chat_replaceable(state, "delete this session") {
        return Vec::new();
    }
    if current {
        save::clear_chat(state);
    }
    state.notice = Some(format!("deleted “{title}”"));
    vec![
        ask(StoreRequest::Write(WriteOp::Delete { session: id })),
        ask(StoreRequest::List),
    ]
}

/// A paste while the pane is open goes into what is being typed there (the search or a new
/// title), on one line.
pub(super) fn on_paste(state: &mut AppState, text: &str) -> Vec<Effect> {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(p) = pane(state) else { return Vec::new() };
    match &mut p.mode {
        PaneMode::Rename { title, .. } => {
            title.push_str(&line);
            Vec::new()
        }
        PaneMode::ConfirmDelete { .. } => Vec::new(),
        PaneMode::Browse | PaneMode::Search => {
            p.mode = PaneMode::Search;
            edit_query(state, |q| q.push_str(&line))
        }
    }
}

/// What the store sent back.
pub(super) fn on_store(state: &mut AppState, msg: StoreMsg) -> Vec<Effect> {
    match msg {
        StoreMsg::Listed(list) => {
            if let Some(p) = pane(state) {
                p.list = Some(list);
                p.error = None;
                p.clamp_selection();
            }
        }
        StoreMsg::Found { query, hits } => {
            if let Some(p) = pane(state).filter(|p| p.query == query) {
                p.hits = hits;
                p.clamp_selection();
            }
        }
        StoreMsg::Opened(session) => {
            if !chat_replaceable(state, "open the session") {
                return Vec::new();
            }
            if state.sessions_pane().is_some() {
                state.overlay = None;
            }
            return save::restore(state, session);
        }
        StoreMsg::ReadFailed { what, message } => {
            let text = format!("{what} failed: {message}");
            match pane(state) {
                Some(p) => {
                    p.list.get_or_insert_with(Vec::new);
                    p.error = Some(text);
                }
                None => state.banner = Some(text),
            }
        }
        StoreMsg::Event(event) => on_event(state, event),
    }
    Vec::new()
}

fn on_event(state: &mut AppState, event: StoreEvent) {
    match event {
        StoreEvent::WriteFailed { what, message, pending } => {
            let text = format!(
                "could not save ({what}): {message}. The chat goes on; {pending} change(s) are kept in memory \
                 and saved when the disk allows"
            );
            state.banner = Some(text.clone());
            state.session.failing = Some(text);
        }
        StoreEvent::Recovered { saved } => {
            if let Some(failing) = state.session.failing.take() {
                if state.banner.as_ref() == Some(&failing) {
                    state.banner = None;
                }
            }
            state.notice = Some(format!("saving works again: {saved} held change(s) written"));
        }
        StoreEvent::WriteRejected { what, message } => {
            state.banner = Some(format!("could not save ({what}): {message}"));
        }
    }
}
