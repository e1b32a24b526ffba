//! Plain records the store saves and loads, plus the checks a value must pass before it may
//! reach SQL (finite floats, well-formed ids). Owns no connection and must not run SQL: the
//! app maps its own types onto these.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::StoreError;

/// Crockford-style base32 without `i l o u`: short ids people can read aloud and type.
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const SESSION_ID_LEN: usize = 10;

/// Unix time in milliseconds (what every `*_at` field holds).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 64 random bits without a `rand` dependency: std's per-process random hash keys, mixed
/// with a counter and the clock so two ids in one process never repeat the input.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now_ms());
    h.write_u32(std::process::id());
    h.finish()
}

/// A session's id: 10 characters of lowercase base32 (50 random bits), e.g. `k3f9x2abqm`.
/// Made by the client, not the database, so writes queued while the disk is full can already
/// refer to a session that is not saved yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        let mut bits = random_u64();
        let mut s = String::with_capacity(SESSION_ID_LEN);
        for _ in 0..SESSION_ID_LEN {
            s.push(char::from(ID_ALPHABET[(bits & 31) as usize]));
            bits >>= 5;
        }
        SessionId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SessionId {
    type Err = StoreError;

    /// Accepts what a user types after `--resume`: case-insensitive, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let s = s.trim().to_ascii_lowercase();
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(allowed);
        if ok {
            Ok(SessionId(s))
        } else {
            Err(StoreError::BadSessionId { given: s })
        }
    }
}

impl TryFrom<String> for SessionId {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        s.parse()
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message's id: a random positive i64, also made by the client (see [`SessionId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub i64);

impl MessageId {
    pub fn generate() -> Self {
        MessageId(((random_u64() >> 2) as i64).max(1))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Model,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Model => "model",
        }
    }

    pub(crate) fn from_db(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "model" => Some(Role::Model),
            _ => None,
        }
    }
}

/// Why an answer ended. `None` on a [`MessageRecord`] means it is still streaming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishRecord {
    Stop,
    Length,
    Cancelled,
    Error(String),
    /// The writer died (crash, kill, power loss) before finishing; the text kept is its last
    /// checkpoint.
    Interrupted,
}

impl FinishRecord {
    pub(crate) fn to_db(&self) -> (&'static str, Option<&str>) {
        match self {
            FinishRecord::Stop => ("stop", None),
            FinishRecord::Length => ("length", None),
            FinishRecord::Cancelled => ("cancelled", None),
            FinishRecord::Error(m) => ("error", Some(m.as_str())),
            FinishRecord::Interrupted => ("interrupted", None),
        }
    }

    pub(crate) fn from_db(kind: &str, detail: Option<String>) -> Option<FinishRecord> {
        Some(match kind {
            "stop" => FinishRecord::Stop,
            "length" => FinishRecord::Length,
            "cancelled" => FinishRecord::Cancelled,
            "error" => FinishRecord::Error(detail.unwrap_or_default()),
            "interrupted" => FinishRecord::Interrupted,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub time_to_first_token_ms: u64,
    pub tokens_per_second: f64,
}

impl UsageRecord {
    pub fn validate(&self) -> Result<(), StoreError> {
        finite("usage.tokens_per_second", Some(self.tokens_per_second))
    }
}

/// Generation settings saved with a session. Floats must be finite; `None` = engine default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRecord {
    pub temperature: Option<f64>,
    pub top_k: Option<u32>,
    pub top_p: Option<f64>,
    pub min_p: Option<f64>,
    pub repetition_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub max_new_tokens: u32,
}

impl Default for SamplingRecord {
    fn default() -> Self {
        SamplingRecord {
            temperature: None,
            top_k: None,
            top_p: None,
            min_p: None,
            repetition_penalty: None,
            frequency_penalty: None,
            presence_penalty: None,
            max_new_tokens: 1024,
        }
    }
}

impl SamplingRecord {
    /// Refuses NaN and infinities, naming the field, before anything is written.
    pub fn validate(&self) -> Result<(), StoreError> {
        finite("sampling.temperature", self.temperature)?;
        finite("sampling.top_p", self.top_p)?;
        finite("sampling.min_p", self.min_p)?;
        finite("sampling.repetition_penalty", self.repetition_penalty)?;
        finite("sampling.frequency_penalty", self.frequency_penalty)?;
        finite("sampling.presence_penalty", self.presence_penalty)
    }
}

fn finite(field: &'static str, v: Option<f64>) -> Result<(), StoreError> {
    match v {
        Some(x) if !x.is_finite() => Err(StoreError::InvalidField {
            field,
            reason: format!("{x} is not a finite number"),
        }),
        _ => Ok(()),
    }
}

/// What a new session starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub title: String,
    pub model: String,
    pub system_prompt: Option<String>,
    pub sampling: SamplingRecord,
}

/// One line of the session list.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub id: SessionId,
    pub title: String,
    pub model: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub message_count: u64,
    /// UTF-8 bytes of all message texts.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: MessageId,
    pub role: Role,
    /// Exactly what was typed or generated: any Unicode, NUL and control characters included.
    pub text: String,
    pub created_at: i64,
    /// Which model wrote an answer (`None` for user messages).
    pub model: Option<String>,
    /// `None` while the answer is streaming.
    pub finish: Option<FinishRecord>,
    pub usage: Option<UsageRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub title: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub system_prompt: Option<String>,
    pub model: String,
    pub sampling: SamplingRecord,
    pub messages: Vec<MessageRecord>,
}

/// One full-text search result, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub session_id: SessionId,
    pub session_title: String,
    pub message_id: MessageId,
    pub role: Role,
    /// Excerpt with matches wrapped in [`SNIPPET_START`] / [`SNIPPET_END`].
    pub snippet: String,
}

/// Marks around matched words in [`SearchHit::snippet`] (STX/ETX: never typed by people).
pub const SNIPPET_START: &str = "\u{2}";
pub const SNIPPET_END: &str = "\u{3}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_short_unique_and_parse_back() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), SESSION_ID_LEN);
        let typed = format!("  {}  ", a.as_str().to_uppercase());
        assert_eq!(typed.parse::<SessionId>().ok(), Some(a));
        assert!("no/such".parse::<SessionId>().is_err());
        assert!("".parse::<SessionId>().is_err());
    }

    #[test]
    fn nan_is_refused_with_the_field_name() {
        let s = SamplingRecord {
            min_p: Some(f64::NAN),
            ..SamplingRecord::default()
        };
        let err = s.validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("sampling.min_p"), "{err}");
        let inf = SamplingRecord {
            temperature: Some(f64::INFINITY),
            ..SamplingRecord::default()
        };
        assert!(inf.validate().is_err());
    }
}
