//! Benchmarks of the session store's user-visible waits: resuming a 10,000-message session
//! (loading it, and loading it into the chat screen up to its first drawn frame at 200x50),
//! listing 1,000 sessions, full-text search over 100,000 messages, and opening that database
//! (which runs `quick_check`). The filler vocabulary is 20 words, so common-word searches match
//! nearly every message: a worst case; `platypus` (~1 in 1,000 messages) is the typical case. Data is loaded through `import_json`, the public bulk path.
//! Run: `cargo bench --bench store`.

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gemma_tui::keymap::Keymap;
use gemma_tui::msg::{Msg, StoreMsg};
use gemma_tui::settings::Settings;
use gemma_tui::state::AppState;
use gemma_tui::store::{SessionId, Store};
use gemma_tui::ui::{self, TranscriptCache};
use gemma_tui::update::update;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::json;

const WORDS: &[&str] = &[
    "model",
    "token",
    "gemma",
    "cache",
    "layer",
    "prompt",
    "rust",
    "terminal",
    "window",
    "answer",
    "고양이",
    "바다",
    "quantum",
    "sampling",
    "memory",
    "kernel",
    "river",
    "library",
    "ocean",
    "🙂",
];

/// Deterministic filler text of `n` words.
fn text(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    // About one message in a thousand holds a rare word, as real searches usually target.
    let mut out = String::from(if seed.is_multiple_of(997) { "platypus " } else { "" });
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
        out.push(' ');
    }
    out
}

fn document(title: &str, messages: usize, seed: u64) -> String {
    let msgs: Vec<_> = (0..messages)
        .map(|i| {
            let user = i % 2 == 0;
            json!({
                "id": i as i64 + 1,
                "role": if user { "user" } else { "model" },
                "text": text(seed * 1_000_003 + i as u64, if user { 12 } else { 40 }),
                "created_at": 1_700_000_000_000i64 + i as i64,
                "model": if user { None } else { Some("gemma-2-2b-it") },
                "finish": if user { None } else { Some("stop") },
                "usage": null,
            })
        })
        .collect();
    json!({
        "format": "gemma-tui-session", "version": 1, "exported_at": 0,
        "session": {
            "id": "bench", "title": title, "model": "gemma-2-2b-it",
            "created_at": 1_700_000_000_000i64, "updated_at": 1_700_000_000_000i64 + seed as i64,
            "system_prompt": null,
            "sampling": { "temperature": 0.7, "top_k": 40, "top_p": 0.95, "min_p": null,
                "repetition_penalty": null, "frequency_penalty": null, "presence_penalty": null,
                "max_new_tokens": 1024 },
            "messages": msgs,
        }
    })
    .to_string()
}

fn fill(path: &Path, sessions: usize, messages: usize) -> (Store, Vec<SessionId>) {
    let (mut store, _) = Store::open(path).expect("open");
    let ids = (0..sessions)
        .map(|s| {
            let doc = document(&format!("session {s}"), messages, s as u64);
            store.import_json(&doc).expect("import")
        })
        .collect();
    (store, ids)
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");

    let (mut store, ids) = fill(&dir.path().join("resume.db"), 1, 10_000);
    c.bench_function("resume a 10,000-message session", |b| {
        b.iter(|| black_box(store.open_session(&ids[0]).expect("open session")))
    });
    // What `--resume` costs before the user sees it: load, restore into the state, first frame.
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("test backend");
    c.bench_function("resume a 10,000-message session to the first frame", |b| {
        b.iter(|| {
            let session = store.open_session(&ids[0]).expect("open session");
            let mut state = AppState::new("bench".into(), Keymap::default(), Settings::default());
            update(&mut state, Msg::Store(StoreMsg::Opened(session)));
            let mut cache = TranscriptCache::default();
            terminal
                .draw(|f| {
                    black_box(ui::render(&state, &mut cache, f));
                })
                .expect("draw");
        })
    });

    let (store, _) = fill(&dir.path().join("list.db"), 1_000, 6);
    c.bench_function("list 1,000 sessions", |b| {
        b.iter(|| black_box(store.list_sessions().expect("list")))
    });
    drop(store);

    let big = dir.path().join("search.db");
    let (store, _) = fill(&big, 100, 1_000);
    for q in ["platypus", "quantum", "고양이 바다", "lib"] {
        c.bench_function(&format!("search 100,000 messages for `{q}` (top 20)"), |b| {
            b.iter(|| black_box(store.search(q, 20).expect("search")))
        });
    }
    drop(store);
    c.bench_function("open the 100,000-message database", |b| {
        b.iter(|| black_box(Store::open(&big).expect("open")))
    });
}

criterion_group! {
    name = store;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(store);
