//! Chat actions: send, stop, regenerate, edit, copy, quit.

use super::{save, scroll};
use crate::effect::Effect;
use crate::engine::{ChatRequest, EngineCommand};
use crate::keymap::Action;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::markdown::code_blocks;
use crate::sanitize::sanitize;
use crate::state::{AppState, CodePick, Generation, Overlay, QuitArm, Speaker, TurnStatus};
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
    if state.input.text().trim() == super::SETTINGS_COMMAND {
        state.input.take();
        return super::settings_pane::open(state);
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
    vec![Effect::LoadModel {
        name,
        endpoint: state.settings.endpoint.clone(),
    }]
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
        system: state.settings.system_prompt.clone(),
        messages,
        sampling: state.settings.sampling.clone(),
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
    // A note after the answer (the model changed) stays: the new answer comes from the new model.
    if let Some(answer) = state
        .transcript
        .last_spoken()
        .filter(|t| t.speaker == Speaker::Model)
        .map(|t| t.id)
    {
        state.transcript.remove(answer);
        effects = save::turn_removed(state, answer);
    }
    if state
        .transcript
        .last_spoken()
        .is_some_and(|t| t.speaker == Speaker::User)
    {
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

/// Copies a code block of the last answer, as the model wrote it (only control characters
/// removed; tabs kept). One block is copied at once; with several, the next key picks one by
/// the `[n]` label the transcript shows (Enter: the last, any other key cancels).
pub(super) fn copy_code(state: &mut AppState) -> Vec<Effect> {
    let Some(turn) = state.transcript.last_of(Speaker::Model) else {
        state.notice = Some("there is no answer to copy from yet".into());
        return Vec::new();
    };
    let turn_id = turn.id;
    match code_blocks(&turn.text).len() {
        0 => {
            state.notice = Some("the last answer has no code block".into());
            Vec::new()
        }
        1 => copy_block(state, turn_id, 1),
        count => {
            state.overlay = Some(Overlay::CodePick(CodePick { turn: turn_id, count }));
            state.notice = Some(format!(
                "copy which code block? press its number 1–{} (Enter: the last, Esc: cancel)",
                count.min(9)
            ));
            Vec::new()
        }
    }
}

/// The key after a copy-code press that found several blocks. `None`: not a pick; the key
/// cancels the pick and then acts as usual.
pub(super) fn pick_code(state: &mut AppState, pick: CodePick, key: &KeyEvent) -> Option<Vec<Effect>> {
    let number = match key.code {
        KeyCode::Enter => pick.count,
        KeyCode::Esc => {
            state.notice = Some("nothing copied".into());
            return Some(Vec::new());
        }
        KeyCode::Char(c) if key.modifiers.difference(KeyModifiers::SHIFT).is_empty() => {
            match c.to_digit(10).map(|d| d as usize) {
                Some(n) if (1..=pick.count).contains(&n) => n,
                _ => {
                    state.notice = Some(format!("no code block {c}: nothing copied"));
                    return Some(Vec::new());
                }
            }
        }
        _ => return None,
    };
    Some(copy_block(state, pick.turn, number))
}

fn copy_block(state: &mut AppState, turn: u64, number: usize) -> Vec<Effect> {
    let block = state
        .transcript
        .get(turn)
        .and_then(|t| code_blocks(&t.text).into_iter().find(|b| b.number == number));
    match block {
        Some(block) => vec![Effect::Copy {
            text: sanitize_keeping_tabs(&block.code),
            what: "the code block",
        }],
        None => {
            state.notice = Some("that code block is gone".into());
            Vec::new()
        }
    }
}

/// Removes what is unsafe for a terminal but keeps tabs, which matter in code (Makefiles, Go):
/// the screen sanitizer expands them to spaces.
fn sanitize_keeping_tabs(text: &str) -> String {
    text.split('\t').map(sanitize).collect::<Vec<_>>().join("\t")
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
