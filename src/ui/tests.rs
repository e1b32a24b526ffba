//! Screen snapshots on ratatui's TestBackend (insta), plus the checks a snapshot cannot make:
//! colours of the role gutter, the cursor on the caret, the cache re-rendering one turn only,
//! and no panic at any small size.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Position;
use ratatui::style::Color;
use ratatui::Terminal;

use super::{render, TranscriptCache};
use crate::engine::{EngineEvent, FinishReason, Usage};
use crate::keymap::Keymap;
use crate::msg::Msg;
use crate::settings::Settings;
use crate::state::{AppState, ModelPhase};
use crate::update::update;

fn ready() -> AppState {
    let mut s = AppState::new("gemma-2-2b".into(), Keymap::default(), Settings::default());
    s.model.phase = ModelPhase::Ready;
    s.model.usable_context = Some(8192);
    s
}

fn draw(state: &mut AppState, cache: &mut TranscriptCache, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    let mut viewport = Default::default();
    terminal.draw(|f| viewport = render(state, cache, f)).expect("draw");
    update(state, Msg::Drawn(viewport));
    terminal
}

fn shot(state: &mut AppState, width: u16, height: u16) -> Terminal<TestBackend> {
    draw(state, &mut TranscriptCache::default(), width, height)
}

fn type_text(state: &mut AppState, text: &str) {
    update(state, Msg::Paste(text.into()));
}

/// Sends `text`, streams `answer` as tokens and, if `finish`, ends the answer.
fn exchange(state: &mut AppState, text: &str, answer: &[&str], finish: bool) {
    type_text(state, text);
    update(state, Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    let gen_id = state.generation.expect("an answer was requested").gen_id;
    update(
        state,
        Msg::engine(EngineEvent::PromptReady {
            gen_id,
            prompt_tokens: 37,
            usable_context: 8192,
            dropped_turns: 0,
            exact: true,
        }),
    );
    for delta in answer {
        update(
            state,
            Msg::engine(EngineEvent::Token {
                gen_id,
                delta: delta.to_string(),
            }),
        );
    }
    if finish {
        let usage = Usage {
            prompt_tokens: 37,
            completion_tokens: answer.len(),
            time_to_first_token: Some(Duration::from_millis(420)),
            decode_tokens_per_second: Some(31.4),
            dropped_turns: 0,
        };
        let event = EngineEvent::Finished {
            gen_id,
            reason: FinishReason::Stop,
            usage,
            tokens: Default::default(),
        };
        update(state, Msg::engine(event));
    }
}

#[test]
fn empty_chat() {
    let mut s = ready();
    insta::assert_snapshot!(shot(&mut s, 60, 14).backend());
}

#[test]
fn mid_stream() {
    let mut s = ready();
    exchange(
        &mut s,
        "Write a haiku about the sea.",
        &["Waves ", "fold into ", "foam,\n", "salt on the"],
        false,
    );
    let t = shot(&mut s, 60, 14);
    insta::assert_snapshot!(t.backend());
    let buffer = t.backend().buffer();
    assert_eq!(buffer[(0, 0)].fg, Color::Cyan, "the user's gutter");
    assert_eq!(buffer[(0, 3)].fg, Color::Magenta, "the model's gutter");
}

#[test]
fn korean_and_emoji_conversation() {
    let mut s = ready();
    exchange(
        &mut s,
        "안녕하세요! 오늘 날씨 어때요? ☀️",
        &[
            "안녕하세요 👋 ",
            "오늘은 ",
            "맑고 따뜻한 날씨예요. ",
            "산책하기 좋아요 🌸🚶‍♀️",
        ],
        true,
    );
    exchange(
        &mut s,
        "한국어로 긴 문장을 써 주세요 🙏",
        &[
            "물론이죠. 한국어는 한글이라는 ",
            "고유한 문자를 사용하며, ",
            "세종대왕이 1443년에 ",
            "창제했습니다. 👨‍👩‍👧‍👦 가족 이모지도 ",
            "폭이 두 칸이에요.",
        ],
        true,
    );
    type_text(&mut s, "다음 질문은 😀 이모지와 한글이 섞인 입력입니다");
    let t = shot(&mut s, 44, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn help_overlay() {
    let mut s = ready();
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    insta::assert_snapshot!(shot(&mut s, 90, 84).backend());
}

#[test]
fn help_scrolls_in_a_small_terminal_and_any_other_key_closes_it() {
    let mut s = ready();
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    let text = screen_text(&shot(&mut s, 90, 16));
    assert!(text.contains("↑↓") && !text.contains("/model NAME"), "{text}");
    for _ in 0..200 {
        update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
    }
    let text = screen_text(&shot(&mut s, 90, 16));
    assert!(
        text.contains("/model NAME, /settings; rebind keys"),
        "scrolled to the end:\n{text}"
    );
    let end = s.help_scroll().expect("open");
    assert!(end > 0 && end < 200, "clamped at the end, not 200: {end}");
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)));
    assert_eq!(s.help_scroll(), Some(end - 1), "Up after over-scrolling moves at once");
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE)));
    assert_eq!(s.help_scroll(), Some(0), "Home goes to the top, the help stays open");
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)));
    assert!(
        s.help_scroll().is_none() && s.input.is_empty(),
        "the key closed the help and was not typed"
    );
}

#[test]
fn error_banner() {
    let mut s = ready();
    s.model.phase = ModelPhase::NotLoaded;
    let message =
        "not enough memory for gemma-2-27b: it needs about 54.0 GiB, 22.1 GiB are available; pick a smaller model";
    update(
        &mut s,
        Msg::engine(EngineEvent::Error {
            gen_id: None,
            message: message.into(),
        }),
    );
    insta::assert_snapshot!(shot(&mut s, 60, 12).backend());
}

#[test]
fn downloading_status() {
    let mut s = ready();
    let t0 = std::time::Instant::now();
    let progress = |done| {
        EngineEvent::LoadProgress(crate::engine::LoadProgress::Downloading {
            file: "model-00001-of-00002.safetensors".into(),
            done_bytes: done,
            total_bytes: 4_900_000_000,
        })
    };
    update(
        &mut s,
        Msg::Engine {
            event: progress(1_000_000_000),
            at: t0,
        },
    );
    update(
        &mut s,
        Msg::Engine {
            event: progress(1_450_000_000),
            at: t0 + Duration::from_secs(10),
        },
    );
    insta::assert_snapshot!(shot(&mut s, 100, 8).backend());
}

#[test]
fn tiny_terminal() {
    let mut s = ready();
    exchange(&mut s, "hello", &["hi there, how can I help?"], true);
    type_text(&mut s, "한글 input");
    insta::assert_snapshot!(shot(&mut s, 20, 5).backend());
}

#[test]
fn no_size_panics() {
    let mut s = ready();
    exchange(
        &mut s,
        "안녕 👋 hello",
        &["long ", "answer ", "with 한국어 and 🌸"],
        false,
    );
    update(
        &mut s,
        Msg::engine(EngineEvent::Error {
            gen_id: None,
            message: "x".repeat(300),
        }),
    );
    type_text(&mut s, "draft\nwith lines\n한");
    for help in [false, true] {
        s.overlay = help.then_some(crate::state::Overlay::Help { scroll: 0 });
        for width in 0..28 {
            for height in 0..12 {
                shot(&mut s, width, height);
            }
        }
    }
}

#[test]
fn the_cursor_sits_at_the_caret_after_wide_characters() {
    let mut s = ready();
    type_text(&mut s, "한글ab");
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)));
    let mut t = shot(&mut s, 40, 10);
    // Box at rows 6..9 (border at 6), text from column 1: 한(2) 글(2) a(1) -> column 6.
    let position = t.get_cursor_position().expect("cursor");
    assert_eq!(position, Position { x: 6, y: 7 });
}

#[test]
fn only_the_streaming_turn_is_rendered_again() {
    let mut s = ready();
    for i in 0..20 {
        exchange(&mut s, &format!("question {i}"), &["answer"], true);
    }
    exchange(&mut s, "last", &["streaming"], false);
    let mut cache = TranscriptCache::default();
    let t0 = std::time::Instant::now();
    cache.set_clock(t0);
    draw(&mut s, &mut cache, 80, 24);
    let first = cache.renders;
    assert!(first < 10, "only the turns in view are rendered, not all 42: {first}");
    let gen_id = s.generation.expect("streaming").gen_id;
    let token = |s: &mut AppState| {
        update(
            s,
            Msg::engine(EngineEvent::Token {
                gen_id,
                delta: " more".into(),
            }),
        )
    };
    token(&mut s);
    cache.set_clock(t0 + Duration::from_millis(5));
    let t = draw(&mut s, &mut cache, 80, 24);
    assert_eq!(
        cache.renders, first,
        "too soon after the last render: the old lines stay"
    );
    assert!(cache.pending(), "the driver is told to come back");
    assert!(!screen_text(&t).contains("streaming more"));
    cache.set_clock(t0 + super::STREAM_INTERVAL);
    let t = draw(&mut s, &mut cache, 80, 24);
    assert_eq!(cache.renders, first + 1, "only the streaming turn renders again");
    assert!(!cache.pending());
    assert!(screen_text(&t).contains("streaming more"));
    draw(&mut s, &mut cache, 70, 24);
    assert_eq!(cache.renders, 2 * first + 1, "a new width renders what is in view once");
}

#[test]
fn scrolling_up_through_unrendered_turns_renders_them_and_keeps_the_view_still() {
    let mut s = ready();
    for i in 0..200 {
        let answer = format!("**answer {i}**\n\n- one\n- two\n\n```rust\nfn f() {{}}\n```");
        exchange(&mut s, &format!("question {i}"), &[&answer], true);
    }
    let mut cache = TranscriptCache::default();
    draw(&mut s, &mut cache, 80, 24);
    assert!(cache.renders < 20, "resume renders a screenful: {}", cache.renders);
    // Scroll up a line at a time through the whole history: every row shown is rendered text
    // (no blank gaps), and each step moves the text by exactly one row.
    let mut previous = screen_rows(&draw(&mut s, &mut cache, 80, 24));
    for _ in 0..150 {
        update(&mut s, Msg::Wheel(-1));
        let rows = screen_rows(&draw(&mut s, &mut cache, 80, 24));
        assert_eq!(rows[1..17], previous[0..16], "the view moved by more than one row");
        previous = rows;
    }
}

fn screen_rows(t: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = t.backend().buffer();
    (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect()
}

pub(super) fn screen_text(t: &Terminal<TestBackend>) -> String {
    screen_rows(t).join("\n")
}

#[test]
fn model_text_cannot_reach_the_terminal_raw() {
    let mut s = ready();
    exchange(
        &mut s,
        "hi",
        &["ok\x1b]0;pwned\x07 \x1b[31mred\u{202e}evil\u{9b}2J"],
        true,
    );
    let t = shot(&mut s, 60, 10);
    for cell in t.backend().buffer().content() {
        assert!(!cell.symbol().chars().any(|c| c.is_control()), "{:?}", cell.symbol());
    }
}

#[test]
fn a_model_on_a_server_shows_where_it_runs() {
    let mut s = ready();
    let info = crate::engine::LoadedModel {
        name: "gemma-2-27b-it".into(),
        dir: None,
        family: crate::engine::model_dir::ModelFamily::Gemma2,
        usable_context: 8192,
        dtype: "as served by vLLM".into(),
        device: "gpu-box:8080".into(),
        quantization: None,
        from_cache: false,
        ignored_settings: Vec::new(),
    };
    update(&mut s, Msg::engine(EngineEvent::Loaded(info)));
    let text = screen_text(&shot(&mut s, 100, 12));
    assert!(text.contains("gemma-2-27b-it @ gpu-box:8080 ready"), "{text}");
}

/// Hostile input the chat screen must draw without a panic or a raw control byte: OSC 52
/// clipboard writes, a title report request, DCS/APC/PM/SOS strings, `ESC c`, an unterminated
/// OSC before 10 KB of text, and an escape split across two streamed tokens.
#[test]
fn escape_sequences_in_model_output_never_reach_the_terminal() {
    let screen_of = |s: &mut AppState| {
        let t = shot(s, 100, 40);
        let mut text = String::new();
        for cell in t.backend().buffer().content() {
            assert!(!cell.symbol().chars().any(|c| c.is_control()), "{:?}", cell.symbol());
            text.push_str(cell.symbol());
        }
        text
    };
    let mut s = ready();
    let tokens = [
        "copy \x1b]52;c;cm0gLXJmIH4=\x07 me",
        " title\x1b[21t report",
        " \x1bPdcs\x1b\\ \x1b_apc\x1b\\ \x1b^pm\x1b\\ \x1bXsos\x1b\\",
        " reset\x1bc now",
        " split \x1b",
        "[2J done",
    ];
    exchange(&mut s, "hi", &tokens, true);
    let text = screen_of(&mut s);
    assert!(
        !text.contains("cm0gLXJmIH4=") && !text.contains("52;"),
        "the clipboard write is gone: {text}"
    );
    assert!(
        !text.contains("dcs") && !text.contains("apc") && !text.contains("[2J"),
        "{text}"
    );
    assert!(
        text.contains("copy") && text.contains(" me") && text.contains("done"),
        "{text}"
    );

    let unterminated = format!("\x1b]2;never closed {}", "z".repeat(10 * 1024));
    exchange(&mut s, "more", &["before ", unterminated.as_str()], true);
    screen_of(&mut s);
}

/// A storm of resizes, through the tiny and the wide: every frame draws, and the last size wins.
#[test]
fn a_resize_storm_draws_every_frame_and_the_last_size_wins() {
    let mut s = ready();
    exchange(&mut s, "hi", &["a **bold** answer with `code` and 한국어 text"], true);
    let mut cache = TranscriptCache::default();
    let sizes = [
        (1, 1),
        (2, 300),
        (300, 2),
        (0, 0),
        (80, 24),
        (3, 3),
        (200, 60),
        (1, 50),
        (50, 1),
    ];
    for round in 0..200 {
        let (w, h) = sizes[round % sizes.len()];
        update(&mut s, Msg::Resize { width: w, height: h });
        draw(&mut s, &mut cache, w.max(1), h.max(1));
    }
    update(&mut s, Msg::Resize { width: 90, height: 30 });
    let t = draw(&mut s, &mut cache, 90, 30);
    let text: String = t.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("bold") && text.contains('한'), "{text}");
}
