//! The session store: every conversation saved in one SQLite file so users can come back to it.
//! This module owns the connection and opening it (pragmas, migrations, corrupt-file rescue,
//! read-only fallback); the submodules own records, SQL for writes and reads, export/import and
//! the background actor. Nothing outside `store/` may write SQL; the UI talks to
//! [`StoreHandle`] and shows [`StoreEvent`]s, it must not hold a [`Store`] on its async tasks.
//!
//! Durability choices: WAL journal so readers never block the writer and a killed process
//! can't damage the file; `synchronous = FULL` so a commit is on disk before we report it
//! saved (writes are human-paced, one fsync each costs nothing noticeable, while NORMAL could
//! drop the last messages on power loss); `busy_timeout` and IMMEDIATE transactions so two
//! windows on one file queue up instead of failing.

mod actor;
mod error;
mod export;
mod liveness;
mod open;
mod ops;
mod queries;
mod records;
mod schema;
mod snippet;
mod writes;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use actor::{StoreEvent, StoreHandle};
pub use error::StoreError;
pub use export::utc as format_utc;
pub use ops::WriteOp;
pub use records::{
    now_ms, FinishRecord, MessageId, MessageRecord, NewSession, Role, SamplingRecord, SearchHit, Session, SessionId,
    SessionSummary, UsageRecord, SNIPPET_END, SNIPPET_START,
};
pub use schema::SCHEMA_VERSION;

use liveness::WriterLease;

/// How long a writer waits for another window's transaction before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a store was opened read-only; show it in a banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlyReason {
    /// A newer gemma-tui wrote this file; we may read but not change it.
    NewerSchema { found: u32, known: u32 },
    /// The file or its folder cannot be written (permissions, read-only mount).
    NotWritable { detail: String },
}

impl std::fmt::Display for ReadOnlyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadOnlyReason::NewerSchema { found, known } => write!(
                f,
                "sessions were saved by a newer gemma-tui (schema {found}, this build knows \
                 {known}); read-only until you upgrade"
            ),
            ReadOnlyReason::NotWritable { detail } => {
                write!(f, "session file is not writable ({detail}); read-only")
            }
        }
    }
}

/// What happened while opening, for the UI to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub path: PathBuf,
    /// Schema version found on disk before any migration (0 = new file).
    pub found_version: u32,
    pub read_only: Option<ReadOnlyReason>,
    /// Where a damaged database was moved (never deleted) before a fresh one was created.
    pub corrupt_moved_to: Option<PathBuf>,
}

/// A synchronous handle on the database. It blocks: use it from [`StoreHandle`]'s thread,
/// tests and tools, never directly on the async runtime.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    read_only: Option<ReadOnlyReason>,
    lease: WriterLease,
}

impl Store {
    /// Opens (creating the parent folder and file if needed) and migrates the database. A
    /// damaged file is moved aside and replaced; a newer or unwritable one opens read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<(Store, OpenReport), StoreError> {
        let path = path.as_ref().to_path_buf();
        create_parent(&path)?;
        let opened = open::open_or_rescue(&path)?;
        let report = OpenReport {
            path: path.clone(),
            found_version: opened.found_version,
            read_only: opened.read_only.clone(),
            corrupt_moved_to: opened.moved_to,
        };
        let store = Store {
            conn: opened.conn,
            lease: WriterLease::acquire(&path),
            path,
            read_only: opened.read_only,
        };
        Ok((store, report))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read_only(&self) -> Option<&ReadOnlyReason> {
        self.read_only.as_ref()
    }

    /// If the file was not writable when opened, tries again (permissions may be fixed now).
    pub fn retry_writable(&mut self) {
        if !matches!(self.read_only, Some(ReadOnlyReason::NotWritable { .. })) {
            return;
        }
        if let Ok(opened) = open::open_existing(&self.path) {
            if opened.read_only.is_none() {
                self.conn = opened.conn;
                self.read_only = None;
                tracing::info!(path = %self.path.display(), "session file writable again");
            }
        }
    }

    /// The file this store holds open was removed (its data folder deleted, say) while the
    /// program runs. SQLite would go on writing to the unlinked file, and all saved from then on
    /// would be gone at exit: write what the open file holds to a new file at the same path
    /// (`VACUUM INTO`, one consistent copy) and go on there. Called before every write; a `stat`
    /// costs nothing next to the fsync the write makes.
    fn recreate_if_removed(&mut self) -> Result<(), StoreError> {
        if self.read_only.is_some() || self.path.try_exists().unwrap_or(true) {
            return Ok(());
        }
        tracing::warn!(path = %self.path.display(), "session file removed while open; writing it again");
        create_parent(&self.path)?;
        let target = self.path.to_string_lossy().into_owned();
        self.conn
            .execute("VACUUM INTO ?1", [&target])
            .map_err(|e| StoreError::sql(&self.path, "write the removed session file again", e))?;
        let opened = open::open_existing(&self.path)?;
        self.conn = opened.conn;
        self.read_only = opened.read_only;
        self.lease = WriterLease::acquire(&self.path);
        Ok(())
    }

    /// Fails fast when this store may not write, with the reason the user can act on; first
    /// brings back a session file removed under us.
    fn check_writable(&mut self, op: &'static str) -> Result<(), StoreError> {
        self.recreate_if_removed()?;
        match &self.read_only {
            None => Ok(()),
            Some(ReadOnlyReason::NewerSchema { found, known }) => Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: *found,
                known: *known,
            }),
            Some(ReadOnlyReason::NotWritable { detail }) => Err(StoreError::ReadOnly {
                path: self.path.clone(),
                op,
                detail: detail.clone(),
            }),
        }
    }

    fn sql_err(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::sql(&self.path, op, e)
    }

    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Makes the folder the database file goes in.
fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_fuzz;
