//! Opening the database file: pragmas, integrity check, migrations, moving a damaged file
//! aside (never deleting it) and falling back to read-only. Must not touch session rows.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, MAIN_DB};

use super::error::StoreError;
use super::records::now_ms;
use super::schema::{self, SCHEMA_VERSION};
use super::{ReadOnlyReason, BUSY_TIMEOUT};

pub(crate) struct Opened {
    pub conn: Connection,
    pub found_version: u32,
    pub read_only: Option<ReadOnlyReason>,
    pub moved_to: Option<PathBuf>,
}

/// Opens `path`; if it is damaged, moves it (and its WAL files) aside and starts fresh.
pub(crate) fn open_or_rescue(path: &Path) -> Result<Opened, StoreError> {
    match open_existing(path) {
        Err(StoreError::Open { source, .. }) if is_corruption(&source) => {
            tracing::error!(path = %path.display(), error = %source, "session database damaged");
            let backup = move_aside(path)?;
            let mut opened = open_existing(path)?;
            opened.moved_to = Some(backup);
            Ok(opened)
        }
        other => other,
    }
}

/// Opens and migrates without rescuing. Unwritable files come back read-only, not as errors.
pub(crate) fn open_existing(path: &Path) -> Result<Opened, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = match Connection::open(path) {
        Ok(c) => c,
        Err(e) if is_permission(&e) && path.exists() => {
            return open_read_only(path, e.to_string());
        }
        Err(e) => return Err(open_err(e)),
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    check_integrity(&conn, path).map_err(open_err)?;
    let found = schema::user_version(&conn).map_err(open_err)?;
    if found > SCHEMA_VERSION {
        drop(conn);
        return open_read_only_newer(path, found);
    }
    if conn.is_readonly(MAIN_DB).unwrap_or(false) {
        drop(conn);
        return open_read_only(path, "the file is write-protected".into());
    }
    match configure_and_migrate(conn) {
        Ok(conn) => Ok(Opened {
            conn,
            found_version: found,
            read_only: None,
            moved_to: None,
        }),
        // The folder may forbid the WAL files even though the file itself is writable.
        Err(e) if is_permission(&e) && found == SCHEMA_VERSION => open_read_only(path, e.to_string()),
        Err(e) => Err(open_err(e)),
    }
}

fn configure_and_migrate(mut conn: Connection) -> rusqlite::Result<Connection> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "WAL journal unavailable; using {mode}");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

fn open_read_only(path: &Path, detail: String) -> Result<Opened, StoreError> {
    let conn = read_only_conn(path)?;
    let found = schema::user_version(&conn).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let read_only = if found > SCHEMA_VERSION {
        ReadOnlyReason::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        }
    } else {
        ReadOnlyReason::NotWritable { detail }
    };
    tracing::warn!(path = %path.display(), reason = %read_only, "session database read-only");
    Ok(Opened {
        conn,
        found_version: found,
        read_only: Some(read_only),
        moved_to: None,
    })
}

fn open_read_only_newer(path: &Path, found: u32) -> Result<Opened, StoreError> {
    let conn = read_only_conn(path)?;
    Ok(Opened {
        conn,
        found_version: found,
        read_only: Some(ReadOnlyReason::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        }),
        moved_to: None,
    })
}

fn read_only_conn(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    // Belt and braces: even if the OS would allow it, this connection never writes.
    let _ = conn.pragma_update(None, "query_only", true);
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    Ok(conn)
}

/// Files up to this size get a full `quick_check` on open (well under 100 ms); bigger ones
/// check only the session table, so a heavy user's startup stays quick.
const FULL_CHECK_MAX_BYTES: u64 = 32 << 20;

/// `quick_check` reads every page once: a scribbled file fails here rather than halfway
/// through a conversation. (Truncation is caught even without it: SQLite refuses a file
/// shorter than its header says.)
fn check_integrity(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let sql = if size <= FULL_CHECK_MAX_BYTES {
        "PRAGMA quick_check(1)"
    } else {
        "PRAGMA quick_check(sessions)"
    };
    let verdict: String = conn.query_row(sql, [], |r| r.get(0))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(verdict),
        ))
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase)
    )
}

fn is_permission(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) | Some(ErrorCode::CannotOpen)
    )
}

/// Renames `<name>` to `<name>.corrupt-<unix-ms>`, carrying its `-wal`/`-shm` along.
fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{}", now_ms()));
    let backup = path.with_file_name(name);
    std::fs::rename(path, &backup).map_err(|source| StoreError::MoveAside {
        path: path.to_path_buf(),
        backup: backup.clone(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(path, suffix);
        if side.exists() {
            let _ = std::fs::rename(&side, with_suffix(&backup, suffix));
        }
    }
    Ok(backup)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}
