//! The real binary in a pseudo-terminal, driven as a user would: type a message (Hangul and
//! Enter in one write, as an IME sends them), watch the reply stream, stop an answer with Esc,
//! quit, and check the terminal was handed back in cooked mode.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

/// No wait is longer than this; a hang fails the test instead of stalling CI.
pub(crate) const WAIT: Duration = Duration::from_secs(120);
pub(crate) const ROWS: u16 = 30;
pub(crate) const COLS: u16 = 100;

pub(crate) fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a screen size above zero")
}

pub(crate) struct Screen {
    pub(crate) parser: vt100::Parser,
    pub(crate) raw: Vec<u8>,
    /// The test closes its side of the pty: the reader lets go of it at its next read.
    pub(crate) hang_up: bool,
}

pub(crate) struct Session {
    pub(crate) screen: Arc<Mutex<Screen>>,
    pub(crate) writer: Box<dyn Write + Send>,
}

impl Session {
    pub(crate) fn contents(&self) -> String {
        self.screen.lock().expect("screen").parser.screen().contents()
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Polls the screen until `ready` holds; panics with the screen after [`WAIT`].
    pub(crate) fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.contents();
            if ready(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

pub(crate) fn spawn_reader(mut reader: Box<dyn Read + Send>, screen: Arc<Mutex<Screen>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut screen = screen.lock().expect("screen");
            if screen.hang_up {
                break;
            }
            screen.parser.process(&buf[..n]);
            screen.raw.extend_from_slice(&buf[..n]);
        }
    });
}

pub(crate) fn command(root: &Path, model: &Path) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gemma-tui"));
    let model = model.to_str().expect("utf-8 path");
    for arg in [
        "--model",
        model,
        "--device",
        "cpu",
        "--max-tokens",
        "100",
        "--repetition-penalty",
        "1.0",
    ] {
        cmd.arg(arg);
    }
    cmd.arg("--frequency-penalty");
    cmd.arg("0.5");
    for (var, dir) in [
        ("GEMMA_TUI_CONFIG_DIR", "config"),
        ("GEMMA_TUI_DATA_DIR", "data"),
        ("GEMMA_TUI_STATE_DIR", "state"),
    ] {
        cmd.env(var, root.join(dir));
    }
    cmd.env("HF_ENDPOINT", "http://127.0.0.1:9");
    cmd.env("HF_HOME", root.join("hf"));
    cmd.env("TERM", "xterm-256color");
    cmd.cwd(root);
    cmd
}

pub(crate) struct Running {
    pub(crate) session: Session,
    pub(crate) child: Box<dyn Child + Send + Sync>,
    // Kept open until the end: dropping it hangs up the child's terminal.
    pub(crate) master: Box<dyn MasterPty + Send>,
}

/// Starts `gemma-tui` on the tiny model in a fresh pty, with `extra` arguments.
pub(crate) fn start(root: &Path, model: &Path, extra: &[&str]) -> Running {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pty");
    let mut cmd = command(root, model);
    for arg in extra {
        cmd.arg(arg);
    }
    let child = pair.slave.spawn_command(cmd).expect("spawn gemma-tui");
    let screen = Arc::new(Mutex::new(Screen {
        parser: vt100::Parser::new(nonzero(ROWS), nonzero(COLS), 0),
        raw: Vec::new(),
        hang_up: false,
    }));
    spawn_reader(pair.master.try_clone_reader().expect("reader"), screen.clone());
    let session = Session {
        screen,
        writer: pair.master.take_writer().expect("writer"),
    };
    Running {
        session,
        child,
        master: pair.master,
    }
}

/// Waits (at most [`WAIT`]) for the child to exit.
pub(crate) fn wait_exit(run: &mut Running) -> portable_pty::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = run.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "gemma-tui did not exit; the screen:\n{}",
            run.session.contents()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The terminal was handed back: cooked mode, bracketed paste off, the main screen.
fn assert_terminal_restored(run: &Running) {
    if let Some(termios) = run.master.get_termios() {
        let flags = format!("{:?}", termios.local_flags);
        assert!(flags.contains("ICANON") && flags.contains("ECHO"), "{flags}");
    }
    // The child has exited, but the reader thread may still be draining its last output.
    let deadline = Instant::now() + Duration::from_secs(5);
    let left_after_entering = |raw: &[u8]| {
        let raw = String::from_utf8_lossy(raw);
        raw.rfind("\x1b[?1049l") > raw.rfind("\x1b[?1049h")
    };
    while Instant::now() < deadline && !left_after_entering(&run.session.screen.lock().expect("screen").raw) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let guard = run.session.screen.lock().expect("screen");
    let raw = String::from_utf8_lossy(&guard.raw);
    let entered = raw.rfind("\x1b[?1049h").expect("the alternate screen was entered");
    let left = raw.rfind("\x1b[?1049l").expect("the alternate screen was left");
    assert!(left > entered);
    assert!(raw[entered..].contains("\x1b[?2004l"), "bracketed paste was turned off");
    assert!(!guard.parser.screen().alternate_screen());
}

/// `gemma-tui sessions ...` on the same data dirs as the pty run.
pub(crate) fn sessions(root: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gemma-tui"))
        .arg("sessions")
        .args(args)
        .env("GEMMA_TUI_CONFIG_DIR", root.join("config"))
        .env("GEMMA_TUI_DATA_DIR", root.join("data"))
        .env("GEMMA_TUI_STATE_DIR", root.join("state"))
        .output()
        .expect("run gemma-tui sessions");
    assert!(
        out.status.success(),
        "sessions {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn tiny_model(root: &Path) -> PathBuf {
    let model = root.join("tiny-gemma2");
    crate::tiny_gemma::write_tiny_gemma2(&model).expect("tiny model");
    model
}

#[test]
fn the_binary_streams_a_reply_stops_on_esc_and_restores_the_terminal() {
    let root = tempfile::tempdir().expect("temp dir");
    let model = tiny_model(root.path());
    let mut run = start(root.path(), &model, &[]);
    let s = &mut run.session;

    s.wait_for("the model to load", |t| t.contains("tiny-gemma2 ready"));

    // The last syllable and Enter arrive in one write, as an IME commits them.
    s.send("Tell me a long story about the sea, 안녕하세요\r".as_bytes());
    let text = s.wait_for("the streamed reply", |t| {
        t.contains("Gemma") && !t.contains("waiting for the model")
    });
    assert_eq!(
        text.matches("안녕하세요").count(),
        1,
        "one message, nothing left in the box:\n{text}"
    );
    s.send(b"\x1b");
    let text = s.wait_for("the answer to end", |t| {
        t.contains(" ready") && (t.contains("· stopped") || t.contains("tok/s"))
    });

    // If the answer had already ended before Esc arrived, stop a regenerated one at once.
    if !text.contains("· stopped") {
        s.send(b"\x12\x1b");
        s.wait_for("a stopped answer", |t| t.contains("· stopped") && t.contains(" ready"));
    }

    s.send(b"\x11");
    let status = wait_exit(&mut run);
    assert!(status.success(), "exit status {status:?}");
    assert_terminal_restored(&run);
}

/// SIGTERM (a closing terminal emulator, `kill`) ends the chat the normal way: the terminal is
/// restored and the conversation so far is saved.
#[test]
fn sigterm_restores_the_terminal_and_keeps_the_conversation() {
    a_signal_restores_the_terminal_and_keeps_the_conversation("TERM");
}

#[test]
fn sighup_restores_the_terminal_and_keeps_the_conversation() {
    a_signal_restores_the_terminal_and_keeps_the_conversation("HUP");
}

#[test]
fn sigint_restores_the_terminal_and_keeps_the_conversation() {
    a_signal_restores_the_terminal_and_keeps_the_conversation("INT");
}

/// `kill -SIGNAL` mid-chat: the program quits the normal way, the terminal is handed back and
/// the conversation is in the store.
fn a_signal_restores_the_terminal_and_keeps_the_conversation(signal: &str) {
    let root = tempfile::tempdir().expect("temp dir");
    let model = tiny_model(root.path());
    let mut run = start(root.path(), &model, &[]);
    run.session
        .wait_for("the model to load", |t| t.contains("tiny-gemma2 ready"));
    run.session.send("remember the lighthouse\r".as_bytes());
    run.session.wait_for("the reply", |t| {
        t.contains("Gemma") && !t.contains("waiting for the model")
    });

    let pid = run.child.process_id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    wait_exit(&mut run);
    assert_terminal_restored(&run);
    let listed = sessions(root.path(), &["list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("remember the lighthouse"),
        "SIG{signal}: saved before exiting: {listed}"
    );
}

/// A pasted text that holds the bracketed-paste end marker (`ESC [201~`) ends the paste early in
/// the terminal's byte stream: what follows arrives as key presses, and its `\r` must not send
/// the half-pasted message. The whole text stays in the box, as one message when the user sends.
#[test]
fn a_paste_holding_its_own_end_marker_stays_in_the_box_and_sends_nothing() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let model = tiny_model(r);
    let mut run = start(r, &model, &[]);
    let s = &mut run.session;
    s.wait_for("the model to load", |t| t.contains("tiny-gemma2 ready"));

    // What a terminal sends for a paste of "first line\e[201~ and then\rrm -rf ~\r": one write.
    s.send(b"\x1b[200~first line\x1b[201~ and then\rrm -rf ~\r\x1b[201~");
    s.wait_for("the whole paste in the box", |t| {
        t.contains("first line and then") && t.contains("rm -rf ~")
    });
    // The user reads it and presses Enter: well after the paste, as a person would.
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"\r");
    s.wait_for("the answer to end", |t| t.contains(" ready") && t.contains("tok/s"));
    s.send(b"\x11");
    assert!(wait_exit(&mut run).success());

    let json = sessions(r, &["export", "last", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let messages = doc["session"]["messages"].as_array().expect("messages");
    let asked: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(asked.len(), 1, "one message, sent by the user's Enter: {asked:?}");
    assert_eq!(asked[0].trim_end(), "first line and then\nrm -rf ~", "{asked:?}");
}
