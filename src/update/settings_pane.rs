//! The settings pane's transitions: open (asking the driver for a survey of models, memory and
//! devices), move, change a value by a step or by typing it (refused with the reason when out
//! of range), the greedy recipe, reset, and apply — for this session, or also as the default in
//! config.toml. A change of model, device or quantization is a load, checked by the memory
//! planner first; a change of sampling, system prompt or look applies to the next answer.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{keys, settings};
use crate::effect::Effect;
use crate::engine::memory::Fit;
use crate::engine::sampling::SamplingPatch;
use crate::engine::{Quantization, SamplingField, SamplingSettings};
use crate::keymap::{Action, Layer};
use crate::markdown::CodeTheme;
use crate::settings::{Settings, SettingsPatch};
use crate::state::settings_pane::{Confirm, EndpointReport, Scope, Survey, Typing};
use crate::state::{AppState, Overlay, SettingsPane, SettingsRow};

/// `/settings` in the message box opens the pane.
pub const SETTINGS_COMMAND: &str = "/settings";

pub(super) fn open(state: &mut AppState) -> Vec<Effect> {
    let pane = SettingsPane::new(state.settings.clone(), state.defaults.clone());
    state.overlay = Some(Overlay::Settings(Box::new(pane)));
    vec![Effect::Survey]
}

pub(super) fn on_survey(state: &mut AppState, survey: Survey) {
    if let Some(pane) = state.settings_pane_mut() {
        pane.survey = Some(survey);
    }
}

fn pane(state: &mut AppState) -> Option<&mut SettingsPane> {
    state.settings_pane_mut()
}

/// Every key while the pane is open (quit, interrupt and suspend were handled before).
pub(super) fn on_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    let Some(p) = state.settings_pane() else {
        return Vec::new();
    };
    if p.editing_system.is_some() {
        return on_system_prompt_key(state, key);
    }
    if let Some((question, scope)) = p.confirm.clone() {
        return on_confirm_key(state, &key, question, scope);
    }
    if let Some(typing) = p.typing.clone() {
        on_typing_key(state, &key, typing);
        return Vec::new();
    }
    let action = state.keymap.action(Layer::Settings, &key, true);
    if action == Some(Action::Close) {
        let changed = state.settings_pane().is_some_and(|p| p.draft != state.settings);
        state.overlay = None;
        if changed {
            state.notice = Some("settings closed; nothing was changed".into());
        }
        return Vec::new();
    }
    let Some(p) = pane(state) else { return Vec::new() };
    p.message = None;
    let last = p.rows.len() - 1;
    match action {
        Some(Action::ListUp) => p.selected = p.selected.saturating_sub(1),
        Some(Action::ListDown) => p.selected = (p.selected + 1).min(last),
        Some(Action::ListFirst) => p.selected = 0,
        Some(Action::ListLast) => p.selected = last,
        Some(Action::Decrease) => step(p, -1),
        Some(Action::Increase) => step(p, 1),
        Some(Action::Edit) => return edit(state),
        Some(Action::Greedy) => greedy(p),
        Some(Action::ResetField) => reset(p),
        Some(Action::TestEndpoint) => return test_endpoint(p),
        Some(Action::Apply) => return apply(state, Scope::Session, false),
        Some(Action::SaveDefault) => return apply(state, Scope::Default, false),
        _ => {}
    }
    Vec::new()
}

/// Moves the selected row's value one step (numbers) or to the next choice (lists, toggles).
fn step(p: &mut SettingsPane, by: i32) {
    match p.row() {
        SettingsRow::RunsOn => {
            let places = p.places();
            p.draft.endpoint = cycle(&places, &p.draft.endpoint, by);
            p.served_models.clear();
        }
        SettingsRow::Model => {
            let names = p.model_choices();
            p.draft.model = cycle(&names, &p.draft.model, by);
        }
        SettingsRow::Quantization => {
            let all: Vec<Quantization> = Quantization::all().collect();
            p.draft.quantization = cycle(&all, &p.draft.quantization, by);
        }
        SettingsRow::Device => {
            let devices = p.devices();
            p.draft.device = cycle(&devices, &p.draft.device, by);
        }
        SettingsRow::Sampling(field) => {
            let value = field.stepped(p.draft.sampling.get(field), by);
            if let Err(e) = p.draft.sampling.set(field, value) {
                p.message = Some(e.to_string());
            }
        }
        SettingsRow::Markdown => p.draft.look.markdown = !p.draft.look.markdown,
        SettingsRow::CodeTheme => {
            p.draft.look.code_theme = match p.draft.look.code_theme {
                CodeTheme::Dark => CodeTheme::Light,
                CodeTheme::Light => CodeTheme::Dark,
            }
        }
        SettingsRow::Greedy | SettingsRow::SystemPrompt => {}
    }
}

/// Asks the driver to connect to the drafted endpoint; the answer is `Msg::EndpointTested`.
fn test_endpoint(p: &mut SettingsPane) -> Vec<Effect> {
    match p.draft.endpoint.clone() {
        Some(endpoint) => {
            p.message = Some(format!("connecting to {endpoint}…"));
            vec![Effect::TestEndpoint(endpoint)]
        }
        None => {
            p.message = Some("Runs on is this machine: choose a server to test".into());
            Vec::new()
        }
    }
}

/// What a connection test found, for the pane that asked (if it is still on that endpoint).
pub(super) fn on_endpoint_tested(state: &mut AppState, endpoint: String, outcome: Result<EndpointReport, String>) {
    let Some(p) = pane(state) else { return };
    if p.draft.endpoint.as_deref() != Some(endpoint.as_str()) {
        return;
    }
    match outcome {
        Ok(report) => {
            p.message = Some(format!(
                "{endpoint}: {} at {}, {} ms; models: {}",
                report.server,
                report.at,
                report.millis,
                if report.models.is_empty() {
                    "none".to_string()
                } else {
                    report.models.join(", ")
                }
            ));
            if !p.draft.model.is_empty() && !report.models.contains(&p.draft.model) {
                p.draft.model = String::new();
            }
            p.served_models = report.models;
        }
        Err(e) => p.message = Some(e),
    }
}

fn cycle<T: Clone + PartialEq>(all: &[T], current: &T, by: i32) -> T {
    let Some(at) = all.iter().position(|x| x == current) else {
        return all.first().cloned().unwrap_or_else(|| current.clone());
    };
    let n = all.len() as i32;
    all[((at as i32 + by).rem_euclid(n)) as usize].clone()
}

/// Enter on a row: type a number or a model name; open the system prompt in the message box;
/// toggles and the greedy recipe act at once.
fn edit(state: &mut AppState) -> Vec<Effect> {
    let draft_input = state.input.text().to_string();
    let Some(p) = pane(state) else { return Vec::new() };
    let row = p.row();
    match row {
        SettingsRow::Sampling(field) => {
            let value = p.draft.sampling.get(field);
            p.typing = Some(Typing {
                row,
                text: format_number(field, value),
            });
        }
        SettingsRow::RunsOn => {
            p.typing = Some(Typing {
                row,
                text: p.draft.endpoint.clone().unwrap_or_default(),
            });
            p.message = Some("a server's URL (http://host:port) or an endpoint's name; blank: this machine".into());
        }
        SettingsRow::Model => {
            p.typing = Some(Typing {
                row,
                text: p.draft.model.clone(),
            });
            p.message = Some("a preset, a Hugging Face repo id (owner/name) or a folder; Enter takes it".into());
        }
        SettingsRow::SystemPrompt => {
            let prompt = p.draft.system_prompt.clone().unwrap_or_default();
            p.editing_system = Some(draft_input);
            state.input.set(&prompt);
        }
        SettingsRow::Greedy => greedy(p),
        SettingsRow::Quantization | SettingsRow::Device | SettingsRow::Markdown | SettingsRow::CodeTheme => step(p, 1),
    }
    Vec::new()
}

/// Typing a value: Enter takes it (or says why not), Esc leaves it as it was.
fn on_typing_key(state: &mut AppState, key: &KeyEvent, mut typing: Typing) {
    let Some(p) = pane(state) else { return };
    match key.code {
        KeyCode::Esc => p.typing = None,
        KeyCode::Enter => {
            p.typing = None;
            take_typed(p, typing);
        }
        KeyCode::Backspace => {
            typing.text.pop();
            p.typing = Some(typing);
        }
        KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
            typing.text.push(c);
            p.typing = Some(typing);
        }
        _ => {}
    }
}

fn take_typed(p: &mut SettingsPane, typing: Typing) {
    let text = typing.text.trim();
    match typing.row {
        SettingsRow::Sampling(field) => match text.parse::<f64>() {
            Ok(value) => {
                if let Err(e) = p.draft.sampling.set(field, value) {
                    p.message = Some(e.to_string());
                }
            }
            Err(_) => p.message = Some(format!("`{text}` is not a number: {}", field.spec().rule)),
        },
        SettingsRow::RunsOn => {
            let here = text.is_empty() || text.eq_ignore_ascii_case("this machine");
            p.draft.endpoint = (!here).then(|| text.to_string());
            p.served_models.clear();
        }
        // On a server, blank is its own model.
        SettingsRow::Model if text.is_empty() && p.draft.endpoint.is_some() => p.draft.model = String::new(),
        SettingsRow::Model if text.is_empty() => p.message = Some("a model name cannot be empty".into()),
        SettingsRow::Model => p.draft.model = text.to_string(),
        _ => {}
    }
}

/// The system prompt in the message box: the send key keeps it, Esc leaves it as it was; the
/// box's own draft comes back either way.
fn on_system_prompt_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    let action = state.keymap.action(Layer::Chat, &key, state.input.is_empty());
    let done = match action {
        Some(Action::Send) => Some(true),
        Some(Action::Stop) => Some(false),
        _ => None,
    };
    let Some(keep) = done else {
        keys::edit_or_type(state, &key, action);
        return Vec::new();
    };
    let prompt = state.input.text().to_string();
    let Some(p) = pane(state) else { return Vec::new() };
    let stashed = p.editing_system.take().unwrap_or_default();
    if keep {
        p.draft.system_prompt = Some(prompt).filter(|t| !t.trim().is_empty());
    }
    state.input.set(&stashed);
    Vec::new()
}

/// The seed's recipe: transformers' greedy decoding with repetition_penalty=1.05, 512 tokens.
fn greedy(p: &mut SettingsPane) {
    p.draft.sampling = SamplingSettings::default();
    p.message = Some("greedy: temperature 0, repetition penalty 1.05, 512 new tokens".into());
}

fn reset(p: &mut SettingsPane) {
    let (d, g) = (&mut p.draft, &p.defaults);
    match p.rows[p.selected] {
        SettingsRow::RunsOn => d.endpoint = g.endpoint.clone(),
        SettingsRow::Model => d.model = g.model.clone(),
        SettingsRow::Quantization => d.quantization = g.quantization,
        SettingsRow::Device => d.device = g.device,
        SettingsRow::Sampling(f) => {
            let _ = d.sampling.set(f, g.sampling.get(f));
        }
        SettingsRow::Greedy => d.sampling = g.sampling.clone(),
        SettingsRow::SystemPrompt => d.system_prompt = g.system_prompt.clone(),
        SettingsRow::Markdown => d.look.markdown = g.look.markdown,
        SettingsRow::CodeTheme => d.look.code_theme = g.look.code_theme,
    }
}

fn on_confirm_key(state: &mut AppState, key: &KeyEvent, question: Confirm, scope: Scope) -> Vec<Effect> {
    let Some(p) = pane(state) else { return Vec::new() };
    p.confirm = None;
    let Confirm::WillNotFit { instead, .. } = question;
    match key.code {
        KeyCode::Char('y' | 'Y') => apply(state, scope, true),
        KeyCode::Char('q' | 'Q') if instead.is_some() => {
            if let Some(q) = instead {
                p.draft.quantization = q;
            }
            apply(state, scope, false)
        }
        _ => {
            p.message = Some("not applied".into());
            Vec::new()
        }
    }
}

/// Applies the draft. A load the planner says will not fit asks first (unless `forced`).
fn apply(state: &mut AppState, scope: Scope, forced: bool) -> Vec<Effect> {
    let Some(p) = state.settings_pane() else {
        return Vec::new();
    };
    let draft = p.draft.clone();
    let loads = p.needs_load(&state.settings);
    if loads && !forced {
        if let Some((estimate, Fit::WillNotFit)) = p.plan(draft.quantization) {
            let instead = p.quantization_that_fits();
            let text =
                crate::engine::memory::describe(&draft.model, draft.quantization, &estimate, p.free_memory(), None);
            if let Some(p) = pane(state) {
                p.confirm = Some((
                    Confirm::WillNotFit {
                        estimate: text,
                        instead,
                    },
                    scope,
                ));
            }
            return Vec::new();
        }
    }
    if state.is_generating() && loads {
        state.notice = Some(format!(
            "an answer is still coming: {} stops it, then apply",
            state.hint(Action::Stop)
        ));
        return Vec::new();
    }
    state.overlay = None;
    let mut effects = settings::apply(state, &answer_part(&draft));
    if loads {
        state.settings.device = draft.device;
        state.settings.quantization = draft.quantization;
        effects.push(Effect::LoadModel {
            name: draft.model.clone(),
            endpoint: draft.endpoint.clone(),
        });
    }
    if scope == Scope::Default {
        state.defaults = draft.clone();
        effects.push(Effect::SaveDefaults(Box::new(draft)));
    } else if !loads {
        state.notice = Some("settings applied to this session: the next answer uses them".into());
    }
    effects
}

/// What applies to the next answer without a load: sampling, system prompt, look.
fn answer_part(draft: &Settings) -> SettingsPatch {
    SettingsPatch {
        system_prompt: Some(draft.system_prompt.clone().unwrap_or_default()),
        sampling: SamplingPatch::all_of(&draft.sampling),
        markdown: Some(draft.look.markdown),
        code_theme: Some(draft.look.code_theme),
        ..SettingsPatch::default()
    }
}

/// A field's value as the pane shows and types it.
pub fn format_number(field: SamplingField, value: f64) -> String {
    if field.spec().integer {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
