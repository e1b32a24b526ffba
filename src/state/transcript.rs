//! The conversation as the user sees it: turns with their raw text and how each ended.
//!
//! Text is stored raw, exactly as typed or streamed; it is sanitized where it is drawn. Each
//! turn has a stable `id` and a `revision` that changes with its text, so a renderer can cache
//! lines per (id, revision, width). It must not render, wrap or talk to the engine.

use crate::engine::{ChatMessage, GenId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    User,
    Model,
    /// A line of the app's own between turns (where the model changed): never sent to a model.
    Note,
}

/// How a model turn stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnStatus {
    /// Sent, or answered to its end.
    Done,
    /// Tokens are still arriving.
    Streaming,
    /// Waiting for the model (loading, or counting the prompt).
    Waiting,
    /// The user stopped it; the text is what had arrived.
    Stopped,
    /// The answer reached the max-tokens limit.
    CutAtLimit,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub id: u64,
    pub revision: u64,
    pub speaker: Speaker,
    pub text: String,
    pub status: TurnStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    turns: Vec<Turn>,
    next_id: u64,
}

impl Transcript {
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// Appends a turn and returns its id.
    pub fn push(&mut self, speaker: Speaker, text: String, status: TurnStatus) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.turns.push(Turn {
            id,
            revision: 0,
            speaker,
            text,
            status,
        });
        id
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Turn> {
        self.turns.iter_mut().find(|t| t.id == id)
    }

    pub fn get(&self, id: u64) -> Option<&Turn> {
        self.turns.iter().find(|t| t.id == id)
    }

    pub fn append(&mut self, id: u64, delta: &str) {
        if let Some(turn) = self.get_mut(id) {
            turn.text.push_str(delta);
            turn.status = TurnStatus::Streaming;
            turn.revision += 1;
        }
    }

    pub fn set_status(&mut self, id: u64, status: TurnStatus) {
        if let Some(turn) = self.get_mut(id) {
            turn.status = status;
            turn.revision += 1;
        }
    }

    pub fn last(&self) -> Option<&Turn> {
        self.turns.last()
    }

    /// Removes and returns the last turn.
    pub fn pop(&mut self) -> Option<Turn> {
        self.turns.pop()
    }

    /// The last turn someone said (a note is not one).
    pub fn last_spoken(&self) -> Option<&Turn> {
        self.turns.iter().rev().find(|t| t.speaker != Speaker::Note)
    }

    /// Removes the turn `id` wherever it is.
    pub fn remove(&mut self, id: u64) -> Option<Turn> {
        let at = self.turns.iter().position(|t| t.id == id)?;
        Some(self.turns.remove(at))
    }

    pub fn last_of(&self, speaker: Speaker) -> Option<&Turn> {
        self.turns.iter().rev().find(|t| t.speaker == speaker)
    }

    /// The conversation for the engine: every user turn, and every model turn with text
    /// (a stopped answer included: the model did say it). Failed and empty answers are left out.
    pub fn to_messages(&self) -> Vec<ChatMessage> {
        self.turns
            .iter()
            .filter_map(|t| match t.speaker {
                Speaker::Note => None,
                Speaker::User => Some(ChatMessage::user(t.text.clone())),
                Speaker::Model if t.text.is_empty() || matches!(t.status, TurnStatus::Failed(_)) => None,
                Speaker::Model => Some(ChatMessage::model(t.text.clone())),
            })
            .collect()
    }
}

/// The answer being generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    pub gen_id: GenId,
    /// The model turn the tokens go to.
    pub turn: u64,
}
