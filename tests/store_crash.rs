//! Crash test for the session store: a child process (this test binary re-run with an env var)
//! appends messages and checkpoints answers, printing each id after its commit; the parent
//! SIGKILLs it at seeded random moments, then checks the database opens and every reported
//! write is intact, and that unfinished answers come back `Interrupted`. Owns no store code.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gemma_tui::store::{FinishRecord, MessageId, NewSession, Role, SamplingRecord, SessionId, Store};

const CHILD_ENV: &str = "GEMMA_STORE_CRASH_CHILD";
/// Rounds in a normal test run (CI's short run). The long job sets `GEMMA_CRASH_ROUNDS` (and
/// `GEMMA_CRASH_SECS`, the time bound, 60 s by default):
/// `GEMMA_CRASH_ROUNDS=1000 GEMMA_CRASH_SECS=3600 cargo test --test store_crash -- --nocapture`.
const ROUNDS: u64 = 30;
const MARK: &str = "@@";

fn user_text(round: u64, n: u64) -> String {
    format!(
        "r{round} u{n} 안녕 🙂 \u{0}\u{7}\r\n{}",
        "x".repeat((n * 37 % 500) as usize)
    )
}

fn answer_text(round: u64, n: u64, k: u64) -> String {
    format!("r{round} a{n} part{k} {}", "답".repeat((k * 200) as usize))
}

/// The child's body; a no-op in a normal test run.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, '|');
    let (Some(round), Some(sid), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let round: u64 = round.parse().expect("round");
    let sid: SessionId = sid.parse().expect("session id");
    let (mut store, _) = Store::open(path).expect("child open");
    for n in 0.. {
        let u = store.append_user(&sid, &user_text(round, n)).expect("append");
        println!("{MARK}U {} {n}", u.0);
        let a = store.begin_answer(&sid, "gemma-crash").expect("begin");
        println!("{MARK}B {} {n}", a.0);
        for k in 1..=3 {
            store.checkpoint(a, &answer_text(round, n, k)).expect("checkpoint");
            println!("{MARK}C {} {n} {k}", a.0);
        }
        let done = answer_text(round, n, 4);
        store.finish_answer(a, &done, FinishRecord::Stop, None).expect("finish");
        println!("{MARK}F {} {n}", a.0);
    }
}

/// What the child said it committed for one message id: (kind, n, checkpoint k).
type Reports = HashMap<i64, (char, u64, u64)>;

fn parse_reports(out: &str) -> Reports {
    let mut reports = Reports::new();
    for line in out.lines() {
        let Some(rest) = line.split(MARK).nth(1) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
        let (Some(kind), Some(id), Some(n)) = (
            f.first().and_then(|s| s.chars().next()),
            f.get(1).and_then(|s| s.parse().ok()),
            num(2),
        ) else {
            continue;
        };
        let k = match kind {
            'C' => num(3).unwrap_or(0),
            'F' => 4,
            _ => 0,
        };
        // Later reports about the same answer supersede earlier ones.
        reports.insert(id, (kind, n, k));
    }
    reports
}

fn run_child(round: u64, sid: &SessionId, path: &Path, kill_after: Duration) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{round}|{sid}|{}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    std::thread::sleep(kill_after);
    let _ = child.kill(); // SIGKILL on unix; may race a child that already failed
    let _ = child.wait();
    reader.join().expect("reader")
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// SQLite's own full check, beyond the quick one the store runs when it opens.
fn assert_integrity(path: &Path, round: u64) {
    let conn = rusqlite::Connection::open(path).expect("open for integrity_check");
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(verdict, "ok", "round {round}: integrity_check");
}

/// Checks one round's session; returns how many messages it holds (all of them checked).
fn check_round(store: &mut Store, round: u64, sid: &SessionId, reports: &Reports) -> usize {
    let session = store.open_session(sid).expect("open session after crash");
    let by_id: HashMap<MessageId, _> = session.messages.iter().map(|m| (m.id, m)).collect();
    for m in &session.messages {
        assert!(
            m.role == Role::User || m.finish.is_some(),
            "round {round}: answer left streaming"
        );
    }
    for (&id, &(kind, n, k)) in reports {
        let m = by_id
            .get(&MessageId(id))
            .unwrap_or_else(|| panic!("round {round}: lost {kind} {id}"));
        match kind {
            'U' => assert_eq!(m.text, user_text(round, n), "round {round}: user text {n}"),
            'F' => {
                assert_eq!(m.finish, Some(FinishRecord::Stop));
                assert_eq!(m.text, answer_text(round, n, 4));
            }
            _ => {
                // The last checkpoint reported, or a later commit that was not yet printed.
                let ok = (k..=4).any(|later| m.text == answer_text(round, n, later)) || (k == 0 && m.text.is_empty());
                assert!(ok, "round {round}: answer {n} lost checkpoint {k}");
                assert!(matches!(m.finish, Some(FinishRecord::Interrupted | FinishRecord::Stop)));
            }
        }
    }
    session.messages.len()
}

#[test]
fn killed_writers_never_lose_committed_messages() {
    let seed: u64 = std::env::var("GEMMA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data/sessions.db");
    let started = Instant::now();
    let rounds = env_number("GEMMA_CRASH_ROUNDS", ROUNDS);
    let time_bound = Duration::from_secs(env_number("GEMMA_CRASH_SECS", 60));
    let (mut reported, mut checked, mut run) = (0, 0, 0);
    for round in 0..rounds {
        if started.elapsed() > time_bound {
            eprintln!("time bound reached after {round} rounds");
            break;
        }
        let (mut store, report) = Store::open(&path).expect("open after crash");
        assert!(report.corrupt_moved_to.is_none() && report.read_only.is_none());
        let sid = store.create_session(&NewSession {
            title: format!("round {round}"),
            model: "gemma-crash".into(),
            system_prompt: None,
            sampling: SamplingRecord::default(),
        });
        let sid = sid.expect("create session");
        drop(store);
        let kill_after = Duration::from_millis(next() % 250);
        let reports = parse_reports(&run_child(round, &sid, &path, kill_after));
        reported += reports.len();
        assert_integrity(&path, round);
        let (mut store, _) = Store::open(&path).expect("reopen after kill");
        checked += check_round(&mut store, round, &sid, &reports);
        run += 1;
    }
    assert!(
        reported > 0,
        "the child never got to commit anything; raise the kill delays"
    );
    eprintln!(
        "seed {seed:#x}: {run} rounds killed, integrity_check ok after each; {reported} acknowledged \
         writes and {checked} messages checked in {:?}",
        started.elapsed()
    );
}
