//! Reads: the session list, one session with its messages, and full-text search. The one write
//! here is crash recovery when a session is opened (orphaned answers become `Interrupted`).
//! Must not change anything else.

use rusqlite::{params, Row, TransactionBehavior};

use super::error::StoreError;
use super::records::{
    FinishRecord, MessageId, MessageRecord, Role, SamplingRecord, SearchHit, Session, SessionId, SessionSummary,
    UsageRecord,
};
use super::snippet;
use super::Store;

/// Matches ranked at most per search. A query matching fewer messages is ranked exactly; one
/// matching more (a common word, most of a large history) is ranked over the first this many
/// matches, which keeps it near 10 ms instead of 100+ ms at 100,000 messages, while a word in
/// nearly every message ranks nothing useful anyway.
const RANKED_AT_MOST: i64 = 4_000;

impl Store {
    /// All sessions, most recently used first.
    pub fn list_sessions(&self) -> Result<Vec<SessionSummary>, StoreError> {
        let err = self.sql_err("listing sessions");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, title, model, created_at, updated_at, message_count, bytes
                 FROM sessions ORDER BY updated_at DESC, id",
            )
            .map_err(&err)?;
        let rows = stmt.query_map([], |r| {
            Ok(SessionSummary {
                id: session_id(r, 0)?,
                title: r.get(1)?,
                model: r.get(2)?,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                message_count: r.get(5)?,
                bytes: r.get(6)?,
            })
        });
        rows.and_then(|rows| rows.collect()).map_err(&err)
    }

    /// Loads a session to resume it. Answers left unfinished by a process that is no longer
    /// running are first marked `Interrupted`, keeping their last checkpointed text; answers
    /// another live window is still streaming are left alone.
    pub fn open_session(&mut self, id: &SessionId) -> Result<Session, StoreError> {
        if self.read_only.is_none() {
            self.recover_interrupted(id)?;
        }
        self.load_session(id)
    }

    /// Loads a session exactly as stored (no recovery).
    pub fn load_session(&self, id: &SessionId) -> Result<Session, StoreError> {
        let err = self.sql_err("loading a session");
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        let head = tx
            .query_row(
                "SELECT id, title, created_at, updated_at, system_prompt, model, temperature,
                    top_k, top_p, min_p, repetition_penalty, frequency_penalty,
                    presence_penalty, max_new_tokens
                 FROM sessions WHERE id = ?1",
                [id.as_str()],
                session_head,
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => StoreError::SessionNotFound { id: id.to_string() },
                e => err(e),
            })?;
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, role, text, created_at, model, finish, finish_detail,
                    prompt_tokens, completion_tokens, ttft_ms, tokens_per_second
                 FROM messages WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(&err)?;
        let messages = stmt
            .query_map([id.as_str()], message)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(&err)?;
        Ok(Session { messages, ..head })
    }

    fn recover_interrupted(&mut self, id: &SessionId) -> Result<(), StoreError> {
        let err = |e| StoreError::sql(&self.path, "recovering interrupted answers", e);
        let writers: Vec<Option<String>> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT DISTINCT writer FROM messages
                     WHERE session_id = ?1 AND role = 'model' AND finish IS NULL",
                )
                .map_err(err)?;
            let rows = stmt.query_map([id.as_str()], |r| r.get(0));
            rows.and_then(|rows| rows.collect()).map_err(err)?
        };
        let dead: Vec<Option<String>> = writers
            .into_iter()
            .filter(|w| !w.as_deref().is_some_and(|w| self.lease.is_alive(w)))
            .collect();
        if dead.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        for writer in &dead {
            let n = tx
                .execute(
                    "UPDATE messages SET finish = 'interrupted', writer = NULL
                     WHERE session_id = ?1 AND role = 'model' AND finish IS NULL
                        AND writer IS ?2",
                    params![id.as_str(), writer],
                )
                .map_err(err)?;
            tracing::info!(session = %id, count = n, "marked orphaned answers interrupted");
        }
        tx.commit().map_err(err)
    }

    /// Full-text search over every message, best match first (see [`RANKED_AT_MOST`]). Each
    /// word of `query` matches as a prefix (so Korean stems find words with particles
    /// attached); FTS syntax in `query` is treated as plain text.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let err = self.sql_err("searching messages");
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        let best: Vec<i64> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT rowid FROM (
                        SELECT rowid, rank FROM messages_fts WHERE messages_fts MATCH ?1 LIMIT ?2
                     ) ORDER BY rank LIMIT ?3",
                )
                .map_err(&err)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt.query_map(params![fts, RANKED_AT_MOST, limit], |r| r.get(0));
            rows.and_then(|rows| rows.collect()).map_err(&err)?
        };
        let terms = snippet::terms(query);
        let mut stmt = tx
            .prepare_cached(
                "SELECT m.session_id, s.title, m.role, m.text
                 FROM messages m JOIN sessions s ON s.id = m.session_id WHERE m.id = ?1",
            )
            .map_err(&err)?;
        let hits = best
            .into_iter()
            .map(|id| {
                stmt.query_row([id], |r| {
                    Ok(SearchHit {
                        session_id: session_id(r, 0)?,
                        session_title: r.get(1)?,
                        message_id: MessageId(id),
                        role: role(r, 2)?,
                        snippet: snippet::excerpt(&r.get::<_, String>(3)?, &terms),
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(hits)
    }
}

/// Quotes every whitespace-separated word as an FTS5 prefix string: `"word"*`.
fn fts_query(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split_whitespace()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn bad_row(detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, detail.into())
}

fn session_id(r: &Row<'_>, i: usize) -> rusqlite::Result<SessionId> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e: StoreError| bad_row(e.to_string()))
}

fn role(r: &Row<'_>, i: usize) -> rusqlite::Result<Role> {
    let s: String = r.get(i)?;
    Role::from_db(&s).ok_or_else(|| bad_row(format!("unknown role `{s}`")))
}

fn session_head(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: session_id(r, 0)?,
        title: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        system_prompt: r.get(4)?,
        model: r.get(5)?,
        sampling: SamplingRecord {
            temperature: r.get(6)?,
            top_k: r.get(7)?,
            top_p: r.get(8)?,
            min_p: r.get(9)?,
            repetition_penalty: r.get(10)?,
            frequency_penalty: r.get(11)?,
            presence_penalty: r.get(12)?,
            max_new_tokens: r.get(13)?,
        },
        messages: Vec::new(),
    })
}

fn message(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    let finish = match r.get::<_, Option<String>>(5)? {
        None => None,
        Some(kind) => {
            Some(FinishRecord::from_db(&kind, r.get(6)?).ok_or_else(|| bad_row(format!("unknown finish `{kind}`")))?)
        }
    };
    let usage = match (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?) {
        (Some(prompt_tokens), Some(completion_tokens), Some(ttft), Some(tps)) => Some(UsageRecord {
            prompt_tokens,
            completion_tokens,
            time_to_first_token_ms: ttft,
            tokens_per_second: tps,
        }),
        _ => None,
    };
    Ok(MessageRecord {
        id: MessageId(r.get(0)?),
        role: role(r, 1)?,
        text: r.get(2)?,
        created_at: r.get(3)?,
        model: r.get(4)?,
        finish,
        usage,
    })
}
