//! Tests of the actor: order, flush, events, and holding writes through a failure.

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::super::tests::{new_session, temp_store};
use super::*;

fn spawn() -> (tempfile::TempDir, StoreHandle, UnboundedReceiver<StoreEvent>) {
    let (dir, store) = temp_store();
    let (tx, rx) = unbounded_channel();
    (dir, StoreHandle::spawn(store, tx).expect("spawn"), rx)
}

async fn set_pragma(h: &StoreHandle, name: &'static str, value: i64) {
    h.call(move |s| {
        s.conn()
            .pragma_update(None, name, value)
            .map_err(|e| StoreError::sql(s.path(), "test", e))
    })
    .await
    .expect("pragma");
}

#[tokio::test]
async fn writes_apply_in_order_and_reads_see_them() {
    let (_dir, h, mut events) = spawn();
    let sid = h.create_session(new_session("actor")).expect("create");
    h.append_user(&sid, "question".into()).expect("user");
    let a = h.begin_answer(&sid, "gemma".into()).expect("begin");
    for n in 1..=5 {
        h.checkpoint(a, "word ".repeat(n)).expect("checkpoint");
    }
    h.finish_answer(a, "final".into(), FinishRecord::Stop, None)
        .expect("finish");
    h.flush().await.expect("flush");
    let s = h.open_session(&sid).await.expect("open");
    let texts: Vec<_> = s.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["question", "final"]);
    assert_eq!(h.list_sessions().await.expect("list")[0].message_count, 2);
    assert_eq!(h.search("question".into(), 5).await.expect("search").len(), 1);
    let json = h.export_json(&sid).await.expect("export");
    let copy = h.import_json(json).await.expect("import");
    assert!(h.export_markdown(&copy).await.expect("md").contains("final"));
    assert!(events.try_recv().is_err(), "no banner for a healthy store");
}

#[tokio::test]
async fn bad_values_are_refused_at_once_and_missing_targets_reported() {
    let (_dir, h, mut events) = spawn();
    let sid = h.create_session(new_session("x")).expect("create");
    let nan = SamplingRecord {
        temperature: Some(f64::NAN),
        ..SamplingRecord::default()
    };
    assert!(matches!(
        h.set_sampling(&sid, nan),
        Err(StoreError::InvalidField { .. })
    ));
    let ghost = SessionId::generate();
    h.append_user(&ghost, "to nowhere".into()).expect("queued");
    h.append_user(&sid, "still saved".into()).expect("queued");
    h.flush().await.expect("flush");
    match events.recv().await {
        Some(StoreEvent::WriteRejected { what, .. }) => assert_eq!(what, "saving your message"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(h.open_session(&sid).await.expect("open").messages.len(), 1);
}

/// A failure (read-only, then full disk) holds writes in memory in order; once it passes,
/// flush saves them all and a `Recovered` event clears the banner.
#[tokio::test]
async fn failed_writes_are_held_in_order_and_retried() {
    let (_dir, h, mut events) = spawn();
    let sid = h.create_session(new_session("held")).expect("create");
    h.append_user(&sid, "before".into()).expect("user");
    h.flush().await.expect("flush");

    set_pragma(&h, "query_only", 1).await;
    h.append_user(&sid, "during 1".into()).expect("queued");
    let a = h.begin_answer(&sid, "gemma".into()).expect("queued");
    h.checkpoint(a, "par".into()).expect("queued");
    h.checkpoint(a, "partial".into()).expect("queued");
    match events.recv().await {
        Some(StoreEvent::WriteFailed { what, pending, .. }) => {
            assert_eq!((what, pending), ("saving your message", 1));
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = h.flush().await.expect_err("still unsaved");
    assert!(matches!(err, StoreError::Unsaved { pending: 3, .. }), "{err}");
    assert_eq!(h.open_session(&sid).await.expect("reads still work").messages.len(), 1);

    set_pragma(&h, "query_only", 0).await;
    let pages = h
        .call(|s| Ok(s.conn().query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))))
        .await;
    let pages = pages.expect("call").expect("pages");
    set_pragma(&h, "max_page_count", pages).await;
    h.append_user(&sid, "big ".repeat(100_000)).expect("queued");
    assert!(h.flush().await.is_err(), "disk full holds it");

    set_pragma(&h, "max_page_count", 1 << 30).await;
    h.flush().await.expect("saved after the fault passed");
    let texts: Vec<_> = h
        .open_session(&sid)
        .await
        .expect("open")
        .messages
        .into_iter()
        .map(|m| m.text.len())
        .collect();
    assert_eq!(texts, [6, 8, 7, 400_000]);
    let mut saw_recovered = false;
    while let Ok(e) = events.try_recv() {
        saw_recovered |= matches!(e, StoreEvent::Recovered { .. });
    }
    assert!(saw_recovered);
}
