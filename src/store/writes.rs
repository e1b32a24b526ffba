//! Every change to the database, each one IMMEDIATE transaction (so a second window waits on
//! `busy_timeout` instead of failing half-way), as the SQL behind each [`WriteOp`]. Must not
//! read for display.

use rusqlite::{named_params, params, Transaction, TransactionBehavior};

use super::error::StoreError;
use super::ops::WriteOp;
use super::records::{now_ms, FinishRecord, MessageId, NewSession, Role, SamplingRecord, SessionId, UsageRecord};
use super::Store;

impl Store {
    /// Applies one write in one transaction.
    pub fn apply(&mut self, op: &WriteOp) -> Result<(), StoreError> {
        op.validate()?;
        let what = op.describe();
        self.check_writable(what)?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sql(&path, what, e))?;
        apply_in(&tx, op, self.lease.token(), &path)?;
        tx.commit().map_err(|e| StoreError::sql(&path, what, e))
    }

    pub fn create_session(&mut self, new: &NewSession) -> Result<SessionId, StoreError> {
        let id = SessionId::generate();
        let at = now_ms();
        self.apply(&WriteOp::CreateSession {
            id: id.clone(),
            new: new.clone(),
            at,
        })?;
        Ok(id)
    }

    /// Saves the user's message (committed before this returns).
    pub fn append_user(&mut self, session: &SessionId, text: &str) -> Result<MessageId, StoreError> {
        let id = MessageId::generate();
        let (session, text, at) = (session.clone(), text.to_string(), now_ms());
        self.apply(&WriteOp::AppendUser { session, id, text, at })?;
        Ok(id)
    }

    /// Adds an empty answer row marked as streaming (`finish` unset).
    pub fn begin_answer(&mut self, session: &SessionId, model: &str) -> Result<MessageId, StoreError> {
        let id = MessageId::generate();
        let (session, model, at) = (session.clone(), model.to_string(), now_ms());
        self.apply(&WriteOp::BeginAnswer { session, id, model, at })?;
        Ok(id)
    }

    pub fn checkpoint(&mut self, id: MessageId, text: &str) -> Result<(), StoreError> {
        self.apply(&WriteOp::Checkpoint {
            id,
            text: text.to_string(),
            at: now_ms(),
        })
    }

    pub fn finish_answer(
        &mut self,
        id: MessageId,
        text: &str,
        finish: FinishRecord,
        usage: Option<UsageRecord>,
    ) -> Result<(), StoreError> {
        let text = text.to_string();
        self.apply(&WriteOp::FinishAnswer {
            id,
            text,
            finish,
            usage,
            at: now_ms(),
        })
    }
}

pub(crate) fn apply_in(
    tx: &Transaction<'_>,
    op: &WriteOp,
    writer: &str,
    path: &std::path::Path,
) -> Result<(), StoreError> {
    let what = op.describe();
    let changed = run(tx, op, writer).map_err(|e| StoreError::sql(path, what, e))?;
    // Deleting what is already gone is done, not an error.
    if changed > 0 || matches!(op, WriteOp::Delete { .. } | WriteOp::DeleteMessage { .. }) {
        return Ok(());
    }
    Err(match op {
        WriteOp::Checkpoint { id, .. } | WriteOp::FinishAnswer { id, .. } | WriteOp::DeleteMessage { id, .. } => {
            StoreError::MessageNotFound { id: id.0 }
        }
        WriteOp::CreateSession { id, .. } => StoreError::SessionNotFound { id: id.to_string() },
        WriteOp::AppendUser { session, .. }
        | WriteOp::BeginAnswer { session, .. }
        | WriteOp::Rename { session, .. }
        | WriteOp::SetSystemPrompt { session, .. }
        | WriteOp::SetModel { session, .. }
        | WriteOp::SetSampling { session, .. }
        | WriteOp::Delete { session } => StoreError::SessionNotFound {
            id: session.to_string(),
        },
        WriteOp::Duplicate { from, .. } => StoreError::SessionNotFound { id: from.to_string() },
    })
}

/// Runs the SQL for `op`; returns the rows it changed (0 = its target does not exist).
fn run(tx: &Transaction<'_>, op: &WriteOp, writer: &str) -> rusqlite::Result<usize> {
    match op {
        WriteOp::CreateSession { id, new, at } => insert_session(tx, id, new, *at),
        WriteOp::AppendUser { session, id, text, at } => {
            insert_message(tx, session, *id, Role::User, text, None, *at, None)
        }
        WriteOp::BeginAnswer { session, id, model, at } => {
            insert_message(tx, session, *id, Role::Model, "", Some(model), *at, Some(writer))
        }
        WriteOp::Checkpoint { id, text, at } => {
            // Leaves `finish` alone: if another window marked it interrupted, the finish wins.
            let n = tx.execute("UPDATE messages SET text = ?1 WHERE id = ?2", params![text, id.0])?;
            touch_by_message(tx, *id, *at)?;
            Ok(n)
        }
        WriteOp::FinishAnswer {
            id,
            text,
            finish,
            usage,
            at,
        } => finish_row(tx, *id, text, finish, usage.as_ref(), *at),
        WriteOp::Rename { session, title, at } => update_session(tx, session, "title", title, *at),
        WriteOp::SetModel { session, model, at } => update_session(tx, session, "model", model, *at),
        WriteOp::SetSystemPrompt { session, prompt, at } => update_session(tx, session, "system_prompt", prompt, *at),
        WriteOp::SetSampling { session, sampling, at } => set_sampling(tx, session, sampling, *at),
        WriteOp::Delete { session } => {
            tx.execute("DELETE FROM messages WHERE session_id = ?1", [session.as_str()])?;
            tx.execute("DELETE FROM sessions WHERE id = ?1", [session.as_str()])
        }
        WriteOp::Duplicate { from, to, at } => duplicate(tx, from, to, *at),
        WriteOp::DeleteMessage { id, at } => {
            // Touch first: afterwards the message no longer names its session.
            touch_by_message(tx, *id, *at)?;
            tx.execute("DELETE FROM messages WHERE id = ?1", [id.0])
        }
    }
}

fn insert_session(tx: &Transaction<'_>, id: &SessionId, new: &NewSession, at: i64) -> rusqlite::Result<usize> {
    let s = &new.sampling;
    tx.execute(
        "INSERT INTO sessions (id, title, model, system_prompt, temperature, top_k, top_p, min_p,
            repetition_penalty, frequency_penalty, presence_penalty, max_new_tokens,
            created_at, updated_at)
         VALUES (:id, :title, :model, :sp, :t, :k, :p, :mp, :rp, :fp, :pp, :mx, :at, :at)",
        named_params! {
            ":id": id.as_str(), ":title": new.title, ":model": new.model,
            ":sp": new.system_prompt, ":t": s.temperature, ":k": s.top_k, ":p": s.top_p,
            ":mp": s.min_p, ":rp": s.repetition_penalty, ":fp": s.frequency_penalty,
            ":pp": s.presence_penalty, ":mx": s.max_new_tokens, ":at": at,
        },
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_message(
    tx: &Transaction<'_>,
    session: &SessionId,
    id: MessageId,
    role: Role,
    text: &str,
    model: Option<&str>,
    at: i64,
    writer: Option<&str>,
) -> rusqlite::Result<usize> {
    // INSERT ... SELECT inserts nothing when the session is missing: reported as not found.
    let n = tx.execute(
        "INSERT INTO messages (id, session_id, seq, role, text, created_at, model, writer)
         SELECT :id, s.id,
            (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = s.id),
            :role, :text, :at, :model, :writer
         FROM sessions s WHERE s.id = :session",
        named_params! {
            ":id": id.0, ":session": session.as_str(), ":role": role.as_str(), ":text": text,
            ":at": at, ":model": model, ":writer": writer,
        },
    )?;
    tx.execute(
        "UPDATE sessions SET updated_at = MAX(updated_at, ?1) WHERE id = ?2",
        params![at, session.as_str()],
    )?;
    Ok(n)
}

fn finish_row(
    tx: &Transaction<'_>,
    id: MessageId,
    text: &str,
    finish: &FinishRecord,
    usage: Option<&UsageRecord>,
    at: i64,
) -> rusqlite::Result<usize> {
    let (kind, detail) = finish.to_db();
    let n = tx.execute(
        "UPDATE messages SET text = :text, finish = :kind, finish_detail = :detail, writer = NULL,
            prompt_tokens = :pt, completion_tokens = :ct, ttft_ms = :ttft, tokens_per_second = :tps
         WHERE id = :id",
        named_params! {
            ":text": text, ":kind": kind, ":detail": detail, ":id": id.0,
            ":pt": usage.map(|u| u.prompt_tokens), ":ct": usage.map(|u| u.completion_tokens),
            ":ttft": usage.map(|u| u.time_to_first_token_ms),
            ":tps": usage.map(|u| u.tokens_per_second),
        },
    )?;
    touch_by_message(tx, id, at)?;
    Ok(n)
}

fn touch_by_message(tx: &Transaction<'_>, id: MessageId, at: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE sessions SET updated_at = MAX(updated_at, ?1)
         WHERE id = (SELECT session_id FROM messages WHERE id = ?2)",
        params![at, id.0],
    )
}

/// `column` is one of our literals, never user input.
fn update_session(
    tx: &Transaction<'_>,
    session: &SessionId,
    column: &'static str,
    value: &dyn rusqlite::ToSql,
    at: i64,
) -> rusqlite::Result<usize> {
    let sql = format!("UPDATE sessions SET {column} = ?1, updated_at = MAX(updated_at, ?2) WHERE id = ?3");
    tx.execute(&sql, params![value, at, session.as_str()])
}

fn set_sampling(tx: &Transaction<'_>, session: &SessionId, s: &SamplingRecord, at: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE sessions SET temperature = :t, top_k = :k, top_p = :p, min_p = :mp,
            repetition_penalty = :rp, frequency_penalty = :fp, presence_penalty = :pp,
            max_new_tokens = :mx, updated_at = MAX(updated_at, :at)
         WHERE id = :id",
        named_params! {
            ":id": session.as_str(), ":t": s.temperature, ":k": s.top_k, ":p": s.top_p,
            ":mp": s.min_p, ":rp": s.repetition_penalty, ":fp": s.frequency_penalty,
            ":pp": s.presence_penalty, ":mx": s.max_new_tokens, ":at": at,
        },
    )
}

/// Copies a session and its messages under a new id; message ids are fresh too.
fn duplicate(tx: &Transaction<'_>, from: &SessionId, to: &SessionId, at: i64) -> rusqlite::Result<usize> {
    let n = tx.execute(
        "INSERT INTO sessions (id, title, model, system_prompt, temperature, top_k, top_p, min_p,
            repetition_penalty, frequency_penalty, presence_penalty, max_new_tokens,
            created_at, updated_at)
         SELECT ?1, title || ' (copy)', model, system_prompt, temperature, top_k, top_p, min_p,
            repetition_penalty, frequency_penalty, presence_penalty, max_new_tokens, ?2, ?2
         FROM sessions WHERE id = ?3",
        params![to.as_str(), at, from.as_str()],
    )?;
    let mut ids = tx.prepare("SELECT id FROM messages WHERE session_id = ?1 ORDER BY seq")?;
    let old: Vec<i64> = ids
        .query_map([from.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut copy = tx.prepare(
        "INSERT INTO messages (id, session_id, seq, role, text, created_at, model, finish,
            finish_detail, writer, prompt_tokens, completion_tokens, ttft_ms, tokens_per_second)
         SELECT ?1, ?2, seq, role, text, created_at, model,
            COALESCE(finish, 'interrupted'), finish_detail, NULL,
            prompt_tokens, completion_tokens, ttft_ms, tokens_per_second
         FROM messages WHERE id = ?3",
    )?;
    for old_id in old {
        copy.execute(params![MessageId::generate().0, to.as_str(), old_id])?;
    }
    Ok(n)
}
