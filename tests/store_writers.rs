//! Ten instances of the program writing one sessions file at once: ten processes (this test
//! binary re-run with an env var), each appending to one shared session and to a session of its
//! own. Nothing may be lost, each writer's messages stay in its order, and the file passes
//! SQLite's `integrity_check`. Owns no store code.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use gemma_tui::store::{NewSession, SamplingRecord, SessionId, Store};

const CHILD_ENV: &str = "GEMMA_STORE_WRITER_CHILD";
const WRITERS: usize = 10;
const SHARED_MESSAGES: usize = 60;
const OWN_MESSAGES: usize = 20;

fn new_session(title: &str) -> NewSession {
    NewSession {
        title: title.into(),
        model: "gemma-writers".into(),
        system_prompt: None,
        sampling: SamplingRecord::default(),
    }
}

fn shared_text(writer: usize, i: usize) -> String {
    format!("w{writer} m{i} 안녕 {}", "x".repeat(i * 13 % 300))
}

/// The child's body; a no-op in a normal test run.
#[test]
fn writer_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, '|');
    let (Some(writer), Some(sid), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let writer: usize = writer.parse().expect("writer");
    let shared: SessionId = sid.parse().expect("session id");
    let (mut store, report) = Store::open(path).expect("child open");
    assert!(report.read_only.is_none(), "writer {writer} opened read-only");
    let own = store
        .create_session(&new_session(&format!("writer {writer}")))
        .expect("create own");
    for i in 0..SHARED_MESSAGES {
        store
            .append_user(&shared, &shared_text(writer, i))
            .expect("append shared");
        if i < OWN_MESSAGES {
            store.append_user(&own, &format!("own {i}")).expect("append own");
        }
    }
}

#[test]
fn ten_instances_writing_one_file_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sessions.db");
    let shared = {
        let (mut store, _) = Store::open(&path).expect("open");
        store.create_session(&new_session("shared")).expect("create shared")
    };
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..WRITERS)
        .map(|writer| {
            Command::new(&exe)
                .args(["writer_child", "--exact", "--test-threads=1"])
                .env(CHILD_ENV, format!("{writer}|{shared}|{}", path.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    for (writer, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait writer");
        assert!(
            out.status.success(),
            "writer {writer} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let conn = rusqlite::Connection::open(&path).expect("open for integrity_check");
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(verdict, "ok");
    drop(conn);

    let (mut store, _) = Store::open(&path).expect("reopen");
    let session = store.open_session(&shared).expect("shared session");
    assert_eq!(session.messages.len(), WRITERS * SHARED_MESSAGES);
    for writer in 0..WRITERS {
        let mine: Vec<&str> = session
            .messages
            .iter()
            .map(|m| m.text.as_str())
            .filter(|t| t.starts_with(&format!("w{writer} ")))
            .collect();
        let want: Vec<String> = (0..SHARED_MESSAGES).map(|i| shared_text(writer, i)).collect();
        assert_eq!(mine, want, "writer {writer}'s messages, in its order");
    }
    let sessions = store.list_sessions().expect("list");
    assert_eq!(sessions.len(), WRITERS + 1);
    for s in sessions.iter().filter(|s| s.id != shared) {
        assert_eq!(s.message_count as usize, OWN_MESSAGES, "{}", s.title);
    }
}
