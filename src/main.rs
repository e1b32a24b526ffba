//! Entry point: parse flags, start logging, read the config, then answer headlessly or (once
//! the chat screen lands) open it.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Parser;

use gemma_tui::cli::{Cli, Command};
use gemma_tui::config::Config;
use gemma_tui::engine::source::HubEnv;
use gemma_tui::engine::{EngineEnv, Place};
use gemma_tui::headless::{self, Ended, HeadlessRequest};
use gemma_tui::paths::Paths;
use gemma_tui::settings::SettingsPatch;
use gemma_tui::{logging, panic_hook};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::from_env();
    logging::init(&paths.log_file());
    panic_hook::install();
    match run(cli, &paths) {
        Ok(code) => code,
        Err(message) => {
            // Never panic over a closed stderr (a terminal that went away).
            let _ = writeln!(std::io::stderr(), "gemma-tui: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut cli: Cli, paths: &Paths) -> Result<ExitCode, String> {
    // Session commands need no config and load no model.
    if let Some(Command::Sessions { action }) = cli.command.take() {
        return gemma_tui::sessions_cli::run(action, paths);
    }
    let config_file = cli.config.clone().unwrap_or_else(|| paths.config_file());
    let config = Config::load(&config_file).map_err(|e| e.to_string())?;
    let warnings = config.warnings(&config_file);
    let flags = SettingsPatch::from(&cli);
    let defaults = config.settings();
    let settings = defaults.clone().patched(&flags);
    let hub = HubEnv::from_process();
    let env = EngineEnv {
        hub: hub.clone(),
        quant_cache: Some(paths.quant_cache()),
    };
    let key_env = cli.api_key_env.as_deref();
    let mut settings = settings;
    if let Place::Server(remote) = config.remote.place(settings.endpoint.as_deref(), key_env)? {
        // A server names its models itself: `--model`, else the endpoint's `model`, else the
        // server's own (a preset name is sent as its repo id).
        settings.model = cli.model.clone().or_else(|| remote.model.clone()).unwrap_or_default();
    }
    let (place, model) = config
        .remote
        .model_at(&settings.model, settings.endpoint.as_deref(), key_env)?;

    let Some(prompt) = cli.prompt.as_deref() else {
        // Before the terminal is taken: an unknown --resume id fails here, changing nothing.
        let sessions = gemma_tui::sessions_cli::start_chat(paths, cli.resume.as_deref())?;
        let start = gemma_tui::tui::Start {
            settings,
            defaults,
            config_file,
            warnings,
            flags,
            keys: config.keys,
            model,
            hub,
            env,
            place,
            remote: config.remote.clone(),
            api_key_env: cli.api_key_env.clone(),
            sessions,
        };
        gemma_tui::tui::run(start, paths)?;
        return Ok(ExitCode::SUCCESS);
    };
    for warning in &warnings {
        eprintln!("gemma-tui: warning: {warning}");
    }
    let prompt = if prompt == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the prompt from stdin: {e}"))?;
        text
    } else {
        prompt.to_string()
    };
    let request = HeadlessRequest {
        load: settings.load_command(model),
        env,
        place,
        system: settings.system_prompt.clone(),
        prompt,
        sampling: settings.sampling.clone(),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let ended = runtime.block_on(headless::run(request));
    // mistral.rs keeps engine threads; the answer is out, so do not wait on them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match ended? {
        Ended::Answered => Ok(ExitCode::SUCCESS),
        Ended::Interrupted => Ok(ExitCode::from(130)),
    }
}
