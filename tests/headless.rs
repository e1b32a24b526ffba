//! The `gemma-tui` binary in headless mode: the reply on stdout, statistics on stderr, and one
//! actionable line with a non-zero exit for each kind of bad input. Never a panic message.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::goldens;
use support::harness::{self, fixture_copy};

/// The binary with every directory it could touch pointed into a private temp dir, so no test
/// reads the developer's config or cache, or reaches the network.
fn gemma_tui(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gemma-tui"));
    cmd.env("GEMMA_TUI_CONFIG_DIR", home.join("config"))
        .env("GEMMA_TUI_DATA_DIR", home.join("data"))
        .env("GEMMA_TUI_STATE_DIR", home.join("state"))
        .env("HF_HOME", home.join("hf"))
        .env("HF_HUB_CACHE", home.join("hf/hub"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9") // discard port: nothing listens
        .env_remove("HF_TOKEN")
        .arg("--device")
        .arg("cpu");
    cmd
}

fn temp_home(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("home-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run gemma-tui")
}

/// A failure is exactly one line on stderr, naming the problem, with no panic noise.
fn assert_one_line_failure(out: &Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("gemma-tui: "), "{stderr}");
    assert!(stderr.contains(expect), "expected `{expect}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn korean_prompt_streams_transformers_reply() {
    let goldens = goldens::load();
    let case = goldens
        .cases
        .iter()
        .find(|c| c.messages.len() == 1 && c.messages[0].text == "안녕하세요" && c.repetition_penalty == 1.05)
        .expect("the 안녕하세요 golden");
    let home = temp_home("korean");
    let out = run(gemma_tui(&home)
        .arg("--model")
        .arg(harness::fixture())
        .args(["--prompt", "안녕하세요", "--max-tokens"])
        .arg(case.max_new_tokens.to_string()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let expected = gemma_tui::sanitize::sanitize(&case.text).into_owned() + "\n";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert!(stderr.contains("answer tokens"), "{stderr}");
    assert!(stderr.contains(&format!("finish: {}", case.finish)), "{stderr}");
}

#[test]
fn the_prompt_can_come_from_stdin() {
    let home = temp_home("stdin");
    let mut child = gemma_tui(&home)
        .arg("--model")
        .arg(harness::fixture())
        .args(["--prompt", "-", "--max-tokens", "6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all("Hello there".as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("6 answer tokens"));
}

#[test]
fn a_folder_that_is_not_a_model() {
    let dir = fixture_copy("no-config");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let out = run(gemma_tui(&temp_home("no-config"))
        .arg("--model")
        .arg(&dir)
        .args(["--prompt", "hi"]));
    assert_one_line_failure(&out, "is not a model folder: it lacks config.json");
}

#[test]
fn a_truncated_weights_file() {
    let dir = fixture_copy("truncated");
    let weights = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(gemma_tui(&temp_home("truncated"))
        .arg("--model")
        .arg(&dir)
        .args(["--prompt", "hi"]));
    assert_one_line_failure(&out, "model.safetensors is corrupt");
}

#[test]
fn a_corrupt_tokenizer() {
    let dir = fixture_copy("bad-tokenizer");
    std::fs::write(dir.join("tokenizer.json"), "{ not json").unwrap();
    let out = run(gemma_tui(&temp_home("bad-tokenizer"))
        .arg("--model")
        .arg(&dir)
        .args(["--prompt", "hi"]));
    assert_one_line_failure(&out, "tokenizer.json is corrupt");
}

#[test]
fn a_config_mistral_rs_cannot_load_is_an_error_not_a_panic() {
    let dir = fixture_copy("bad-config");
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&config).unwrap();
    json.as_object_mut().unwrap().remove("hidden_size");
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    let out = run(gemma_tui(&temp_home("bad-config"))
        .arg("--model")
        .arg(&dir)
        .args(["--prompt", "hi"]));
    assert_one_line_failure(&out, "mistral.rs could not load");
}

/// Reads `file` in `dir` as JSON, changes it, writes it back.
fn edit_json(dir: &Path, file: &str, change: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(file);
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut json);
    std::fs::write(&path, json.to_string()).unwrap();
}

fn ask_hi(dir: &Path, home: &str) -> Output {
    run(gemma_tui(&temp_home(home))
        .arg("--model")
        .arg(dir)
        .args(["--prompt", "hi"]))
}

#[test]
fn a_config_that_lies_about_shapes_is_an_error_not_a_panic() {
    let dir = fixture_copy("lying-config");
    edit_json(&dir, "config.json", |json| {
        let hidden = json["hidden_size"].as_u64().unwrap();
        json["hidden_size"] = (hidden * 2).into();
        json["num_attention_heads"] = 3.into();
    });
    assert_one_line_failure(&ask_hi(&dir, "lying-config"), "mistral.rs could not load");
}

#[test]
fn a_tokenizer_without_gemmas_control_tokens_is_named() {
    let dir = fixture_copy("no-turn-tokens");
    // The turn marks renamed everywhere the tokenizer holds them: it still loads, and still has
    // `<eos>`, but cannot mark a chat turn.
    let path = dir.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("<start_of_turn>") && text.contains("<end_of_turn>"));
    std::fs::write(
        &path,
        text.replace("<start_of_turn>", "<start_of_text>")
            .replace("<end_of_turn>", "<end_of_text>"),
    )
    .unwrap();
    assert_one_line_failure(
        &ask_hi(&dir, "no-turn-tokens"),
        "tokenizer.json: it lacks Gemma's control tokens <start_of_turn> and <end_of_turn>",
    );
}

#[test]
fn a_chat_template_that_does_not_render_is_named_before_the_load() {
    let dir = fixture_copy("bad-template");
    edit_json(&dir, "tokenizer_config.json", |json| {
        json["chat_template"] = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}".into();
    });
    let out = ask_hi(&dir, "bad-template");
    assert_one_line_failure(&out, "tokenizer_config.json: its chat template does not render");
    assert!(String::from_utf8_lossy(&out.stderr).contains("syntax error"));

    // One that parses but refuses every conversation, as a template's `raise_exception` does.
    edit_json(&dir, "tokenizer_config.json", |json| {
        json["chat_template"] = "{{ raise_exception('this template takes no chats') }}".into();
    });
    assert_one_line_failure(&ask_hi(&dir, "bad-template"), "this template takes no chats");
}

#[test]
fn a_folder_of_another_architecture_is_named() {
    let dir = fixture_copy("llama");
    edit_json(&dir, "config.json", |json| {
        json["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
        json["model_type"] = "llama".into();
    });
    assert_one_line_failure(
        &ask_hi(&dir, "llama"),
        "holds a `LlamaForCausalLM` model: gemma-tui runs Gemma 2 and Gemma 3 text models",
    );
}

#[test]
fn an_unknown_preset() {
    let out = run(gemma_tui(&temp_home("preset")).args(["--model", "gemma-2-7b", "--prompt", "hi"]));
    assert_one_line_failure(
        &out,
        "unknown model `gemma-2-7b`: use gemma-2-2b, gemma-2-9b, gemma-2-27b",
    );
}

#[test]
fn an_unreachable_hub_fails_fast() {
    let started = std::time::Instant::now();
    let out = run(gemma_tui(&temp_home("offline")).args(["--model", "gemma-2-2b", "--prompt", "hi"]));
    assert_one_line_failure(&out, "cannot reach the Hugging Face hub");
    // Not a timing assertion on speed, only a guard against the 30 s stall this replaces.
    assert!(started.elapsed().as_secs() < 25);
}

/// A one-shot HTTP server on loopback that answers every request with `status`.
fn refusing_hub(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = r#"{"error":"Access to model google/gemma-2-2b-it is restricted."}"#;
            let reply = format!(
                "HTTP/1.1 {status} Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_gated_model_says_to_accept_the_licence_and_set_a_token() {
    let endpoint = refusing_hub(401);
    let out = run(gemma_tui(&temp_home("gated")).env("HF_ENDPOINT", endpoint).args([
        "--model",
        "gemma-2-2b",
        "--prompt",
        "hi",
    ]));
    assert_one_line_failure(
        &out,
        "accept the Gemma licence at https://huggingface.co/google/gemma-2-2b-it",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("HF_TOKEN"));
}

#[test]
fn a_prompt_that_cannot_fit() {
    let out = run(gemma_tui(&temp_home("too-long"))
        .arg("--model")
        .arg(harness::fixture())
        .args(["--prompt", &"word ".repeat(300)]));
    assert_one_line_failure(&out, "tokens but only");
}

#[test]
fn an_invalid_setting_names_its_flag() {
    let out = run(gemma_tui(&temp_home("nan"))
        .arg("--model")
        .arg(harness::fixture())
        .args(["--prompt", "hi", "--temperature", "NaN"]));
    assert_one_line_failure(&out, "temperature");
}

#[test]
fn a_broken_config_file_is_named() {
    let home = temp_home("broken-config");
    std::fs::create_dir_all(home.join("config")).unwrap();
    std::fs::write(home.join("config/config.toml"), "[sampling]\ntemperature = \"hot\"\n").unwrap();
    let out = run(gemma_tui(&home)
        .arg("--model")
        .arg(harness::fixture())
        .args(["--prompt", "hi"]));
    assert_one_line_failure(&out, "config.toml is invalid");
}
