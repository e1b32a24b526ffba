//! Token counts without the server's tokenizer: a conservative estimate, and the Gemma 2 prompt
//! text for servers that tokenize raw text (llama.cpp).

use crate::engine::{ChatMessage, Role};

/// How many tokens a prompt takes. `exact` is false for an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCount {
    pub tokens: usize,
    pub exact: bool,
}

/// Template tokens of one Gemma 2 turn: `<start_of_turn>`, the role, `\n`, `<end_of_turn>`, `\n`.
const PER_TURN: usize = 5;
/// `<bos>` plus the generation prompt `<start_of_turn>model\n`.
const PER_PROMPT: usize = 4;

/// A conservative (high) estimate: ASCII text at three characters a token (Gemma's tokenizer
/// averages about four on English), any other character a token of its own, plus the template.
pub fn estimate(messages: &[ChatMessage]) -> TokenCount {
    let text: usize = messages
        .iter()
        .map(|m| {
            let ascii = m.text.bytes().filter(u8::is_ascii).count();
            let other = m.text.chars().filter(|c| !c.is_ascii()).count();
            ascii.div_ceil(3) + other + PER_TURN
        })
        .sum();
    TokenCount {
        tokens: text + PER_PROMPT,
        exact: false,
    }
}

/// The prompt text Gemma 2's chat template makes of these turns, generation prompt included.
pub(crate) fn gemma_prompt(messages: &[ChatMessage]) -> String {
    let mut out = String::from("<bos>");
    for m in messages {
        let role = match m.role {
            Role::Model => "model",
            _ => "user",
        };
        out.push_str("<start_of_turn>");
        out.push_str(role);
        out.push('\n');
        out.push_str(m.text.trim());
        out.push_str("<end_of_turn>\n");
    }
    out.push_str("<start_of_turn>model\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_high_and_counts_the_template() {
        let m = [ChatMessage::user("Hello there, how are you?")];
        let c = estimate(&m);
        assert!(!c.exact);
        // 25 ASCII characters: 9 text tokens, 5 for the turn, 4 for the prompt.
        assert_eq!(c.tokens, 18);
        assert!(estimate(&[ChatMessage::user("日本語")]).tokens >= 3 + PER_TURN + PER_PROMPT);
    }

    #[test]
    fn gemma_prompt_matches_the_template() {
        let m = [
            ChatMessage::user("hi"),
            ChatMessage::model("yo"),
            ChatMessage::user("bye"),
        ];
        assert_eq!(
            gemma_prompt(&m),
            "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nyo<end_of_turn>\n\
             <start_of_turn>user\nbye<end_of_turn>\n<start_of_turn>model\n"
        );
    }
}
