//! The driver's side of the session store: performs `Effect::Store` requests on a
//! [`StoreHandle`] and forwards answers and the actor's events as `Msg::Store` into the
//! driver's channel. Owns the wall-clock stamp of writes (`update` reads no clock). Must not
//! decide what the user sees; `update` does that with the messages.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

use crate::effect::StoreRequest;
use crate::msg::{Msg, StoreMsg};
use crate::store::{now_ms, StoreError, StoreEvent, StoreHandle};
use crate::update::SEARCH_LIMIT;

/// A store handle plus the way back to the driver. Reads run as tokio tasks, so it must be
/// used inside a runtime.
#[derive(Clone)]
pub struct StoreLink {
    handle: StoreHandle,
    replies: UnboundedSender<Msg>,
    /// Number of the newest search asked for. A search typed over by the next key is skipped
    /// on the store thread: a common word over a large history can take 100+ ms, and only the
    /// newest query's hits are shown anyway.
    newest_search: Arc<AtomicU64>,
    /// Reads asked for and not answered yet (their answer sent, or found to be nothing to say).
    in_flight: Arc<(AtomicUsize, Notify)>,
}

impl StoreLink {
    pub fn new(handle: StoreHandle, replies: UnboundedSender<Msg>) -> Self {
        Self {
            handle,
            replies,
            newest_search: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new((AtomicUsize::new(0), Notify::new())),
        }
    }

    /// Resolves once every read asked for so far has sent its answer (or had none to send):
    /// after it, what is not in the driver's channel will never come.
    pub async fn settled(&self) {
        let (count, changed) = &*self.in_flight;
        loop {
            let notified = changed.notified();
            if count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    pub fn handle(&self) -> &StoreHandle {
        &self.handle
    }

    /// Queues a write at once (a refused value is answered at once); reads answer later.
    pub fn perform(&self, request: StoreRequest) -> Option<Msg> {
        match request {
            StoreRequest::Write(mut op) => {
                op.stamp(now_ms());
                let what = op.describe();
                self.handle.write(op).err().map(|e| {
                    Msg::Store(StoreMsg::Event(StoreEvent::WriteRejected {
                        what,
                        message: e.to_string(),
                    }))
                })
            }
            StoreRequest::List => {
                self.read("listing sessions", |h| async move {
                    h.list_sessions().await.map(|list| Some(StoreMsg::Listed(list)))
                });
                None
            }
            StoreRequest::Search { query } => {
                let newest = self.newest_search.clone();
                let mine = newest.fetch_add(1, Ordering::SeqCst) + 1;
                self.read("searching sessions", |h| async move {
                    let q = query.clone();
                    let hits = h
                        .call(move |s| match newest.load(Ordering::SeqCst) == mine {
                            true => s.search(&q, SEARCH_LIMIT).map(Some),
                            false => Ok(None),
                        })
                        .await?;
                    Ok(hits.map(|hits| StoreMsg::Found { query, hits }))
                });
                None
            }
            StoreRequest::Open { id } => {
                self.read("opening a session", |h| async move {
                    h.open_session(&id).await.map(|s| Some(StoreMsg::Opened(s)))
                });
                None
            }
        }
    }

    /// Runs a read on a task and sends its answer back (`None`: nothing to say).
    fn read<F, Fut>(&self, what: &'static str, ask: F)
    where
        F: FnOnce(StoreHandle) -> Fut,
        Fut: std::future::Future<Output = Result<Option<StoreMsg>, StoreError>> + Send + 'static,
    {
        let replies = self.replies.clone();
        let pending = ask(self.handle.clone());
        let in_flight = self.in_flight.clone();
        in_flight.0.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let msg = pending.await.unwrap_or_else(|e| {
                Some(StoreMsg::ReadFailed {
                    what,
                    message: e.to_string(),
                })
            });
            if let Some(msg) = msg {
                let _ = replies.send(Msg::Store(msg));
            }
            in_flight.0.fetch_sub(1, Ordering::SeqCst);
            in_flight.1.notify_waiters();
        });
    }
}

/// Forwards the actor's events (saving failed, recovered, refused) to the driver.
pub fn forward_events(mut events: UnboundedReceiver<StoreEvent>, replies: UnboundedSender<Msg>) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if replies.send(Msg::Store(StoreMsg::Event(event))).is_err() {
                break;
            }
        }
    });
}
