//! Snapshots of the sessions pane: the list (with a Korean title and the current session
//! marked), search hits with highlighted words, the delete question; plus the checks a
//! snapshot cannot make (the highlight's style, no escape sequence from a saved title).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use super::{render, TranscriptCache};
use crate::keymap::Keymap;
use crate::msg::{Msg, StoreMsg};
use crate::settings::Settings;
use crate::state::{AppState, ModelPhase};
use crate::store::{MessageId, Role, SearchHit, SessionSummary};
use crate::update::update;

/// 2024-03-01 12:00 UTC.
const NOON: i64 = 1_709_294_400_000;

fn summary(id: &str, title: &str, model: &str, count: u64) -> SessionSummary {
    SessionSummary {
        id: id.parse().expect("id"),
        title: title.into(),
        model: model.into(),
        created_at: NOON,
        updated_at: NOON + count as i64 * 3_600_000,
        message_count: count,
        bytes: count * 100,
    }
}

fn with_pane() -> AppState {
    let mut s = AppState::new("gemma-2-2b".into(), Keymap::default(), Settings::default());
    s.model.phase = ModelPhase::Ready;
    s.session.id = Some("k3f9x2abqm".parse().expect("id"));
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL)),
    );
    update(
        &mut s,
        Msg::Store(StoreMsg::Listed(vec![
            summary("k3f9x2abqm", "Rust lifetimes explained", "gemma-2-2b", 12),
            summary("a1b2c3d4e5", "한국어 맞춤법 질문 🙏", "gemma-2-9b", 4),
            summary("zz99yy88xx", "Title with \u{1b}]0;evil\u{7} escape", "gemma-2-2b", 2),
        ])),
    );
    s
}

pub(super) fn shot(state: &AppState, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| {
            render(state, &mut TranscriptCache::default(), f);
        })
        .expect("draw");
    terminal
}

fn screen(t: &Terminal<TestBackend>) -> String {
    t.backend().buffer().content().iter().map(|c| c.symbol()).collect()
}

#[test]
fn sessions_pane_list() {
    let mut s = with_pane();
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
    let t = shot(&s, 90, 16);
    insta::assert_snapshot!(t.backend());
    let text = screen(&t);
    assert!(!text.contains('\u{1b}') && !text.contains("]0;"), "{text}");
}

#[test]
fn sessions_pane_search_hits() {
    let mut s = with_pane();
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE)));
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE)));
    update(
        &mut s,
        Msg::Store(StoreMsg::Found {
            query: "bo".into(),
            hits: vec![SearchHit {
                session_id: "k3f9x2abqm".parse().expect("id"),
                session_title: "Rust lifetimes explained".into(),
                message_id: MessageId(7),
                role: Role::Model,
                snippet: "…the \u{2}borrow\u{3} checker rejects this…".into(),
            }],
        }),
    );
    let mut t = shot(&s, 90, 12);
    insta::assert_snapshot!(t.backend());
    // The cursor (and an input method's preedit) sits after the query, not in the hidden box.
    assert_eq!(
        t.get_cursor_position().ok(),
        Some(ratatui::layout::Position { x: 3 + 8 + 2, y: 2 })
    );
    let buffer = t.backend().buffer();
    let (x, y) = (0..88u16)
        .flat_map(|x| (0..12u16).map(move |y| (x, y)))
        .find(|&(x, y)| {
            buffer[(x, y)].symbol() == "b" && buffer[(x + 1, y)].symbol() == "o" && buffer[(x + 2, y)].symbol() == "r"
        })
        .expect("the matched word is on screen");
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    assert!(buffer[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn sessions_pane_delete_question() {
    let mut s = with_pane();
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE)));
    insta::assert_snapshot!(shot(&s, 90, 12).backend());
}

#[test]
fn the_pane_draws_at_any_small_size_without_panicking() {
    let s = with_pane();
    for (w, h) in [(1, 1), (5, 3), (20, 4), (40, 6)] {
        shot(&s, w, h);
    }
}

#[test]
fn the_footer_shows_the_panes_keys_as_rebound() {
    let mut s = with_pane();
    let keys: crate::keymap::KeyOverrides = toml::from_str("[sessions]\nnew = [\"ctrl-n\"]\n").expect("toml");
    s.keymap = Keymap::with_overrides(&keys).expect("keymap");
    let text = screen(&shot(&s, 120, 16));
    assert!(text.contains("Ctrl+N new"), "{text}");
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE)));
    assert!(
        s.sessions_pane().is_some_and(|p| p.query == "n"),
        "a plain n now searches"
    );
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL)),
    );
    assert!(
        s.sessions_pane().is_none(),
        "Ctrl+N started a new chat and closed the pane"
    );
}
