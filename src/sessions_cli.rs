//! `gemma-tui sessions list|export|import` and finding the session `--resume` names. Opens the
//! store synchronously (no runtime, no model) and prints; owns the text of those commands. Must
//! not start the chat screen or touch the engine.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{Cli, ExportFormat, SessionsCommand};
use crate::paths::Paths;
use crate::sanitize::sanitize;
use crate::store::{format_utc, OpenReport, Session, SessionId, Store, StoreError};

/// What the chat screen starts with: the store (or why it could not be opened) and a
/// session to resume.
pub struct SessionsStart {
    pub store: Result<(Store, OpenReport), String>,
    pub resume: Option<Session>,
    /// Flags given with `--resume` changed the session's settings: save them with it.
    pub settings_changed: bool,
}

/// Opens the store for the chat screen and loads the session `--resume` names. A store that
/// cannot be opened does not stop the chat (it runs unsaved), but it does stop a resume, as
/// does an unknown id: then nothing has been changed.
pub fn start_chat(paths: &Paths, cli: &Cli) -> Result<SessionsStart, String> {
    let path = paths.sessions_db();
    if let Some(which) = cli.resume.as_deref() {
        if !path.exists() {
            return Err(format!(
                "cannot resume `{which}`: there are no saved sessions yet ({} does not exist)",
                path.display()
            ));
        }
        let (mut store, report) = Store::open(&path).map_err(|e| format!("cannot resume `{which}`: {e}"))?;
        let mut session = find(&mut store, which)?;
        let settings_changed = apply_flags(&mut session, cli);
        return Ok(SessionsStart {
            store: Ok((store, report)),
            resume: Some(session),
            settings_changed,
        });
    }
    Ok(SessionsStart {
        store: Store::open(&path).map_err(|e| e.to_string()),
        resume: None,
        settings_changed: false,
    })
}

/// Sampling and system-prompt flags given with `--resume` win over what the session saved
/// (the user asked for them now). Returns whether anything changed.
pub fn apply_flags(session: &mut Session, cli: &Cli) -> bool {
    let before = (session.system_prompt.clone(), session.sampling.clone());
    if let Some(system) = &cli.system {
        session.system_prompt = Some(system.clone()).filter(|s| !s.trim().is_empty());
    }
    let s = &mut session.sampling;
    s.max_new_tokens = cli.max_tokens.unwrap_or(s.max_new_tokens);
    s.temperature = cli.temperature.or(s.temperature);
    s.top_k = cli.top_k.or(s.top_k);
    s.top_p = cli.top_p.or(s.top_p);
    s.min_p = cli.min_p.or(s.min_p);
    s.repetition_penalty = cli.repetition_penalty.or(s.repetition_penalty);
    s.frequency_penalty = cli.frequency_penalty.or(s.frequency_penalty);
    s.presence_penalty = cli.presence_penalty.or(s.presence_penalty);
    before != (session.system_prompt.clone(), session.sampling.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SamplingRecord;

    fn session() -> Session {
        Session {
            id: "abc".parse().expect("id"),
            title: "t".into(),
            created_at: 0,
            updated_at: 0,
            system_prompt: Some("saved prompt".into()),
            model: "m".into(),
            sampling: SamplingRecord {
                temperature: Some(0.2),
                top_k: Some(5),
                ..SamplingRecord::default()
            },
            messages: Vec::new(),
        }
    }

    #[test]
    fn flags_given_with_resume_override_the_saved_settings_and_nothing_else() {
        let mut s = session();
        assert!(!apply_flags(&mut s, &Cli::default()), "no flags, no change");
        assert_eq!(s, session());
        let cli = Cli {
            temperature: Some(0.9),
            system: Some("new prompt".into()),
            ..Cli::default()
        };
        assert!(apply_flags(&mut s, &cli));
        assert_eq!(s.sampling.temperature, Some(0.9));
        assert_eq!(s.sampling.top_k, Some(5), "kept");
        assert_eq!(s.system_prompt.as_deref(), Some("new prompt"));
    }
}
