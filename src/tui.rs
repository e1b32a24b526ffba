//! The chat screen's entry: start the engine, set up the terminal, forward terminal input and
//! signals as messages, run the driver, and put the terminal back however it ends.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::app::{self, App, Io};
use crate::clipboard::Clipboard;
use crate::config::RemoteSection;
use crate::effect::StoreRequest;
use crate::engine::source::HubEnv;
use crate::engine::{self, EngineCommand, EngineEnv, EngineHandle, ModelSpec, Place};
use crate::keymap::{KeyOverrides, Keymap};
use crate::msg::{Msg, StoreMsg};
use crate::paste_tail::{KeyRoute, PasteTail};
use crate::paths::Paths;
use crate::sessions_cli::SessionsStart;
use crate::settings::{Settings, SettingsPatch};
use crate::state::settings_pane::Survey;
use crate::state::{AppState, LoadChoice, ModelPhase};
use crate::store::StoreHandle;
use crate::store_link::{self, StoreLink};
use crate::terminal;
use crate::update;

/// How long quitting waits for the store to save what is queued.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Lines one wheel notch scrolls.
const WHEEL_LINES: i16 = 3;

/// What the chat screen starts with.
pub struct Start {
    /// The defaults, the config file and the flags, merged.
    pub settings: Settings,
    /// The defaults and the config file alone: what "save as default" is measured against.
    pub defaults: Settings,
    pub config_file: PathBuf,
    /// Unknown keys in the config file, to show once.
    pub warnings: Vec<String>,
    /// The flags alone: given with `--resume`, they win over the session's saved settings.
    pub flags: SettingsPatch,
    /// The config file's `[keys]` overrides.
    pub keys: KeyOverrides,
    pub model: ModelSpec,
    pub hub: HubEnv,
    /// Where local models come from, and where the first one runs.
    pub env: EngineEnv,
    pub place: Place,
    /// The config's endpoints (the settings pane offers them) and `--api-key-env`.
    pub remote: RemoteSection,
    pub api_key_env: Option<String>,
    pub sessions: SessionsStart,
}

/// Opens the chat screen and returns when the user quits.
pub fn run(start: Start, paths: &Paths) -> Result<(), String> {
    let keymap = Keymap::with_overrides(&start.keys)?;
    tracing::info!(log = %paths.log_file().display(), model = %start.model.display_name(), "chat screen starting");
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let result = runtime.block_on(chat(start, keymap, paths));
    // mistral.rs keeps engine threads; the conversation is over, so do not wait on them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

async fn chat(start: Start, keymap: Keymap, paths: &Paths) -> Result<(), String> {
    let Start {
        settings,
        defaults,
        config_file,
        warnings,
        flags,
        model,
        hub,
        env,
        place,
        remote,
        api_key_env,
        sessions,
        ..
    } = start;
    let (engine, mut engine_events) = engine::start(env, place.clone());
    engine.send(settings.load_command(model.clone()));
    let first_load = LoadChoice::new(
        settings.model.clone(),
        model.clone(),
        settings.endpoint.clone(),
        place,
        &settings,
    );
    // Syntaxes and themes take a moment to load: do it now, off the first frame's path.
    std::thread::spawn(crate::markdown::warm_up);
    let mut state = AppState::new(model.display_name(), keymap, settings);
    state.defaults = defaults;
    state.pending_load = Some(first_load);
    state.model.phase = ModelPhase::Resolving;
    update::show_caveats(&mut state);
    if !warnings.is_empty() {
        state.banner = Some(warnings.join("; "));
    }

    let guard = terminal::enter(state.mouse_capture).map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let mut screen =
        Terminal::new(CrosstermBackend::new(io::stdout())).map_err(|e| format!("cannot use the terminal: {e}"))?;
    let (tx, mut msgs) = unbounded_channel();
    let inbox = tx.clone();
    forward_terminal_events(tx.clone());
    let store = start_store(&mut state, sessions.store, &tx);
    forward_signals(tx).map_err(|e| format!("cannot watch for signals: {e}"))?;

    let mut app = App::new(
        state,
        TerminalIo {
            engine,
            clipboard: Clipboard::default(),
            store,
            hub,
            config_file,
            recent_file: paths.state_dir.join("recent-models"),
            remote,
            api_key_env,
            inbox: inbox.clone(),
        },
    );
    if let Some(session) = sessions.resume {
        app.step(Msg::Store(StoreMsg::Opened(session)));
        // Flags given with --resume win over what the session saved, and are saved with it.
        let asked_now = flags.session_part();
        if !asked_now.is_empty() {
            app.step(Msg::ApplySettings(asked_now));
        }
    }
    let result = app::run_loop(&mut app, &mut screen, &mut msgs, &mut engine_events).await;
    if result.is_err() && !app.should_quit() {
        // The terminal failed under us (closed, hung up): quit as on SIGTERM, so the answer
        // being written is saved and marked interrupted.
        app.step(Msg::Terminate);
    }
    // Save what is queued (the last answer, marked interrupted on quit) before leaving.
    let flushed = match &app.io.store {
        Some(link) => flush(link.handle()).await,
        None => Ok(()),
    };
    drop(guard);
    result.map_err(|e| format!("the terminal failed: {e}"))?;
    flushed
}

/// Starts the store's actor and reports how opening went into the state's banner. Without a
/// store the chat still runs, unsaved.
fn start_store(
    state: &mut AppState,
    opened: Result<(crate::store::Store, crate::store::OpenReport), String>,
    replies: &UnboundedSender<Msg>,
) -> Option<StoreLink> {
    let (store, report) = match opened {
        Ok(opened) => opened,
        Err(why) => {
            tracing::error!(error = %why, "session store unavailable");
            update::store_unavailable(state, &why);
            return None;
        }
    };
    update::store_opened(state, &report);
    let (events_tx, events) = unbounded_channel();
    match StoreHandle::spawn(store, events_tx) {
        Ok(handle) => {
            store_link::forward_events(events, replies.clone());
            Some(StoreLink::new(handle, replies.clone()))
        }
        Err(e) => {
            update::store_unavailable(state, &format!("cannot start the store thread: {e}"));
            None
        }
    }
}

async fn flush(handle: &StoreHandle) -> Result<(), String> {
    match tokio::time::timeout(FLUSH_TIMEOUT, handle.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("the last changes to this session were not saved: {e}")),
        Err(_) => Err(format!(
            "saving the session took longer than {} s; the last changes may be lost",
            FLUSH_TIMEOUT.as_secs()
        )),
    }
}

/// The real outside world.
struct TerminalIo {
    engine: EngineHandle,
    clipboard: Clipboard,
    store: Option<StoreLink>,
    hub: HubEnv,
    config_file: PathBuf,
    recent_file: PathBuf,
    remote: RemoteSection,
    api_key_env: Option<String>,
    /// The driver's inbox, for answers that come later (a connection test).
    inbox: UnboundedSender<Msg>,
}

impl Io for TerminalIo {
    fn send(&mut self, command: EngineCommand) {
        self.engine.send(command);
    }
    fn copy(&mut self, text: &str) -> Result<&'static str, String> {
        self.clipboard.copy(text)
    }
    fn set_mouse_capture(&mut self, on: bool) {
        terminal::set_mouse_capture(on);
    }
    fn set_title(&mut self, title: &str) {
        terminal::set_title(title);
    }
    fn suspend(&mut self, mouse: bool) {
        if let Err(e) = terminal::suspend(mouse) {
            tracing::warn!("suspend failed: {e}");
        }
    }
    fn parse_model(&self, name: &str, endpoint: Option<&str>) -> Result<(Place, ModelSpec), String> {
        self.remote.model_at(name, endpoint, self.api_key_env.as_deref())
    }
    fn survey(&mut self) -> Survey {
        Survey {
            endpoints: self.remote.names(),
            ..crate::model_survey::survey(&self.hub, &self.recent_file)
        }
    }
    fn test_endpoint(&mut self, endpoint: String) -> Option<Msg> {
        let place = self.remote.place(Some(&endpoint), self.api_key_env.as_deref());
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let outcome = match place {
                Ok(engine::Place::Server(config)) => crate::engine::remote::probe(config).await,
                Ok(engine::Place::Here) => Err("this machine is not a server".into()),
                Err(e) => Err(e),
            };
            let _ = inbox.send(Msg::EndpointTested { endpoint, outcome });
        });
        None
    }
    fn save_defaults(&mut self, settings: &Settings) -> Result<String, String> {
        crate::config::save_defaults(&self.config_file, settings)
    }
    fn remember_model(&mut self, name: &str) {
        crate::model_survey::remember(&self.recent_file, name);
    }
    fn store(&mut self, request: StoreRequest) -> Option<Msg> {
        match &self.store {
            Some(link) => link.perform(request),
            None => None,
        }
    }
}

/// Reads crossterm's event stream in its own task (its cancel-safety inside `select!` is not
/// documented) and forwards what the chat screen uses; keys that finish a paste cut short by
/// its own end marker go on as pasted text (see `paste_tail`).
fn forward_terminal_events(tx: UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        let mut paste_tail = PasteTail::default();
        while let Some(event) = events.next().await {
            let msg = match event {
                Ok(event) => to_msg(event, &mut paste_tail, Instant::now()),
                Err(e) => {
                    tracing::warn!("terminal input failed: {e}");
                    Some(Msg::Terminate)
                }
            };
            if let Some(msg) = msg {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        }
    });
}

fn to_msg(event: Event, paste_tail: &mut PasteTail, now: Instant) -> Option<Msg> {
    match event {
        Event::Key(key) => match paste_tail.route(&key, now) {
            KeyRoute::Typed => Some(Msg::Key(key)),
            KeyRoute::Pasted(c) => Some(Msg::Paste(c.to_string())),
            KeyRoute::Dropped => None,
        },
        Event::Paste(text) => {
            paste_tail.on_paste(now);
            Some(Msg::Paste(text))
        }
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        // Moves and drags are not forwarded: each would cost a wake-up for nothing.
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Msg::Wheel(-WHEEL_LINES)),
            MouseEventKind::ScrollDown => Some(Msg::Wheel(WHEEL_LINES)),
            _ => None,
        },
        _ => None,
    }
}

/// SIGTERM, SIGHUP and SIGINT end the chat screen the normal way, restoring the terminal.
#[cfg(unix)]
fn forward_signals(tx: UnboundedSender<Msg>) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = hup.recv() => tracing::info!("SIGHUP"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
        let _ = tx.send(Msg::Terminate);
    });
    Ok(())
}

#[cfg(not(unix))]
fn forward_signals(_tx: UnboundedSender<Msg>) -> io::Result<()> {
    Ok(())
}
