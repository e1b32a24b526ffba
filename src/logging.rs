//! Logs go to a file in the state dir, never to stdout or stderr: the chat screen owns the
//! terminal, and headless mode's stdout carries only the reply.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Starts file logging. `GEMMA_TUI_LOG` sets the filter (default `info`). When the file cannot be
/// opened there is no log at all rather than a log on screen.
pub fn init(file: &Path) {
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(writer) = OpenOptions::new().create(true).append(true).open(file) else {
        return;
    };
    let filter = EnvFilter::try_from_env("GEMMA_TUI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(writer))
        .with_ansi(false)
        .try_init();
}
