//! The sessions pane's transitions and the store's answers: open and close the pane, move
//! through it, search, open a session, new / rename / delete (after y) / duplicate, and what
//! the store reports (lists, hits, a loaded session, saving failing or recovering).
//!
//! Keys inside the pane are fixed rather than in the keymap: they are a small modal vocabulary
//! shown in the pane's own footer. Plain letters are commands only while no search is typed
//! (the same rule as the keymap's plain keys); any other character starts a search.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::save;
use crate::effect::{Effect, StoreRequest};
use crate::keymap::Action;
use crate::msg::StoreMsg;
use crate::state::{AppState, PaneMode, SessionsPane};
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
        state.sessions_pane = Some(pane);
        return Vec::new();
    }
    state.sessions_pane = Some(pane);
    vec![ask(StoreRequest::List)]
}

/// Every key while the pane is open. Quit, interrupt and suspend still work.
pub(super) fn on_key(state: &mut AppState, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    if let Some(action @ (Action::Quit | Action::Interrupt | Action::Suspend)) = action {
        return super::keys::on_action(state, action);
    }
    let Some(pane) = state.sessions_pane.as_ref() else {
        return Vec::new();
    };
    state.notice = None;
    match pane.mode.clone() {
        PaneMode::Rename { id, title } => on_rename_key(state, key, id, title),
        PaneMode::ConfirmDelete { id, title } => on_confirm_key(state, key, id, title),
        PaneMode::Search => on_search_key(state, key, action),
        PaneMode::Browse => on_browse_key(state, key, action),
    }
}

fn pane(state: &mut AppState) -> Option<&mut SessionsPane> {
    state.sessions_pane.as_mut()
}

/// Keys that move the selection in any list mode; true if `key` was one.
fn moved(state: &mut AppState, key: &KeyEvent) -> bool {
    let Some(p) = pane(state) else { return false };
    let last = p.rows().len().saturating_sub(1);
    p.selected = match key.code {
        KeyCode::Up => p.selected.saturating_sub(1),
        KeyCode::Down => (p.selected + 1).min(last),
        KeyCode::PageUp => p.selected.saturating_sub(10),
        KeyCode::PageDown => (p.selected + 10).min(last),
        KeyCode::Home => 0,
        KeyCode::End => last,
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

fn on_browse_key(state: &mut AppState, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    if moved(state, &key) {
        return Vec::new();
    }
    if key.code == KeyCode::Esc || action == Some(Action::Sessions) {
        state.sessions_pane = None;
        return Vec::new();
    }
    if key.code == KeyCode::Enter {
        return open_selected(state);
    }
    match plain_char(&key) {
        Some('n') => new_chat(state),
        Some('r') => start_rename(state),
        Some('d') => start_delete(state),
        Some('c') => duplicate(state),
        Some('/') => {
            if let Some(p) = pane(state) {
                p.mode = PaneMode::Search;
            }
            Vec::new()
        }
        Some(c) => {
            if let Some(p) = pane(state) {
                p.mode = PaneMode::Search;
            }
            edit_query(state, |q| q.push(c))
        }
        None => Vec::new(),
    }
}

fn on_search_key(state: &mut AppState, key: KeyEvent, action: Option<Action>) -> Vec<Effect> {
    if moved(state, &key) {
        return Vec::new();
    }
    match key.code {
        KeyCode::Enter => open_selected(state),
        KeyCode::Esc => {
            if let Some(p) = pane(state) {
                p.query.clear();
                p.hits.clear();
                p.mode = PaneMode::Browse;
                p.selected = 0;
            }
            Vec::new()
        }
        KeyCode::Backspace => edit_query(state, |q| {
            q.pop();
        }),
        _ if action == Some(Action::Sessions) => {
            state.sessions_pane = None;
            Vec::new()
        }
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
        .sessions_pane
        .as_ref()
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
    state.sessions_pane = None;
    state.notice = Some("new chat: it is saved once you send the first message".into());
    vec![Effect::SetTitle("gemma-tui".into())]
}

fn selected(state: &AppState) -> Option<(crate::store::SessionId, String)> {
    let row = state.sessions_pane.as_ref()?.selected_row()?;
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
            state.sessions_pane = None;
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
