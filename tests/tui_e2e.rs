//! The chat screen from the outside: the driver loop with a scripted fake engine (no terminal,
//! paused time), and the real `gemma-tui` binary in a pseudo-terminal on the tiny Gemma 2.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/tiny_gemma.rs"]
mod tiny_gemma;

#[path = "tui/harness.rs"]
mod harness;

#[cfg(unix)]
#[allow(dead_code)]
#[path = "support/mistral_server.rs"]
mod mistral_server;

#[cfg(unix)]
#[path = "tui/pty.rs"]
mod pty;

#[cfg(unix)]
#[path = "tui/sessions_pty.rs"]
mod sessions_pty;

#[cfg(unix)]
#[path = "tui/settings_pty.rs"]
mod settings_pty;

#[cfg(unix)]
#[path = "tui/remote_pty.rs"]
mod remote_pty;

#[cfg(unix)]
#[path = "tui/faults_pty.rs"]
mod faults_pty;
