//! Frame time of the chat screen: one streamed token (update) plus one frame (draw) with a
//! 1,000-turn transcript at 200x50, on ratatui's TestBackend, answers rendered as Markdown the
//! way the app renders them. The goal is p99 < 4 ms.
//!
//! Run: `cargo bench --bench frame` (criterion's mean, then p50/p99/max over 2,000 frames).

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use gemma_tui::engine::{EngineEvent, FinishReason, Usage};
use gemma_tui::keymap::Keymap;
use gemma_tui::msg::Msg;
use gemma_tui::settings::Settings;
use gemma_tui::state::{AppState, ModelPhase};
use gemma_tui::ui::{self, TranscriptCache};
use gemma_tui::update::update;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const TURNS: usize = 1_000;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
/// Tokens of one streamed answer before the next question.
const ANSWER_TOKENS: usize = 400;

fn answer_text(i: usize) -> String {
    let line = "The sea is wide and the waves are patient; 바다는 넓고 파도는 참을성이 있어요 🌊. ";
    line.repeat(1 + i % 6)
}

fn enter() -> Msg {
    Msg::Key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Enter))
}

/// Sends a message and returns the gen_id of the answer it asks for.
fn ask(state: &mut AppState, text: String) -> u64 {
    update(state, Msg::Paste(text));
    update(state, enter());
    state.generation.map(|g| g.gen_id).unwrap_or_default()
}

fn finish(state: &mut AppState, gen_id: u64) {
    let usage = Usage::default();
    update(
        state,
        Msg::engine(EngineEvent::Finished {
            gen_id,
            reason: FinishReason::Stop,
            usage,
            tokens: Default::default(),
        }),
    );
}

/// A transcript of `TURNS` finished turns and a streaming answer after them.
fn streaming_state() -> (AppState, u64) {
    let mut state = AppState::new("gemma-2-9b".into(), Keymap::default(), Settings::default());
    state.model.phase = ModelPhase::Ready;
    for i in 0..TURNS / 2 {
        let gen_id = ask(&mut state, format!("Question {i}: tell me about the sea, please."));
        update(
            &mut state,
            Msg::engine(EngineEvent::Token {
                gen_id,
                delta: answer_text(i),
            }),
        );
        finish(&mut state, gen_id);
    }
    let gen_id = ask(&mut state, "And one more thing?".into());
    (state, gen_id)
}

struct Bench {
    state: AppState,
    gen_id: u64,
    cache: TranscriptCache,
    terminal: Terminal<TestBackend>,
    tokens: usize,
    /// Simulated time: one frame every MIN_FRAME_INTERVAL, as the driver draws while streaming,
    /// so the Markdown re-render throttle acts as it does in the app.
    start: Instant,
}

impl Bench {
    fn new() -> Self {
        let (state, gen_id) = streaming_state();
        let terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("backend");
        let mut bench = Self {
            state,
            gen_id,
            cache: TranscriptCache::default(),
            terminal,
            tokens: 0,
            start: Instant::now(),
        };
        bench.frame(); // fills the cache: the first frame at a width renders everything once
        bench
    }

    fn frame(&mut self) {
        // An answer grows for ANSWER_TOKENS tokens, then a new one starts, as in a real chat.
        self.tokens += 1;
        if self.tokens.is_multiple_of(ANSWER_TOKENS) {
            finish(&mut self.state, self.gen_id);
            self.gen_id = ask(&mut self.state, format!("Next question {}?", self.tokens));
        }
        let delta = if self.tokens.is_multiple_of(9) {
            "\n".to_string()
        } else {
            format!("word{} ", self.tokens % 400)
        };
        update(
            &mut self.state,
            Msg::engine(EngineEvent::Token {
                gen_id: self.gen_id,
                delta,
            }),
        );
        let mut viewport = Default::default();
        self.cache
            .set_clock(self.start + gemma_tui::app::MIN_FRAME_INTERVAL * self.tokens as u32);
        let (state, cache) = (&self.state, &mut self.cache);
        self.terminal
            .draw(|f| viewport = ui::render(state, cache, f))
            .expect("draw");
        update(&mut self.state, Msg::Drawn(viewport));
    }
}

fn frame_time(c: &mut Criterion) {
    let mut bench = Bench::new();
    c.bench_function("token+frame, 1000 turns, 200x50", |b| b.iter(|| bench.frame()));
}

fn percentiles() {
    let mut bench = Bench::new();
    let mut times: Vec<Duration> = (0..2_000)
        .map(|_| {
            let start = Instant::now();
            bench.frame();
            start.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "frame (update + draw), {TURNS} turns at {WIDTH}x{HEIGHT}, {} frames: p50 {:?}  p99 {:?}  max {:?}",
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = frame_time
}

fn main() {
    benches();
    percentiles();
    Criterion::default().final_summary();
}
