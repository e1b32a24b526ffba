//! Snapshots of the settings pane at 80x24 and 200x50 (Korean text included), and the checks a
//! snapshot cannot make: the memory planner's verdict and a refusal reaching the screen, the
//! system prompt shown in the message box while it is edited.

use super::tests::screen_text;
use super::tests_sessions::shot;
use crate::engine::memory::ModelShape;
use crate::keymap::Keymap;
use crate::msg::Msg;
use crate::settings::Settings;
use crate::state::settings_pane::{ModelChoice, Survey};
use crate::state::{AppState, ModelPhase};
use crate::update::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn with_pane() -> AppState {
    let mut settings = Settings {
        system_prompt: Some("존댓말로 짧게 대답해 주세요\n두 번째 줄".into()),
        ..Settings::default()
    };
    settings.sampling.top_k = Some(40);
    let mut s = AppState::new("gemma-2-9b".into(), Keymap::default(), settings);
    s.defaults = Settings::default();
    s.model.phase = ModelPhase::Ready;
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
    );
    let models = vec![
        ModelChoice {
            name: "gemma-2-9b".into(),
            size_on_disk: Some(18_480_000_000),
            on_disk: true,
            shape: ModelShape::of_preset("google/gemma-2-9b-it"),
        },
        ModelChoice {
            name: "/모델/gemma-2-2b-한국어".into(),
            size_on_disk: Some(5_230_000_000),
            on_disk: true,
            shape: ModelShape::of_preset("google/gemma-2-2b-it"),
        },
    ];
    update(
        &mut s,
        Msg::Surveyed(Survey {
            models,
            free_memory: 22 << 30,
            gpus: 0,
            endpoints: vec!["gpu-box".into()],
        }),
    );
    s
}

fn key(s: &mut AppState, code: KeyCode) {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn settings_pane_80x24() {
    let s = with_pane();
    insta::assert_snapshot!(shot(&s, 80, 24).backend());
}

#[test]
fn settings_pane_200x50() {
    let mut s = with_pane();
    key(&mut s, KeyCode::Down); // Model
    key(&mut s, KeyCode::Down); // Quantization
    key(&mut s, KeyCode::Right); // Q8_0
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Down); // Temperature
    insta::assert_snapshot!(shot(&s, 200, 50).backend());
}

#[test]
fn the_planner_the_idle_setting_and_a_refusal_reach_the_screen() {
    let mut s = with_pane();
    let text = screen_text(&shot(&s, 200, 50));
    assert!(
        text.contains("f32: will not fit") || text.contains("will not fit"),
        "9B f32 in 22 GiB:\n{text}"
    );
    assert!(
        text.contains("no effect while temperature is 0"),
        "top-k while greedy:\n{text}"
    );
    assert!(text.contains("[session]") && text.contains("[default]"), "{text}");
    for _ in 0..4 {
        key(&mut s, KeyCode::Down);
    }
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('7'));
    key(&mut s, KeyCode::Enter);
    let text = screen_text(&shot(&s, 200, 50));
    assert!(text.contains("must be between 0 (greedy) and 5"), "{text}");
}

#[test]
fn the_system_prompt_is_edited_in_the_message_box() {
    let mut s = with_pane();
    key(&mut s, KeyCode::End);
    for _ in 0..2 {
        key(&mut s, KeyCode::Up);
    }
    key(&mut s, KeyCode::Enter);
    let text = screen_text(&shot(&s, 80, 24));
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    assert!(
        compact.contains("존댓말로짧게") && compact.contains("두번째줄"),
        "{text}"
    );
    assert!(text.contains("System prompt") && text.contains("Esc cancels"), "{text}");
    assert!(!text.contains("Settings"), "the pane steps aside: {text}");
}
