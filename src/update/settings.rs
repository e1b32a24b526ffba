//! Settings changes: a model to load, a patch of settings to use from now on. A change of
//! sampling or system prompt applies to the next answer without reloading, and is saved with
//! the session; a change of model, device or quantization is a load.

use crate::effect::{Effect, StoreRequest};
use crate::engine::EngineCommand;
use crate::settings::SettingsPatch;
use crate::state::{AppState, LoadChoice};
use crate::store::WriteOp;

use super::save::sampling_record;

/// Loads `choice`: where it runs first (the worker moves only if the load succeeds), then the
/// model with its device and quantization.
pub(super) fn load_model(state: &mut AppState, choice: LoadChoice) -> Vec<Effect> {
    state.notice = Some(format!("loading {}…", choice.spec.display_name()));
    state.settings.model = choice.name.clone();
    state.settings.endpoint = choice.endpoint.clone();
    state.settings.device = choice.device;
    state.settings.quantization = choice.quantization;
    let effects = vec![
        Effect::Engine(EngineCommand::Place(choice.place.clone())),
        Effect::Engine(state.settings.load_command(choice.spec.clone())),
    ];
    state.pending_load = Some(choice);
    effects
}

/// Loads the last model that worked again (after a load that failed), as it was loaded.
pub(super) fn load_previous(state: &mut AppState) -> Vec<Effect> {
    if state.is_generating() {
        return Vec::new();
    }
    let Some(previous) = state.last_good_load.clone() else {
        state.notice = Some("no earlier model to load back".into());
        return Vec::new();
    };
    load_model(state, previous)
}

/// Uses `patch` from now on. What it changes of the system prompt and sampling is written to
/// the session, so a resumed session keeps answering the same way.
pub(super) fn apply(state: &mut AppState, patch: &SettingsPatch) -> Vec<Effect> {
    let before = state.settings.clone();
    state.settings.apply(patch);
    if state.settings.sampling != before.sampling {
        show_caveats(state);
    }
    let Some(session) = state.session.id.clone().filter(|_| !state.session.unavailable) else {
        return Vec::new();
    };
    let mut effects = Vec::new();
    if state.settings.system_prompt != before.system_prompt {
        effects.push(Effect::Store(StoreRequest::Write(WriteOp::SetSystemPrompt {
            session: session.clone(),
            prompt: state.settings.system_prompt.clone(),
            at: 0,
        })));
    }
    if state.settings.sampling != before.sampling {
        effects.push(Effect::Store(StoreRequest::Write(WriteOp::SetSampling {
            session,
            sampling: sampling_record(&state.settings.sampling),
            at: 0,
        })));
    }
    effects
}

/// Says in the status line which sampling settings will have no effect as set (the same notes
/// headless mode prints on stderr).
pub fn show_caveats(state: &mut AppState) {
    let mut caveats = state.settings.sampling.caveats();
    let ignored: Vec<&str> = state
        .model
        .ignored_settings
        .iter()
        .filter(|f| f.spec().off != Some(state.settings.sampling.get(**f)))
        .map(|f| f.spec().name)
        .collect();
    if !ignored.is_empty() {
        caveats.push(format!("{} ignores {} as set", state.model.name, ignored.join(", ")));
    }
    if !caveats.is_empty() {
        state.notice = Some(format!("note: {}", caveats.join("; ")));
    }
}
