//! The database layout and its forward migrations, as an ordered list; `PRAGMA user_version`
//! counts how many have run. Owns DDL only: never edit a shipped step, append a new one.

use rusqlite::{Connection, TransactionBehavior};

/// Step `i` takes a database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1_BASE, V2_FTS_AND_COUNTERS];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Version 1: sessions and their messages. Sampling lives in columns so a bad value can't hide
/// in a blob. `finish` NULL = answer still streaming; `writer` names the live process
/// streaming it (see `liveness.rs`). `seq` orders messages within a session.
pub(crate) const V1_BASE: &str = r#"
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY NOT NULL,
    title              TEXT NOT NULL,
    model              TEXT NOT NULL,
    system_prompt      TEXT,
    temperature        REAL,
    top_k              INTEGER,
    top_p              REAL,
    min_p              REAL,
    repetition_penalty REAL,
    frequency_penalty  REAL,
    presence_penalty   REAL,
    max_new_tokens     INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX sessions_by_use ON sessions(updated_at DESC);
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    session_id        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('user', 'model')),
    text              TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    model             TEXT,
    finish            TEXT,
    finish_detail     TEXT,
    writer            TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    ttft_ms           INTEGER,
    tokens_per_second REAL
);
CREATE UNIQUE INDEX messages_in_order ON messages(session_id, seq);
"#;

/// Version 2: full-text search (external-content FTS5 kept in sync by triggers) and per-session
/// message count / byte size kept by triggers, so the session list never scans message text.
pub(crate) const V2_FTS_AND_COUNTERS: &str = r#"
ALTER TABLE sessions ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET
    message_count = (SELECT COUNT(*) FROM messages m WHERE m.session_id = sessions.id),
    bytes = (SELECT COALESCE(SUM(length(CAST(m.text AS BLOB))), 0)
             FROM messages m WHERE m.session_id = sessions.id);
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    UPDATE sessions SET message_count = message_count + 1,
        bytes = bytes + length(CAST(new.text AS BLOB))
    WHERE id = new.session_id;
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    UPDATE sessions SET message_count = message_count - 1,
        bytes = bytes - length(CAST(old.text AS BLOB))
    WHERE id = old.session_id;
END;
CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    UPDATE sessions SET bytes = bytes - length(CAST(old.text AS BLOB))
        + length(CAST(new.text AS BLOB))
    WHERE id = new.session_id;
END;
"#;

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Runs every missing step, each in its own IMMEDIATE transaction that re-reads the version
/// first, so two instances starting together never apply a step twice. Returns the version
/// found before migrating.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let before = user_version(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v = user_version(&tx)?;
        let Some(step) = MIGRATIONS.get(v as usize) else {
            return Ok(before);
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
        tracing::info!(from = v, to = v + 1, "session database migrated");
    }
}
