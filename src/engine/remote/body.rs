//! The streaming chat-completions request body, per server kind, and the settings a kind ignores.

use serde_json::{json, Map, Value};

use super::ServerKind;
use crate::engine::{ChatMessage, Role, SamplingSettings};

/// What a server kind accepts beyond the plain OpenAI fields (`temperature`, `top_p`,
/// `frequency_penalty`, `presence_penalty`, `max_tokens`).
struct Accepts {
    top_k: bool,
    min_p: bool,
    /// The name under which the server takes transformers' repetition penalty, if it does.
    repetition_penalty: Option<&'static str>,
}

fn accepts(kind: ServerKind) -> Accepts {
    match kind {
        ServerKind::MistralRs | ServerKind::Vllm => Accepts {
            top_k: true,
            min_p: true,
            repetition_penalty: Some("repetition_penalty"),
        },
        ServerKind::LlamaCpp => Accepts {
            top_k: true,
            min_p: true,
            repetition_penalty: Some("repeat_penalty"),
        },
        // A plain OpenAI server (or one we could not identify): nothing beyond the standard
        // fields, since OpenAI itself rejects unknown ones.
        ServerKind::OpenAi | ServerKind::Auto => Accepts {
            top_k: false,
            min_p: false,
            repetition_penalty: None,
        },
    }
}

/// The settings a server kind ignores whatever their value.
pub(crate) fn unsupported(kind: ServerKind) -> Vec<&'static str> {
    let a = accepts(kind);
    let mut out = Vec::new();
    if !a.top_k {
        out.push("top_k");
    }
    if !a.min_p {
        out.push("min_p");
    }
    if a.repetition_penalty.is_none() {
        out.push("repetition_penalty");
    }
    out
}

/// The settings that are set (not off) in `s` and that this server will not apply.
pub(crate) fn ignored_for(kind: ServerKind, s: &SamplingSettings) -> Vec<&'static str> {
    let a = accepts(kind);
    let sampling = !s.is_greedy();
    let mut out = Vec::new();
    if sampling && s.top_k.is_some_and(|k| k > 0) && !a.top_k {
        out.push("top_k");
    }
    let min_p_on = sampling && s.min_p > 0.0;
    // mistral.rs 0.8.1 applies min-p only together with 0 < top_p < 1 (see engine::sampling).
    let min_p_lost = !a.min_p || (kind == ServerKind::MistralRs && s.top_p >= 1.0);
    if min_p_on && min_p_lost {
        out.push("min_p");
    }
    if s.repetition_penalty != 1.0 && a.repetition_penalty.is_none() {
        out.push("repetition_penalty");
    }
    out
}

/// The role names the OpenAI API uses; Gemma 2 has no system role, so there is none here.
pub(crate) fn role_name(role: Role) -> Option<&'static str> {
    match role {
        Role::User => Some("user"),
        Role::Model => Some("assistant"),
        Role::System => None,
    }
}

/// The messages as the API wants them; `None` if one is a system turn.
pub(crate) fn messages_json(messages: &[ChatMessage]) -> Option<Vec<Value>> {
    messages
        .iter()
        .map(|m| role_name(m.role).map(|r| json!({"role": r, "content": m.text})))
        .collect()
}

/// The body of a streaming chat-completions request. `None` if a message is a system turn.
pub(crate) fn chat_body(
    kind: ServerKind,
    model: &str,
    messages: &[ChatMessage],
    s: &SamplingSettings,
) -> Option<Value> {
    let a = accepts(kind);
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages_json(messages)?));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    body.insert("max_tokens".into(), json!(s.max_new_tokens));
    // Always explicit: a missing temperature means 1.0 (sampling) on most servers.
    body.insert(
        "temperature".into(),
        json!(if s.is_greedy() { 0.0 } else { s.temperature }),
    );
    if !s.is_greedy() {
        if s.top_p < 1.0 {
            body.insert("top_p".into(), json!(s.top_p));
        }
        if let Some(k) = s.top_k.filter(|&k| k > 0) {
            if a.top_k {
                body.insert("top_k".into(), json!(k));
            }
        }
        if s.min_p > 0.0 && a.min_p {
            body.insert("min_p".into(), json!(s.min_p));
        }
    }
    if s.frequency_penalty != 0.0 {
        body.insert("frequency_penalty".into(), json!(s.frequency_penalty));
    }
    if s.presence_penalty != 0.0 {
        body.insert("presence_penalty".into(), json!(s.presence_penalty));
    }
    if s.repetition_penalty != 1.0 {
        if let Some(name) = a.repetition_penalty {
            body.insert(name.into(), json!(s.repetition_penalty));
        }
    }
    Some(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_body_has_an_explicit_zero_and_no_sampling_knobs() {
        let s = SamplingSettings {
            top_k: Some(5),
            top_p: 0.5,
            min_p: 0.1,
            ..Default::default()
        };
        let b = chat_body(ServerKind::Vllm, "m", &[ChatMessage::user("hi")], &s).unwrap();
        assert_eq!(b["temperature"], json!(0.0));
        assert!(b.get("top_k").is_none() && b.get("top_p").is_none() && b.get("min_p").is_none());
        assert_eq!(b["repetition_penalty"], json!(1.05));
        assert_eq!(b["max_tokens"], json!(512));
    }

    #[test]
    fn repetition_penalty_is_named_per_server() {
        let s = SamplingSettings::default();
        let m = [ChatMessage::user("hi")];
        let llama = chat_body(ServerKind::LlamaCpp, "m", &m, &s).unwrap();
        assert_eq!(llama["repeat_penalty"], json!(1.05));
        assert!(llama.get("repetition_penalty").is_none());
        let openai = chat_body(ServerKind::OpenAi, "m", &m, &s).unwrap();
        assert!(openai.get("repeat_penalty").is_none() && openai.get("repetition_penalty").is_none());
        assert_eq!(ignored_for(ServerKind::OpenAi, &s), vec!["repetition_penalty"]);
        assert!(ignored_for(ServerKind::Vllm, &s).is_empty());
    }

    #[test]
    fn min_p_on_mistralrs_needs_top_p() {
        let mut s = SamplingSettings {
            temperature: 0.7,
            min_p: 0.1,
            ..Default::default()
        };
        assert_eq!(ignored_for(ServerKind::MistralRs, &s), vec!["min_p"]);
        s.top_p = 0.9;
        assert!(ignored_for(ServerKind::MistralRs, &s).is_empty());
    }

    #[test]
    fn a_system_turn_is_refused() {
        let m = [ChatMessage::system("be nice"), ChatMessage::user("hi")];
        assert!(chat_body(ServerKind::Vllm, "m", &m, &SamplingSettings::default()).is_none());
    }
}
