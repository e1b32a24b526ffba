//! The chat's place in the session store, and the sessions pane, as plain data.
//!
//! [`SessionLink`] remembers which saved session the transcript on screen belongs to, which
//! store message each turn is, and when the streaming answer was last checkpointed. It is
//! filled and read by `update::save`; it must not talk to the store. [`SessionsPane`] is the
//! overlay that lists, searches and manages saved sessions (`update::sessions` moves it,
//! `ui::sessions` draws it).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Instant;

use crate::store::{MessageId, SearchHit, SessionId, SessionSummary};

/// Fresh store ids without reading a clock or randomness in `update`: a random seed taken
/// once when the state is built, run through splitmix64 with a counter. Two windows get
/// different seeds, so their ids do not collide in practice (63 random bits each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSource {
    seed: u64,
    next: u64,
}

impl IdSource {
    pub fn new(seed: u64) -> Self {
        Self { seed, next: 0 }
    }

    /// Seeded from std's per-process random hash keys (no `rand` dependency needed).
    pub fn random() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        Self::new(h.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.next += 1;
        let mut z = self.seed.wrapping_add(self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn message_id(&mut self) -> MessageId {
        MessageId(((self.next_u64() >> 2) as i64).max(1))
    }

    /// Ten characters of the store's id alphabet, like the ids the store makes itself.
    pub fn session_id(&mut self) -> SessionId {
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
        let mut bits = self.next_u64();
        let text: String = (0..10)
            .map(|_| {
                let c = char::from(ALPHABET[(bits & 31) as usize]);
                bits >>= 5;
                c
            })
            .collect();
        // Always valid: ten lowercase letters and digits.
        text.parse().unwrap_or_else(|_| SessionId::generate())
    }
}

/// The answer being streamed into the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenAnswer {
    /// The transcript turn it streams into.
    pub turn: u64,
    /// When its text was last saved; `None` until its first token (the baseline is set then).
    pub saved_at: Option<Instant>,
    /// Whether text arrived since that save.
    pub unsaved: bool,
}

/// The transcript's place in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLink {
    /// `None` until the first message is sent (sessions are created lazily) or one is opened.
    pub id: Option<SessionId>,
    /// The model the saved session names; a different model in use updates it.
    pub model: Option<String>,
    /// Transcript turn id -> store message id.
    pub messages: HashMap<u64, MessageId>,
    pub open_answer: Option<OpenAnswer>,
    pub ids: IdSource,
    /// Saving is failing for now (the banner's text); cleared when the store recovers.
    pub failing: Option<String>,
    /// Saving is off: the store could not be opened (the chat still works in memory).
    pub unavailable: bool,
}

impl SessionLink {
    pub fn new(ids: IdSource) -> Self {
        Self {
            id: None,
            model: None,
            messages: HashMap::new(),
            open_answer: None,
            ids,
            failing: None,
            unavailable: false,
        }
    }

    /// Starts over with an unsaved chat (a new session, or the current one was deleted).
    pub fn detach(&mut self) {
        self.id = None;
        self.model = None;
        self.messages.clear();
        self.open_answer = None;
    }
}

/// What the sessions pane is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PaneMode {
    /// Moving through the list; plain letters are commands while the search is empty.
    #[default]
    Browse,
    /// Typing a search.
    Search,
    /// Editing the selected session's title.
    Rename { id: SessionId, title: String },
    /// Waiting for y/n before deleting.
    ConfirmDelete { id: SessionId, title: String },
}

/// The sessions overlay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionsPane {
    pub mode: PaneMode,
    pub query: String,
    /// `None` while the list is loading.
    pub list: Option<Vec<SessionSummary>>,
    /// Search results for `query` (shown instead of the list while it is not blank).
    pub hits: Vec<SearchHit>,
    pub selected: usize,
    /// Why the list could not be loaded, shown in the pane.
    pub error: Option<String>,
}

/// One row the pane shows: a session, or a search hit in one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PaneRow<'a> {
    Session(&'a SessionSummary),
    Hit(&'a SearchHit),
}

impl<'a> PaneRow<'a> {
    pub fn session_id(&self) -> &'a SessionId {
        match self {
            PaneRow::Session(s) => &s.id,
            PaneRow::Hit(h) => &h.session_id,
        }
    }

    pub fn title(&self) -> &'a str {
        match self {
            PaneRow::Session(s) => &s.title,
            PaneRow::Hit(h) => &h.session_title,
        }
    }
}

impl SessionsPane {
    pub fn is_searching(&self) -> bool {
        !self.query.trim().is_empty()
    }

    pub fn rows(&self) -> Vec<PaneRow<'_>> {
        if self.is_searching() {
            self.hits.iter().map(PaneRow::Hit).collect()
        } else {
            self.list.iter().flatten().map(PaneRow::Session).collect()
        }
    }

    pub fn selected_row(&self) -> Option<PaneRow<'_>> {
        self.rows().get(self.selected).copied()
    }

    /// Keeps the selection on a row after the rows changed.
    pub fn clamp_selection(&mut self) {
        let len = self.rows().len();
        self.selected = self.selected.min(len.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_distinct_and_reproducible_from_the_seed() {
        let mut a = IdSource::new(7);
        let mut b = IdSource::new(7);
        let first = a.session_id();
        assert_eq!(first, b.session_id());
        assert_eq!(first.as_str().len(), 10);
        assert_ne!(first, a.session_id());
        let m1 = a.message_id();
        let m2 = a.message_id();
        assert!(m1.0 > 0 && m2.0 > 0 && m1 != m2);
        assert_ne!(IdSource::new(8).message_id(), IdSource::new(7).message_id());
    }
}
