//! Chat actions: send, stop, regenerate, edit, copy, quit.

use super::{save, scroll};
use crate::effect::Effect;
use crate::engine::{ChatRequest, EngineCommand};
use crate::keymap::Action;
use crate::sanitize::sanitize;
use crate::state::{AppState, Generation, QuitArm, Speaker, TurnStatus};
use crate::store::FinishRecord;

/// `/model NAME` in the message box loads another model (a preset, repo id or folder).
pub const MODEL_COMMAND: &str = "/model";

pub(super) fn send(state: &mut AppState) -> Vec<Effect> {
    if state.input.is_blank() {
        return Vec::new();
    }
    if let Some(name) = state.input.text().trim().strip_prefix(MODEL_COMMAND) {
        return load_command(state, name.trim().to_string());
    }
    if state.is_generating() {
        state.notice = Some(format!(
            "an answer is still coming: {} stops it, then send",
            state.hint(Action::Stop)
        ));
        return Vec::new();
    }
    let text = state.input.take().trim_end().to_string();
    let first = state.transcript.is_empty();
    let title = first.then(|| format!("gemma-tui: {text}"));
    let turn = state.transcript.push(Speaker::User, text, TurnStatus::Done);
    let mut effects = save::user_sent(state, turn);
    effects.extend(start_answer(state));
    effects.extend(title.map(Effect::SetTitle));
    effects
}

fn load_command(state: &mut AppState, name: String) -> Vec<Effect> {
    if name.is_empty() {
        state.notice =
            Some("write /model and a name: gemma-2-2b, gemma-2-9b, gemma-2-27b, owner/repo or a folder".into());
        return Vec::new();
    }
    if state.is_generating() {
        state.notice = Some(format!(
            "an answer is still coming: {} stops it first",
            state.hint(Action::Stop)
        ));
        return Vec::new();
    }
    state.input.take();
    vec![Effect::LoadModel(name)]
}

/// Asks the engine to answer the transcript as it stands (ending with a user turn).
fn start_answer(state: &mut AppState) -> Vec<Effect> {
    let messages = state.transcript.to_messages();
    let gen_id = state.next_gen_id;
    state.next_gen_id += 1;
    let turn = state
        .transcript
        .push(Speaker::Model, String::new(), TurnStatus::Waiting);
    state.generation = Some(Generation { gen_id, turn });
    state.banner = None;
    scroll::bottom(state);
    let request = ChatRequest {
        gen_id,
        system: state.system.clone(),
        messages,
        sampling: state.sampling.clone(),
    };
    let mut effects = save::answer_started(state, turn);
    effects.push(Effect::Engine(EngineCommand::Chat(request)));
    effects
}

/// Esc: stops the answer, keeping its text; otherwise dismisses the banner.
pub(super) fn stop(state: &mut AppState) -> Vec<Effect> {
    match state.generation.take() {
        Some(generation) => {
            // Clearing `generation` makes tokens of this gen_id still in the queue stale.
            state.transcript.set_status(generation.turn, TurnStatus::Stopped);
            let mut effects = save::answer_ended(state, generation.turn, FinishRecord::Cancelled, None);
            effects.push(Effect::Engine(EngineCommand::Cancel {
                gen_id: generation.gen_id,
            }));
            effects
        }
        None => {
            state.banner = None;
            Vec::new()
        }
    }
}

pub(super) fn regenerate(state: &mut AppState) -> Vec<Effect> {
    if state.is_generating() {
        state.notice = Some(format!(
            "an answer is still coming: {} stops it first",
            state.hint(Action::Stop)
        ));
        return Vec::new();
    }
    let mut effects = Vec::new();
    if state.transcript.last().is_some_and(|t| t.speaker == Speaker::Model) {
        if let Some(turn) = state.transcript.pop() {
            effects = save::turn_removed(state, turn.id);
        }
    }
    if state.transcript.last().is_some_and(|t| t.speaker == Speaker::User) {
        effects.extend(start_answer(state));
        return effects;
    }
    state.notice = Some("nothing to regenerate yet: send a message first".into());
    Vec::new()
}

/// Takes the last user message (and the answer to it) back into the message box.
pub(super) fn edit_last(state: &mut AppState) -> Vec<Effect> {
    if !state.input.is_blank() {
        state.notice = Some(format!(
            "the message box holds text: send it or clear it ({}) before editing the last message",
            state.hint(Action::ClearInput)
        ));
        return Vec::new();
    }
    if state.transcript.last_of(Speaker::User).is_none() {
        state.notice = Some("there is no message to edit yet".into());
        return Vec::new();
    }
    let mut effects = stop(state);
    while let Some(turn) = state.transcript.pop() {
        effects.extend(save::turn_removed(state, turn.id));
        if turn.speaker == Speaker::User {
            state.input.set(&turn.text);
            break;
        }
    }
    state.notice = Some(format!(
        "editing the last message: {} sends it again",
        state.hint(Action::Send)
    ));
    effects
}

pub(super) fn copy_answer(state: &mut AppState) -> Vec<Effect> {
    match state.transcript.last_of(Speaker::Model).filter(|t| !t.text.is_empty()) {
        Some(turn) => vec![Effect::Copy {
            text: sanitize(&turn.text).into_owned(),
            what: "the last answer",
        }],
        None => {
            state.notice = Some("there is no answer to copy yet".into());
            Vec::new()
        }
    }
}

/// Copies the last fenced code block of the last answer. The hook for choosing a block comes
/// with the Markdown renderer; until then the last one is the likeliest wanted.
pub(super) fn copy_code(state: &mut AppState) -> Vec<Effect> {
    let block = state
        .transcript
        .last_of(Speaker::Model)
        .and_then(|t| code_blocks(&t.text).pop());
    match block {
        Some(code) => vec![Effect::Copy {
            text: sanitize(&code).into_owned(),
            what: "the code block",
        }],
        None => {
            state.notice = Some("the last answer has no code block".into());
            Vec::new()
        }
    }
}

/// The bodies of the fenced (```) code blocks of a Markdown text; an unclosed last block counts.
pub fn code_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~");
        match (&mut current, fence) {
            (None, true) => current = Some(String::new()),
            (Some(_), true) => blocks.extend(current.take()),
            (Some(body), false) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks.extend(current.filter(|b| !b.is_empty()));
    blocks
}

/// Ctrl+Q: quits, asking once more if the message box holds text.
pub(super) fn quit(state: &mut AppState) -> Vec<Effect> {
    if state.quit_armed == Some(QuitArm::UnsentDraft) || state.input.is_blank() {
        return quit_now(state);
    }
    arm(state, QuitArm::UnsentDraft);
    Vec::new()
}

/// Ctrl+C: stops a running answer and asks for a second press; the second press quits.
pub(super) fn interrupt(state: &mut AppState) -> Vec<Effect> {
    if state.quit_armed == Some(QuitArm::Interrupt) {
        return quit_now(state);
    }
    let effects = if state.is_generating() { stop(state) } else { Vec::new() };
    arm(state, QuitArm::Interrupt);
    effects
}

fn arm(state: &mut AppState, arm: QuitArm) {
    state.quit_armed = Some(arm);
    state.notice = Some(super::quit_question(state, arm));
}

/// Quits at once. A running answer is cancelled first so its partial text is kept as stopped
/// and saved as interrupted (the user did not choose to stop it) rather than lost mid-stream.
pub(super) fn quit_now(state: &mut AppState) -> Vec<Effect> {
    let mut effects = match state.generation {
        Some(generation) => save::answer_ended(state, generation.turn, FinishRecord::Interrupted, None),
        None => Vec::new(),
    };
    effects.extend(stop(state));
    state.should_quit = true;
    effects.push(Effect::Quit);
    effects
}
