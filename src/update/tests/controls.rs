//! Controls other than the chat actions: scrolling, pasting, quitting, help, mouse, suspend,
//! model switching and load progress, editing keys.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{chat_only, ctrl, engine, fresh, key, send, texts, token, typed};
use crate::effect::Effect;
use crate::engine::model_dir::ModelFamily;
use crate::engine::{EngineCommand, EngineEvent, LoadProgress, LoadedModel};
use crate::msg::Msg;
use crate::state::input::MAX_PASTE_BYTES;
use crate::state::{ModelPhase, QuitArm, Scroll, TurnStatus, Viewport};
use crate::update::update;

#[test]
fn scrolling_pins_the_view_and_the_bottom_follows_again() {
    let mut s = fresh();
    update(
        &mut s,
        Msg::Drawn(Viewport {
            total_lines: 100,
            height: 20,
            top: 80,
            help_max_scroll: 0,
        }),
    );
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::CONTROL)));
    assert_eq!(s.scroll, Scroll::Pinned { top: 79 });
    update(&mut s, key(KeyCode::PageUp));
    assert_eq!(s.scroll, Scroll::Pinned { top: 61 });
    update(&mut s, Msg::Wheel(-100));
    assert_eq!(s.scroll, Scroll::Pinned { top: 0 });
    // New text below does not move a pinned view.
    update(
        &mut s,
        Msg::Drawn(Viewport {
            total_lines: 150,
            height: 20,
            top: 0,
            help_max_scroll: 0,
        }),
    );
    assert_eq!(s.scroll, Scroll::Pinned { top: 0 });
    update(&mut s, key(KeyCode::PageDown));
    assert_eq!(s.scroll, Scroll::Pinned { top: 18 });
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL)));
    assert_eq!(s.scroll, Scroll::Follow);
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Home, KeyModifiers::CONTROL)));
    assert_eq!(s.scroll, Scroll::Pinned { top: 0 });
    update(&mut s, Msg::Wheel(1000));
    assert_eq!(s.scroll, Scroll::Follow);
}

#[test]
fn sending_returns_the_view_to_the_bottom() {
    let mut s = fresh();
    update(
        &mut s,
        Msg::Drawn(Viewport {
            total_lines: 100,
            height: 20,
            top: 80,
            help_max_scroll: 0,
        }),
    );
    update(&mut s, Msg::Wheel(-5));
    send(&mut s, "hi");
    assert_eq!(s.scroll, Scroll::Follow);
}

#[test]
fn a_huge_paste_is_cut_and_the_user_told() {
    let mut s = fresh();
    let big = "x".repeat(5 * 1024 * 1024);
    update(&mut s, Msg::Paste(big));
    assert_eq!(s.input.text().len(), MAX_PASTE_BYTES);
    assert!(
        s.notice
            .as_deref()
            .is_some_and(|n| n.contains("5.2 MB") && n.contains("256 KiB")),
        "{:?}",
        s.notice
    );
}

#[test]
fn a_paste_is_normalized_and_cleaned() {
    let mut s = fresh();
    update(&mut s, Msg::Paste("\u{1112}\u{1161}\u{11ab}\tx\x1b[2J\r\n".into()));
    assert_eq!(s.input.text(), "한  x\n");
    assert!(s.notice.is_none());
}

#[test]
fn release_events_are_ignored() {
    let mut s = fresh();
    let mut release = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    update(&mut s, Msg::Key(release));
    assert!(s.input.is_empty());
}

#[test]
fn ctrl_c_stops_then_a_second_press_quits() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    let effects = chat_only(update(&mut s, ctrl('c')));
    assert!(matches!(effects[..], [Effect::Engine(EngineCommand::Cancel { gen_id })] if gen_id == id));
    assert_eq!(s.quit_armed, Some(QuitArm::Interrupt));
    assert!(!s.should_quit);
    let effects = update(&mut s, ctrl('c'));
    assert!(matches!(effects[..], [Effect::Quit]));
    assert!(s.should_quit);
}

#[test]
fn another_key_between_two_ctrl_c_disarms() {
    let mut s = fresh();
    update(&mut s, ctrl('c'));
    typed(&mut s, "a");
    update(&mut s, ctrl('c'));
    assert!(!s.should_quit);
}

#[test]
fn ctrl_q_quits_at_once_but_asks_when_a_draft_would_be_lost() {
    let mut s = fresh();
    typed(&mut s, "unsent");
    assert!(update(&mut s, ctrl('q')).is_empty());
    assert_eq!(s.quit_armed, Some(QuitArm::UnsentDraft));
    assert!(matches!(update(&mut s, ctrl('q'))[..], [Effect::Quit]));
    let mut s = fresh();
    assert!(matches!(update(&mut s, ctrl('q'))[..], [Effect::Quit]));
}

#[test]
fn quitting_during_an_answer_cancels_it_first_and_keeps_the_text() {
    let mut s = fresh();
    let id = send(&mut s, "hi");
    engine(&mut s, token(id, "part"));
    let effects = chat_only(update(&mut s, Msg::Terminate));
    assert!(matches!(
        effects[..],
        [Effect::Engine(EngineCommand::Cancel { .. }), Effect::Quit]
    ));
    assert_eq!(s.transcript.turns()[1].status, TurnStatus::Stopped);
    assert_eq!(texts(&s)[1].1, "part");
}

#[test]
fn help_opens_on_f1_or_question_mark_in_an_empty_box_and_any_key_closes_it() {
    let mut s = fresh();
    update(&mut s, key(KeyCode::F(1)));
    assert!(s.help_scroll().is_some());
    update(&mut s, key(KeyCode::Char('x')));
    assert!(s.help_scroll().is_none());
    assert!(s.input.is_empty(), "the closing key is not typed");
    update(&mut s, key(KeyCode::Char('?')));
    assert!(s.help_scroll().is_some());
    update(&mut s, key(KeyCode::Esc));
    typed(&mut s, "why?");
    assert!(s.help_scroll().is_none());
    assert_eq!(s.input.text(), "why?");
}

#[test]
fn mouse_capture_toggles_with_an_effect() {
    let mut s = fresh();
    let effects = update(&mut s, key(KeyCode::F(2)));
    assert!(matches!(effects[..], [Effect::SetMouseCapture(false)]));
    assert!(!s.mouse_capture);
}

#[test]
fn ctrl_z_suspends() {
    let mut s = fresh();
    assert!(matches!(update(&mut s, ctrl('z'))[..], [Effect::Suspend]));
}

#[test]
fn the_model_command_asks_for_a_load() {
    let mut s = fresh();
    typed(&mut s, "/model gemma-2-2b");
    let effects = update(&mut s, key(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::LoadModel { name, .. }] if name == "gemma-2-2b"));
    assert!(s.transcript.is_empty());

    // The driver found it: the load carries the settings' device and quantization.
    s.settings.quantization = crate::engine::Quantization::Q6K;
    let spec = crate::engine::ModelSpec::Repo("google/gemma-2-2b-it".into());
    let effects = update(
        &mut s,
        Msg::ModelChosen {
            name: "gemma-2-2b".into(),
            spec: spec.clone(),
            endpoint: None,
            place: crate::engine::Place::Here,
        },
    );
    assert!(
        matches!(&effects[..], [Effect::Engine(crate::engine::EngineCommand::Place(crate::engine::Place::Here)), Effect::Engine(crate::engine::EngineCommand::Load { spec: loaded, device: crate::engine::DeviceChoice::Auto, quantization: crate::engine::Quantization::Q6K })] if *loaded == spec),
        "{effects:?}"
    );
    assert_eq!(s.settings.model, "gemma-2-2b");
}

#[test]
fn load_progress_moves_the_phase_and_measures_the_download_rate() {
    let mut s = fresh();
    let t0 = Instant::now();
    let progress = |done| {
        EngineEvent::LoadProgress(LoadProgress::Downloading {
            file: "model.safetensors".into(),
            done_bytes: done,
            total_bytes: 4_000,
        })
    };
    update(
        &mut s,
        Msg::Engine {
            event: progress(1_000),
            at: t0,
        },
    );
    update(
        &mut s,
        Msg::Engine {
            event: progress(3_000),
            at: t0 + Duration::from_secs(2),
        },
    );
    let ModelPhase::Downloading(d) = &s.model.phase else {
        panic!("{:?}", s.model.phase)
    };
    assert_eq!(d.bytes_per_second(), Some(1_000.0));
    assert_eq!(d.fraction(), 0.75);
    let info = LoadedModel {
        name: "tiny".into(),
        dir: Some("/m".into()),
        family: ModelFamily::Gemma2,
        usable_context: 2048,
        dtype: "f32".into(),
        device: "cpu".into(),
        quantization: None,
        from_cache: false,
        ignored_settings: Vec::new(),
    };
    engine(&mut s, EngineEvent::Loaded(info));
    assert_eq!(s.model.phase, ModelPhase::Ready);
    assert_eq!(s.model.usable_context, Some(2048));
}

#[test]
fn editing_keys_move_by_grapheme_and_word() {
    let mut s = fresh();
    typed(&mut s, "one two 👍🏽");
    update(&mut s, key(KeyCode::Backspace));
    assert_eq!(s.input.text(), "one two ");
    update(&mut s, ctrl('w'));
    assert_eq!(s.input.text(), "one ");
    update(&mut s, ctrl('u'));
    assert!(s.input.is_empty());
}

#[test]
fn a_setting_with_no_effect_is_said_in_the_chat_screen_too() {
    let mut s = fresh();
    let patch = crate::settings::SettingsPatch {
        sampling: crate::engine::sampling::SamplingPatch {
            top_k: Some(40),
            ..Default::default()
        },
        ..Default::default()
    };
    update(&mut s, Msg::ApplySettings(patch));
    let notice = s.notice.clone().unwrap_or_default();
    assert!(notice.contains("top-k") && notice.contains("greedy"), "{notice}");
    assert_eq!(s.settings.sampling.top_k, Some(40), "kept, only flagged");
}

#[test]
fn a_backend_that_ignores_a_setting_says_so_when_it_loads() {
    let mut s = fresh();
    let info = LoadedModel {
        name: "gemma-2-27b-it".into(),
        dir: None,
        family: ModelFamily::Gemma2,
        usable_context: 8192,
        dtype: "unknown".into(),
        device: "gpu-box:8080".into(),
        quantization: None,
        from_cache: false,
        ignored_settings: vec![crate::engine::SamplingField::RepetitionPenalty],
    };
    engine(&mut s, EngineEvent::Loaded(info));
    let notice = s.notice.clone().unwrap_or_default();
    assert!(notice.contains("gemma-2-27b-it ignores repetition_penalty"), "{notice}");
    assert_eq!(
        s.model.label(),
        "gemma-2-27b-it, gpu-box:8080",
        "saved with each answer"
    );
    assert_eq!(
        s.model.endpoint.as_deref(),
        Some("gpu-box:8080"),
        "the status line shows where"
    );
}

#[test]
fn a_50_mb_paste_is_cut_quickly_and_what_was_typed_stays() {
    let mut s = fresh();
    typed(&mut s, "before ");
    let big = "가나다라".repeat(50 * 1024 * 1024 / 12);
    update(&mut s, Msg::Paste(big));
    assert!(s.input.text().starts_with("before 가나다라"));
    assert!(s.input.text().len() <= MAX_PASTE_BYTES + "before ".len());
    assert!(s.input.text().is_char_boundary(s.input.text().len()));
    assert!(
        s.notice.as_deref().is_some_and(|n| n.contains("52.4 MB")),
        "{:?}",
        s.notice
    );
}

#[test]
fn decomposed_hangul_is_sent_and_saved_composed() {
    let mut s = fresh();
    // macOS pastes NFD; some IMEs send jamo one by one.
    update(
        &mut s,
        Msg::Paste("\u{1112}\u{1161}\u{11ab}\u{1100}\u{1173}\u{11af}".into()),
    );
    let effects = update(&mut s, key(KeyCode::Enter));
    let sent = effects.iter().find_map(|e| match e {
        Effect::Engine(EngineCommand::Chat(request)) => request.messages.last().map(|m| m.text.clone()),
        _ => None,
    });
    assert_eq!(sent.as_deref(), Some("한글"));
    assert_eq!(
        texts(&s).first().map(|(_, t)| t.as_str()),
        Some("한글"),
        "the transcript (and so the store) holds the composed form"
    );
}
