//! The driver's loop on a TestBackend with a scripted fake engine and a scripted user, under
//! tokio's paused clock: frame deadlines and streaming are checked without sleeping.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gemma_tui::app::{run_loop, App, Io};
use gemma_tui::engine::fake::FakeBackend;
use gemma_tui::engine::{spawn_backend, EngineCommand, EngineHandle};
use gemma_tui::keymap::Keymap;
use gemma_tui::msg::Msg;
use gemma_tui::settings::Settings;
use gemma_tui::state::{AppState, ModelPhase, TurnStatus};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

/// The outside world of these tests: the real worker on the scripted fake backend, a clipboard
/// that remembers, and a terminal whose modes do not matter.
struct FakeIo {
    engine: EngineHandle,
    copied: Vec<String>,
}

impl Io for FakeIo {
    fn send(&mut self, command: EngineCommand) {
        self.engine.send(command);
    }
    fn copy(&mut self, text: &str) -> Result<&'static str, String> {
        self.copied.push(text.to_string());
        Ok("test clipboard")
    }
    fn set_mouse_capture(&mut self, _on: bool) {}
    fn set_title(&mut self, _title: &str) {}
    fn suspend(&mut self, _mouse: bool) {}
}

fn key(code: KeyCode, mods: KeyModifiers) -> Msg {
    Msg::Key(KeyEvent::new(code, mods))
}

/// A user who types `hi`, presses Enter, then after each delay sends the next key.
async fn user(tx: UnboundedSender<Msg>, later: Vec<(Duration, Msg)>) {
    for c in "hi".chars() {
        let _ = tx.send(key(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let _ = tx.send(key(KeyCode::Enter, KeyModifiers::NONE));
    for (delay, msg) in later {
        tokio::time::sleep(delay).await;
        let _ = tx.send(msg);
    }
}

struct Run {
    app: App<FakeIo>,
    terminal: Terminal<TestBackend>,
}

async fn run(tokens: usize, every: Duration, later: Vec<(Duration, Msg)>) -> Run {
    let (engine, events) = spawn_backend(FakeBackend::answering(tokens, every));
    run_with(engine, events, later).await
}

/// The loop on `engine`, whose events come from `events`, with the scripted user.
async fn run_with(
    engine: EngineHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<gemma_tui::engine::EngineEvent>,
    later: Vec<(Duration, Msg)>,
) -> Run {
    let (msg_tx, mut msgs) = unbounded_channel();
    let mut state = AppState::new("fake".into(), Keymap::default(), Settings::default());
    state.model.phase = ModelPhase::Ready;
    let mut app = App::new(
        state,
        FakeIo {
            engine,
            copied: Vec::new(),
        },
    );
    let mut terminal = Terminal::new(TestBackend::new(80, 20)).expect("test backend");
    tokio::spawn(user(msg_tx, later));
    run_loop(&mut app, &mut terminal, &mut msgs, &mut events)
        .await
        .expect("loop");
    Run { app, terminal }
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_tokens_costs_one_frame() {
    let quit = (Duration::from_secs(1), key(KeyCode::Char('q'), KeyModifiers::CONTROL));
    let done = run(2_000, Duration::ZERO, vec![quit]).await;
    let turns = done.app.state.transcript.turns();
    assert_eq!(turns[1].status, TurnStatus::Done);
    assert!(turns[1].text.ends_with("w1999 "));
    // The first frame, the typed message, the burst (and perhaps its tail): never one per token.
    assert!(done.app.frames <= 4, "{} frames", done.app.frames);
    assert!(screen(&done.terminal).contains("w1999"));
}

#[tokio::test(start_paused = true)]
async fn a_steady_stream_is_drawn_at_most_once_per_frame_interval() {
    let quit = (Duration::from_secs(2), key(KeyCode::Char('q'), KeyModifiers::CONTROL));
    let done = run(200, Duration::from_millis(2), vec![quit]).await;
    assert_eq!(done.app.state.transcript.turns()[1].status, TurnStatus::Done);
    // 200 tokens over 400 ms at one frame per 16 ms: about 25 frames, not 200.
    assert!(done.app.frames <= 40, "{} frames", done.app.frames);
    assert!(
        done.app.frames >= 5,
        "the stream is shown as it arrives ({} frames)",
        done.app.frames
    );
}

#[tokio::test(start_paused = true)]
async fn esc_mid_answer_stops_it_and_keeps_the_partial_text() {
    let ms = Duration::from_millis;
    let later = vec![
        (ms(105), key(KeyCode::Esc, KeyModifiers::NONE)),
        (ms(300), key(KeyCode::Char('y'), KeyModifiers::CONTROL)),
        (ms(10), key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    ];
    let done = run(100, ms(10), later).await;
    let answer = &done.app.state.transcript.turns()[1];
    assert_eq!(answer.status, TurnStatus::Stopped);
    let words = answer.text.split_whitespace().count();
    assert!((1..100).contains(&words), "{words} words kept");
    assert!(answer.text.starts_with("w0 w1 "));
    assert_eq!(done.app.io.copied, vec![answer.text.clone()]);
    assert!(screen(&done.terminal).contains("stopped"));
}

#[tokio::test(start_paused = true)]
async fn quitting_mid_answer_cancels_it_first() {
    let quit = (
        Duration::from_millis(55),
        key(KeyCode::Char('q'), KeyModifiers::CONTROL),
    );
    let done = run(100, Duration::from_millis(10), vec![quit]).await;
    let answer = &done.app.state.transcript.turns()[1];
    assert_eq!(answer.status, TurnStatus::Stopped);
    assert!(!answer.text.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_engine_going_away_mid_answer_is_said_and_the_partial_answer_kept() {
    let (engine, mut worker_events) = spawn_backend(FakeBackend::answering(50, Duration::from_millis(10)));
    // The events reach the loop through a relay that drops them all after a few tokens, as a
    // worker task that died would.
    let (relay, events) = unbounded_channel();
    tokio::spawn(async move {
        let mut tokens = 0;
        while let Some(event) = worker_events.recv().await {
            tokens += usize::from(matches!(event, gemma_tui::engine::EngineEvent::Token { .. }));
            if tokens > 5 || relay.send(event).is_err() {
                break;
            }
        }
    });
    let quit = (Duration::from_secs(1), key(KeyCode::Char('q'), KeyModifiers::CONTROL));
    let Run { app, .. } = run_with(engine, events, vec![quit]).await;
    let banner = app.state.banner.clone().unwrap_or_default();
    assert!(banner.contains("the engine stopped unexpectedly"), "{banner}");
    let turns = app.state.transcript.turns();
    assert!(turns[1].text.starts_with("w0 w1 w2 w3"), "{:?}", turns[1]);
    assert!(!app.state.is_generating(), "the answer is not left waiting");
}
