//! One panic hook for the whole program: every panic goes to the log file; the terminal sees a
//! panic only when no one is going to catch it.
//!
//! mistral.rs 0.8.1 panics on some malformed model files. The engine catches those panics and
//! turns them into errors, but Rust's default hook would still print the panic message (possibly
//! from one of mistral.rs's own threads) onto the user's screen first. While a [`QuietSection`]
//! is alive, panics are logged and not printed. Otherwise the chat screen's terminal modes are
//! restored before the report is printed.

use std::sync::atomic::{AtomicUsize, Ordering};

static QUIET_SECTIONS: AtomicUsize = AtomicUsize::new(0);

tokio::task_local! {
    /// Set while a task runs code whose panics are caught (the engine worker's commands).
    static CAUGHT: ();
}

/// Runs `f` with its panics only logged: the caller catches them (the hook runs inside the
/// panicking poll, so it sees this task's mark).
pub async fn caught<F: std::future::Future>(f: F) -> F::Output {
    CAUGHT.scope((), f).await
}

/// Installs the hook; call once, after logging is set up.
pub fn install() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let quiet = QUIET_SECTIONS.load(Ordering::SeqCst) > 0 || CAUGHT.try_with(|_| ()).is_ok();
        tracing::error!(quiet, "panic{location}: {}", panic_message(info.payload()));
        if !quiet {
            // Put the terminal back first, or the report would land on the alternate screen in
            // raw mode and vanish with it.
            crate::terminal::restore();
            default_hook(info);
        }
    }));
}

/// While alive, panics are only logged.
pub struct QuietSection(());

impl QuietSection {
    pub fn enter() -> Self {
        QUIET_SECTIONS.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for QuietSection {
    fn drop(&mut self) {
        QUIET_SECTIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
