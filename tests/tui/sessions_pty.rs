//! Sessions through the real binary in a pseudo-terminal: a session imported with a Markdown
//! answer comes back on screen with `--resume last`, and a chat typed in the pty is saved
//! (listed and exported afterwards by `gemma-tui sessions`).

use std::path::Path;

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use serde_json::json;

use super::pty::{sessions, start, tiny_model, wait_exit, Running};

/// Ctrl+Q, then waits for a clean exit.
fn quit(run: &mut Running) {
    run.session.send(b"\x11");
    let status = wait_exit(run);
    assert!(status.success(), "exit status {status:?}");
}

const ANSWER: &str = "# Crab facts\n\nCrabs walk **sideways** on eight legs.\n\n```rust\nfn crab_walk() -> u8 { 8 }\n```\n\n| leg | count |\n|-----|-------|\n| walking | 8 |\n";

/// Imports a saved session of one question and its answer, as `gemma-tui sessions export` writes it.
fn import_exchange(root: &Path, id: &str, title: &str, question: &str, answer: &str) {
    let doc = json!({
        "format": "gemma-tui-session", "version": 1, "exported_at": 1_709_294_400_000_i64,
        "session": {
            "id": id, "title": title, "model": "gemma-2-2b",
            "created_at": 1_709_294_400_000_i64, "updated_at": 1_709_294_401_000_i64,
            "system_prompt": null,
            "sampling": {"temperature": 0.0, "top_k": null, "top_p": 1.0, "min_p": 0.0,
                "repetition_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0,
                "max_new_tokens": 64},
            "messages": [
                {"id": 1, "role": "user", "text": question, "created_at": 1_709_294_400_000_i64,
                 "model": null, "finish": null, "usage": null},
                {"id": 2, "role": "model", "text": answer, "created_at": 1_709_294_401_000_i64,
                 "model": "gemma-2-2b", "finish": "stop", "usage": null}
            ]
        }
    });
    let file = root.join(format!("{id}.json"));
    std::fs::write(&file, doc.to_string()).expect("write the import");
    sessions(root, &["import", file.to_str().expect("utf-8 path")]);
}

#[test]
fn resume_last_shows_the_saved_transcript_and_quits_cleanly() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let model = tiny_model(r);
    import_exchange(r, "imported01", "Crab questions", "How do crabs walk?", ANSWER);

    let mut run = start(r, &model, &["--resume", "last"]);
    let screen = run.session.wait_for("the restored transcript", |t| {
        t.contains("How do crabs walk?") && t.contains("fn crab_walk() -> u8 { 8 }") && t.contains("tiny-gemma2 ready")
    });
    assert!(screen.contains("Crab facts") && screen.contains("sideways"), "{screen}");
    // Rendered as Markdown in the real terminal: markers gone, the code block framed and
    // labelled, the table drawn with its columns, the strong word bold and the code coloured.
    assert!(
        !screen.contains("# Crab") && !screen.contains("**sideways**"),
        "{screen}"
    );
    assert!(!screen.contains("```") && screen.contains("[1] rust"), "{screen}");
    assert!(!screen.contains("|-----|"), "{screen}");
    let row_of = |needle: &str| screen.lines().position(|l| l.contains(needle)).expect(needle);
    let (walking, count) = (row_of("walking"), row_of("count"));
    let column = |row: usize, needle: &str| screen.lines().nth(row).and_then(|l| l.find(needle));
    assert_eq!(
        column(walking, "8"),
        column(count, "count"),
        "table columns aligned:\n{screen}"
    );
    {
        let guard = run.session.screen.lock().expect("screen");
        let vt = guard.parser.screen();
        let at = |needle: &str| {
            let row = row_of(needle);
            let line = screen.lines().nth(row).expect("row");
            let col = line[..line.find(needle).expect("col")].chars().count();
            vt.cell(row as u16, col as u16).expect("cell").clone()
        };
        assert!(at("sideways").bold(), "strong text is bold");
        assert_ne!(
            at("fn crab_walk").fgcolor(),
            vt100::Color::Default,
            "code is highlighted"
        );
    }

    // The sessions pane lists it and finds it by a word of the answer.
    run.session.send(b"\x0f");
    run.session.wait_for("the sessions pane", |t| {
        t.contains("Sessions") && t.contains("Crab questions") && t.contains("2 msgs")
    });
    run.session.send(b"sidew");
    run.session
        .wait_for("a search hit", |t| t.contains("model: ") && t.contains("**sideways**"));
    // Esc clears the search, a second Esc closes the pane. Sent apart: two ESC bytes in one
    // read would arrive as Alt+Esc.
    run.session.send(b"\x1b");
    run.session
        .wait_for("the search cleared", |t| t.contains("type to search"));
    run.session.send(b"\x1b");
    run.session.wait_for("the pane to close", |t| !t.contains("Search:"));
    quit(&mut run);
}

#[test]
fn a_damaged_session_file_is_moved_aside_and_the_user_told_where() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let model = tiny_model(r);
    std::fs::create_dir_all(r.join("data")).expect("data dir");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(r.join("data/sessions.db"), garbage).expect("write garbage");
    let mut run = start(r, &model, &[]);
    let screen = run
        .session
        .wait_for("the damage banner", |t| t.contains("damaged") && t.contains("corrupt-"));
    assert!(screen.contains("moved to"), "{screen}");
    run.session
        .wait_for("the model to load", |t| t.contains("tiny-gemma2 ready"));
    quit(&mut run);
    let moved = std::fs::read_dir(r.join("data"))
        .expect("list data")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("sessions.db.corrupt-"));
    assert!(moved, "the damaged file was kept under another name");
}

#[test]
fn a_chat_typed_in_the_terminal_is_saved_listed_and_exported() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let model = tiny_model(r);
    let mut run = start(r, &model, &[]);
    run.session
        .wait_for("the model to load", |t| t.contains("tiny-gemma2 ready"));
    run.session.send("Remember the lighthouse keeper\r".as_bytes());
    run.session.wait_for("the answer to end", |t| {
        t.contains("Remember the lighthouse keeper") && t.contains(" ready") && t.contains("tok/s")
    });
    quit(&mut run);

    let list = String::from_utf8_lossy(&sessions(r, &["list"]).stdout).into_owned();
    let row = list
        .lines()
        .find(|l| l.ends_with("\tRemember the lighthouse keeper"))
        .unwrap_or_else(|| panic!("the chat is listed:\n{list}"));
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!((cols[2], cols[3]), ("2", "tiny-gemma2"), "{row}");
    let json = sessions(r, &["export", cols[0], "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let messages = &doc["session"]["messages"];
    assert_eq!(messages[0]["text"], "Remember the lighthouse keeper");
    assert_eq!(messages[1]["role"], "model");
    assert!(
        matches!(messages[1]["finish"].as_str(), Some("stop" | "length")),
        "{}",
        messages[1]
    );
    assert!(messages[1]["usage"]["completion_tokens"].as_u64() > Some(0));
    let md = String::from_utf8_lossy(&sessions(r, &["export", "last"]).stdout).into_owned();
    assert!(md.contains("Remember the lighthouse keeper"), "{md}");
}

/// `gemma-tui sessions ARGS` on a pseudo-terminal: everything it wrote there, raw.
fn sessions_on_a_terminal(root: &Path, args: &[&str]) -> Vec<u8> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gemma-tui"));
    cmd.arg("sessions");
    for arg in args {
        cmd.arg(arg);
    }
    for (var, dir) in [
        ("GEMMA_TUI_CONFIG_DIR", "config"),
        ("GEMMA_TUI_DATA_DIR", "data"),
        ("GEMMA_TUI_STATE_DIR", "state"),
    ] {
        cmd.env(var, root.join(dir));
    }
    let mut child = pair.slave.spawn_command(cmd).expect("spawn gemma-tui sessions");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let read = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut reader, &mut out); // EIO once the child is gone
        out
    });
    let status = child.wait().expect("wait");
    assert!(status.success(), "sessions {args:?}: {status:?}");
    drop(pair.master);
    read.join().expect("reader thread")
}

#[test]
fn sessions_list_and_export_on_a_terminal_never_write_escapes_but_a_pipe_gets_the_saved_text() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    // A title that would set the window title and clear the screen, an answer that would write
    // the clipboard and recolour the terminal.
    let title = "Crabs \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m";
    let answer = "sure \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[31mred\u{1b}[0m 안녕";
    import_exchange(r, "escapes001", title, "hi", answer);

    for args in [
        &["list"][..],
        &["export", "last", "--format", "md"],
        &["export", "last", "--format", "json"],
    ] {
        let shown = sessions_on_a_terminal(r, args);
        let text = String::from_utf8_lossy(&shown);
        assert!(
            !shown.contains(&0x1b) && !text.contains('\u{9b}') && !text.contains('\u{7}'),
            "sessions {args:?} wrote a control sequence to the terminal: {text:?}"
        );
        assert!(text.contains("Crabs") || text.contains("안녕"), "{args:?}: {text:?}");
    }
    // Through a pipe the saved text comes out byte for byte, for scripts and backups.
    let piped = String::from_utf8(sessions(r, &["export", "last", "--format", "md"]).stdout).expect("utf-8");
    assert!(piped.contains(answer), "{piped:?}");
}
