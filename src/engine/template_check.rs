//! A model folder's chat template, tried before the model is built. mistral.rs renders it only
//! when the first message is sent, so a template that cannot render would otherwise load fine
//! and then fail every message with a Jinja error; here it is refused with the reason, while the
//! model that is loaded now keeps answering.

use minijinja::{Environment, Error, ErrorKind};
use serde_json::json;

/// Renders `template` on a short Gemma-style conversation, with the same environment settings
/// mistral.rs 0.8.1 uses (Python string methods, `trim_blocks`, `lstrip_blocks`,
/// `raise_exception`). Returns the rendered prompt, or why it does not render.
pub fn render_sample(template: &str) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_lstrip_blocks(true);
    env.set_trim_blocks(true);
    env.add_function("raise_exception", |message: String| -> Result<String, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, message))
    });
    env.add_template("chat_template", template).map_err(describe)?;
    let messages = json!([
        { "role": "user", "content": "hello" },
        { "role": "assistant", "content": "hi" },
        { "role": "user", "content": "안녕" },
    ]);
    let context = json!({
        "messages": messages,
        "add_generation_prompt": true,
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "unk_token": "<unk>",
    });
    env.get_template("chat_template")
        .and_then(|t| t.render(context))
        .map_err(describe)
}

/// One line: the error and, where minijinja knows it, the template line.
fn describe(e: Error) -> String {
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    match e.line() {
        Some(line) => format!("{}{detail} (template line {line})", e.kind()),
        None => format!("{}{detail}", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gemma 2's template as google/gemma-2-9b-it ships it.
    const GEMMA2: &str = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

    #[test]
    fn gemma2s_own_template_renders_the_turns() {
        let prompt = render_sample(GEMMA2).expect("renders");
        assert_eq!(
            prompt,
            "<bos><start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\nhi<end_of_turn>\n\
             <start_of_turn>user\n안녕<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let err = render_sample("{{ bos_token }}\n{% for m in messages %}{{ m.content }}").expect_err("unclosed for");
        assert!(err.contains("syntax error") && err.contains("line"), "{err}");
    }

    #[test]
    fn a_template_that_always_raises_says_its_message() {
        let err = render_sample("{{ raise_exception('no chats here') }}").expect_err("raises");
        assert!(err.contains("no chats here"), "{err}");
    }

    #[test]
    fn python_string_methods_work_as_in_mistral_rs() {
        let prompt =
            render_sample("{% for m in messages %}{{ m.content.strip().upper() }}{% endfor %}").expect("renders");
        assert_eq!(prompt, "HELLOHI안녕");
    }
}
