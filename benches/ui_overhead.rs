//! What the chat screen costs the model: decode tokens/s of the same answer with the chat
//! screen's driver attached (update, Markdown rendering, frames on a 200x50 TestBackend, all
//! in the real `run_loop`) vs. headless (the engine's events consumed and dropped), same tiny
//! Gemma 2, prompt and greedy settings, interleaved in one run so machine noise hits both.
//!
//! Run: `cargo bench --bench ui_overhead` (prints medians and the ui/headless ratio).

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tiny_gemma.rs"]
mod tiny_gemma;

#[path = "support/decode_rate.rs"]
mod decode_rate;

use decode_rate::{median, rate, sampling, PROMPT};

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use gemma_tui::app::{self, App, Io};
use gemma_tui::engine::source::HubEnv;
use gemma_tui::engine::{
    self, ChatMessage, ChatRequest, DeviceChoice, EngineCommand, EngineEvent, EngineHandle, ModelSpec, Quantization,
};
use gemma_tui::keymap::Keymap;
use gemma_tui::msg::Msg;
use gemma_tui::settings::Settings;
use gemma_tui::state::{AppState, ModelPhase};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

const ROUNDS: usize = 30;

struct EngineIo(EngineHandle);

impl Io for EngineIo {
    fn send(&mut self, command: EngineCommand) {
        self.0.send(command);
    }
    fn copy(&mut self, _text: &str) -> Result<&'static str, String> {
        Err("no clipboard in the bench".into())
    }
    fn set_mouse_capture(&mut self, _on: bool) {}
    fn set_title(&mut self, _title: &str) {}
    fn suspend(&mut self, _mouse: bool) {}
}

/// Times one answer from the events as they arrive, passing them on to `forward` (the UI).
async fn time_answer(
    events: &mut UnboundedReceiver<EngineEvent>,
    mut forward: impl FnMut(EngineEvent),
) -> (usize, f64) {
    let mut first = None;
    loop {
        let event = events.recv().await.expect("engine alive");
        let done = match &event {
            EngineEvent::Token { .. } => {
                first.get_or_insert_with(Instant::now);
                None
            }
            EngineEvent::Finished { usage, .. } => Some(usage.completion_tokens),
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => None,
        };
        forward(event);
        if let Some(tokens) = done {
            return (tokens, rate(tokens, first.expect("a token"), Instant::now()));
        }
    }
}

async fn headless_run(handle: &EngineHandle, events: &mut UnboundedReceiver<EngineEvent>, gen_id: u64) -> (usize, f64) {
    handle.send(EngineCommand::Chat(ChatRequest {
        gen_id,
        system: None,
        messages: vec![ChatMessage::user(PROMPT)],
        sampling: sampling(),
    }));
    time_answer(events, drop).await
}

/// The chat screen's driver on the engine: the question typed and sent as a user would, the
/// answer streamed into the real `run_loop`, which quits once it has shown the end.
async fn ui_run(handle: &EngineHandle, events: &mut UnboundedReceiver<EngineEvent>) -> (usize, f64) {
    let mut state = AppState::new(
        "tiny".into(),
        Keymap::default(),
        Settings {
            sampling: sampling(),
            ..Settings::default()
        },
    );
    state.model.phase = ModelPhase::Ready;
    let mut app = App::new(state, EngineIo(handle.clone()));
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("backend");
    let (msg_tx, mut msgs) = unbounded_channel();
    let (ui_tx, mut ui_events) = unbounded_channel();
    msg_tx.send(Msg::Paste(PROMPT.into())).expect("send");
    msg_tx.send(Msg::Key(KeyEvent::from(KeyCode::Enter))).expect("send");
    let driver = async {
        app::run_loop(&mut app, &mut terminal, &mut msgs, &mut ui_events)
            .await
            .expect("run loop");
    };
    let timer = async {
        let timed = time_answer(events, |e| {
            let _ = ui_tx.send(e);
        })
        .await;
        // Let the driver draw the end, then quit.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = msg_tx.send(Msg::Terminate);
        timed
    };
    let ((), timed) = tokio::join!(driver, timer);
    assert!(app.frames > 2, "the UI drew while streaming");
    timed
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("gemma-tui-ui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    tiny_gemma::write_tiny_gemma2(&dir).expect("tiny model");
    let (handle, mut events) = engine::spawn(HubEnv::default());
    handle.send(EngineCommand::Load {
        spec: ModelSpec::Dir(dir.clone()),
        device: DeviceChoice::Cpu,
        quantization: Quantization::None,
    });
    loop {
        match events.recv().await.expect("engine alive") {
            EngineEvent::Loaded(_) => break,
            EngineEvent::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    let (mut headless, mut ui) = (Vec::new(), Vec::new());
    let mut counts = (0, 0);
    for round in 0..ROUNDS + 2 {
        // Alternate which goes first, so neither always runs on a machine the other warmed.
        let ((hn, hr), (un, ur)) = if round % 2 == 0 {
            let h = headless_run(&handle, &mut events, 1_000 + round as u64).await;
            (h, ui_run(&handle, &mut events).await)
        } else {
            let u = ui_run(&handle, &mut events).await;
            (headless_run(&handle, &mut events, 1_000 + round as u64).await, u)
        };
        if round >= 2 {
            // the first two rounds warm caches, allocators and syntect
            headless.push(hr);
            ui.push(ur);
            counts = (hn, un);
        }
    }
    let (h, u) = (median(headless), median(ui));
    println!("tokens per answer: headless {} / ui {}", counts.0, counts.1);
    println!("decode tokens/s, median of {ROUNDS} interleaved rounds: headless {h:.1}, ui {u:.1}");
    println!("ui / headless = {:.3}", u / h);
    let _ = std::fs::remove_dir_all(&dir);
}
