//! The driver's `step` with a real store behind [`StoreLink`] (a temporary database) and the
//! engine's events fed by hand: what a killed process would leave after a checkpoint, what a
//! finished answer leaves, and the sessions pane filled from the store through the driver.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gemma_tui::app::{App, Io};
use gemma_tui::effect::StoreRequest;
use gemma_tui::engine::{EngineCommand, EngineEvent, FinishReason, Usage};
use gemma_tui::keymap::Keymap;
use gemma_tui::msg::Msg;
use gemma_tui::settings::Settings;
use gemma_tui::state::{AppState, ModelPhase};
use gemma_tui::store::{FinishRecord, Role, Store, StoreHandle};
use gemma_tui::store_link::StoreLink;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

struct StoreIo {
    link: StoreLink,
    sent: Vec<EngineCommand>,
}

impl Io for StoreIo {
    fn send(&mut self, command: EngineCommand) {
        self.sent.push(command);
    }
    fn copy(&mut self, _text: &str) -> Result<&'static str, String> {
        Ok("nowhere")
    }
    fn set_mouse_capture(&mut self, _on: bool) {}
    fn set_title(&mut self, _title: &str) {}
    fn suspend(&mut self, _mouse: bool) {}
    fn store(&mut self, request: StoreRequest) -> Option<Msg> {
        self.link.perform(request)
    }
}

fn key(code: KeyCode, mods: KeyModifiers) -> Msg {
    Msg::Key(KeyEvent::new(code, mods))
}

fn setup(db: &std::path::Path) -> (App<StoreIo>, StoreHandle, UnboundedReceiver<Msg>) {
    let (store, _report) = Store::open(db).expect("open the store");
    let (events, _events_rx) = unbounded_channel();
    let handle = StoreHandle::spawn(store, events).expect("store thread");
    let (replies, replies_rx) = unbounded_channel();
    let mut state = AppState::new("tiny".into(), Keymap::default(), Settings::default());
    state.model.phase = ModelPhase::Ready;
    let io = StoreIo {
        link: StoreLink::new(handle.clone(), replies),
        sent: Vec::new(),
    };
    (App::new(state, io), handle, replies_rx)
}

fn token(gen_id: u64, delta: &str, at: Instant) -> Msg {
    Msg::Engine {
        event: EngineEvent::Token {
            gen_id,
            delta: delta.into(),
        },
        at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpointed_answer_is_on_disk_mid_stream_and_complete_after_finishing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sessions.db");
    let (mut app, handle, mut replies) = setup(&db);
    for c in "tell me".chars() {
        app.step(key(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.step(key(KeyCode::Enter, KeyModifiers::NONE));
    let gen_id = app.state.generation.expect("an answer was asked").gen_id;
    let t0 = Instant::now();
    app.step(token(gen_id, "one ", t0));
    app.step(token(gen_id, "two ", t0 + Duration::from_millis(500)));
    app.step(token(gen_id, "three", t0 + Duration::from_millis(2100)));
    app.step(token(gen_id, " four", t0 + Duration::from_millis(2200)));
    handle.flush().await.expect("flush");

    // What a reader (or the next run after kill -9) sees now: the last checkpoint.
    let (reader, _) = Store::open(&db).expect("second connection");
    let listed = reader.list_sessions().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].title, "tell me");
    let saved = reader.load_session(&listed[0].id).expect("load");
    assert_eq!(saved.messages.len(), 2);
    assert_eq!(
        (saved.messages[0].role, saved.messages[0].text.as_str()),
        (Role::User, "tell me")
    );
    assert_eq!(saved.messages[1].text, "one two three");
    assert_eq!(saved.messages[1].finish, None, "still streaming");
    assert!(saved.messages[0].created_at > 0, "the driver stamped the time");

    let usage = Usage {
        prompt_tokens: 5,
        completion_tokens: 4,
        time_to_first_token: Some(Duration::from_millis(120)),
        decode_tokens_per_second: Some(12.5),
        dropped_turns: 0,
    };
    app.step(Msg::Engine {
        event: EngineEvent::Finished {
            gen_id,
            reason: FinishReason::Length,
            usage,
            tokens: Default::default(),
        },
        at: t0 + Duration::from_secs(3),
    });
    handle.flush().await.expect("flush");
    let saved = reader.load_session(&listed[0].id).expect("load");
    let answer = &saved.messages[1];
    assert_eq!(answer.text, "one two three four");
    assert_eq!(answer.finish, Some(FinishRecord::Length));
    assert_eq!(answer.usage.as_ref().map(|u| u.completion_tokens), Some(4));
    assert_eq!(answer.model.as_deref(), Some("tiny"));

    // The pane lists it, through the driver and the store thread.
    app.step(key(KeyCode::Char('o'), KeyModifiers::CONTROL));
    let reply = tokio::time::timeout(Duration::from_secs(10), replies.recv())
        .await
        .expect("the list arrives")
        .expect("a reply");
    app.step(reply);
    let pane = app.state.sessions_pane().expect("the pane is open");
    let titles: Vec<&str> = pane.rows().iter().map(|r| r.title()).collect();
    assert_eq!(titles, vec!["tell me"]);
    assert_eq!(app.io.sent.len(), 1, "one chat request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_mid_answer_leaves_it_saved_as_interrupted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sessions.db");
    let (mut app, handle, _replies) = setup(&db);
    app.step(Msg::Paste("a question".into()));
    app.step(key(KeyCode::Enter, KeyModifiers::NONE));
    let gen_id = app.state.generation.expect("an answer was asked").gen_id;
    let t0 = Instant::now();
    app.step(token(gen_id, "partial", t0));
    app.step(token(gen_id, " text", t0 + Duration::from_millis(10)));
    app.step(Msg::Terminate);
    assert!(app.should_quit());
    handle.flush().await.expect("flush");
    let (reader, _) = Store::open(&db).expect("reopen");
    let id = reader.list_sessions().expect("list")[0].id.clone();
    let answer = &reader.load_session(&id).expect("load").messages[1];
    assert_eq!(answer.text, "partial text");
    assert_eq!(answer.finish, Some(FinishRecord::Interrupted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_typed_over_are_skipped_and_the_newest_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sessions.db");
    let (mut app, handle, mut replies) = setup(&db);
    app.step(Msg::Paste("the platypus question".into()));
    app.step(key(KeyCode::Enter, KeyModifiers::NONE));
    app.step(key(KeyCode::Esc, KeyModifiers::NONE));
    // Hold the store thread so all three searches queue up behind it.
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let handle = handle.clone();
        async move { handle.call(move |_| Ok(wait.recv().ok())).await }
    });
    app.step(key(KeyCode::Char('o'), KeyModifiers::CONTROL));
    for c in "pla".chars() {
        app.step(key(KeyCode::Char(c), KeyModifiers::NONE));
    }
    release.send(()).expect("release the store thread");
    blocker.await.expect("join").expect("blocker");
    let mut found = Vec::new();
    while found.is_empty() {
        let msg = tokio::time::timeout(Duration::from_secs(10), replies.recv())
            .await
            .expect("replies arrive")
            .expect("a reply");
        if let Msg::Store(gemma_tui::msg::StoreMsg::Found { query, hits }) = &msg {
            found.push((query.clone(), hits.len()));
        }
        app.step(msg);
    }
    handle.flush().await.expect("flush");
    // Every search has answered or found it had nothing to say: a stale reply cannot still come.
    app.io.link.settled().await;
    while let Ok(msg) = replies.try_recv() {
        if let Msg::Store(gemma_tui::msg::StoreMsg::Found { query, hits }) = &msg {
            found.push((query.clone(), hits.len()));
        }
    }
    assert_eq!(found, vec![("pla".to_string(), 1)], "only the newest search ran");
    let pane = app.state.sessions_pane().expect("open");
    assert_eq!(pane.rows().len(), 1);
}
