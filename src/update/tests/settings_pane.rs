//! The settings pane's transitions and refusals: opening asks for a survey, values step and are
//! typed within their ranges (a refusal says why and changes nothing), the greedy recipe,
//! reset, the system prompt edited in the message box, apply for the session or as default,
//! the memory planner's question before a load that will not fit, and model changes at run
//! time (the change line in the transcript, a failed load offering the previous model back).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{ctrl, engine, finished, fresh, key, send, typed};
use crate::effect::{Effect, StoreRequest};
use crate::engine::memory::ModelShape;
use crate::engine::model_dir::ModelFamily;
use crate::engine::{DeviceChoice, EngineCommand, EngineEvent, FinishReason, LoadedModel, ModelSpec, Quantization};
use crate::msg::Msg;
use crate::state::settings_pane::{ModelChoice, Survey};
use crate::state::{AppState, LoadChoice, Overlay, SettingsRow, Speaker};
use crate::store::WriteOp;
use crate::update::update;

const GIB: u64 = 1 << 30;

fn survey(free_gib: u64) -> Survey {
    Survey {
        models: vec![
            ModelChoice {
                name: "gemma-2-9b".into(),
                size_on_disk: Some(18_000_000_000),
                on_disk: true,
                shape: ModelShape::of_preset("google/gemma-2-9b-it"),
            },
            ModelChoice {
                name: "gemma-2-2b".into(),
                size_on_disk: None,
                on_disk: false,
                shape: ModelShape::of_preset("google/gemma-2-2b-it"),
            },
        ],
        free_memory: free_gib * GIB,
        gpus: 0,
        endpoints: vec!["gpu-box".into()],
    }
}

/// Opens the pane on a CPU machine with `free_gib` of RAM and selects `row`.
fn opened(free_gib: u64, row: SettingsRow) -> AppState {
    let mut s = fresh();
    let effects = update(&mut s, ctrl('s'));
    assert!(matches!(&effects[..], [Effect::Survey]), "{effects:?}");
    update(&mut s, Msg::Surveyed(survey(free_gib)));
    let at = s
        .settings_pane()
        .and_then(|p| p.rows.iter().position(|r| *r == row))
        .expect("row");
    s.settings_pane_mut().expect("pane").selected = at;
    s
}

fn press(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn chars(s: &mut AppState, text: &str) {
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

fn message(s: &AppState) -> String {
    s.settings_pane().and_then(|p| p.message.clone()).unwrap_or_default()
}

use crate::engine::SamplingField::{MaxNewTokens, RepetitionPenalty, Temperature, TopK};

#[test]
fn the_pane_opens_from_its_key_and_from_slash_settings() {
    let mut s = fresh();
    typed(&mut s, "/settings");
    let effects = update(&mut s, key(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::Survey]));
    assert!(s.settings_pane().is_some() && s.input.is_empty() && s.transcript.is_empty());
    press(&mut s, KeyCode::Esc);
    assert!(s.settings_pane().is_none());
    update(&mut s, Msg::Key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE)));
    assert!(s.settings_pane().is_some());
}

#[test]
fn arrows_step_a_number_within_its_range_and_typing_is_checked() {
    let mut s = opened(16, SettingsRow::Sampling(Temperature));
    press(&mut s, KeyCode::Left);
    assert_eq!(
        s.settings_pane().unwrap().draft.sampling.temperature,
        0.0,
        "0 is the floor"
    );
    press(&mut s, KeyCode::Right);
    press(&mut s, KeyCode::Right);
    assert_eq!(s.settings_pane().unwrap().draft.sampling.temperature, 0.1);

    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Backspace);
    press(&mut s, KeyCode::Backspace);
    press(&mut s, KeyCode::Backspace);
    chars(&mut s, "9");
    press(&mut s, KeyCode::Enter);
    assert_eq!(
        s.settings_pane().unwrap().draft.sampling.temperature,
        0.1,
        "refused, unchanged"
    );
    assert!(
        message(&s).contains("temperature") && message(&s).contains("between 0"),
        "{}",
        message(&s)
    );

    press(&mut s, KeyCode::Enter);
    chars(&mut s, "x");
    press(&mut s, KeyCode::Enter);
    assert!(message(&s).contains("not a number"), "{}", message(&s));
    assert_eq!(s.settings.sampling.temperature, 0.0, "nothing applies before apply");
}

#[test]
fn a_setting_with_no_effect_says_so_and_greedy_restores_the_recipe() {
    let mut s = opened(16, SettingsRow::Sampling(TopK));
    press(&mut s, KeyCode::Right);
    let p = s.settings_pane().unwrap();
    assert_eq!(p.draft.sampling.top_k, Some(5));
    assert!(TopK.idle_reason(&p.draft.sampling).is_some(), "top-k while greedy");
    assert!(!p.is_default(SettingsRow::Sampling(TopK)));
    let p = s.settings_pane_mut().unwrap();
    p.draft.sampling.temperature = 0.8;
    p.draft.sampling.repetition_penalty = 1.3;
    p.draft.sampling.max_new_tokens = 64;
    chars(&mut s, "g");
    let d = &s.settings_pane().unwrap().draft.sampling;
    assert_eq!(
        (d.temperature, d.repetition_penalty, d.max_new_tokens, d.top_k),
        (0.0, 1.05, 512, None)
    );
}

#[test]
fn reset_takes_the_global_default_back() {
    let mut s = fresh();
    s.defaults.sampling.repetition_penalty = 1.2;
    update(&mut s, ctrl('s'));
    let p = s.settings_pane_mut().unwrap();
    p.selected = p
        .rows
        .iter()
        .position(|r| *r == SettingsRow::Sampling(RepetitionPenalty))
        .unwrap();
    assert!(
        !p.is_default(SettingsRow::Sampling(RepetitionPenalty)),
        "this session's 1.05"
    );
    chars(&mut s, "r");
    assert_eq!(s.settings_pane().unwrap().draft.sampling.repetition_penalty, 1.2);
}

#[test]
fn applying_sampling_changes_the_next_answer_without_a_load_and_saves_it_with_the_session() {
    let mut s = fresh();
    let gen_id = send(&mut s, "hello");
    engine(&mut s, finished(gen_id, FinishReason::Stop));
    update(&mut s, ctrl('s'));
    let p = s.settings_pane_mut().unwrap();
    p.selected = p
        .rows
        .iter()
        .position(|r| *r == SettingsRow::Sampling(MaxNewTokens))
        .unwrap();
    press(&mut s, KeyCode::Right);
    let effects = update(&mut s, key(KeyCode::Char('a')));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::LoadModel { .. } | Effect::Engine(_))),
        "{effects:?}"
    );
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Store(StoreRequest::Write(WriteOp::SetSampling { sampling, .. })) if sampling.max_new_tokens == 576)));
    assert!(s.settings_pane().is_none());
    assert_eq!(s.settings.sampling.max_new_tokens, 576);
    let next = super::super::update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
    );
    let sent = next.iter().find_map(|e| match e {
        Effect::Engine(EngineCommand::Chat(r)) => Some(r.sampling.max_new_tokens),
        _ => None,
    });
    assert_eq!(sent, Some(576), "the regenerated answer uses it");
}

#[test]
fn a_quantization_change_is_a_load_with_the_new_settings() {
    let mut s = opened(64, SettingsRow::Quantization);
    press(&mut s, KeyCode::Right);
    assert_eq!(s.settings_pane().unwrap().draft.quantization, Quantization::Q8_0);
    let effects = update(&mut s, key(KeyCode::Char('a')));
    assert!(
        matches!(&effects[..], [Effect::LoadModel { name, .. }] if name == "gemma-2-9b"),
        "{effects:?}"
    );
    assert_eq!(s.settings.quantization, Quantization::Q8_0);
    let effects = update(
        &mut s,
        Msg::ModelChosen {
            name: "gemma-2-9b".into(),
            spec: ModelSpec::Repo("google/gemma-2-9b-it".into()),
            endpoint: None,
            place: crate::engine::Place::Here,
        },
    );
    assert!(matches!(
        &effects[..],
        [
            Effect::Engine(EngineCommand::Place(_)),
            Effect::Engine(EngineCommand::Load {
                quantization: Quantization::Q8_0,
                device: DeviceChoice::Auto,
                ..
            })
        ]
    ));
}

#[test]
fn a_load_that_will_not_fit_asks_first_and_offers_the_quantization_that_would() {
    // 9B unquantized on a CPU is ~37 GiB in f32: not in 16 GiB.
    let mut s = opened(16, SettingsRow::Model);
    let effects = update(&mut s, key(KeyCode::Char('a')));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::LoadModel { .. })),
        "same model, no load: {effects:?}"
    );
    let mut s = opened(16, SettingsRow::Model);
    press(&mut s, KeyCode::Right); // gemma-2-2b: f32 ~11.4 GiB, fits in 16
    assert_eq!(s.settings_pane().unwrap().draft.model, "gemma-2-2b");
    let p = s.settings_pane().unwrap();
    assert_eq!(p.plan(Quantization::None).map(|(_, fit)| fit.label()), Some("fits"));
    press(&mut s, KeyCode::Left); // back to 9B, and onto the CPU explicitly: a load
    s.settings_pane_mut().unwrap().draft.device = DeviceChoice::Cpu;
    let effects = update(&mut s, key(KeyCode::Char('a')));
    assert!(effects.is_empty(), "asked first: {effects:?}");
    let p = s.settings_pane().unwrap();
    let Some((crate::state::settings_pane::Confirm::WillNotFit { estimate, instead }, _)) = &p.confirm else {
        panic!("{:?}", p.confirm)
    };
    assert!(estimate.contains("will not fit"), "{estimate}");
    assert_eq!(
        *instead,
        Some(Quantization::Q6K),
        "the largest that fits (Q8_0 needs ~16.6 GiB)"
    );
    let effects = update(&mut s, key(KeyCode::Char('q')));
    assert!(matches!(&effects[..], [Effect::LoadModel { .. }]), "{effects:?}");
    assert_eq!(s.settings.quantization, Quantization::Q6K);
}

#[test]
fn save_as_default_writes_the_config_and_moves_the_defaults() {
    let mut s = opened(64, SettingsRow::Markdown);
    press(&mut s, KeyCode::Right);
    let effects = update(&mut s, key(KeyCode::Char('s')));
    assert!(
        matches!(&effects[..], [Effect::SaveDefaults(saved)] if !saved.look.markdown),
        "{effects:?}"
    );
    assert!(!s.settings.look.markdown && !s.defaults.look.markdown);
}

#[test]
fn the_system_prompt_is_edited_in_the_message_box_and_the_draft_comes_back() {
    let mut s = fresh();
    typed(&mut s, "half-written message");
    update(&mut s, ctrl('s'));
    let p = s.settings_pane_mut().unwrap();
    p.selected = p.rows.iter().position(|r| *r == SettingsRow::SystemPrompt).unwrap();
    press(&mut s, KeyCode::Enter);
    assert!(s.input.is_empty(), "the box now holds the (empty) system prompt");
    typed(&mut s, "존댓말로\n짧게");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.input.text(), "half-written message");
    let p = s.settings_pane().unwrap();
    assert_eq!(p.draft.system_prompt.as_deref(), Some("존댓말로\n짧게"));
    press(&mut s, KeyCode::Enter);
    typed(&mut s, " more");
    press(&mut s, KeyCode::Esc);
    assert_eq!(
        s.settings_pane().unwrap().draft.system_prompt.as_deref(),
        Some("존댓말로\n짧게"),
        "Esc kept the old"
    );
    assert_eq!(s.input.text(), "half-written message");
}

fn loaded(name: &str, quantization: Option<&str>) -> EngineEvent {
    EngineEvent::Loaded(LoadedModel {
        name: name.into(),
        dir: Some("/m".into()),
        family: ModelFamily::Gemma2,
        usable_context: 4096,
        dtype: "f32".into(),
        device: "cpu".into(),
        quantization: quantization.map(String::from),
        from_cache: false,
        ignored_settings: Vec::new(),
    })
}

#[test]
fn a_model_change_shows_a_line_that_the_model_never_sees() {
    let mut s = fresh();
    engine(&mut s, loaded("gemma-2-9b", None));
    let gen_id = send(&mut s, "hi");
    engine(&mut s, finished(gen_id, FinishReason::Stop));
    engine(&mut s, EngineEvent::Unloaded);
    engine(&mut s, loaded("gemma-2-2b", Some("Q4K")));
    let last = s.transcript.last().unwrap();
    assert_eq!(
        (last.speaker, last.text.as_str()),
        (Speaker::Note, "gemma-2-2b, Q4K, cpu")
    );
    assert!(s
        .transcript
        .to_messages()
        .iter()
        .all(|m| m.text != "gemma-2-2b, Q4K, cpu"));
    // Regenerate answers the last question again, with the new model, under the line.
    let effects = update(&mut s, ctrl('r'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Engine(EngineCommand::Chat(_)))),
        "{effects:?}"
    );
    let speakers: Vec<Speaker> = s.transcript.turns().iter().map(|t| t.speaker).collect();
    assert_eq!(speakers, [Speaker::User, Speaker::Note, Speaker::Model]);
    // The same model loaded again adds no line.
    engine(&mut s, loaded("gemma-2-2b", Some("Q4K")));
    assert_eq!(
        s.transcript
            .turns()
            .iter()
            .filter(|t| t.speaker == Speaker::Note)
            .count(),
        1
    );
}

/// A load of gemma-2-9b here, on the CPU, quantized `q`.
fn gemma_9b_on_cpu(q: Quantization) -> LoadChoice {
    LoadChoice {
        name: "gemma-2-9b".into(),
        spec: ModelSpec::Repo("google/gemma-2-9b-it".into()),
        endpoint: None,
        place: crate::engine::Place::Here,
        device: DeviceChoice::Cpu,
        quantization: q,
    }
}

#[test]
fn a_failed_load_keeps_the_loaded_model_or_offers_the_previous_back_with_one_key() {
    let mut s = fresh();
    s.pending_load = Some(gemma_9b_on_cpu(Quantization::Q4K));
    engine(&mut s, loaded("gemma-2-9b", Some("Q4K")));
    // A folder that is not a model: refused before unloading.
    update(
        &mut s,
        Msg::ModelChosen {
            name: "/tmp/x".into(),
            spec: ModelSpec::Dir("/tmp/x".into()),
            endpoint: None,
            place: crate::engine::Place::Here,
        },
    );
    engine(
        &mut s,
        EngineEvent::Error {
            gen_id: None,
            message: "/tmp/x is not a model folder".into(),
        },
    );
    assert!(
        s.banner
            .as_deref()
            .unwrap_or_default()
            .contains("still loaded and answering"),
        "{:?}",
        s.banner
    );
    // A load that fails after the old model was freed: F5 brings it back as it was.
    update(
        &mut s,
        Msg::ModelChosen {
            name: "/tmp/y".into(),
            spec: ModelSpec::Dir("/tmp/y".into()),
            endpoint: None,
            place: crate::engine::Place::Here,
        },
    );
    engine(&mut s, EngineEvent::Unloaded);
    engine(
        &mut s,
        EngineEvent::Error {
            gen_id: None,
            message: "not enough memory".into(),
        },
    );
    let banner = s.banner.clone().unwrap_or_default();
    assert!(banner.contains("F5") && banner.contains("gemma-2-9b"), "{banner}");
    let effects = update(&mut s, Msg::Key(KeyEvent::new(KeyCode::F(5), KeyModifiers::NONE)));
    assert!(
        matches!(&effects[..], [Effect::Engine(EngineCommand::Place(_)), Effect::Engine(EngineCommand::Load { spec: ModelSpec::Repo(r), device: DeviceChoice::Cpu, quantization: Quantization::Q4K })] if r == "google/gemma-2-9b-it"),
        "{effects:?}"
    );
    assert!(matches!(s.overlay, None | Some(Overlay::Help { .. })));
}

#[test]
fn runs_on_picks_a_server_lists_its_models_and_the_load_goes_there() {
    use crate::engine::remote::{EndpointReport, RemoteConfig};
    use crate::engine::Place;
    let mut s = opened(16, SettingsRow::RunsOn);
    assert!(
        press(&mut s, KeyCode::Char('t')).is_empty(),
        "this machine is not tested"
    );
    press(&mut s, KeyCode::Right);
    assert_eq!(s.settings_pane().unwrap().draft.endpoint.as_deref(), Some("gpu-box"));
    let effects = press(&mut s, KeyCode::Char('t'));
    assert!(
        matches!(&effects[..], [Effect::TestEndpoint(e)] if e == "gpu-box"),
        "{effects:?}"
    );
    // A stale answer (for another endpoint) is ignored.
    update(
        &mut s,
        Msg::EndpointTested {
            endpoint: "elsewhere".into(),
            outcome: Err("refused".into()),
        },
    );
    assert!(!message(&s).contains("refused"));
    update(
        &mut s,
        Msg::EndpointTested {
            endpoint: "gpu-box".into(),
            outcome: Ok(EndpointReport {
                server: "vLLM".into(),
                at: "gpu-box:8000".into(),
                models: vec!["google/gemma-2-27b-it".into()],
                millis: 12,
            }),
        },
    );
    assert!(message(&s).contains("vLLM at gpu-box:8000") && message(&s).contains("google/gemma-2-27b-it"));
    // The local model is no name on that server: the server's own until one is picked.
    assert_eq!(s.settings_pane().unwrap().draft.model, "");
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Right);
    assert_eq!(s.settings_pane().unwrap().draft.model, "google/gemma-2-27b-it");
    let effects = press(&mut s, KeyCode::Char('a'));
    assert!(
        matches!(&effects[..], [Effect::LoadModel { name, endpoint: Some(e) }] if name == "google/gemma-2-27b-it" && e == "gpu-box"),
        "{effects:?}"
    );
    let place = Place::Server(RemoteConfig::new("gpu-box", "http://gpu-box:8000"));
    let effects = update(
        &mut s,
        Msg::ModelChosen {
            name: "google/gemma-2-27b-it".into(),
            spec: ModelSpec::Repo("google/gemma-2-27b-it".into()),
            endpoint: Some("gpu-box".into()),
            place: place.clone(),
        },
    );
    assert!(
        matches!(&effects[..], [Effect::Engine(EngineCommand::Place(p)), Effect::Engine(EngineCommand::Load { .. })] if *p == place),
        "{effects:?}"
    );
    assert_eq!(s.settings.endpoint.as_deref(), Some("gpu-box"));

    // Typing a URL, then back to this machine by typing nothing.
    let mut s = opened(16, SettingsRow::RunsOn);
    press(&mut s, KeyCode::Enter);
    chars(&mut s, "http://10.0.0.5:8080");
    press(&mut s, KeyCode::Enter);
    assert_eq!(
        s.settings_pane().unwrap().draft.endpoint.as_deref(),
        Some("http://10.0.0.5:8080")
    );
    assert!(s
        .settings_pane()
        .unwrap()
        .places()
        .contains(&Some("http://10.0.0.5:8080".into())));
    press(&mut s, KeyCode::Enter);
    for _ in 0..30 {
        press(&mut s, KeyCode::Backspace);
    }
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.settings_pane().unwrap().draft.endpoint, None);
}

#[test]
fn an_engine_that_failed_mid_answer_keeps_the_partial_answer_and_f5_loads_the_model_again() {
    let mut s = fresh();
    s.pending_load = Some(gemma_9b_on_cpu(Quantization::None));
    engine(&mut s, loaded("gemma-2-9b", None));
    let gen_id = send(&mut s, "hi");
    engine(
        &mut s,
        EngineEvent::Token {
            gen_id,
            delta: "half an ans".into(),
        },
    );
    // What the worker sends when its backend panics mid-answer.
    engine(
        &mut s,
        EngineEvent::Error {
            gen_id: Some(gen_id),
            message: "the engine failed mid-answer (boom); the partial answer is kept".into(),
        },
    );
    engine(&mut s, finished(gen_id, FinishReason::Error));
    engine(&mut s, EngineEvent::Unloaded);
    engine(
        &mut s,
        EngineEvent::Error {
            gen_id: None,
            message: "the engine failed (boom) and let the model go; see the log file".into(),
        },
    );
    assert!(!s.is_generating());
    let last = s.transcript.turns().last().map(|t| t.text.clone()).unwrap_or_default();
    assert!(last.contains("half an ans"), "the partial answer stays: {last}");
    let banner = s.banner.clone().unwrap_or_default();
    assert!(
        banner.contains("let the model go") && banner.contains("F5 loads gemma-2-9b back"),
        "{banner}"
    );
    let effects = update(&mut s, Msg::Key(KeyEvent::new(KeyCode::F(5), KeyModifiers::NONE)));
    assert!(
        matches!(
            &effects[..],
            [
                Effect::Engine(EngineCommand::Place(_)),
                Effect::Engine(EngineCommand::Load { .. })
            ]
        ),
        "{effects:?}"
    );
}
