//! `gemma-tui sessions ...` and `--resume` through the real binary, on temporary data dirs (no
//! model is loaded, nothing touches the real home): import -> list -> export (JSON and
//! Markdown) round trip, a bad import refused with nothing changed, an unknown resume id
//! failing cleanly.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn gemma(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gemma-tui"))
        .args(args)
        .env("GEMMA_TUI_CONFIG_DIR", root.join("config"))
        .env("GEMMA_TUI_DATA_DIR", root.join("data"))
        .env("GEMMA_TUI_STATE_DIR", root.join("state"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", root.join("hf"))
        .output()
        .expect("run gemma-tui")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A session in the export format, with text a terminal must never see raw.
pub fn document(title: &str, question: &str, answer: &str) -> Value {
    json!({
        "format": "gemma-tui-session",
        "version": 1,
        "exported_at": 1_709_294_400_000_i64,
        "session": {
            "id": "oldid00001",
            "title": title,
            "model": "gemma-2-2b",
            "created_at": 1_709_294_400_000_i64,
            "updated_at": 1_709_294_460_000_i64,
            "system_prompt": "be kind",
            "sampling": {
                "temperature": 0.5, "top_k": 40, "top_p": 0.9, "min_p": null,
                "repetition_penalty": 1.1, "frequency_penalty": null, "presence_penalty": null,
                "max_new_tokens": 256
            },
            "messages": [
                {"id": 1, "role": "user", "text": question, "created_at": 1_709_294_400_000_i64,
                 "model": null, "finish": null, "usage": null},
                {"id": 2, "role": "model", "text": answer, "created_at": 1_709_294_401_000_i64,
                 "model": "gemma-2-2b", "finish": "stop",
                 "usage": {"prompt_tokens": 10, "completion_tokens": 20,
                           "time_to_first_token_ms": 300, "tokens_per_second": 25.5}}
            ]
        }
    })
}

fn write(root: &Path, name: &str, value: &str) -> String {
    let path = root.join(name);
    std::fs::write(&path, value).expect("write the file");
    path.to_str().expect("utf-8 path").to_string()
}

#[test]
fn import_list_and_export_round_trip() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let answer = "Ferris says \u{1b}[31mhi\u{1b}[0m and 안녕 🦀";
    let doc = document("Crab talk", "Who is Ferris?", answer);
    let file = write(r, "in.json", &doc.to_string());

    let imported = gemma(r, &["sessions", "import", &file]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let id = stdout(&imported).trim().to_string();
    assert_eq!(id.len(), 10, "prints the new id: {id:?}");

    let list = gemma(r, &["sessions", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let listed = stdout(&list);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .expect("the session is listed");
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!(cols[1..], ["2024-03-01 12:01 UTC", "2", "gemma-2-2b", "Crab talk"]);

    let json_out = gemma(r, &["sessions", "export", &id, "--format", "json"]);
    assert!(json_out.status.success(), "{}", stderr(&json_out));
    let exported: Value = serde_json::from_str(&stdout(&json_out)).expect("valid JSON");
    assert_eq!(
        exported["session"]["messages"],
        doc["session"]["messages"].clone().tap_ids(&exported)
    );
    assert_eq!(exported["session"]["sampling"], doc["session"]["sampling"]);
    assert_eq!(exported["session"]["system_prompt"], "be kind");

    // Not a terminal: the export is the raw saved text, byte for byte.
    let md = gemma(r, &["sessions", "export", "last", "--format", "md"]);
    assert!(md.status.success(), "{}", stderr(&md));
    let md = stdout(&md);
    assert!(md.starts_with("# Crab talk\n"), "{md}");
    assert!(md.contains("Who is Ferris?") && md.contains(answer), "{md}");

    // The export imports again: a second, identical session.
    let again = write(r, "again.json", &stdout(&json_out));
    let second = gemma(r, &["sessions", "import", &again]);
    assert!(second.status.success(), "{}", stderr(&second));
    let list = stdout(&gemma(r, &["sessions", "list"]));
    assert_eq!(list.lines().filter(|l| l.ends_with("\tCrab talk")).count(), 2, "{list}");
}

/// Message ids are new on import; compare everything else.
trait TapIds {
    fn tap_ids(self, exported: &Value) -> Value;
}

impl TapIds for Value {
    fn tap_ids(mut self, exported: &Value) -> Value {
        if let (Some(mine), Some(theirs)) = (self.as_array_mut(), exported["session"]["messages"].as_array()) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m["id"] = t["id"].clone();
            }
        }
        self
    }
}

/// A real export with one byte of its title made invalid UTF-8 (as a Latin-1 editor saves it).
fn not_utf8(root: &Path) -> String {
    let mut bytes = document("Caf\u{e9}", "q", "a").to_string().into_bytes();
    let at = bytes
        .windows(2)
        .position(|w| w == [0xc3, 0xa9])
        .expect("é in the title");
    bytes.splice(at..at + 2, [0xe9]);
    let path = root.join("latin1.json");
    std::fs::write(&path, bytes).expect("write the file");
    path.to_str().expect("utf-8 path").to_string()
}

#[test]
fn a_bad_import_is_refused_with_the_reason_and_changes_nothing() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let good = write(r, "good.json", &document("Kept", "q", "a").to_string());
    assert!(gemma(r, &["sessions", "import", &good]).status.success());
    let before = stdout(&gemma(r, &["sessions", "list"]));

    let mut bad = document("Broken", "q", "a");
    bad["session"]["messages"][0]["finish"] = json!("stop");
    let cases = [
        (
            write(r, "finish.json", &bad.to_string()),
            "user message cannot have finish",
        ),
        (write(r, "cut.json", "{\"format\": \"gemma-tui-sess"), "not valid JSON"),
        (r.join("missing.json").display().to_string(), "cannot read"),
        (not_utf8(r), "did not contain valid UTF-8"),
    ];
    for (file, reason) in cases {
        let out = gemma(r, &["sessions", "import", &file]);
        assert!(!out.status.success(), "{file} was accepted");
        let err = stderr(&out);
        assert!(err.contains(reason), "{file}: {err}");
        assert!(stdout(&out).is_empty());
    }
    assert_eq!(
        stdout(&gemma(r, &["sessions", "list"])),
        before,
        "nothing half-imported"
    );
}

#[test]
fn resuming_an_unknown_session_fails_in_one_line_and_touches_nothing() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let fresh = gemma(r, &["--resume", "last"]);
    assert!(!fresh.status.success());
    assert!(stderr(&fresh).contains("no saved sessions"), "{}", stderr(&fresh));
    assert!(
        !r.join("data/sessions.db").exists(),
        "no database created by a failed resume"
    );

    let file = write(r, "in.json", &document("There", "q", "a").to_string());
    assert!(gemma(r, &["sessions", "import", &file]).status.success());
    let before = stdout(&gemma(r, &["sessions", "export", "last", "--format", "json"]));
    let out = gemma(r, &["--resume", "nosuch1234"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nosuch1234") && err.contains("sessions list"), "{err}");
    let after = stdout(&gemma(r, &["sessions", "export", "last", "--format", "json"]));
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).expect("json");
        v["exported_at"] = Value::Null;
        v
    };
    assert_eq!(strip(&before), strip(&after));

    let unknown_export = gemma(r, &["sessions", "export", "nosuch1234"]);
    assert!(!unknown_export.status.success());
    assert!(stderr(&unknown_export).contains("nosuch1234"));
}
