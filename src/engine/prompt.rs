//! Gemma 2's turn rules and the context budget, in one place.
//!
//! Gemma 2's chat template has no system role (it raises an exception) and demands strictly
//! alternating user/model turns starting with the user. This module turns any conversation into
//! that shape and trims it to the context the model can really use. It is pure: token counting
//! is injected, so the rules are tested without a model.

use std::future::Future;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Model,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub text: String,
}

impl ChatMessage {
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            text: text.into(),
        }
    }
    pub fn model(text: impl Into<String>) -> Self {
        Self {
            role: Role::Model,
            text: text.into(),
        }
    }
    pub fn system(text: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("there is no user message to answer: the conversation must end with a user turn")]
    NoUserTurn,
    #[error(
        "the prompt needs {needed} tokens but only {available} fit (usable context {usable_context} \
         minus {reserved} reserved for the answer): shorten the message or the system prompt, or lower max-tokens"
    )]
    TooLong {
        needed: usize,
        available: usize,
        usable_context: usize,
        reserved: usize,
    },
    #[error("could not count the prompt's tokens: {0}")]
    Count(String),
}

/// Gemma 2's shape: system text folded in, same-role runs merged, user first, user last.
///
/// Returns the turns as strictly alternating user/model messages and the system text (merged
/// from every system message) that [`fold_system`] will prepend to the first user turn.
pub fn normalize(
    system: Option<&str>,
    messages: &[ChatMessage],
) -> Result<(Option<String>, Vec<ChatMessage>), PromptError> {
    let mut system_parts: Vec<&str> = system.into_iter().filter(|s| !s.trim().is_empty()).collect();
    let mut turns: Vec<ChatMessage> = Vec::new();
    for m in messages {
        match m.role {
            Role::System => system_parts.push(&m.text),
            role => match turns.last_mut() {
                Some(last) if last.role == role => {
                    last.text.push_str("\n\n");
                    last.text.push_str(&m.text);
                }
                // A model turn before any user turn has nothing to answer; the template would
                // reject it, so it stays in the transcript but not in the prompt.
                None if role == Role::Model => {}
                _ => turns.push(m.clone()),
            },
        }
    }
    if turns.last().map(|m| m.role) != Some(Role::User) {
        return Err(PromptError::NoUserTurn);
    }
    let system = (!system_parts.is_empty()).then(|| system_parts.join("\n\n"));
    Ok((system, turns))
}

/// Prepends the system text to the first (user) turn, the way Google's examples do.
pub fn fold_system(system: Option<&str>, turns: &[ChatMessage]) -> Vec<ChatMessage> {
    let mut out = turns.to_vec();
    if let (Some(system), Some(first)) = (system, out.first_mut()) {
        first.text = format!("{system}\n\n{}", first.text);
    }
    out
}

/// A prompt that fits, and what it cost to make it fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedPrompt {
    pub messages: Vec<ChatMessage>,
    pub prompt_tokens: usize,
    /// Whole user/model pairs dropped from the start of the conversation.
    pub dropped_pairs: usize,
}

/// Drops the oldest whole user/model pairs until the prompt plus `reserved` answer tokens fit in
/// `usable_context`. The system prompt and the newest user turn are never dropped.
///
/// `count` returns the prompt's token count as the model will see it (template + tokenizer).
/// Fewer pairs never cost more tokens, so the smallest drop is found by binary search.
pub async fn fit_to_budget<F, Fut>(
    system: Option<&str>,
    turns: &[ChatMessage],
    usable_context: usize,
    reserved: usize,
    mut count: F,
) -> Result<FittedPrompt, PromptError>
where
    F: FnMut(Vec<ChatMessage>) -> Fut,
    Fut: Future<Output = Result<usize, PromptError>>,
{
    let available = usable_context.saturating_sub(reserved);
    let pairs = turns.len() / 2; // turns alternate and end with a user turn
    let mut attempt = async |dropped: usize| -> Result<FittedPrompt, PromptError> {
        let messages = fold_system(system, &turns[dropped * 2..]);
        let prompt_tokens = count(messages.clone()).await?;
        Ok(FittedPrompt {
            messages,
            prompt_tokens,
            dropped_pairs: dropped,
        })
    };

    let whole = attempt(0).await?;
    if whole.prompt_tokens <= available {
        return Ok(whole);
    }
    let mut best = attempt(pairs).await?;
    if best.prompt_tokens > available {
        return Err(PromptError::TooLong {
            needed: best.prompt_tokens,
            available,
            usable_context,
            reserved,
        });
    }
    // Invariant: dropping `lo` pairs does not fit, dropping `best.dropped_pairs` does.
    let mut lo = 0;
    while best.dropped_pairs - lo > 1 {
        let mid = lo + (best.dropped_pairs - lo) / 2;
        let fitted = attempt(mid).await?;
        if fitted.prompt_tokens <= available {
            best = fitted;
        } else {
            lo = mid;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(messages: &[ChatMessage]) -> Result<usize, PromptError> {
        Ok(messages
            .iter()
            .map(|m| m.text.split_whitespace().count() + 3)
            .sum::<usize>()
            + 2)
    }

    fn fit(
        system: Option<&str>,
        turns: &[ChatMessage],
        usable: usize,
        reserved: usize,
    ) -> Result<FittedPrompt, PromptError> {
        futures::executor::block_on(fit_to_budget(
            system,
            turns,
            usable,
            reserved,
            |m| async move { words(&m) },
        ))
    }

    #[test]
    fn system_is_folded_into_the_first_user_turn() {
        let (system, turns) = normalize(Some("Be brief."), &[ChatMessage::user("Hi")]).unwrap();
        let folded = fold_system(system.as_deref(), &turns);
        assert_eq!(folded, vec![ChatMessage::user("Be brief.\n\nHi")]);
    }

    #[test]
    fn system_messages_inside_the_conversation_join_the_system_text() {
        let msgs = [
            ChatMessage::system("A"),
            ChatMessage::user("q"),
            ChatMessage::system("B"),
        ];
        let (system, turns) = normalize(Some("S"), &msgs).unwrap();
        assert_eq!(system.as_deref(), Some("S\n\nA\n\nB"));
        assert_eq!(turns, vec![ChatMessage::user("q")]);
    }

    #[test]
    fn same_role_runs_merge_and_roles_alternate() {
        let msgs = [
            ChatMessage::model("greeting"),
            ChatMessage::user("a"),
            ChatMessage::user("b"),
            ChatMessage::model("c"),
            ChatMessage::model("d"),
            ChatMessage::user("e"),
        ];
        let (_, turns) = normalize(None, &msgs).unwrap();
        assert_eq!(
            turns,
            vec![
                ChatMessage::user("a\n\nb"),
                ChatMessage::model("c\n\nd"),
                ChatMessage::user("e")
            ]
        );
    }

    #[test]
    fn a_conversation_must_end_with_the_user() {
        assert_eq!(normalize(None, &[]), Err(PromptError::NoUserTurn));
        let msgs = [ChatMessage::user("a"), ChatMessage::model("b")];
        assert_eq!(normalize(None, &msgs), Err(PromptError::NoUserTurn));
    }

    fn conversation(pairs: usize) -> Vec<ChatMessage> {
        let mut v = Vec::new();
        for i in 0..pairs {
            v.push(ChatMessage::user(format!("question {i} with some words")));
            v.push(ChatMessage::model(format!("answer {i} with a few more words here")));
        }
        v.push(ChatMessage::user("newest"));
        v
    }

    #[test]
    fn fitting_prompt_is_untouched() {
        let turns = conversation(2);
        let fitted = fit(Some("sys"), &turns, 1000, 100).unwrap();
        assert_eq!(fitted.dropped_pairs, 0);
        assert_eq!(fitted.messages.len(), 5);
        assert!(fitted.messages[0].text.starts_with("sys\n\n"));
    }

    #[test]
    fn oldest_pairs_go_first_and_the_fewest_possible() {
        let turns = conversation(20);
        for budget in [40usize, 57, 90, 150, 200] {
            let fitted = fit(Some("keep me"), &turns, budget + 10, 10).unwrap();
            assert!(fitted.prompt_tokens <= budget);
            assert_eq!(fitted.prompt_tokens, words(&fitted.messages).unwrap());
            // The system prompt and the newest user turn survive.
            assert!(fitted.messages[0].text.starts_with("keep me\n\n"));
            assert_eq!(fitted.messages.last().unwrap().text, "newest");
            // Whole pairs: still alternating, user first.
            assert_eq!(fitted.messages.len(), turns.len() - 2 * fitted.dropped_pairs);
            // Minimal: keeping one more pair would not fit.
            if fitted.dropped_pairs > 0 {
                let one_more = fold_system(Some("keep me"), &turns[(fitted.dropped_pairs - 1) * 2..]);
                assert!(words(&one_more).unwrap() > budget);
            }
        }
    }

    #[test]
    fn a_newest_turn_that_cannot_fit_is_an_error_with_numbers() {
        let turns = vec![ChatMessage::user("word ".repeat(100))];
        let err = fit(None, &turns, 64, 16).unwrap_err();
        assert_eq!(
            err,
            PromptError::TooLong {
                needed: 105,
                available: 48,
                usable_context: 64,
                reserved: 16
            }
        );
        assert!(err.to_string().contains("lower max-tokens"));
    }
}
