//! The one place the chat screen's state changes: `update(&mut AppState, Msg) -> Vec<Effect>`.
//!
//! Pure: no IO, no clock, no awaiting. Keys become actions through the keymap; engine events
//! move the transcript and the status; whatever needs the outside world is returned as an
//! [`Effect`] for the driver. Submodules split the transitions by area.

mod chat;
mod engine;
mod keys;
mod save;
mod scroll;
mod sessions;
mod settings;
mod settings_pane;
#[cfg(test)]
mod tests;

use crate::effect::Effect;
use crate::msg::Msg;
use crate::state::{AppState, LoadChoice, QuitArm};

pub use chat::MODEL_COMMAND;
pub use keys::human_bytes;
pub use save::{sampling_record, session_patch, store_opened, store_unavailable, title_from, CHECKPOINT_EVERY};
pub use sessions::SEARCH_LIMIT;
pub use settings::show_caveats;
pub use settings_pane::{format_number, SETTINGS_COMMAND};

pub fn update(state: &mut AppState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => keys::on_key(state, key),
        Msg::Paste(text) => {
            disarm(state);
            if state.sessions_pane().is_some() {
                return sessions::on_paste(state, &text);
            }
            keys::on_paste(state, &text);
            Vec::new()
        }
        Msg::Wheel(lines) => {
            scroll::by(state, lines.into());
            Vec::new()
        }
        Msg::Resize { .. } => Vec::new(),
        Msg::Engine { event, at } => engine::on_event(state, event, at),
        Msg::Drawn(viewport) => {
            scroll::on_drawn(state, viewport);
            Vec::new()
        }
        Msg::ModelChosen {
            name,
            spec,
            endpoint,
            place,
        } => settings::load_model(state, LoadChoice::new(name, spec, endpoint, place, &state.settings)),
        Msg::ApplySettings(patch) => settings::apply(state, &patch),
        Msg::Surveyed(survey) => {
            settings_pane::on_survey(state, survey);
            Vec::new()
        }
        Msg::EndpointTested { endpoint, outcome } => {
            settings_pane::on_endpoint_tested(state, endpoint, outcome);
            Vec::new()
        }
        Msg::Notice(text) => {
            state.notice = Some(text);
            Vec::new()
        }
        Msg::Failed(text) => {
            state.banner = Some(text);
            Vec::new()
        }
        Msg::Terminate => chat::quit_now(state),
        Msg::Store(msg) => sessions::on_store(state, msg),
    }
}

/// Any key other than a second quit press disarms the confirmation.
fn disarm(state: &mut AppState) {
    if state.quit_armed.take().is_some() {
        state.notice = None;
    }
}

/// Whether a quit needs confirming, and the question to ask.
fn quit_question(state: &AppState, arm: QuitArm) -> String {
    match arm {
        QuitArm::Interrupt => format!("press {} again to quit", state.hint(crate::keymap::Action::Interrupt)),
        QuitArm::UnsentDraft => format!(
            "the message box holds unsent text: press {} again to quit anyway",
            state.hint(crate::keymap::Action::Quit)
        ),
    }
}
