//! Tells a crashed writer from a live one, so opening a session marks only truly orphaned
//! answers `Interrupted` and never one another window is still streaming. Each store holds an
//! exclusive SQLite lock on a tiny file `<db>.writers/<token>`; the OS drops that lock when the
//! process dies, even on SIGKILL. Owns only those lock files; must not touch the main database.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::{Connection, OpenFlags};

use super::records::now_ms;

pub(crate) struct WriterLease {
    token: String,
    dir: PathBuf,
    /// Holds the lock for as long as the store lives; `None` when the folder is not writable
    /// (then others may mark our unfinished answers interrupted, and our finish overwrites it).
    held: Option<(Connection, PathBuf)>,
}

impl WriterLease {
    pub(crate) fn acquire(db_path: &Path) -> WriterLease {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}-{}-{n}", std::process::id(), now_ms());
        let dir = lease_dir(db_path);
        let file = dir.join(&token);
        let held = std::fs::create_dir_all(&dir)
            .ok()
            .and_then(|()| lock(&file).ok().map(|c| (c, file)));
        if held.is_none() {
            tracing::warn!(dir = %dir.display(), "cannot hold a writer lease");
        }
        WriterLease { token, dir, held }
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// True while the process that wrote `token` still runs.
    pub(crate) fn is_alive(&self, token: &str) -> bool {
        if token == self.token {
            return true;
        }
        // A token is a file name we made; refuse anything that could leave the folder.
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return false;
        }
        let file = self.dir.join(token);
        if !file.exists() {
            return false;
        }
        match lock(&file) {
            Ok(conn) => {
                // We got the lock, so its owner is gone: tidy its file.
                drop(conn);
                let _ = std::fs::remove_file(&file);
                false
            }
            Err(_) => true,
        }
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        if let Some((conn, file)) = self.held.take() {
            drop(conn);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn lease_dir(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".writers");
    db_path.with_file_name(name)
}

/// Opens `file` and takes its exclusive lock without waiting; fails if someone holds it.
fn lock(file: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(std::time::Duration::ZERO)?;
    conn.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lease(x);")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lease_is_alive_and_a_dropped_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let a = WriterLease::acquire(&db);
        let b = WriterLease::acquire(&db);
        assert_ne!(a.token(), b.token());
        assert!(b.is_alive(a.token()));
        let gone = a.token().to_string();
        drop(a);
        assert!(!b.is_alive(&gone));
        assert!(!b.is_alive("../etc"));
        assert!(b.is_alive(b.token()));
    }
}
