//! `gemma-tui sessions list|export|import` and finding the session `--resume` names. Opens the
//! store synchronously (no runtime, no model) and prints; owns the text of those commands. Must
//! not start the chat screen or touch the engine.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{ExportFormat, SessionsCommand};
use crate::paths::Paths;
use crate::sanitize::sanitize;
use crate::store::{format_utc, OpenReport, Session, SessionId, Store, StoreError};

/// What the chat screen starts with: the store (or why it could not be opened) and a
/// session to resume.
pub struct SessionsStart {
    pub store: Result<(Store, OpenReport), String>,
    pub resume: Option<Session>,
}

/// Opens the store for the chat screen and loads the session `resume` names. A store that
/// cannot be opened does not stop the chat (it runs unsaved), but it does stop a resume, as
/// does an unknown id: then nothing has been changed.
pub fn start_chat(paths: &Paths, resume: Option<&str>) -> Result<SessionsStart, String> {
    let path = paths.sessions_db();
    if let Some(which) = resume {
        if !path.exists() {
            return Err(format!(
                "cannot resume `{which}`: there are no saved sessions yet ({} does not exist)",
                path.display()
            ));
        }
        let (mut store, report) = Store::open(&path).map_err(|e| format!("cannot resume `{which}`: {e}"))?;
        let session = find(&mut store, which)?;
        return Ok(SessionsStart {
            store: Ok((store, report)),
            resume: Some(session),
        });
    }
    Ok(SessionsStart {
        store: Store::open(&path).map_err(|e| e.to_string()),
        resume: None,
    })
}

/// The session `which` names ("last", or an id) with its messages, for showing.
fn find(store: &mut Store, which: &str) -> Result<Session, String> {
    let id = resolve(store, which)?;
    store.open_session(&id).map_err(|e| match e {
        StoreError::SessionNotFound { .. } => not_found(which),
        e => e.to_string(),
    })
}

fn not_found(which: &str) -> String {
    format!("no saved session `{which}`: `gemma-tui sessions list` shows the ids")
}

fn resolve(store: &Store, which: &str) -> Result<SessionId, String> {
    if which.trim().eq_ignore_ascii_case("last") {
        let list = store.list_sessions().map_err(|e| e.to_string())?;
        return list
            .into_iter()
            .next()
            .map(|s| s.id)
            .ok_or_else(|| "there are no saved sessions yet: chat first, then resume".to_string());
    }
    which.parse::<SessionId>().map_err(|e| e.to_string())
}

/// Runs a `sessions` subcommand. Output goes to stdout; errors are returned for `main`.
pub fn run(command: SessionsCommand, paths: &Paths) -> Result<ExitCode, String> {
    let (mut store, _report) = Store::open(paths.sessions_db()).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let text = match command {
        SessionsCommand::List => {
            let text = list(&store)?;
            if text.is_empty() {
                eprintln!("no saved sessions yet in {}", store.path().display());
            }
            text
        }
        SessionsCommand::Export { id, format } => {
            let id = resolve(&store, &id)?;
            let text = match format {
                ExportFormat::Md => store.export_markdown(&id),
                ExportFormat::Json => store.export_json(&id),
            }
            .map_err(|e| match e {
                StoreError::SessionNotFound { .. } => not_found(id.as_str()),
                e => e.to_string(),
            })?;
            ensure_newline(text)
        }
        SessionsCommand::Import { file } => format!("{}\n", import(&mut store, &file)?),
    };
    // Saved text is raw: escape sequences in it must not reach a terminal.
    let text = if out.is_terminal() {
        sanitize(&text).into_owned()
    } else {
        text
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn ensure_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// One line per session: id, last use, message count, model, title (tab-separated, so
/// scripts can cut columns).
fn list(store: &Store) -> Result<String, String> {
    let sessions = store.list_sessions().map_err(|e| e.to_string())?;
    if sessions.is_empty() {
        return Ok(String::new());
    }
    let mut text = String::from("ID\tUPDATED\tMESSAGES\tMODEL\tTITLE\n");
    for s in sessions {
        let title = s.title.replace(['\t', '\n', '\r'], " ");
        text += &format!(
            "{}\t{}\t{}\t{}\t{}\n",
            s.id,
            format_utc(s.updated_at),
            s.message_count,
            s.model,
            title
        );
    }
    Ok(text)
}

fn import(store: &mut Store, file: &Path) -> Result<String, String> {
    let json =
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}; check the path", file.display()))?;
    let id = store
        .import_json(&json)
        .map_err(|e| format!("{}: {e}; nothing was imported", file.display()))?;
    Ok(id.to_string())
}
