//! Saving as you go: which store writes each chat event asks for, and reading a saved session
//! back into the chat. Pure like the rest of `update`: ids come from the state's seeded
//! [`IdSource`](crate::state::IdSource), times from the messages' `at` instants, and the
//! driver stamps the wall-clock time on each write.
//!
//! The rules: a session is created with the first message sent (its title from that message);
//! each user turn is written when sent; each answer is begun when asked for, checkpointed at
//! least every [`CHECKPOINT_EVERY`] while it streams, and finished with its reason and usage
//! when it ends, is stopped, fails or the app quits. The store mirrors the transcript on
//! screen, so a regenerated answer or a message taken back to edit is removed there too.

use std::time::{Duration, Instant};

use crate::effect::{Effect, StoreRequest};
use crate::engine::sampling::SamplingPatch;
use crate::engine::{FinishReason, SamplingSettings, Usage};
use crate::settings::SettingsPatch;
use crate::state::sessions::OpenAnswer;
use crate::state::{AppState, Scroll, Speaker, TurnStatus};
use crate::store::{
    FinishRecord, NewSession, OpenReport, ReadOnlyReason, Role, SamplingRecord, Session, UsageRecord, WriteOp,
};

/// A streaming answer's text is saved at least this often, so `kill -9` loses at most this.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);
/// Longest title taken from the first message, in characters.
const TITLE_CHARS: usize = 60;

fn write(op: WriteOp) -> Effect {
    Effect::Store(StoreRequest::Write(op))
}

/// The user's message `turn` was sent: creates the session if this is its first message.
pub(super) fn user_sent(state: &mut AppState, turn: u64) -> Vec<Effect> {
    let Some(text) = state.transcript.get(turn).map(|t| t.text.clone()) else {
        return Vec::new();
    };
    if state.session.unavailable {
        return Vec::new();
    }
    let mut effects = Vec::new();
    let session = match &state.session.id {
        Some(id) => id.clone(),
        None => {
            let id = state.session.ids.session_id();
            let new = NewSession {
                title: title_from(&text),
                model: state.model.name.clone(),
                system_prompt: state.settings.system_prompt.clone(),
                sampling: sampling_record(&state.settings.sampling),
            };
            effects.push(write(WriteOp::CreateSession {
                id: id.clone(),
                new,
                at: 0,
            }));
            state.session.id = Some(id.clone());
            state.session.model = Some(state.model.name.clone());
            id
        }
    };
    let id = state.session.ids.message_id();
    state.session.messages.insert(turn, id);
    effects.push(write(WriteOp::AppendUser {
        session,
        id,
        text,
        at: 0,
    }));
    effects
}

/// An answer was asked for into the empty model turn `turn`.
pub(super) fn answer_started(state: &mut AppState, turn: u64) -> Vec<Effect> {
    if let Some(message) = &state.session.failing {
        // Starting an answer clears the banner; saving is still failing, so say so again.
        state.banner = Some(message.clone());
    }
    let Some(session) = state.session.id.clone().filter(|_| !state.session.unavailable) else {
        return Vec::new();
    };
    // The session lists the model by name; each answer records how it ran (`name, Q4K, cpu`),
    // so a resumed session can show where the model changed.
    let name = state.model.name.clone();
    let mut effects = Vec::new();
    if state.session.model.as_deref() != Some(name.as_str()) {
        effects.push(write(WriteOp::SetModel {
            session: session.clone(),
            model: name.clone(),
            at: 0,
        }));
        state.session.model = Some(name);
    }
    let model = state.model.label();
    let id = state.session.ids.message_id();
    state.session.messages.insert(turn, id);
    state.session.open_answer = Some(OpenAnswer {
        turn,
        saved_at: None,
        unsaved: false,
    });
    effects.push(write(WriteOp::BeginAnswer {
        session,
        id,
        model,
        at: 0,
    }));
    effects
}

/// Text arrived for `turn` at `at`: checkpoints on the first token and then whenever
/// [`CHECKPOINT_EVERY`] has passed since the last save of this answer.
pub(super) fn streamed(state: &mut AppState, turn: u64, at: Instant) -> Vec<Effect> {
    let Some(open) = state.session.open_answer.as_mut().filter(|o| o.turn == turn) else {
        return Vec::new();
    };
    let due = open
        .saved_at
        .is_none_or(|last| at.saturating_duration_since(last) >= CHECKPOINT_EVERY);
    if !due {
        open.unsaved = true;
        return Vec::new();
    }
    open.saved_at = Some(at);
    open.unsaved = false;
    let (Some(id), Some(text)) = (
        state.session.messages.get(&turn).copied(),
        state.transcript.get(turn).map(|t| t.text.clone()),
    ) else {
        return Vec::new();
    };
    vec![write(WriteOp::Checkpoint { id, text, at: 0 })]
}

/// The answer in `turn` ended (finished, stopped, failed, or the app is quitting): saves its
/// whole text with why it ended. Does nothing if that answer was already finished.
pub(super) fn answer_ended(
    state: &mut AppState,
    turn: u64,
    finish: FinishRecord,
    usage: Option<UsageRecord>,
) -> Vec<Effect> {
    if state.session.open_answer.is_none_or(|o| o.turn != turn) {
        return Vec::new();
    }
    state.session.open_answer = None;
    let (Some(id), Some(text)) = (
        state.session.messages.get(&turn).copied(),
        state.transcript.get(turn).map(|t| t.text.clone()),
    ) else {
        return Vec::new();
    };
    vec![write(WriteOp::FinishAnswer {
        id,
        text,
        finish,
        usage,
        at: 0,
    })]
}

/// The turn was taken off the transcript (regenerate, edit): remove it from the store too.
pub(super) fn turn_removed(state: &mut AppState, turn: u64) -> Vec<Effect> {
    if state.session.open_answer.is_some_and(|o| o.turn == turn) {
        state.session.open_answer = None;
    }
    match state.session.messages.remove(&turn) {
        Some(id) if !state.session.unavailable => vec![write(WriteOp::DeleteMessage { id, at: 0 })],
        _ => Vec::new(),
    }
}

pub(super) fn finish_record(reason: FinishReason) -> FinishRecord {
    match reason {
        FinishReason::Stop => FinishRecord::Stop,
        FinishReason::Length => FinishRecord::Length,
        FinishReason::Cancelled => FinishRecord::Cancelled,
        FinishReason::Error => FinishRecord::Error("the answer ended with an error".into()),
    }
}

/// The engine's usage in the store's units. A missing time to first token or speed (an answer
/// with no tokens) is saved as 0.
pub(super) fn usage_record(usage: &Usage) -> UsageRecord {
    let tokens = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    UsageRecord {
        prompt_tokens: tokens(usage.prompt_tokens),
        completion_tokens: tokens(usage.completion_tokens),
        time_to_first_token_ms: usage
            .time_to_first_token
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        tokens_per_second: usage.decode_tokens_per_second.filter(|t| t.is_finite()).unwrap_or(0.0),
    }
}

pub fn sampling_record(s: &SamplingSettings) -> SamplingRecord {
    SamplingRecord {
        temperature: Some(s.temperature),
        top_k: s.top_k,
        top_p: Some(s.top_p),
        min_p: Some(s.min_p),
        repetition_penalty: Some(s.repetition_penalty),
        frequency_penalty: Some(s.frequency_penalty),
        presence_penalty: Some(s.presence_penalty),
        max_new_tokens: s.max_new_tokens,
    }
}

/// What a saved session says of the settings: its system prompt (none clears it) and its
/// sampling (a field saved as unset keeps the current value).
pub fn session_patch(session: &Session) -> SettingsPatch {
    let r = &session.sampling;
    SettingsPatch {
        system_prompt: Some(session.system_prompt.clone().unwrap_or_default()),
        sampling: SamplingPatch {
            temperature: r.temperature,
            top_k: Some(r.top_k.unwrap_or(0)),
            top_p: r.top_p,
            min_p: r.min_p,
            repetition_penalty: r.repetition_penalty,
            frequency_penalty: r.frequency_penalty,
            presence_penalty: r.presence_penalty,
            max_new_tokens: Some(r.max_new_tokens),
        },
        ..SettingsPatch::default()
    }
}

/// The first line of the first message, shortened: what the session list shows.
pub fn title_from(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= TITLE_CHARS {
        return if words.is_empty() { "untitled".into() } else { words };
    }
    let cut: String = words.chars().take(TITLE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Empties the chat (keeping turn ids increasing, so cached lines of old turns never match).
pub(super) fn clear_chat(state: &mut AppState) {
    while state.transcript.pop().is_some() {}
    state.session.detach();
    state.scroll = Scroll::Follow;
    state.context = None;
    state.last_answer = None;
}

/// Shows a saved session: its transcript, system prompt and sampling. The next answer is
/// asked of the model in use, with the whole transcript.
pub(super) fn restore(state: &mut AppState, session: Session) -> Vec<Effect> {
    clear_chat(state);
    for (i, m) in session.messages.iter().enumerate() {
        if let Some(label) = model_change_before(&session.messages, i) {
            state.transcript.push(Speaker::Note, label, TurnStatus::Done);
        }
        let (speaker, status) = match m.role {
            Role::User => (Speaker::User, TurnStatus::Done),
            Role::Model => (Speaker::Model, turn_status(m.finish.as_ref())),
        };
        let turn = state.transcript.push(speaker, m.text.clone(), status);
        state.session.messages.insert(turn, m.id);
    }
    state.settings.apply(&session_patch(&session));
    state.session.id = Some(session.id.clone());
    state.session.model = Some(session.model.clone());
    state.notice = Some(format!(
        "opened “{}” ({} messages); the next answer comes from {}",
        session.title,
        session.messages.len(),
        state.model.name
    ));
    vec![Effect::SetTitle(format!("gemma-tui: {}", session.title))]
}

/// The model-change line to show before message `i`: each answer records its model, so where
/// it differs from the answer before, the line goes before the question it answers.
fn model_change_before(messages: &[crate::store::MessageRecord], i: usize) -> Option<String> {
    let answer_at = |j: usize| messages.get(j).filter(|m| m.role == Role::Model);
    let this = match (answer_at(i), answer_at(i + 1)) {
        (Some(answer), _) if i == 0 || messages[i - 1].role == Role::Model => answer,
        (None, Some(answer)) => answer,
        _ => return None,
    };
    let previous = messages[..i].iter().rev().find(|m| m.role == Role::Model)?;
    let (now, before) = (this.model.as_ref()?, previous.model.as_ref()?);
    (now != before).then(|| now.clone())
}

fn turn_status(finish: Option<&FinishRecord>) -> TurnStatus {
    match finish {
        Some(FinishRecord::Stop) => TurnStatus::Done,
        Some(FinishRecord::Length) => TurnStatus::CutAtLimit,
        // Still streaming in another window, or cut off by a crash: what is there is kept.
        Some(FinishRecord::Cancelled | FinishRecord::Interrupted) | None => TurnStatus::Stopped,
        Some(FinishRecord::Error(m)) => TurnStatus::Failed(m.clone()),
    }
}

/// What opening the store found, told to the user. A newer database is read-only: saving is
/// turned off rather than failing on every message.
pub fn store_opened(state: &mut AppState, report: &OpenReport) {
    let mut notes = Vec::new();
    if let Some(moved) = &report.corrupt_moved_to {
        notes.push(format!(
            "the session file {} was damaged: it was moved to {} and a new one started",
            report.path.display(),
            moved.display()
        ));
    }
    if let Some(reason) = &report.read_only {
        if matches!(reason, ReadOnlyReason::NewerSchema { .. }) {
            state.session.unavailable = true;
        }
        notes.push(format!("{}: {reason}", report.path.display()));
    }
    if !notes.is_empty() {
        state.banner = Some(notes.join("; "));
    }
}

/// The store could not be opened at all: the chat works, nothing is saved.
pub fn store_unavailable(state: &mut AppState, why: &str) {
    state.session.unavailable = true;
    state.banner = Some(format!(
        "sessions are not being saved: {why}. The chat works, but this conversation will be lost on quit"
    ));
}
