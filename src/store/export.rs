//! Export of one session as a versioned JSON document or as Markdown, and import of that JSON
//! (validated, all-or-nothing, under a new id). Owns the file format; must not change any
//! session other than the one it imports.

use rusqlite::{named_params, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::ops::WriteOp;
use super::records::{
    now_ms, FinishRecord, MessageId, MessageRecord, NewSession, Role, SamplingRecord, Session, SessionId,
};
use super::writes::insert_message;
use super::Store;

const FORMAT: &str = "gemma-tui-session";
const VERSION: u32 = 1;

/// Version 1 of the exchange format. Field names are the format: never rename them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    exported_at: i64,
    session: DocSession,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocSession {
    /// The id it had where it was exported; informational, imports get a new one.
    id: String,
    title: String,
    model: String,
    created_at: i64,
    updated_at: i64,
    system_prompt: Option<String>,
    sampling: SamplingRecord,
    messages: Vec<MessageRecord>,
}

impl Store {
    pub fn export_json(&self, id: &SessionId) -> Result<String, StoreError> {
        let s = self.load_session(id)?;
        let doc = Document {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: now_ms(),
            session: DocSession {
                id: s.id.to_string(),
                title: s.title,
                model: s.model,
                created_at: s.created_at,
                updated_at: s.updated_at,
                system_prompt: s.system_prompt,
                sampling: s.sampling,
                messages: s.messages,
            },
        };
        serde_json::to_string_pretty(&doc).map_err(|e| StoreError::Import {
            reason: format!("could not encode session {id}: {e}"),
        })
    }

    pub fn export_markdown(&self, id: &SessionId) -> Result<String, StoreError> {
        Ok(markdown(&self.load_session(id)?))
    }

    /// Imports an exported session under a fresh id, refusing the whole document (with the
    /// reason) if any part is invalid. Returns the new id.
    pub fn import_json(&mut self, json: &str) -> Result<SessionId, StoreError> {
        let doc = parse(json)?;
        let id = SessionId::generate();
        let s = doc.session;
        let new = NewSession {
            title: s.title,
            model: s.model,
            system_prompt: s.system_prompt,
            sampling: s.sampling,
        };
        let create = WriteOp::CreateSession {
            id: id.clone(),
            new,
            at: s.created_at,
        };
        self.check_writable("importing a session")?;
        let err = |e| StoreError::sql(&self.path, "importing a session", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        super::writes::apply_in(&tx, &create, self.lease.token(), &self.path)?;
        for m in &s.messages {
            insert_imported(&tx, &id, m).map_err(err)?;
        }
        tx.execute(
            "UPDATE sessions SET updated_at = ?1 WHERE id = ?2",
            rusqlite::params![s.updated_at, id.as_str()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(id)
    }
}

fn insert_imported(tx: &rusqlite::Transaction<'_>, id: &SessionId, m: &MessageRecord) -> rusqlite::Result<()> {
    let fresh = MessageId::generate();
    insert_message(tx, id, fresh, m.role, &m.text, m.model.as_deref(), m.created_at, None)?;
    // An answer still streaming in the file can never finish now.
    let finish = m.finish.clone().unwrap_or(FinishRecord::Interrupted);
    let (kind, detail) = finish.to_db();
    let u = m.usage.as_ref();
    tx.execute(
        "UPDATE messages SET finish = :kind, finish_detail = :detail, prompt_tokens = :pt,
            completion_tokens = :ct, ttft_ms = :ttft, tokens_per_second = :tps
         WHERE id = :id AND role = 'model'",
        named_params! {
            ":kind": kind, ":detail": detail, ":id": fresh.0,
            ":pt": u.map(|u| u.prompt_tokens), ":ct": u.map(|u| u.completion_tokens),
            ":ttft": u.map(|u| u.time_to_first_token_ms), ":tps": u.map(|u| u.tokens_per_second),
        },
    )?;
    Ok(())
}

/// Checks the envelope first so a newer file says "newer", not "unknown field".
fn parse(json: &str) -> Result<Document, StoreError> {
    let bad = |reason: String| StoreError::Import { reason };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(bad(format!(
            "not a gemma-tui session (\"format\" must be \"{FORMAT}\")"
        )));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) if v > u64::from(VERSION) => {
            return Err(bad(format!(
                "made by a newer gemma-tui (format version {v}, this build reads {VERSION}); upgrade to import it"
            )))
        }
        other => return Err(bad(format!("unsupported \"version\": {other:?}"))),
    }
    let doc: Document = serde_json::from_value(value).map_err(|e| bad(format!("invalid session: {e}")))?;
    validate(&doc.session)?;
    Ok(doc)
}

fn validate(s: &DocSession) -> Result<(), StoreError> {
    s.sampling.validate()?;
    for (i, m) in s.messages.iter().enumerate() {
        if let Some(u) = &m.usage {
            u.validate().map_err(|e| StoreError::Import {
                reason: format!("message {i}: {e}"),
            })?;
        }
        if m.role == Role::User && (m.finish.is_some() || m.usage.is_some()) {
            return Err(StoreError::Import {
                reason: format!("message {i}: a user message cannot have finish or usage"),
            });
        }
    }
    Ok(())
}

fn markdown(s: &Session) -> String {
    let mut out = format!("# {}\n\n", s.title);
    out += &format!("- Model: `{}`\n", s.model);
    out += &format!("- Created: {}\n", utc(s.created_at));
    out += &format!("- Last used: {}\n", utc(s.updated_at));
    out += &format!("- Session id: `{}`\n", s.id);
    if let Some(p) = &s.system_prompt {
        out += &format!("\n## System prompt\n\n{p}\n");
    }
    for m in &s.messages {
        let who = match (m.role, &m.model) {
            (Role::User, _) => "User".to_string(),
            (Role::Model, Some(model)) => format!("Model ({model})"),
            (Role::Model, None) => "Model".to_string(),
        };
        out += &format!("\n## {who} · {}\n\n{}\n", utc(m.created_at), m.text);
        match (m.role, &m.finish) {
            (Role::User, _) | (Role::Model, Some(FinishRecord::Stop)) => {}
            (Role::Model, Some(f)) => out += &format!("\n_[{}]_\n", finish_note(f)),
            (Role::Model, None) => out += "\n_[still being written]_\n",
        }
    }
    out
}

fn finish_note(f: &FinishRecord) -> String {
    match f {
        FinishRecord::Stop => "complete".into(),
        FinishRecord::Length => "stopped at the token limit".into(),
        FinishRecord::Cancelled => "cancelled".into(),
        FinishRecord::Error(e) => format!("error: {e}"),
        FinishRecord::Interrupted => "interrupted".into(),
    }
}

/// `YYYY-MM-DD HH:MM UTC` from unix milliseconds (civil-from-days, no date crate needed).
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_right() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_735_689_600_000 + 3_660_000), "2025-01-01 01:01 UTC");
    }

    #[test]
    fn fts_free_envelope_errors_name_the_problem() {
        let newer = r#"{"format":"gemma-tui-session","version":9}"#;
        let e = parse(newer).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("newer"), "{e}");
        let other = r#"{"format":"something","version":1}"#;
        assert!(parse(other).is_err());
    }
}
