//! The driver: one `tokio::select!` loop that turns terminal input and engine events into
//! [`Msg`]s, runs `update`, performs the effects through an [`Io`], and draws when something
//! changed — at most one frame per [`MIN_FRAME_INTERVAL`], after draining everything queued.
//!
//! [`App::step`] is the synchronous heart (update + effects) so tests drive it without a
//! terminal; the outside world is behind [`Io`], which tests replace with a fake engine.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{sleep_until, Instant};

use crate::effect::{Effect, StoreRequest};
use crate::engine::{EngineCommand, EngineEvent, ModelSpec, Place};
use crate::msg::{Msg, StoreMsg};
use crate::settings::Settings;
use crate::state::settings_pane::Survey;
use crate::state::{AppState, Viewport};
use crate::ui::{self, TranscriptCache};
use crate::update::update;

/// About 60 frames a second at most: a fast stream cannot flood the terminal.
pub const MIN_FRAME_INTERVAL: Duration = Duration::from_millis(16);
/// Messages taken from a channel per wake-up.
const BATCH: usize = 512;

/// What the effects reach: the engine, the clipboard, the terminal's modes.
pub trait Io {
    fn send(&mut self, command: EngineCommand);
    /// Copies text; returns where it went ("system clipboard").
    fn copy(&mut self, text: &str) -> Result<&'static str, String>;
    fn set_mouse_capture(&mut self, on: bool);
    fn set_title(&mut self, title: &str);
    /// Suspends the process (Ctrl+Z) and returns once it continues.
    fn suspend(&mut self, mouse: bool);
    /// Resolves a `/model` name. The default parses presets, repo ids and folders.
    /// Where `endpoint` runs models (`None`: here) and what `name` means there. The default
    /// knows no endpoints but takes a URL.
    fn parse_model(&self, name: &str, endpoint: Option<&str>) -> Result<(Place, ModelSpec), String> {
        crate::config::RemoteSection::default().model_at(name, endpoint, None)
    }
    /// Starts connecting to `endpoint`; the answer comes as `Msg::EndpointTested`, now (the
    /// returned message) or later through the driver's inbox.
    fn test_endpoint(&mut self, endpoint: String) -> Option<Msg> {
        Some(Msg::EndpointTested {
            endpoint,
            outcome: Err("this window cannot reach servers".into()),
        })
    }
    /// What the settings pane offers: models (presets with their cache state, recent ones),
    /// free memory, GPUs. The default knows the presets and nothing of this machine.
    fn survey(&mut self) -> Survey {
        Survey {
            models: crate::model_survey::presets(),
            ..Survey::default()
        }
    }
    /// Writes `settings` to the config file as the defaults; returns the file written.
    fn save_defaults(&mut self, _settings: &Settings) -> Result<String, String> {
        Err("this window has no config file to write".into())
    }
    /// A model name that loaded (or was asked to), for the pane's recent list.
    fn remember_model(&mut self, _name: &str) {}
    /// Hands a request to the session store; a reply that is ready at once comes back here,
    /// later ones as `Msg::Store` on the driver's channel. The default is a window without a
    /// store: writes are dropped (the chat lives in memory), reads answer that nothing is saved.
    fn store(&mut self, request: StoreRequest) -> Option<Msg> {
        match request {
            StoreRequest::Write(_) => None,
            _ => Some(Msg::Store(StoreMsg::ReadFailed {
                what: "reading sessions",
                message: "no session store is open in this window".into(),
            })),
        }
    }
}

pub struct App<I: Io> {
    pub state: AppState,
    pub cache: TranscriptCache,
    pub io: I,
    dirty: bool,
    clear_before_draw: bool,
    /// Frames drawn so far, for tests and benches.
    pub frames: u64,
}

impl<I: Io> App<I> {
    pub fn new(state: AppState, io: I) -> Self {
        Self {
            state,
            cache: TranscriptCache::default(),
            io,
            dirty: true,
            clear_before_draw: false,
            frames: 0,
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn should_quit(&self) -> bool {
        self.state.should_quit
    }

    /// Handles one message: update, then every effect; effects that report back (clipboard,
    /// model names) are handled in the same step.
    pub fn step(&mut self, msg: Msg) {
        let mut queue = VecDeque::from([msg]);
        while let Some(msg) = queue.pop_front() {
            self.dirty |= msg.changes_screen();
            for effect in update(&mut self.state, msg) {
                queue.extend(self.perform(effect));
            }
        }
    }

    fn perform(&mut self, effect: Effect) -> Option<Msg> {
        match effect {
            Effect::Engine(command) => self.io.send(command),
            Effect::Copy { text, what } => {
                return Some(match self.io.copy(&text) {
                    Ok(place) => Msg::Notice(format!(
                        "copied {what} ({} characters) to the {place}",
                        text.chars().count()
                    )),
                    Err(e) => Msg::Failed(format!("could not copy {what}: {e}")),
                });
            }
            Effect::SetMouseCapture(on) => self.io.set_mouse_capture(on),
            Effect::SetTitle(title) => self.io.set_title(&title),
            Effect::LoadModel { name, endpoint } => {
                return Some(match self.io.parse_model(&name, endpoint.as_deref()) {
                    Ok((place, spec)) => {
                        self.io.remember_model(&name);
                        Msg::ModelChosen {
                            name,
                            spec,
                            endpoint,
                            place,
                        }
                    }
                    Err(e) => Msg::Failed(e),
                });
            }
            Effect::Survey => return Some(Msg::Surveyed(self.io.survey())),
            Effect::TestEndpoint(endpoint) => return self.io.test_endpoint(endpoint),
            Effect::SaveDefaults(settings) => {
                return Some(match self.io.save_defaults(&settings) {
                    Ok(file) => Msg::Notice(format!("applied, and saved as the defaults in {file}")),
                    Err(e) => Msg::Failed(format!("applied to this session, but the defaults were not saved: {e}")),
                });
            }
            Effect::Suspend => {
                self.io.suspend(self.state.mouse_capture);
                self.clear_before_draw = true;
                self.dirty = true;
            }
            Effect::Store(request) => return self.io.store(request),
            Effect::Quit => {}
        }
        None
    }

    /// Draws a frame and reports the transcript's size back to `update`.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> io::Result<()> {
        if std::mem::take(&mut self.clear_before_draw) {
            clear_screen(terminal)?;
        }
        let mut viewport = Viewport::default();
        terminal
            .draw(|frame| viewport = ui::render(&self.state, &mut self.cache, frame))
            .map_err(backend_error)?;
        // A streaming answer held back by the render throttle needs another frame soon.
        self.dirty = self.cache.pending();
        self.frames += 1;
        if viewport != self.state.viewport {
            self.step(Msg::Drawn(viewport));
        }
        Ok(())
    }
}

fn backend_error<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

/// Runs until the user quits (or `msgs` closes). `msgs` carries terminal input and signals;
/// `engine` the engine's events.
pub async fn run_loop<B: Backend, I: Io>(
    app: &mut App<I>,
    terminal: &mut Terminal<B>,
    msgs: &mut UnboundedReceiver<Msg>,
    engine: &mut UnboundedReceiver<EngineEvent>,
) -> io::Result<()> {
    let mut inbox = Vec::with_capacity(BATCH);
    let mut events = Vec::with_capacity(BATCH);
    let mut engine_open = true;
    app.draw(terminal)?;
    let mut last_frame = Instant::now();
    while !app.should_quit() {
        let next_frame = last_frame + MIN_FRAME_INTERVAL;
        tokio::select! {
            biased;
            _ = sleep_until(next_frame), if app.is_dirty() => {
                drain(app, msgs, engine, &mut engine_open);
                if app.should_quit() {
                    break;
                }
                app.draw(terminal)?;
                last_frame = Instant::now();
            }
            n = msgs.recv_many(&mut inbox, BATCH) => {
                if n == 0 {
                    app.step(Msg::Terminate);
                }
                inbox.drain(..).for_each(|msg| app.step(msg));
            }
            n = engine.recv_many(&mut events, BATCH), if engine_open => {
                engine_open = n > 0;
                on_engine(app, events.drain(..), engine_open);
            }
        }
    }
    Ok(())
}

/// Clears the screen and forces a full redraw, without `Terminal::clear`'s cursor-position
/// query: a terminal that never answers it (a multiplexer, a slow link) would make that fail
/// after resuming from Ctrl+Z and end the chat.
fn clear_screen<B: Backend>(terminal: &mut Terminal<B>) -> io::Result<()> {
    terminal
        .backend_mut()
        .clear_region(ratatui::backend::ClearType::All)
        .map_err(backend_error)?;
    // Both buffers blank: the next frame is drawn whole over the cleared screen.
    terminal.swap_buffers();
    terminal.swap_buffers();
    Ok(())
}

/// Takes everything already queued, so a burst of tokens costs one frame.
fn drain<I: Io>(
    app: &mut App<I>,
    msgs: &mut UnboundedReceiver<Msg>,
    engine: &mut UnboundedReceiver<EngineEvent>,
    engine_open: &mut bool,
) {
    while let Ok(msg) = msgs.try_recv() {
        app.step(msg);
    }
    let mut events = Vec::new();
    while let Ok(event) = engine.try_recv() {
        events.push(event);
    }
    on_engine(app, events.into_iter(), *engine_open);
}

fn on_engine<I: Io>(app: &mut App<I>, events: impl Iterator<Item = EngineEvent>, open: bool) {
    let at = std::time::Instant::now();
    for event in events {
        app.step(Msg::Engine { event, at });
    }
    if !open {
        app.step(Msg::Failed(
            "the engine stopped unexpectedly: see the log file, then restart gemma-tui".into(),
        ));
    }
}
