//! Faults under the real binary in a pseudo-terminal, with an answer slow enough to be caught
//! mid-stream: a server on 127.0.0.1 (written here) that sends one word every 50 ms. SIGTERM
//! mid-answer saves the partial answer, marked; SIGSTOP / SIGCONT and Ctrl+Z / fg lose nothing
//! and bring the screen back; a terminal closed under the program ends it cleanly, saved.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::pty::{sessions, start, wait_exit, Running};

/// Words the slow server's answer has, one every [`EVERY`].
const WORDS: usize = 400;
const EVERY: Duration = Duration::from_millis(50);

/// Serves `/v1/models` and a slow streamed answer (`w0 w1 …`) until the test ends.
fn slow_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            std::thread::spawn(move || serve(socket));
        }
    });
    url
}

fn serve(mut socket: TcpStream) {
    let Some(path) = read_request(&mut socket) else {
        return;
    };
    let json = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let reply = match path.as_str() {
        "/v1/models" => json(
            r#"{"object":"list","data":[{"id":"slow-gemma-2","object":"model","owned_by":"vllm","max_model_len":8192}]}"#,
        ),
        "/tokenize" => json(r#"{"count":12,"max_model_len":8192}"#),
        "/v1/chat/completions" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).is_err() {
                return;
            }
            for i in 0..WORDS {
                std::thread::sleep(EVERY);
                let chunk = format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}},\"finish_reason\":null}}]}}\n\n"
                );
                if socket.write_all(chunk.as_bytes()).and_then(|_| socket.flush()).is_err() {
                    return;
                }
            }
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
                .to_string()
        }
        _ => json("{}"),
    };
    let _ = socket.write_all(reply.as_bytes());
}

/// Reads one request (head and body); returns its path.
fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut reader = BufReader::new(socket.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(path)
}

fn kill(run: &Running, signal: &str) {
    let pid = run.child.process_id().expect("pid");
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal}");
}

/// A chat through the slow server, streaming; returns it once a few words are on screen.
fn streaming(root: &Path) -> Running {
    let url = slow_server();
    // `--model` names the server's model.
    let mut run = start(root, Path::new("slow-gemma-2"), &["--remote", &url]);
    run.session.wait_for("the server's model", |t| {
        t.contains("slow-gemma-2") && t.contains(" ready")
    });
    run.session.send(b"Tell me everything\r");
    run.session.wait_for("the answer to stream", |t| t.contains("w3 "));
    run
}

/// The saved answer of the last session, from `sessions export last --format json`.
fn saved_answer(root: &Path) -> serde_json::Value {
    let json = sessions(root, &["export", "last", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    doc["session"]["messages"][1].clone()
}

#[test]
fn sigterm_mid_answer_saves_the_partial_answer_marked() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut run = streaming(root.path());
    kill(&run, "TERM");
    let status = wait_exit(&mut run);
    assert!(status.success(), "a clean exit: {status:?}");
    let answer = saved_answer(root.path());
    let text = answer["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("w0 w1 w2 w3"), "{answer}");
    assert!(
        !text.contains(&format!("w{} ", WORDS - 1)),
        "it was cut short: {answer}"
    );
    assert_eq!(answer["finish"], "interrupted", "{answer}");
}

#[test]
fn sigstop_and_sigcont_lose_nothing_and_the_answer_goes_on() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut run = streaming(root.path());
    kill(&run, "STOP");
    std::thread::sleep(Duration::from_millis(400));
    kill(&run, "CONT");
    run.session.wait_for("the answer to go on", |t| t.contains("w20 "));
    run.session.send(b"\x1b"); // stop it; the partial answer stays
    run.session.wait_for("the stopped answer", |t| t.contains("· stopped"));
    run.session.send(b"\x11");
    assert!(wait_exit(&mut run).success());
    let answer = saved_answer(root.path());
    assert!(answer["text"].as_str().unwrap_or_default().contains("w20 "), "{answer}");
    assert_eq!(answer["finish"], "cancelled", "{answer}");
}

#[test]
fn ctrl_z_hands_the_terminal_back_and_fg_brings_the_chat_back() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut run = streaming(root.path());
    run.session.send(b"\x1a"); // Ctrl+Z
    let left = |raw: &[u8]| String::from_utf8_lossy(raw).matches("\x1b[?1049l").count();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while left(&run.session.screen.lock().expect("screen").raw) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "Ctrl+Z did not leave the alternate screen"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // What `fg` does: continue the stopped process.
    kill(&run, "CONT");
    let entered = |raw: &[u8]| String::from_utf8_lossy(raw).matches("\x1b[?1049h").count();
    while entered(&run.session.screen.lock().expect("screen").raw) < 2 {
        assert!(std::time::Instant::now() < deadline, "fg did not bring the screen back");
        std::thread::sleep(Duration::from_millis(10));
    }
    run.session.wait_for("the chat redrawn, the answer going on", |t| {
        t.contains("Tell me everything") && t.contains("w30 ")
    });
    run.session.send(b"\x11");
    assert!(wait_exit(&mut run).success());
}

#[test]
fn a_terminal_closed_under_the_program_ends_it_cleanly_and_saves_the_chat() {
    let root = tempfile::tempdir().expect("temp dir");
    let Running {
        session,
        mut child,
        master,
    } = streaming(root.path());
    // The terminal emulator's window goes away: every handle on its side of the pty closes.
    session.screen.lock().expect("screen").hang_up = true;
    drop(session);
    drop(master);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gemma-tui did not exit after its terminal closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(root.path().join("state/gemma-tui.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    // Either SIGHUP ends it (exit 0) or a write to the gone terminal does (exit 1, the line
    // to stderr dropped): never a panic (101), and the chat is saved either way.
    assert!(
        status.exit_code() <= 1,
        "exit {status:?}; the log ends:\n{}",
        tail.join("\n")
    );
    let answer = saved_answer(root.path());
    assert!(
        answer["text"].as_str().unwrap_or_default().starts_with("w0 w1 w2 w3"),
        "{answer}"
    );
    assert_eq!(answer["finish"], "interrupted", "{answer}");
}
