//! The session import's fuzz target (see `docs/reliability.md`): any text, JSON or not, is
//! either refused with a reason and changes nothing, or stored whole and exports again.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use super::tests::{new_session, temp_store};
use super::*;

/// A real export with both roles, a finish, usage and sampling: what the mutations start from.
fn exported_document(store: &mut Store) -> Value {
    let mut new = new_session("base");
    new.system_prompt = Some("be brief".into());
    new.sampling.temperature = Some(0.5);
    let sid = store.create_session(&new).expect("create");
    store.append_user(&sid, "hello").expect("user");
    let a = store.begin_answer(&sid, "gemma").expect("begin");
    let usage = UsageRecord {
        prompt_tokens: 3,
        completion_tokens: 4,
        time_to_first_token_ms: 5,
        tokens_per_second: 6.5,
    };
    store
        .finish_answer(a, "hi", FinishRecord::Error("oom".into()), Some(usage))
        .expect("finish");
    let json = store.export_json(&sid).expect("export");
    serde_json::from_str(&json).expect("an export is JSON")
}

/// Strings a document may carry: path tricks, NUL, controls, 10 KB, and the format's own words.
fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "/",
            "..",
            "../../etc/passwd",
            "a/b",
            "\0",
            "\0\0\0",
            "\u{1b}]0;x\u{7}",
            "user",
            "model",
            "stop",
            "length",
            "interrupted",
            "gemma-tui-session",
            "😀",
            "NaN",
        ])
        .prop_map(str::to_owned),
        (1..12_000usize).prop_map(|n| "t".repeat(n)),
        any::<String>(),
    ]
}

/// Arbitrary JSON values, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        odd_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// One change to a document, at the node picked by `at` among all of its nodes.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    AddField(usize, String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), json()).prop_map(|(at, v)| Edit::Replace(at, v)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), "[a-z_]{1,10}", json()).prop_map(|(at, k, v)| Edit::AddField(at, k, v)),
    ]
}

/// JSON pointers of every node under `value`, the root first.
fn pointers(value: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{here}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                pointers(
                    field,
                    format!("{here}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        _ => {}
    }
}

fn apply(doc: &mut Value, edit: &Edit) {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    let pick = |at: usize| all[at % all.len()].clone();
    match edit {
        Edit::Replace(at, v) => {
            if let Some(node) = doc.pointer_mut(&pick(*at)) {
                *node = v.clone();
            }
        }
        Edit::Remove(at) => {
            let path = pick(*at);
            let Some((parent, key)) = path.rsplit_once('/') else {
                return;
            };
            match doc.pointer_mut(parent) {
                Some(Value::Object(fields)) => {
                    fields.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
        Edit::AddField(at, key, v) => {
            if let Some(Value::Object(fields)) = doc.pointer_mut(&pick(*at)) {
                fields.insert(key.clone(), v.clone());
            }
        }
    }
}

/// Numbers JSON allows or not, that no value of the format can hold.
const ODD_NUMBERS: &[&str] = &[
    "1e309",
    "-1",
    "NaN",
    "Infinity",
    "1.5",
    "-0",
    "18446744073709551616",
    "9223372036854775808",
    "0x10",
    "1e-400",
    "1073741824",
];

/// Damage to a document's text.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// The `n`-th number swapped for an odd one.
    OddNumber(usize, &'static str),
    /// Cut short at a byte.
    Truncate(usize),
    /// NULs written over some bytes from one on.
    Nuls(usize, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => Just(Damage::None),
        1 => (any::<usize>(), prop::sample::select(ODD_NUMBERS)).prop_map(|(n, odd)| Damage::OddNumber(n, odd)),
        1 => any::<usize>().prop_map(Damage::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, count)| Damage::Nuls(at, count)),
    ]
}

fn damaged(mut text: String, damage: &Damage) -> String {
    match *damage {
        Damage::None => {}
        Damage::OddNumber(which, odd) => text = swap_number(&text, which, odd),
        Damage::Truncate(cut) => text.truncate(floor_char_boundary(&text, cut % (text.len() + 1))),
        Damage::Nuls(at, count) => {
            let at = floor_char_boundary(&text, at % (text.len() + 1));
            let end = floor_char_boundary(&text, (at + usize::from(count)).min(text.len()));
            text.replace_range(at..end, &"\0".repeat(end - at));
        }
    }
    text
}

/// The document after up to three edits, as text, maybe damaged.
fn mutated(base: Value) -> impl Strategy<Value = String> {
    (prop::collection::vec(edit(), 0..3), damage()).prop_map(move |(edits, damage)| {
        let mut doc = base.clone();
        for e in &edits {
            apply(&mut doc, e);
        }
        damaged(serde_json::to_string_pretty(&doc).unwrap_or_default(), &damage)
    })
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `text` with its `which`-th run of digits after `": "` replaced by `number`.
fn swap_number(text: &str, which: usize, number: &str) -> String {
    let starts: Vec<usize> = text
        .match_indices(": ")
        .map(|(i, _)| i + 2)
        .filter(|&i| text[i..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let Some(&start) = starts.get(which % starts.len().max(1)) else {
        return text.to_owned();
    };
    let len = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len() - start);
    format!("{}{number}{}", &text[..start], &text[start + len..])
}

/// Input that is not a document at all: any text, decoded bytes, brackets 100,000 deep.
fn not_a_document() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        (
            1..100_000usize,
            prop::sample::select(vec!["[", "{\"a\":", "{\"session\":"])
        )
            .prop_map(|(n, open)| open.repeat(n)),
        (1..100_000usize).prop_map(|n| {
            format!(
                "{{\"format\":\"gemma-tui-session\",\"version\":1,\"session\":{}",
                "[".repeat(n)
            )
        }),
    ]
}

/// Everything a refused import must leave as it was.
fn snapshot(store: &Store) -> (Vec<SessionSummary>, i64) {
    let messages = store
        .conn()
        .query_row("SELECT count(*) FROM messages", [], |row| row.get(0))
        .expect("count");
    (store.list_sessions().expect("list"), messages)
}

/// Imports `text` and checks the outcome; the store is shared by all cases.
fn check_import(store: &mut Store, text: &str) -> Result<(), TestCaseError> {
    let (before, messages_before) = snapshot(store);
    let id = match store.import_json(text) {
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            prop_assert_eq!(
                snapshot(store),
                (before, messages_before),
                "refused ({}) but changed",
                e
            );
            return Ok(());
        }
        Ok(id) => id,
    };
    let doc: Value = serde_json::from_str(text).expect("an accepted import is JSON");
    let session = store.load_session(&id).expect("an accepted import loads");
    prop_assert_eq!(Some(session.title.as_str()), doc["session"]["title"].as_str());
    let texts: Vec<_> = doc["session"]["messages"]
        .as_array()
        .map(|m| m.iter().map(|m| m["text"].as_str()).collect())
        .unwrap_or_default();
    let stored: Vec<_> = session.messages.iter().map(|m| Some(m.text.as_str())).collect();
    prop_assert_eq!(stored, texts);
    let (after, _) = snapshot(store);
    let others: Vec<_> = after.into_iter().filter(|s| s.id != id).collect();
    prop_assert_eq!(others, before, "an import changed another session");
    // What was stored can leave again.
    store.export_markdown(&id).expect("markdown export");
    let again = store.export_json(&id).expect("json export");
    store.import_json(&again).expect("an export of an import imports");
    Ok(())
}

/// Sessions a store may collect before the next case gets a fresh one: every case lists them
/// all, so one store for a whole long run would make it quadratic.
const SESSIONS_PER_STORE: usize = 200;

#[test]
fn fuzz_import_refuses_or_stores_whole() {
    let (dir, mut store) = temp_store();
    let base = exported_document(&mut store);
    let shared = RefCell::new((dir, store));
    let input = prop_oneof![4 => mutated(base), 1 => not_a_document()];
    let mut runner = TestRunner::new(crate::fuzzing::config(256));
    let result = runner.run(&input, |text| {
        let mut shared = shared.borrow_mut();
        if shared.1.list_sessions().expect("list").len() > SESSIONS_PER_STORE {
            *shared = temp_store();
        }
        check_import(&mut shared.1, &text)
    });
    assert!(result.is_ok(), "{result:?}");
}
