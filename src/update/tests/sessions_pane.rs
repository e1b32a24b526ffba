//! The sessions pane as "state + key -> state + effects": opening asks for the list, typing
//! searches (stale results dropped), Enter opens (refused mid-answer), new / rename / delete
//! after y / duplicate ask for the right writes, and quitting still works from the pane.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{ctrl, fresh, key, send};
use crate::effect::{Effect, StoreRequest};
use crate::msg::{Msg, StoreMsg};
use crate::state::{AppState, PaneMode};
use crate::store::{MessageId, Role, SearchHit, SessionId, SessionSummary, WriteOp};
use crate::update::update;

fn requests(effects: &[Effect]) -> Vec<StoreRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Store(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn id(s: &str) -> SessionId {
    s.parse().expect("id")
}

fn summary(sid: &str, title: &str) -> SessionSummary {
    SessionSummary {
        id: id(sid),
        title: title.into(),
        model: "gemma-2-2b".into(),
        created_at: 0,
        updated_at: 0,
        message_count: 2,
        bytes: 10,
    }
}

fn char_key(c: char) -> Msg {
    key(KeyCode::Char(c))
}

/// An open pane listing two sessions, the first selected.
fn listed() -> AppState {
    let mut s = fresh();
    let effects = update(&mut s, ctrl('o'));
    assert_eq!(requests(&effects), vec![StoreRequest::List]);
    assert!(s.sessions_pane().is_some_and(|p| p.list.is_none()), "loading");
    update(
        &mut s,
        Msg::Store(StoreMsg::Listed(vec![summary("aaaa", "Cats"), summary("bbbb", "Dogs")])),
    );
    s
}

#[test]
fn arrows_move_and_enter_asks_to_open_the_selected_session() {
    let mut s = listed();
    update(&mut s, key(KeyCode::Down));
    update(&mut s, key(KeyCode::Down));
    assert_eq!(s.sessions_pane().map(|p| p.selected), Some(1), "stops at the end");
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(requests(&effects), vec![StoreRequest::Open { id: id("bbbb") }]);
}

#[test]
fn enter_is_refused_while_an_answer_is_coming() {
    let mut s = fresh();
    send(&mut s, "busy");
    update(&mut s, ctrl('o'));
    update(&mut s, Msg::Store(StoreMsg::Listed(vec![summary("aaaa", "Cats")])));
    let effects = update(&mut s, key(KeyCode::Enter));
    assert!(requests(&effects).is_empty());
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("Esc")), "{:?}", s.notice);
}

#[test]
fn typing_searches_and_only_the_latest_querys_hits_are_kept() {
    let mut s = listed();
    let first = update(&mut s, char_key('z'));
    assert_eq!(requests(&first), vec![StoreRequest::Search { query: "z".into() }]);
    let second = update(&mut s, char_key('e'));
    assert_eq!(requests(&second), vec![StoreRequest::Search { query: "ze".into() }]);
    let hit = |q: &str| SearchHit {
        session_id: id("bbbb"),
        session_title: "Dogs".into(),
        message_id: MessageId(1),
        role: Role::Model,
        snippet: format!("a \u{2}{q}\u{3} here"),
    };
    update(
        &mut s,
        Msg::Store(StoreMsg::Found {
            query: "z".into(),
            hits: vec![hit("z"), hit("z")],
        }),
    );
    assert!(s.sessions_pane().is_some_and(|p| p.hits.is_empty()), "stale");
    update(
        &mut s,
        Msg::Store(StoreMsg::Found {
            query: "ze".into(),
            hits: vec![hit("ze")],
        }),
    );
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(requests(&effects), vec![StoreRequest::Open { id: id("bbbb") }]);
    // Letters type while searching: `n` is not "new" here.
    update(&mut s, char_key('n'));
    assert_eq!(s.sessions_pane().map(|p| p.query.as_str()), Some("zen"));
    update(&mut s, key(KeyCode::Esc));
    let pane = s.sessions_pane().expect("still open");
    assert_eq!((pane.query.as_str(), &pane.mode), ("", &PaneMode::Browse));
    update(&mut s, key(KeyCode::Esc));
    assert!(s.sessions_pane().is_none());
}

#[test]
fn rename_edits_inline_and_saves_the_new_title() {
    let mut s = listed();
    update(&mut s, char_key('r'));
    for _ in 0.."Cats".len() {
        update(&mut s, key(KeyCode::Backspace));
    }
    for c in "Kittens".chars() {
        update(&mut s, char_key(c));
    }
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(
        requests(&effects),
        vec![
            StoreRequest::Write(WriteOp::Rename {
                session: id("aaaa"),
                title: "Kittens".into(),
                at: 0
            }),
            StoreRequest::List
        ]
    );
}

#[test]
fn delete_asks_first_and_only_y_deletes() {
    let mut s = listed();
    update(&mut s, char_key('d'));
    assert!(matches!(
        s.sessions_pane().map(|p| &p.mode),
        Some(PaneMode::ConfirmDelete { .. })
    ));
    assert!(requests(&update(&mut s, char_key('n'))).is_empty());
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("kept")));
    update(&mut s, char_key('d'));
    let effects = update(&mut s, char_key('y'));
    assert_eq!(
        requests(&effects),
        vec![
            StoreRequest::Write(WriteOp::Delete { session: id("aaaa") }),
            StoreRequest::List
        ]
    );
}

#[test]
fn deleting_the_open_session_clears_the_chat() {
    let mut s = fresh();
    send(&mut s, "hello");
    update(&mut s, key(KeyCode::Esc));
    let current = s.session.id.clone().expect("created on send");
    update(&mut s, ctrl('o'));
    let mut row = summary("aaaa", "hello");
    row.id = current;
    update(&mut s, Msg::Store(StoreMsg::Listed(vec![row])));
    update(&mut s, char_key('d'));
    update(&mut s, char_key('y'));
    assert!(s.transcript.is_empty());
    assert!(s.session.id.is_none());
}

#[test]
fn duplicate_writes_a_copy_under_a_new_id_and_new_starts_an_empty_chat() {
    let mut s = listed();
    let effects = update(&mut s, char_key('c'));
    let reqs = requests(&effects);
    assert!(
        matches!(&reqs[..], [StoreRequest::Write(WriteOp::Duplicate { from, to, .. }), StoreRequest::List]
            if from == &id("aaaa") && to != from),
        "{reqs:?}"
    );
    update(&mut s, key(KeyCode::Esc));
    send(&mut s, "x");
    update(&mut s, key(KeyCode::Esc));
    update(&mut s, ctrl('o'));
    let effects = update(&mut s, char_key('n'));
    assert!(s.transcript.is_empty() && s.session.id.is_none() && s.sessions_pane().is_none());
    assert!(effects.iter().any(|e| matches!(e, Effect::SetTitle(_))));
}

#[test]
fn quit_still_works_from_the_pane_and_a_failed_list_is_shown_in_it() {
    let mut s = fresh();
    update(&mut s, ctrl('o'));
    update(
        &mut s,
        Msg::Store(StoreMsg::ReadFailed {
            what: "listing sessions",
            message: "disk I/O error".into(),
        }),
    );
    assert!(s
        .sessions_pane()
        .as_ref()
        .and_then(|p| p.error.as_deref())
        .is_some_and(|e| e.contains("disk I/O error")));
    let effects = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn a_paste_goes_into_the_search_not_the_hidden_message_box() {
    let mut s = listed();
    let effects = update(&mut s, Msg::Paste("borrow\nchecker".into()));
    assert_eq!(
        requests(&effects),
        vec![StoreRequest::Search {
            query: "borrow checker".into()
        }]
    );
    assert!(s.input.is_empty());
}
