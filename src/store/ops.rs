//! [`WriteOp`]: one write as plain data, so the actor can hold it in memory and replay it in
//! order after a failure. Owns naming and value checks of writes; must not run SQL.

use super::error::StoreError;
use super::records::{FinishRecord, MessageId, NewSession, SamplingRecord, SessionId, UsageRecord};

/// One write, with ids and times fixed when it was asked for, so a retry stores the same thing.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    CreateSession {
        id: SessionId,
        new: NewSession,
        at: i64,
    },
    AppendUser {
        session: SessionId,
        id: MessageId,
        text: String,
        at: i64,
    },
    BeginAnswer {
        session: SessionId,
        id: MessageId,
        model: String,
        at: i64,
    },
    Checkpoint {
        id: MessageId,
        text: String,
        at: i64,
    },
    FinishAnswer {
        id: MessageId,
        text: String,
        finish: FinishRecord,
        usage: Option<UsageRecord>,
        at: i64,
    },
    Rename {
        session: SessionId,
        title: String,
        at: i64,
    },
    Delete {
        session: SessionId,
    },
    Duplicate {
        from: SessionId,
        to: SessionId,
        at: i64,
    },
    /// Removes one message (an answer being regenerated, a message taken back to edit), so the
    /// saved session matches the transcript on screen.
    DeleteMessage {
        id: MessageId,
        at: i64,
    },
    SetSystemPrompt {
        session: SessionId,
        prompt: Option<String>,
        at: i64,
    },
    SetModel {
        session: SessionId,
        model: String,
        at: i64,
    },
    SetSampling {
        session: SessionId,
        sampling: SamplingRecord,
        at: i64,
    },
}

impl WriteOp {
    /// Short words for logs and banners ("saving your message failed ...").
    pub fn describe(&self) -> &'static str {
        match self {
            WriteOp::CreateSession { .. } => "creating a session",
            WriteOp::AppendUser { .. } => "saving your message",
            WriteOp::BeginAnswer { .. } => "starting an answer",
            WriteOp::Checkpoint { .. } => "saving a partial answer",
            WriteOp::FinishAnswer { .. } => "saving an answer",
            WriteOp::Rename { .. } => "renaming a session",
            WriteOp::Delete { .. } => "deleting a session",
            WriteOp::Duplicate { .. } => "duplicating a session",
            WriteOp::DeleteMessage { .. } => "removing a message",
            WriteOp::SetSystemPrompt { .. } => "saving the system prompt",
            WriteOp::SetModel { .. } => "saving the model",
            WriteOp::SetSampling { .. } => "saving sampling settings",
        }
    }

    /// Sets the time the write happens. The app's pure `update` builds writes without reading
    /// a clock; the driver stamps them as it hands them to the store.
    pub fn stamp(&mut self, now: i64) {
        match self {
            WriteOp::CreateSession { at, .. }
            | WriteOp::AppendUser { at, .. }
            | WriteOp::BeginAnswer { at, .. }
            | WriteOp::Checkpoint { at, .. }
            | WriteOp::FinishAnswer { at, .. }
            | WriteOp::Rename { at, .. }
            | WriteOp::Duplicate { at, .. }
            | WriteOp::DeleteMessage { at, .. }
            | WriteOp::SetSystemPrompt { at, .. }
            | WriteOp::SetModel { at, .. }
            | WriteOp::SetSampling { at, .. } => *at = now,
            WriteOp::Delete { .. } => {}
        }
    }

    /// Checks values before anything touches the disk (so a bad value is never retried).
    pub fn validate(&self) -> Result<(), StoreError> {
        match self {
            WriteOp::CreateSession { new, .. } => new.sampling.validate(),
            WriteOp::SetSampling { sampling, .. } => sampling.validate(),
            WriteOp::FinishAnswer { usage: Some(u), .. } => u.validate(),
            _ => Ok(()),
        }
    }
}
