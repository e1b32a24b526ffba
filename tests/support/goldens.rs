//! The golden outputs transformers produced on the tiny model (tests/reference/).

use gemma_tui::engine::{ChatMessage, FinishReason, Role};
use serde_json::Value;

pub struct GoldenCase {
    pub name: String,
    pub messages: Vec<ChatMessage>,
    pub repetition_penalty: f64,
    pub max_new_tokens: u32,
    pub prompt_ids: Vec<u32>,
    /// New tokens, including the terminator when the model emitted one.
    pub output_ids: Vec<u32>,
    pub finish: String,
    pub text: String,
}

pub struct DecodeCase {
    pub ids: Vec<u32>,
    pub text: String,
}

pub struct Goldens {
    pub fingerprint: u64,
    pub cases: Vec<GoldenCase>,
    pub decode_cases: Vec<DecodeCase>,
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("id list")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn message(v: &Value) -> ChatMessage {
    let role = match v["role"].as_str().expect("role") {
        "user" => Role::User,
        "assistant" | "model" => Role::Model,
        "system" => Role::System,
        other => panic!("unexpected role {other}"),
    };
    ChatMessage {
        role,
        text: v["content"].as_str().expect("content").to_string(),
    }
}

impl Goldens {
    /// A conversation of several turns with a repetition penalty: the case the prefix-cache
    /// tests replay, since a cached turn is where the penalty could miss prompt tokens.
    pub fn multi_turn_with_penalty(&self) -> &GoldenCase {
        self.cases
            .iter()
            .find(|c| c.messages.len() >= 3 && c.repetition_penalty != 1.0)
            .expect("a multi-turn case with a penalty")
    }
}

pub fn load() -> Goldens {
    let json: Value = serde_json::from_str(include_str!("../reference/goldens.json")).expect("goldens.json parses");
    let fingerprint = match &json["fingerprint"] {
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex fingerprint"),
        other => other.as_u64().expect("fingerprint"),
    };
    let cases = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| GoldenCase {
            name: c["name"].as_str().expect("name").to_string(),
            messages: c["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(message)
                .collect(),
            repetition_penalty: c["repetition_penalty"].as_f64().expect("repetition_penalty"),
            max_new_tokens: c["max_new_tokens"].as_u64().expect("max_new_tokens") as u32,
            prompt_ids: ids(&c["prompt_ids"]),
            output_ids: ids(&c["output_ids"]),
            finish: c["finish"].as_str().expect("finish").to_string(),
            text: c["text"].as_str().expect("text").to_string(),
        })
        .collect();
    let decode_cases = json["decode_cases"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| DecodeCase {
                    ids: ids(&c["ids"]),
                    text: c["text"].as_str().expect("text").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Goldens {
        fingerprint,
        cases,
        decode_cases,
    }
}

/// transformers stops after emitting the terminator and keeps it in its output; the engine
/// reports the answer without it and says why it stopped.
pub fn expected_answer(case: &GoldenCase) -> (&[u32], FinishReason) {
    match case.finish.as_str() {
        "stop" => (&case.output_ids[..case.output_ids.len() - 1], FinishReason::Stop),
        _ => (&case.output_ids[..], FinishReason::Length),
    }
}
