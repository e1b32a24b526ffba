//! `update` as "state + message -> state + effects", one test per behaviour: the chat
//! actions and engine events here, the other controls in `controls`.

mod controls;
mod saving;
mod sessions_pane;
mod settings_pane;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::update;
use crate::effect::Effect;
use crate::engine::{EngineCommand, EngineEvent, FinishReason, Usage};
use crate::keymap::Keymap;
use crate::msg::Msg;
use crate::settings::Settings;
use crate::state::{AppState, ModelPhase, Speaker, TurnStatus};

/// The effects other than session saving (which `tests/saving.rs` checks on its own).
pub fn chat_only(effects: Vec<Effect>) -> Vec<Effect> {
    effects.into_iter().filter(|e| !matches!(e, Effect::Store(_))).collect()
}

pub fn fresh() -> AppState {
    AppState::new("tiny".into(), Keymap::default(), Settings::default())
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn typed(state: &mut AppState, text: &str) {
    for c in text.chars() {
        let code = if c == '\n' {
            KeyCode::Char('j')
        } else {
            KeyCode::Char(c)
        };
        let mods = if c == '\n' {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        update(state, Msg::Key(KeyEvent::new(code, mods)));
    }
}

fn engine(state: &mut AppState, event: EngineEvent) -> Vec<Effect> {
    update(state, Msg::engine(event))
}

fn token(gen_id: u64, delta: &str) -> EngineEvent {
    EngineEvent::Token {
        gen_id,
        delta: delta.into(),
    }
}

fn finished(gen_id: u64, reason: FinishReason) -> EngineEvent {
    let usage = Usage {
        prompt_tokens: 12,
        completion_tokens: 3,
        time_to_first_token: Some(Duration::from_millis(250)),
        decode_tokens_per_second: Some(40.0),
        dropped_turns: 0,
    };
    EngineEvent::Finished {
        gen_id,
        reason,
        usage,
        tokens: Default::default(),
    }
}

/// Sends `text` and returns the gen_id of the answer requested.
fn send(state: &mut AppState, text: &str) -> u64 {
    typed(state, text);
    let effects = chat_only(update(state, key(KeyCode::Enter)));
    let gen_ids: Vec<u64> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Engine(EngineCommand::Chat(request)) => Some(request.gen_id),
            _ => None,
        })
        .collect();
    assert_eq!(gen_ids.len(), 1, "{effects:?}");
    gen_ids[0]
}

fn texts(state: &AppState) -> Vec<(Speaker, String)> {
    state
        .transcript
        .turns()
        .iter()
        .map(|t| (t.speaker, t.text.clone()))
        .collect()
}

#[test]
fn send_moves_the_message_into_the_transcript_and_asks_the_engine() {
    let mut s = fresh();
    typed(&mut s, "hello\nthere");
    let effects = chat_only(update(&mut s, key(KeyCode::Enter)));
    let Some(Effect::Engine(EngineCommand::Chat(request))) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(request.messages.len(), 1);
    assert_eq!(request.messages[0].text, "hello\nthere");
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::SetTitle(t) if t.contains("hello"))));
    assert!(s.input.is_empty());
    assert_eq!(s.transcript.len(), 2);
    assert_eq!(s.transcript.turns()[1].status, TurnStatus::Waiting);
    assert!(s.is_generating());
}

#[test]
fn enter_on_a_blank_box_sends_nothing() {
    let mut s = fresh();
    typed(&mut s, "  ");
    assert!(update(&mut s, key(KeyCode::Enter)).is_empty());
    assert!(s.transcript.is_empty());
}

#[test]
fn a_composed_syllable_arriving_with_enter_sends_one_whole_message() {
    // An IME commits the last syllable and the Enter in one read: Char('요'), Enter.
    let mut s = fresh();
    typed(&mut s, "안녕하세요");
    let first = update(&mut s, key(KeyCode::Enter));
    let second = update(&mut s, key(KeyCode::Enter));
    assert_eq!(first.iter().filter(|e| matches!(e, Effect::Engine(_))).count(), 1);
    assert!(second.is_empty());
    assert_eq!(texts(&s)[0], (Speaker::User, "안녕하세요".to_string()));
    assert!(s.input.is_empty());
}

#[test]
fn tokens_stream_into_the_answer_and_finished_records_the_stats() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    engine(
        &mut s,
        EngineEvent::PromptReady {
            gen_id: id,
            prompt_tokens: 12,
            usable_context: 4096,
            dropped_turns: 1,
            exact: true,
        },
    );
    engine(&mut s, token(id, "Hel"));
    engine(&mut s, token(id, "lo"));
    assert_eq!(s.transcript.turns()[1].status, TurnStatus::Streaming);
    engine(&mut s, finished(id, FinishReason::Stop));
    assert_eq!(texts(&s)[1], (Speaker::Model, "Hello".to_string()));
    assert_eq!(s.transcript.turns()[1].status, TurnStatus::Done);
    assert!(!s.is_generating());
    assert_eq!(s.last_answer.as_ref().and_then(|a| a.tokens_per_second), Some(40.0));
    assert_eq!(s.context.map(|c| c.usable), Some(4096));
}

#[test]
fn esc_stops_the_answer_keeps_its_text_and_drops_late_tokens() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    engine(&mut s, token(id, "partial"));
    let effects = chat_only(update(&mut s, key(KeyCode::Esc)));
    assert!(matches!(effects[..], [Effect::Engine(EngineCommand::Cancel { gen_id })] if gen_id == id));
    assert_eq!(s.transcript.turns()[1].status, TurnStatus::Stopped);
    engine(&mut s, token(id, " more"));
    engine(&mut s, finished(id, FinishReason::Cancelled));
    assert_eq!(texts(&s)[1].1, "partial");
    assert_eq!(s.transcript.turns()[1].status, TurnStatus::Stopped);
    assert!(s.last_answer.is_none(), "a stale Finished must not count");
}

#[test]
fn esc_without_an_answer_dismisses_the_banner() {
    let mut s = fresh();
    engine(
        &mut s,
        EngineEvent::Error {
            gen_id: None,
            message: "no such model".into(),
        },
    );
    assert_eq!(s.model.phase, ModelPhase::Failed);
    assert!(s.banner.is_some());
    assert!(update(&mut s, key(KeyCode::Esc)).is_empty());
    assert!(s.banner.is_none());
}

#[test]
fn an_error_for_the_answer_marks_it_failed_and_leaves_it_out_of_the_next_prompt() {
    let mut s = fresh();
    let id = send(&mut s, "one");
    engine(
        &mut s,
        EngineEvent::Error {
            gen_id: Some(id),
            message: "out of memory".into(),
        },
    );
    assert!(matches!(&s.transcript.turns()[1].status, TurnStatus::Failed(m) if m == "out of memory"));
    assert!(!s.is_generating());
    typed(&mut s, "two");
    let effects = chat_only(update(&mut s, key(KeyCode::Enter)));
    let Some(Effect::Engine(EngineCommand::Chat(request))) = effects.first() else {
        panic!()
    };
    let roles: Vec<_> = request.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(roles, vec!["one", "two"]);
}

#[test]
fn sending_while_an_answer_streams_keeps_the_draft() {
    let mut s = fresh();
    send(&mut s, "first");
    typed(&mut s, "second");
    assert!(update(&mut s, key(KeyCode::Enter)).is_empty());
    assert_eq!(s.input.text(), "second");
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("Esc")));
}

#[test]
fn regenerate_replaces_the_last_answer_with_a_new_generation() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    engine(&mut s, token(id, "old"));
    engine(&mut s, finished(id, FinishReason::Stop));
    let effects = chat_only(update(&mut s, ctrl('r')));
    let Some(Effect::Engine(EngineCommand::Chat(request))) = effects.first() else {
        panic!("{effects:?}")
    };
    assert!(request.gen_id > id);
    assert_eq!(request.messages.len(), 1, "the old answer is not part of the prompt");
    assert_eq!(s.transcript.len(), 2);
    assert_eq!(texts(&s)[1].1, "");
    engine(&mut s, token(id, "stale"));
    assert_eq!(texts(&s)[1].1, "");
}

#[test]
fn regenerate_with_nothing_sent_says_so() {
    let mut s = fresh();
    assert!(update(&mut s, ctrl('r')).is_empty());
    assert!(s.notice.is_some());
}

#[test]
fn edit_last_takes_the_message_back_and_resend_asks_again() {
    let mut s = fresh();
    let id = send(&mut s, "helo");
    engine(&mut s, token(id, "answer"));
    let effects = chat_only(update(&mut s, ctrl('e')));
    assert!(
        matches!(effects[..], [Effect::Engine(EngineCommand::Cancel { .. })]),
        "a running answer stops first"
    );
    assert!(s.transcript.is_empty());
    assert_eq!(s.input.text(), "helo");
    update(&mut s, key(KeyCode::Left));
    typed(&mut s, "l");
    let again = send_enter(&mut s);
    assert_eq!(again, "hello");
}

fn send_enter(s: &mut AppState) -> String {
    let effects = chat_only(update(s, key(KeyCode::Enter)));
    match effects.first() {
        Some(Effect::Engine(EngineCommand::Chat(request))) => {
            request.messages.last().map(|m| m.text.clone()).unwrap_or_default()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn edit_last_refuses_to_overwrite_a_draft() {
    let mut s = fresh();
    send(&mut s, "one");
    typed(&mut s, "draft");
    assert!(update(&mut s, ctrl('e')).is_empty());
    assert_eq!(s.input.text(), "draft");
    assert_eq!(s.transcript.len(), 2);
}

#[test]
fn copy_answer_copies_the_sanitized_text() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    engine(&mut s, token(id, "safe\x1b]52;c;AAAA\x07 text"));
    let effects = update(&mut s, ctrl('y'));
    assert!(
        matches!(&effects[..], [Effect::Copy { text, .. }] if text == "safe text"),
        "{effects:?}"
    );
}

#[test]
fn copy_code_asks_which_block_and_copies_it_as_written() {
    let mut s = fresh();
    let id = send(&mut s, "code?");
    engine(
        &mut s,
        token(id, "Try:\n```make\nall:\n\tcc a.c\n```\nor\n```\nb()\x1b[2J\n```\n"),
    );
    let alt_y = || Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT));
    assert!(update(&mut s, alt_y()).is_empty(), "two blocks: it asks first");
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("1–2")), "{:?}", s.notice);
    let effects = update(&mut s, key(KeyCode::Char('1')));
    assert!(
        matches!(&effects[..], [Effect::Copy { text, .. }] if text == "all:\n\tcc a.c\n"),
        "the first block, its tab kept: {effects:?}"
    );
    assert!(s.input.is_empty(), "the digit picked; it was not typed");
    update(&mut s, alt_y());
    let effects = update(&mut s, key(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::Copy { text, .. }] if text == "b()\n"),
        "Enter takes the last, escape sequence removed: {effects:?}"
    );
    update(&mut s, alt_y());
    assert!(update(&mut s, key(KeyCode::Char('7'))).is_empty());
    assert!(s.code_pick().is_none() && s.input.is_empty(), "a wrong number cancels");
    update(&mut s, alt_y());
    assert!(update(&mut s, key(KeyCode::Esc)).is_empty());
    assert!(s.code_pick().is_none());
}

#[test]
fn copy_code_copies_a_single_block_at_once() {
    let mut s = fresh();
    let id = send(&mut s, "code?");
    engine(&mut s, token(id, "```rust\nfn a() {}\n```"));
    let effects = update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT)));
    assert!(
        matches!(&effects[..], [Effect::Copy { text, .. }] if text == "fn a() {}\n"),
        "{effects:?}"
    );
}
