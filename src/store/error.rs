//! The store's error type and the sorting of SQLite failures into ones worth retrying (disk
//! full, read-only, busy) and ones that are not. Owns messages shown to the user; must not
//! run SQL or decide what the UI does with them.

use std::path::PathBuf;

use rusqlite::ErrorCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}; check its permissions or set another data directory")]
    CreateDir { path: PathBuf, source: std::io::Error },

    #[error("cannot open the session database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },

    #[error("the session database {path} is damaged and could not be moved aside to {backup}: {source}; move it away by hand and restart")]
    MoveAside {
        path: PathBuf,
        backup: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the disk holding {path} is full while {op}; free some space (unsaved messages are kept in memory and retried)"
    )]
    DiskFull { path: PathBuf, op: &'static str },

    #[error("{path} is read-only while {op}: {detail}; check the file and folder permissions (unsaved messages are kept in memory and retried)")]
    ReadOnly {
        path: PathBuf,
        op: &'static str,
        detail: String,
    },

    #[error("{path} was written by a newer gemma-tui (schema {found}, this build knows {known}); it is open read-only, upgrade gemma-tui to save changes")]
    NewerSchema { path: PathBuf, found: u32, known: u32 },

    #[error("{path} is locked by another gemma-tui for too long while {op}; try again")]
    Busy { path: PathBuf, op: &'static str },

    #[error("session database {path}: {op} failed: {source}")]
    Sqlite {
        path: PathBuf,
        op: &'static str,
        source: rusqlite::Error,
    },

    #[error("no session with id `{id}`; list sessions to see valid ids")]
    SessionNotFound { id: String },

    #[error("no message with id {id}; it may have been deleted with its session")]
    MessageNotFound { id: i64 },

    #[error("`{given}` is not a session id: ids are up to 64 letters and digits, as shown in the session list")]
    BadSessionId { given: String },

    #[error("{field}: {reason}; use a finite number or leave it unset")]
    InvalidField { field: &'static str, reason: String },

    #[error("cannot import the session: {reason}")]
    Import { reason: String },

    #[error("session database {path}: stored row is invalid ({detail}); export what loads and report a bug")]
    BadRow { path: PathBuf, detail: String },

    #[error("the store has shut down; restart gemma-tui")]
    Closed,

    #[error("{pending} change(s) could not be saved yet: {last_error}")]
    Unsaved { pending: usize, last_error: String },
}

impl StoreError {
    /// Worth retrying later: the same write may succeed once space is freed, permissions are
    /// fixed, or the other window lets go of its lock.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::DiskFull { .. } | StoreError::ReadOnly { .. } | StoreError::Busy { .. }
        ) || matches!(self, StoreError::Sqlite { source, .. }
            if source.sqlite_error_code() == Some(ErrorCode::SystemIoFailure))
    }

    /// Sorts a SQLite failure into a variant the user can act on.
    pub(crate) fn sql(path: &std::path::Path, op: &'static str, e: rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path, op },
            Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => StoreError::ReadOnly {
                path,
                op,
                detail: e.to_string(),
            },
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy { path, op },
            _ => StoreError::Sqlite { path, op, source: e },
        }
    }
}
