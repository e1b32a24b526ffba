//! Criterion benchmarks of the Markdown renderer: a typical long answer cold, and cached in
//! the chat screen; the per-token cost of streaming it through the chat screen; and the
//! pathological inputs the caps exist for.

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crossterm::event::{KeyCode, KeyEvent};
use gemma_tui::app::MIN_FRAME_INTERVAL;
use gemma_tui::engine::{EngineEvent, FinishReason, Usage};
use gemma_tui::keymap::Keymap;
use gemma_tui::markdown::{render, warm_up, CodeTheme};
use gemma_tui::msg::Msg;
use gemma_tui::settings::Settings;
use gemma_tui::state::{AppState, ModelPhase};
use gemma_tui::ui::{self, TranscriptCache};
use gemma_tui::update::update;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// About 20 KB of prose, lists, a table and 10 code blocks in five languages.
fn typical_answer() -> String {
    let langs = ["rust", "python", "bash", "json", "typescript"];
    let mut md = String::from("# Answer\n\n");
    for i in 0..10 {
        md.push_str(&format!("## Step {i}\n\nSome **explanation** with `inline code`, a [link](https://example.com/{i}) and enough words to wrap a few times at one hundred and twenty columns, repeated. "));
        md.push_str(&"Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(8));
        md.push_str(
            "\n\n- point one\n- point two\n  - nested point\n\n| key | value |\n|---|---|\n| a | 1 |\n| b | 2 |\n\n",
        );
        md.push_str(&format!("```{}\n", langs[i % langs.len()]));
        for line in 0..25 {
            md.push_str(&format!(
                "    let value_{line} = compute(\"text\", {line}, [1, 2, 3]); // note\n"
            ));
        }
        md.push_str("```\n\n");
    }
    md
}

fn typical(c: &mut Criterion) {
    warm_up();
    let md = typical_answer();
    eprintln!("typical answer: {} bytes", md.len());
    // Finished code blocks are memoized by content, so this one measures parse + layout
    // with highlighting already done (a resize, or a fresh cache over old messages).
    c.bench_function("render 20KB/10 blocks @120 cold, highlight memoized", |b| {
        b.iter(|| render(black_box(&md), 120, CodeTheme::Dark))
    });
    // Unique code every time: the true first render of a new answer.
    let mut n = 0u64;
    let mut group = c.benchmark_group("first render");
    group.sample_size(10);
    group.bench_function("render 20KB/10 blocks @120 cold, nothing memoized", |b| {
        b.iter_batched(
            || {
                n += 1;
                md.replace("// note", &format!("// note {n}"))
            },
            |md| render(&md, 120, CodeTheme::Dark),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    // The app's path: a frame of the chat screen whose answer is already rendered.
    let mut screen = Screen::new(122, 50);
    screen.answer(&md, true);
    c.bench_function("frame with the 20KB answer @120, cached", |b| b.iter(|| screen.frame()));
}

/// The chat screen as the app drives it (update + the transcript cache + a TestBackend frame),
/// on a simulated clock so the streaming re-render throttle acts as it does live.
struct Screen {
    state: AppState,
    cache: TranscriptCache,
    terminal: Terminal<TestBackend>,
    clock: Instant,
}

impl Screen {
    fn new(width: u16, height: u16) -> Self {
        let mut state = AppState::new("gemma-2-9b".into(), Keymap::default(), Settings::default());
        state.model.phase = ModelPhase::Ready;
        Self {
            state,
            cache: TranscriptCache::default(),
            terminal: Terminal::new(TestBackend::new(width, height)).expect("backend"),
            clock: Instant::now(),
        }
    }

    /// Asks a question and returns the answer's gen_id.
    fn ask(&mut self) -> u64 {
        update(&mut self.state, Msg::Paste("Explain, with code.".into()));
        update(&mut self.state, Msg::Key(KeyEvent::from(KeyCode::Enter)));
        self.state.generation.expect("asked").gen_id
    }

    fn token(&mut self, gen_id: u64, delta: &str) {
        let event = EngineEvent::Token {
            gen_id,
            delta: delta.into(),
        };
        update(&mut self.state, Msg::engine(event));
    }

    fn answer(&mut self, md: &str, finish: bool) {
        let gen_id = self.ask();
        self.token(gen_id, md);
        if finish {
            let event = EngineEvent::Finished {
                gen_id,
                reason: FinishReason::Stop,
                usage: Usage::default(),
                tokens: Default::default(),
            };
            update(&mut self.state, Msg::engine(event));
        }
        self.frame();
    }

    fn frame(&mut self) {
        self.clock += MIN_FRAME_INTERVAL;
        self.cache.set_clock(self.clock);
        let (state, cache) = (&self.state, &mut self.cache);
        self.terminal
            .draw(|f| {
                ui::render(state, cache, f);
            })
            .expect("draw");
    }
}

/// Streams a 2,000-token answer through the chat screen, a token every 10 ms (100 tokens/s)
/// and a frame every 16 ms, as the driver would draw; reports the total per answer. Divide by
/// 2,000 for the amortized cost per token (update, throttled re-render, frames).
fn streaming(c: &mut Criterion) {
    let md = typical_answer();
    let tokens: Vec<&str> = split_tokens(&md, 2_000);
    let mut group = c.benchmark_group("streaming");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("2000 tokens at 100/s through the chat screen", |b| {
        b.iter(|| {
            let mut screen = Screen::new(122, 50);
            let gen_id = screen.ask();
            let mut next_frame = Duration::ZERO;
            for (n, token) in tokens.iter().enumerate() {
                screen.token(gen_id, token);
                let now = Duration::from_millis(10 * n as u64);
                if now >= next_frame {
                    screen.frame();
                    next_frame = now + MIN_FRAME_INTERVAL;
                }
            }
            screen.frame();
            screen.cache.renders
        })
    });
    group.finish();
}

/// `text` cut into about `n` pieces on character boundaries.
fn split_tokens(text: &str, n: usize) -> Vec<&str> {
    let step = (text.len() / n).max(1);
    let mut pieces = Vec::with_capacity(n + 1);
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + step).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

fn pathological(c: &mut Criterion) {
    let mut group = c.benchmark_group("pathological");
    group.sample_size(10);
    let cases = [
        ("5MB without line breaks", "word ".repeat(1024 * 1024)),
        (
            "[ x100000 in json fence",
            format!("```json\n{}\n```", "[".repeat(100_000)),
        ),
        ("lists nested 5000 deep", "- ".repeat(5_000) + "x"),
        ("quotes nested 5000 deep", ">".repeat(5_000) + " x"),
    ];
    for (name, md) in &cases {
        group.bench_function(*name, |b| b.iter(|| render(black_box(md), 120, CodeTheme::Dark).len()));
    }
    group.finish();
}

criterion_group!(benches, typical, streaming, pathological);
criterion_main!(benches);
