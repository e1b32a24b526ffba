//! Saving as you go, as effects: what each chat event asks the store to write, the 2-second
//! checkpoint rule on the tokens' own instants, finish reasons and usage, quitting mid-answer,
//! store failures as banners, and a saved session restored into the chat.

use std::time::{Duration, Instant};

use super::{ctrl, finished, fresh, key, send, token, typed};
use crate::effect::{Effect, StoreRequest};
use crate::engine::sampling::SamplingPatch;
use crate::engine::{EngineEvent, FinishReason, SamplingSettings};
use crate::msg::{Msg, StoreMsg};
use crate::settings::SettingsPatch;
use crate::state::{AppState, Speaker, TurnStatus};
use crate::store::{
    FinishRecord, MessageId, MessageRecord, OpenReport, ReadOnlyReason, Role, SamplingRecord, Session, StoreEvent,
    UsageRecord, WriteOp,
};
use crate::update::update;
use crossterm::event::KeyCode;

fn writes(effects: &[Effect]) -> Vec<WriteOp> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Store(StoreRequest::Write(op)) => Some(op.clone()),
            _ => None,
        })
        .collect()
}

fn token_at(state: &mut AppState, gen_id: u64, delta: &str, at: Instant) -> Vec<WriteOp> {
    writes(&update(
        state,
        Msg::Engine {
            event: token(gen_id, delta),
            at,
        },
    ))
}

/// Sends `text` and returns the writes it asked for.
fn send_writes(state: &mut AppState, text: &str) -> Vec<WriteOp> {
    typed(state, text);
    writes(&update(state, key(KeyCode::Enter)))
}

#[test]
fn the_first_send_creates_the_session_then_saves_the_message_and_begins_the_answer() {
    let mut s = fresh();
    s.settings.system_prompt = Some("be brief".into());
    let ops = send_writes(&mut s, "What is Rust?\nAnd why?");
    let [WriteOp::CreateSession { id, new, .. }, WriteOp::AppendUser { session, text, .. }, WriteOp::BeginAnswer {
        session: answer_session,
        model,
        ..
    }] = &ops[..]
    else {
        panic!("{ops:?}")
    };
    assert_eq!(new.title, "What is Rust?");
    assert_eq!(new.model, "tiny");
    assert_eq!(new.system_prompt.as_deref(), Some("be brief"));
    assert_eq!(new.sampling.max_new_tokens, SamplingSettings::default().max_new_tokens);
    assert_eq!(text, "What is Rust?\nAnd why?");
    assert_eq!((session, answer_session, model.as_str()), (id, id, "tiny"));
    assert_eq!(s.session.id.as_ref(), Some(id));

    // The second message goes to the same session: no second create.
    let gen_id = s.generation.map(|g| g.gen_id).unwrap_or_default();
    update(&mut s, Msg::engine(finished(gen_id, FinishReason::Stop)));
    let ops = send_writes(&mut s, "more");
    assert!(
        matches!(&ops[..], [WriteOp::AppendUser { session, .. }, WriteOp::BeginAnswer { .. }] if Some(session) == s.session.id.as_ref()),
        "{ops:?}"
    );
}

#[test]
fn a_streaming_answer_is_checkpointed_on_its_first_token_and_then_every_two_seconds() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    let t0 = Instant::now();
    let first = token_at(&mut s, id, "a", t0);
    assert!(
        matches!(&first[..], [WriteOp::Checkpoint { text, .. }] if text == "a"),
        "{first:?}"
    );
    assert!(token_at(&mut s, id, "b", t0 + Duration::from_millis(900)).is_empty());
    assert!(token_at(&mut s, id, "c", t0 + Duration::from_millis(1999)).is_empty());
    let due = token_at(&mut s, id, "d", t0 + Duration::from_secs(2));
    assert!(
        matches!(&due[..], [WriteOp::Checkpoint { text, .. }] if text == "abcd"),
        "{due:?}"
    );
    assert!(token_at(&mut s, id, "e", t0 + Duration::from_millis(3500)).is_empty());
    let again = token_at(&mut s, id, "f", t0 + Duration::from_millis(4100));
    assert_eq!(again.len(), 1, "the clock restarts at each checkpoint");
}

#[test]
fn finishing_saves_the_whole_text_with_reason_and_usage() {
    for (reason, record) in [
        (FinishReason::Stop, FinishRecord::Stop),
        (FinishReason::Length, FinishRecord::Length),
        (
            FinishReason::Error,
            FinishRecord::Error("the answer ended with an error".into()),
        ),
    ] {
        let mut s = fresh();
        let id = send(&mut s, "hi");
        let begun = s.session.messages.values().copied().max();
        token_at(&mut s, id, "one ", Instant::now());
        token_at(&mut s, id, "two", Instant::now());
        let ops = writes(&update(&mut s, Msg::engine(finished(id, reason))));
        let [WriteOp::FinishAnswer {
            id: answer,
            text,
            finish,
            usage: Some(usage),
            ..
        }] = &ops[..]
        else {
            panic!("{ops:?}")
        };
        assert!(begun.is_some());
        assert_eq!(s.session.messages.get(&1), Some(answer));
        assert_eq!(text, "one two");
        assert_eq!(finish, &record);
        assert_eq!(
            usage,
            &UsageRecord {
                prompt_tokens: 12,
                completion_tokens: 3,
                time_to_first_token_ms: 250,
                tokens_per_second: 40.0,
            }
        );
    }
}

#[test]
fn esc_saves_the_partial_answer_as_cancelled_and_the_late_finish_writes_nothing() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    token_at(&mut s, id, "part", Instant::now());
    let ops = writes(&update(&mut s, key(KeyCode::Esc)));
    assert!(
        matches!(&ops[..], [WriteOp::FinishAnswer { text, finish: FinishRecord::Cancelled, usage: None, .. }] if text == "part"),
        "{ops:?}"
    );
    let late = writes(&update(&mut s, Msg::engine(finished(id, FinishReason::Cancelled))));
    assert!(late.is_empty(), "{late:?}");
}

#[test]
fn quitting_mid_answer_saves_a_stalled_streams_text_as_interrupted_before_quitting() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    let t0 = Instant::now();
    token_at(&mut s, id, "saved ", t0);
    // These arrive within two seconds: not checkpointed yet, then the stream stalls.
    token_at(&mut s, id, "unsaved", t0 + Duration::from_millis(300));
    let effects = update(&mut s, Msg::Terminate);
    let ops = writes(&effects);
    assert!(
        matches!(&ops[..], [WriteOp::FinishAnswer { text, finish: FinishRecord::Interrupted, .. }] if text == "saved unsaved"),
        "{ops:?}"
    );
    let quit_at = effects.iter().position(|e| matches!(e, Effect::Quit));
    let write_at = effects.iter().position(|e| matches!(e, Effect::Store(_)));
    assert!(write_at < quit_at, "the write is queued before the driver stops");
}

#[test]
fn a_failed_answer_is_saved_with_the_error() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    let ops = writes(&update(
        &mut s,
        Msg::engine(EngineEvent::Error {
            gen_id: Some(id),
            message: "out of memory".into(),
        }),
    ));
    assert!(
        matches!(&ops[..], [WriteOp::FinishAnswer { finish: FinishRecord::Error(m), .. }] if m == "out of memory"),
        "{ops:?}"
    );
}

#[test]
fn regenerate_removes_the_old_answer_from_the_store_too() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    update(&mut s, Msg::engine(finished(id, FinishReason::Stop)));
    let old = s.session.messages.get(&1).copied();
    let ops = writes(&update(&mut s, ctrl('r')));
    assert!(
        matches!(&ops[..], [WriteOp::DeleteMessage { id, .. }, WriteOp::BeginAnswer { .. }] if Some(*id) == old),
        "{ops:?}"
    );
}

#[test]
fn edit_last_removes_the_message_and_its_answer() {
    let mut s = fresh();
    let id = send(&mut s, "helo");
    token_at(&mut s, id, "x", Instant::now());
    let ops = writes(&update(&mut s, ctrl('e')));
    let deleted = ops
        .iter()
        .filter(|op| matches!(op, WriteOp::DeleteMessage { .. }))
        .count();
    assert!(matches!(ops[0], WriteOp::FinishAnswer { .. }), "{ops:?}");
    assert_eq!(deleted, 2, "{ops:?}");
    assert!(s.session.messages.is_empty());
}

#[test]
fn saving_failing_shows_a_banner_that_survives_the_next_send_and_clears_on_recovery() {
    let mut s = fresh();
    update(
        &mut s,
        Msg::Store(StoreMsg::Event(StoreEvent::WriteFailed {
            what: "saving your message",
            message: "the disk is full".into(),
            pending: 2,
        })),
    );
    let banner = s.banner.clone().unwrap_or_default();
    assert!(
        banner.contains("the disk is full") && banner.contains("in memory"),
        "{banner}"
    );
    send(&mut s, "still chatting");
    assert_eq!(
        s.banner.as_deref(),
        Some(banner.as_str()),
        "sending keeps working, banner kept"
    );
    update(&mut s, Msg::Store(StoreMsg::Event(StoreEvent::Recovered { saved: 3 })));
    assert_eq!(s.banner, None);
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("3")));
}

#[test]
fn a_store_that_cannot_open_leaves_the_chat_working_unsaved() {
    let mut s = fresh();
    crate::update::store_unavailable(&mut s, "cannot create the data directory /x");
    assert!(s.banner.as_deref().is_some_and(|b| b.contains("/x")));
    let ops = send_writes(&mut s, "hello");
    assert!(ops.is_empty());
    assert!(s.is_generating());
}

#[test]
fn open_reports_name_the_moved_file_and_a_newer_database_stops_saving() {
    let mut s = fresh();
    let report = OpenReport {
        path: "/data/sessions.db".into(),
        found_version: 0,
        read_only: None,
        corrupt_moved_to: Some("/data/sessions.db.corrupt-1".into()),
    };
    crate::update::store_opened(&mut s, &report);
    assert!(s.banner.as_deref().is_some_and(|b| b.contains("sessions.db.corrupt-1")));
    assert!(!s.session.unavailable);
    let newer = OpenReport {
        read_only: Some(ReadOnlyReason::NewerSchema { found: 9, known: 2 }),
        corrupt_moved_to: None,
        ..report
    };
    crate::update::store_opened(&mut s, &newer);
    assert!(s.banner.as_deref().is_some_and(|b| b.contains("newer")));
    assert!(s.session.unavailable);
}

fn saved_session() -> Session {
    let message = |id: i64, role: Role, text: &str, finish: Option<FinishRecord>| MessageRecord {
        id: MessageId(id),
        role,
        text: text.into(),
        created_at: 1_700_000_000_000,
        model: (role == Role::Model).then(|| "gemma-2-9b".into()),
        finish,
        usage: None,
    };
    Session {
        id: "abcdefghjk".parse().expect("id"),
        title: "Old chat".into(),
        created_at: 1_700_000_000_000,
        updated_at: 1_700_000_000_000,
        system_prompt: Some("talk like a pirate".into()),
        model: "gemma-2-9b".into(),
        sampling: SamplingRecord {
            temperature: Some(0.7),
            top_k: Some(40),
            max_new_tokens: 77,
            ..SamplingRecord::default()
        },
        messages: vec![
            message(11, Role::User, "first question", None),
            message(12, Role::Model, "first answer", Some(FinishRecord::Stop)),
            message(13, Role::User, "second question", None),
            message(14, Role::Model, "cut off", Some(FinishRecord::Interrupted)),
        ],
    }
}

#[test]
fn opening_a_saved_session_restores_transcript_settings_and_continues_it() {
    let mut s = fresh();
    send(&mut s, "something unsaved");
    let gen_id = s.generation.map(|g| g.gen_id).unwrap_or_default();
    update(&mut s, Msg::engine(finished(gen_id, FinishReason::Stop)));
    let effects = update(&mut s, Msg::Store(StoreMsg::Opened(saved_session())));
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::SetTitle(t) if t.contains("Old chat"))));
    let turns: Vec<_> = s
        .transcript
        .turns()
        .iter()
        .map(|t| (t.speaker, t.text.as_str(), t.status.clone()))
        .collect();
    assert_eq!(
        turns,
        vec![
            (Speaker::User, "first question", TurnStatus::Done),
            (Speaker::Model, "first answer", TurnStatus::Done),
            (Speaker::User, "second question", TurnStatus::Done),
            (Speaker::Model, "cut off", TurnStatus::Stopped),
        ]
    );
    assert_eq!(s.settings.system_prompt.as_deref(), Some("talk like a pirate"));
    let sampling = &s.settings.sampling;
    assert_eq!((sampling.temperature, sampling.top_k), (0.7, Some(40)));
    assert_eq!(sampling.max_new_tokens, 77);

    // The next message continues the same session, with the model in use and the whole
    // transcript sent.
    typed(&mut s, "third");
    let effects = update(&mut s, key(KeyCode::Enter));
    let ops = writes(&effects);
    assert!(
        matches!(&ops[..], [WriteOp::AppendUser { session, .. }, WriteOp::SetModel { model, .. }, WriteOp::BeginAnswer { .. }]
            if session.as_str() == "abcdefghjk" && model == "tiny"),
        "{ops:?}"
    );
    let sent = effects.iter().find_map(|e| match e {
        Effect::Engine(crate::engine::EngineCommand::Chat(request)) => Some(request.messages.len()),
        _ => None,
    });
    assert_eq!(sent, Some(5));
}

#[test]
fn flags_given_with_resume_override_the_saved_settings_and_are_saved_with_the_session() {
    let mut s = fresh();
    update(&mut s, Msg::Store(StoreMsg::Opened(saved_session())));
    let no_change = update(&mut s, Msg::ApplySettings(SettingsPatch::default()));
    assert!(writes(&no_change).is_empty(), "nothing changed, nothing written");
    let flags = SettingsPatch {
        system_prompt: Some("new prompt".into()),
        sampling: SamplingPatch {
            temperature: Some(0.9),
            ..Default::default()
        },
        ..Default::default()
    };
    let ops = writes(&update(&mut s, Msg::ApplySettings(flags)));
    let [WriteOp::SetSystemPrompt { prompt, .. }, WriteOp::SetSampling { sampling, .. }] = &ops[..] else {
        panic!("{ops:?}")
    };
    assert_eq!(prompt.as_deref(), Some("new prompt"));
    assert_eq!(sampling.temperature, Some(0.9));
    assert_eq!(
        sampling.top_k,
        Some(40),
        "what the flags do not name is kept from the session"
    );
    assert_eq!(s.settings.sampling.temperature, 0.9);
}

#[test]
fn a_session_arriving_while_an_answer_streams_is_refused() {
    let mut s = fresh();
    send(&mut s, "busy");
    update(&mut s, Msg::Store(StoreMsg::Opened(saved_session())));
    assert_eq!(s.transcript.turns()[0].text, "busy");
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("Esc")));
}

#[test]
fn titles_come_from_the_first_line_and_are_shortened() {
    assert_eq!(crate::update::title_from("\n  hello   world \nmore"), "hello world");
    assert_eq!(crate::update::title_from("   "), "untitled");
    let long = crate::update::title_from(&"가".repeat(100));
    assert_eq!(long.chars().count(), 60);
    assert!(long.ends_with('…'));
}
