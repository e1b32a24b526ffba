//! Tests of the synchronous store: round trips, search, recovery, export/import. Fault and
//! concurrency tests live in `tests_faults.rs`.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::*;

pub(super) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, report) = Store::open(dir.path().join("nested/sessions.db")).expect("open");
    assert_eq!(report.read_only, None);
    assert_eq!(report.found_version, 0);
    (dir, store)
}

pub(super) fn new_session(title: &str) -> NewSession {
    NewSession {
        title: title.into(),
        model: "gemma-2-2b-it".into(),
        system_prompt: None,
        sampling: SamplingRecord::default(),
    }
}

fn usage() -> UsageRecord {
    UsageRecord {
        prompt_tokens: 12,
        completion_tokens: 34,
        time_to_first_token_ms: 250,
        tokens_per_second: 17.5,
    }
}

#[test]
fn a_conversation_survives_reopening() {
    let (dir, mut store) = temp_store();
    let sid = store.create_session(&new_session("Cats")).expect("create");
    let u = store.append_user(&sid, "Tell me about cats").expect("user");
    let a = store.begin_answer(&sid, "gemma-2-2b-it").expect("begin");
    store.checkpoint(a, "Cats are").expect("checkpoint");
    store
        .finish_answer(a, "Cats are small.", FinishRecord::Stop, Some(usage()))
        .expect("finish");
    let path = store.path().to_path_buf();
    drop(store);

    let (mut store, report) = Store::open(&path).expect("reopen");
    assert_eq!(report.found_version, SCHEMA_VERSION);
    let s = store.open_session(&sid).expect("load");
    assert_eq!(s.title, "Cats");
    let ids: Vec<_> = s.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![u, a]);
    assert_eq!(s.messages[1].text, "Cats are small.");
    assert_eq!(s.messages[1].finish, Some(FinishRecord::Stop));
    assert_eq!(s.messages[1].usage, Some(usage()));
    assert_eq!(s.messages[1].model.as_deref(), Some("gemma-2-2b-it"));
    assert_eq!(s.messages[0].finish, None);
    drop(dir);
}

#[test]
fn the_list_is_by_last_use_with_counts_and_sizes() {
    let (_dir, mut store) = temp_store();
    // Explicit times (as the actor stamps them), so the order does not hang on the clock.
    let (old, new) = (SessionId::generate(), SessionId::generate());
    for (id, title, at) in [(&old, "old", 1_000), (&new, "new", 2_000)] {
        let create = WriteOp::CreateSession {
            id: id.clone(),
            new: new_session(title),
            at,
        };
        store.apply(&create).expect("create");
    }
    let append = WriteOp::AppendUser {
        session: old.clone(),
        id: MessageId::generate(),
        text: "héllo".into(),
        at: 3_000,
    };
    store.apply(&append).expect("append");
    let list = store.list_sessions().expect("list");
    assert_eq!(list.iter().map(|s| &s.id).collect::<Vec<_>>(), vec![&old, &new]);
    assert_eq!((list[0].message_count, list[0].bytes), (1, 6));
    assert_eq!((list[1].message_count, list[1].bytes), (0, 0));
}

#[test]
fn edits_duplicate_and_delete() {
    let (_dir, mut store) = temp_store();
    let sid = store.create_session(&new_session("a")).expect("create");
    store.append_user(&sid, "hi").expect("append");
    let at = now_ms();
    let sampling = SamplingRecord {
        temperature: Some(0.7),
        top_k: Some(40),
        ..SamplingRecord::default()
    };
    for op in [
        WriteOp::Rename {
            session: sid.clone(),
            title: "b".into(),
            at,
        },
        WriteOp::SetModel {
            session: sid.clone(),
            model: "gemma-2-9b-it".into(),
            at,
        },
        WriteOp::SetSystemPrompt {
            session: sid.clone(),
            prompt: Some("be brief".into()),
            at,
        },
        WriteOp::SetSampling {
            session: sid.clone(),
            sampling: sampling.clone(),
            at,
        },
    ] {
        store.apply(&op).expect("edit");
    }
    let copy = SessionId::generate();
    store
        .apply(&WriteOp::Duplicate {
            from: sid.clone(),
            to: copy.clone(),
            at,
        })
        .expect("duplicate");
    let (a, b) = (
        store.load_session(&sid).expect("a"),
        store.load_session(&copy).expect("b"),
    );
    assert_eq!((b.title.as_str(), b.model.as_str()), ("b (copy)", "gemma-2-9b-it"));
    assert_eq!((&b.system_prompt, &b.sampling), (&a.system_prompt, &sampling));
    assert_eq!(b.messages[0].text, a.messages[0].text);
    assert_ne!(b.messages[0].id, a.messages[0].id);
    store.apply(&WriteOp::Delete { session: sid.clone() }).expect("delete");
    assert!(matches!(
        store.load_session(&sid),
        Err(StoreError::SessionNotFound { .. })
    ));
    assert!(store
        .search("hi", 10)
        .expect("search")
        .iter()
        .all(|h| h.session_id == copy));
    let missing = store.append_user(&sid, "x");
    assert!(matches!(missing, Err(StoreError::SessionNotFound { .. })));
}

#[test]
fn search_is_ranked_prefix_matching_and_follows_edits() {
    let (_dir, mut store) = temp_store();
    let sid = store.create_session(&new_session("search")).expect("create");
    store.append_user(&sid, "고양이는 귀엽다").expect("ko");
    store.append_user(&sid, "rust rust rust borrow checker").expect("en");
    let weak = store
        .append_user(&sid, "a note mentioning rust once among many other words here")
        .expect("en2");
    let hits = store.search("고양이", 10).expect("search");
    assert_eq!(hits.len(), 1);
    assert!(hits[0]
        .snippet
        .contains(&format!("{SNIPPET_START}고양이는{SNIPPET_END}")));
    let hits = store.search("rust", 10).expect("search");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].message_id, weak);
    assert!(store.search("\"unbalanced ( AND", 10).expect("odd syntax").is_empty());
    assert!(store.search("   ", 10).expect("blank").is_empty());

    let a = store.begin_answer(&sid, "m").expect("begin");
    store.checkpoint(a, "zebra").expect("cp");
    assert_eq!(store.search("zebra", 10).expect("s").len(), 1);
    store
        .finish_answer(a, "giraffe", FinishRecord::Stop, None)
        .expect("fin");
    assert!(store.search("zebra", 10).expect("s").is_empty());
    assert_eq!(store.search("giraffe", 10).expect("s")[0].role, Role::Model);
}

#[test]
fn orphaned_answers_become_interrupted_but_live_ones_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let (mut crashed, _) = Store::open(&path).expect("open");
    let sid = crashed.create_session(&new_session("t")).expect("create");
    let orphan = crashed.begin_answer(&sid, "m").expect("begin");
    crashed.checkpoint(orphan, "half an ans").expect("cp");
    let (mut live, _) = Store::open(&path).expect("open 2");
    let streaming = live.begin_answer(&sid, "m").expect("begin 2");
    drop(crashed); // its lease goes, as when a process dies

    let (mut other, _) = Store::open(&path).expect("open 3");
    let s = other.open_session(&sid).expect("load");
    let by_id = |id| s.messages.iter().find(|m| m.id == id).expect("message");
    assert_eq!(by_id(orphan).finish, Some(FinishRecord::Interrupted));
    assert_eq!(by_id(orphan).text, "half an ans");
    assert_eq!(by_id(streaming).finish, None);
    live.finish_answer(streaming, "done", FinishRecord::Length, None)
        .expect("finish");
    let s = other.open_session(&sid).expect("reload");
    assert_eq!(s.messages[1].finish, Some(FinishRecord::Length));
}

#[test]
fn export_import_round_trip_gets_a_new_id() {
    let (_dir, mut store) = temp_store();
    let sid = store.create_session(&new_session("Export me")).expect("create");
    store.append_user(&sid, "line1\nline2 \u{0} 😀").expect("user");
    let a = store.begin_answer(&sid, "gemma").expect("begin");
    store
        .finish_answer(a, "answer", FinishRecord::Error("oom".into()), Some(usage()))
        .expect("finish");
    let json = store.export_json(&sid).expect("export");
    assert!(json.contains("\"format\": \"gemma-tui-session\""));
    let copy = store.import_json(&json).expect("import");
    assert_ne!(copy, sid);
    let (a, b) = (
        store.load_session(&sid).expect("a"),
        store.load_session(&copy).expect("b"),
    );
    assert_eq!(
        (&a.title, a.created_at, &a.sampling),
        (&b.title, b.created_at, &b.sampling)
    );
    let strip = |s: &Session| -> Vec<_> {
        let m = s.messages.iter();
        m.map(|m| (m.role, m.text.clone(), m.finish.clone(), m.usage.clone()))
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
    let md = store.export_markdown(&sid).expect("md");
    assert!(md.starts_with("# Export me\n") && md.contains("_[error: oom]_"), "{md}");
}

#[test]
fn import_refuses_bad_documents_with_reasons_and_saves_nothing() {
    let (_dir, mut store) = temp_store();
    let sid = store.create_session(&new_session("x")).expect("create");
    store.append_user(&sid, "hello").expect("user");
    let good = store.export_json(&sid).expect("export");
    let cases = [
        (good.replace("\"version\": 1", "\"version\": 2"), "newer"),
        (good.replace("\"role\": \"user\"", "\"role\": \"robot\""), "robot"),
        (
            good.replace("\"temperature\": null", "\"temperature\": NaN"),
            "not valid JSON",
        ),
        (good.replace("\"temperature\": null", "\"temperature\": 1e999"), "JSON"),
        (good.replace("\"title\": \"x\",", ""), "missing field `title`"),
        (good.replace("gemma-tui-session", "other"), "not a gemma-tui session"),
    ];
    for (doc, reason) in cases {
        let err = store.import_json(&doc).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(reason), "wanted `{reason}` in `{err}`");
    }
    assert_eq!(store.list_sessions().expect("list").len(), 1);
}

prop_compose! {
    fn finite()(x in prop::num::f64::POSITIVE | prop::num::f64::NEGATIVE | prop::num::f64::NORMAL
        | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO) -> f64 { x }
}

prop_compose! {
    fn sampling()(t in prop::option::of(finite()), k in prop::option::of(any::<u32>()),
        p in prop::option::of(finite()), mp in prop::option::of(finite()),
        rp in prop::option::of(finite()), fp in prop::option::of(finite()),
        pp in prop::option::of(finite()), mx in any::<u32>()) -> SamplingRecord {
        SamplingRecord { temperature: t, top_k: k, top_p: p, min_p: mp, repetition_penalty: rp,
            frequency_penalty: fp, presence_penalty: pp, max_new_tokens: mx }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f가-힣😀-🙏\u{200d}\u{fe0f} a-z]{0,64}",
    ]
}

#[test]
fn any_text_and_sampling_round_trip_exactly() {
    let (_dir, store) = temp_store();
    let store = RefCell::new(store);
    let mut runner = TestRunner::new(Config::with_cases(96));
    let result = runner.run(&(text(), text(), sampling()), |(user, answer, sampling)| {
        let mut store = store.borrow_mut();
        let new = NewSession {
            title: user.clone(),
            sampling: sampling.clone(),
            ..new_session("")
        };
        let sid = store.create_session(&new).expect("create");
        store.append_user(&sid, &user).expect("user");
        let a = store.begin_answer(&sid, &answer).expect("begin");
        store
            .finish_answer(a, &answer, FinishRecord::Error(user.clone()), None)
            .expect("fin");
        let s = store.load_session(&sid).expect("load");
        prop_assert_eq!(&s.title, &user);
        prop_assert_eq!(&s.sampling, &sampling);
        prop_assert_eq!(&s.messages[0].text, &user);
        prop_assert_eq!(&s.messages[1].text, &answer);
        prop_assert_eq!(&s.messages[1].finish, &Some(FinishRecord::Error(user.clone())));
        Ok(())
    });
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn nan_and_infinity_are_refused_before_writing() {
    let (_dir, mut store) = temp_store();
    let mut new = new_session("n");
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        new.sampling.top_p = Some(bad);
        let err = store
            .create_session(&new)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("sampling.top_p"), "{err}");
    }
    assert!(store.list_sessions().expect("list").is_empty());
}

#[test]
fn deleting_one_message_keeps_counts_and_search_in_step() {
    let (_dir, mut store) = temp_store();
    let sid = store.create_session(&new_session("regen")).expect("create");
    store.append_user(&sid, "question").expect("user");
    let a = store.begin_answer(&sid, "m").expect("begin");
    store
        .finish_answer(a, "zebraword answer", FinishRecord::Stop, None)
        .expect("finish");
    assert_eq!(store.search("zebraword", 5).expect("search").len(), 1);
    store
        .apply(&WriteOp::DeleteMessage { id: a, at: now_ms() })
        .expect("delete message");
    // Deleting it again is not an error: the write may be retried after a failure.
    store
        .apply(&WriteOp::DeleteMessage { id: a, at: now_ms() })
        .expect("delete again");
    let s = store.open_session(&sid).expect("load");
    assert_eq!(s.messages.len(), 1);
    assert_eq!(store.list_sessions().expect("list")[0].message_count, 1);
    assert!(store.search("zebraword", 5).expect("search").is_empty());
}
