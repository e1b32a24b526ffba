//! Engine events: load progress, the answer's tokens, its end, failures. Events that belong to
//! an answer other than the current one (stopped, replaced) are dropped here.

use std::time::Instant;

use super::save;
use crate::effect::Effect;
use crate::engine::{EngineEvent, FinishReason, GenId, LoadProgress, Usage};
use crate::keymap::Action;
use crate::state::{AnswerStats, AppState, ContextUse, Download, ModelPhase, Speaker, TurnStatus};
use crate::store::FinishRecord;

pub(super) fn on_event(state: &mut AppState, event: EngineEvent, at: Instant) -> Vec<Effect> {
    match event {
        EngineEvent::LoadProgress(progress) => on_progress(state, progress, at),
        EngineEvent::Loaded(info) => {
            state.model.name = info.name;
            state.model.endpoint = info.dir.is_none().then(|| info.device.clone());
            state.model.device = Some(info.device);
            state.model.quantization = info.quantization;
            state.model.usable_context = Some(info.usable_context);
            state.model.phase = ModelPhase::Ready;
            state.model.ignored_settings = info.ignored_settings;
            super::settings::show_caveats(state);
            let label = state.model.label();
            let changed = state.model.last_loaded.as_ref().is_some_and(|last| *last != label);
            if changed && !state.transcript.is_empty() {
                // Where the model changed, so the answers after it are read as the new one's.
                state.transcript.push(Speaker::Note, label.clone(), TurnStatus::Done);
            }
            if state.model.last_loaded.as_ref() != Some(&label) {
                state.last_good_load = state.pending_load.take().or(state.last_good_load.take());
            }
            state.pending_load = None;
            state.model.loaded = Some(label.clone());
            state.model.last_loaded = Some(label);
        }
        EngineEvent::Unloaded => {
            state.model.phase = ModelPhase::NotLoaded;
            state.model.usable_context = None;
            state.model.loaded = None;
        }
        EngineEvent::PromptReady {
            gen_id,
            prompt_tokens,
            usable_context,
            dropped_turns,
            exact,
        } => {
            if current(state, gen_id).is_some() {
                state.context = Some(ContextUse {
                    prompt_tokens,
                    usable: usable_context,
                    dropped_turns,
                    exact,
                });
            }
        }
        EngineEvent::Token { gen_id, delta } => {
            if let Some(turn) = current(state, gen_id) {
                state.transcript.append(turn, &delta);
                return save::streamed(state, turn, at);
            }
        }
        EngineEvent::Finished {
            gen_id, reason, usage, ..
        } => return on_finished(state, gen_id, reason, usage),
        EngineEvent::Error { gen_id, message } => return on_error(state, gen_id, message),
    }
    Vec::new()
}

/// The turn of `gen_id` if it is the answer being generated.
fn current(state: &AppState, gen_id: GenId) -> Option<u64> {
    state.generation.filter(|g| g.gen_id == gen_id).map(|g| g.turn)
}

fn on_progress(state: &mut AppState, progress: LoadProgress, at: Instant) {
    state.model.phase = match progress {
        LoadProgress::Resolving { model } => {
            state.model.name = model;
            ModelPhase::Resolving
        }
        LoadProgress::Loading { model } => {
            state.model.name = model;
            ModelPhase::Loading
        }
        LoadProgress::Downloading {
            file,
            done_bytes,
            total_bytes,
        } => {
            let (started, started_bytes) = match &state.model.phase {
                ModelPhase::Downloading(d) if d.file == file => (d.started, d.started_bytes),
                _ => (at, done_bytes),
            };
            ModelPhase::Downloading(Download {
                file,
                done_bytes,
                total_bytes,
                started,
                started_bytes,
                last: at,
            })
        }
    };
}

fn on_finished(state: &mut AppState, gen_id: GenId, reason: FinishReason, usage: Usage) -> Vec<Effect> {
    let Some(turn) = current(state, gen_id) else {
        return Vec::new();
    };
    state.generation = None;
    let status = match reason {
        FinishReason::Stop => TurnStatus::Done,
        FinishReason::Length => TurnStatus::CutAtLimit,
        FinishReason::Cancelled => TurnStatus::Stopped,
        FinishReason::Error => TurnStatus::Failed("the answer ended with an error".into()),
    };
    state.transcript.set_status(turn, status);
    state.last_answer = Some(AnswerStats {
        tokens: usage.completion_tokens,
        time_to_first_token: usage.time_to_first_token,
        tokens_per_second: usage.decode_tokens_per_second,
    });
    let context = state.context.get_or_insert_with(ContextUse::default);
    context.prompt_tokens = usage.prompt_tokens;
    context.dropped_turns = usage.dropped_turns;
    let record = save::usage_record(&usage);
    save::answer_ended(state, turn, save::finish_record(reason), Some(record))
}

fn on_error(state: &mut AppState, gen_id: Option<GenId>, message: String) -> Vec<Effect> {
    let mut effects = Vec::new();
    match gen_id {
        Some(gen_id) => {
            let Some(turn) = current(state, gen_id) else {
                return effects;
            };
            state.generation = None;
            state.transcript.set_status(turn, TurnStatus::Failed(message.clone()));
            effects = save::answer_ended(state, turn, FinishRecord::Error(message.clone()), None);
        }
        None => {
            state.pending_load = None;
            let hint = match (&state.model.loaded, &state.last_good_load) {
                (Some(kept), _) => format!(" — {kept} is still loaded and answering"),
                (None, Some(previous)) => {
                    state.model.phase = ModelPhase::Failed;
                    format!(" — {} loads {} back", state.hint(Action::LoadPrevious), previous.name)
                }
                (None, None) => {
                    state.model.phase = ModelPhase::Failed;
                    String::new()
                }
            };
            state.banner = Some(format!("{message}{hint}"));
            return effects;
        }
    }
    state.banner = Some(message);
    effects
}
