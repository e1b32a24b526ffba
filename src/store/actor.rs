//! The store's actor: one dedicated std thread owns the [`Store`] (SQLite blocks, so it stays
//! off the async runtime) and applies commands from a tokio channel in order. Writes that fail
//! for a reason that may pass (disk full, read-only, locked) stay queued in memory, in order,
//! and are retried with backoff; the UI learns about it through [`StoreEvent`]s. Must not
//! decide what the UI shows, and must not reorder or drop a retryable write.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use super::error::StoreError;
use super::ops::WriteOp;
use super::records::{
    now_ms, FinishRecord, MessageId, NewSession, SamplingRecord, SearchHit, Session, SessionId, SessionSummary,
    UsageRecord,
};
use super::Store;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a waiting actor looks for new commands between retries.
const POLL: Duration = Duration::from_millis(50);

/// What the UI may want to show in a banner.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreEvent {
    /// Saving failed for a reason that may pass; `pending` writes are held in memory and
    /// retried. Sent once per streak of failures, not on every retry.
    WriteFailed {
        what: &'static str,
        message: String,
        pending: usize,
    },
    /// Everything held has now been saved (`saved` writes since the failure).
    Recovered { saved: usize },
    /// A write was refused for good (invalid value, session deleted) and dropped.
    WriteRejected { what: &'static str, message: String },
}

type Call = Box<dyn FnOnce(&mut Store) + Send>;

enum Command {
    Write(WriteOp),
    Call(Call),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// Cheap-to-clone handle to the store thread. Write methods queue and return at once (ids are
/// made here, so later writes can refer to earlier ones before they are on disk); reads and
/// [`flush`](Self::flush) are async.
#[derive(Clone)]
pub struct StoreHandle {
    tx: UnboundedSender<Command>,
}

impl StoreHandle {
    /// Moves `store` onto its own thread. The thread ends after every handle is dropped and
    /// one last attempt to save what is queued.
    pub fn spawn(store: Store, events: UnboundedSender<StoreEvent>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("gemma-store".into())
            .spawn(move || Actor::new(events).run(store, rx))?;
        Ok(StoreHandle { tx })
    }

    fn send(&self, cmd: Command) -> Result<(), StoreError> {
        self.tx.send(cmd).map_err(|_| StoreError::Closed)
    }

    /// Queues a write after checking its values (a bad value is refused here, not later).
    pub fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        op.validate()?;
        self.send(Command::Write(op))
    }

    pub fn create_session(&self, new: NewSession) -> Result<SessionId, StoreError> {
        let id = SessionId::generate();
        self.write(WriteOp::CreateSession {
            id: id.clone(),
            new,
            at: now_ms(),
        })?;
        Ok(id)
    }

    pub fn append_user(&self, session: &SessionId, text: String) -> Result<MessageId, StoreError> {
        let (id, session) = (MessageId::generate(), session.clone());
        self.write(WriteOp::AppendUser {
            session,
            id,
            text,
            at: now_ms(),
        })?;
        Ok(id)
    }

    pub fn begin_answer(&self, session: &SessionId, model: String) -> Result<MessageId, StoreError> {
        let (id, session) = (MessageId::generate(), session.clone());
        self.write(WriteOp::BeginAnswer {
            session,
            id,
            model,
            at: now_ms(),
        })?;
        Ok(id)
    }

    pub fn checkpoint(&self, id: MessageId, text: String) -> Result<(), StoreError> {
        self.write(WriteOp::Checkpoint { id, text, at: now_ms() })
    }

    pub fn finish_answer(
        &self,
        id: MessageId,
        text: String,
        finish: FinishRecord,
        usage: Option<UsageRecord>,
    ) -> Result<(), StoreError> {
        self.write(WriteOp::FinishAnswer {
            id,
            text,
            finish,
            usage,
            at: now_ms(),
        })
    }

    pub fn rename(&self, session: &SessionId, title: String) -> Result<(), StoreError> {
        self.write(WriteOp::Rename {
            session: session.clone(),
            title,
            at: now_ms(),
        })
    }

    pub fn delete(&self, session: &SessionId) -> Result<(), StoreError> {
        self.write(WriteOp::Delete {
            session: session.clone(),
        })
    }

    /// Copies a session; returns the copy's id.
    pub fn duplicate(&self, from: &SessionId) -> Result<SessionId, StoreError> {
        let to = SessionId::generate();
        self.write(WriteOp::Duplicate {
            from: from.clone(),
            to: to.clone(),
            at: now_ms(),
        })?;
        Ok(to)
    }

    pub fn set_system_prompt(&self, s: &SessionId, prompt: Option<String>) -> Result<(), StoreError> {
        self.write(WriteOp::SetSystemPrompt {
            session: s.clone(),
            prompt,
            at: now_ms(),
        })
    }

    pub fn set_model(&self, s: &SessionId, model: String) -> Result<(), StoreError> {
        self.write(WriteOp::SetModel {
            session: s.clone(),
            model,
            at: now_ms(),
        })
    }

    pub fn set_sampling(&self, s: &SessionId, sampling: SamplingRecord) -> Result<(), StoreError> {
        self.write(WriteOp::SetSampling {
            session: s.clone(),
            sampling,
            at: now_ms(),
        })
    }

    /// Runs `f` on the store thread after every write queued before it has been tried.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Call(Box::new(move |s| {
            let _ = tx.send(f(s));
        })))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    pub async fn list_sessions(&self) -> Result<Vec<SessionSummary>, StoreError> {
        self.call(|s| s.list_sessions()).await
    }

    /// Loads a session to resume it (orphaned answers become `Interrupted`).
    pub async fn open_session(&self, id: &SessionId) -> Result<Session, StoreError> {
        let id = id.clone();
        self.call(move |s| s.open_session(&id)).await
    }

    pub async fn search(&self, query: String, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        self.call(move |s| s.search(&query, limit)).await
    }

    pub async fn export_json(&self, id: &SessionId) -> Result<String, StoreError> {
        let id = id.clone();
        self.call(move |s| s.export_json(&id)).await
    }

    pub async fn export_markdown(&self, id: &SessionId) -> Result<String, StoreError> {
        let id = id.clone();
        self.call(move |s| s.export_markdown(&id)).await
    }

    pub async fn import_json(&self, json: String) -> Result<SessionId, StoreError> {
        self.call(move |s| s.import_json(&json)).await
    }

    /// Tries to save everything queued, now. `Err(Unsaved)` says how much is still only in
    /// memory (call on exit and warn the user if it fails).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Flush(tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The thread's state: writes not yet saved, in order, and the retry clock.
struct Actor {
    pending: VecDeque<WriteOp>,
    events: UnboundedSender<StoreEvent>,
    failing: Option<String>,
    saved_since_failure: usize,
    backoff: Duration,
    next_retry: Instant,
}

impl Actor {
    fn new(events: UnboundedSender<StoreEvent>) -> Self {
        Actor {
            pending: VecDeque::new(),
            events,
            failing: None,
            saved_since_failure: 0,
            backoff: FIRST_BACKOFF,
            next_retry: Instant::now(),
        }
    }

    fn run(mut self, mut store: Store, mut rx: UnboundedReceiver<Command>) {
        loop {
            let cmd = if self.pending.is_empty() {
                match rx.blocking_recv() {
                    Some(cmd) => cmd,
                    None => break,
                }
            } else {
                match rx.try_recv() {
                    Ok(cmd) => cmd,
                    Err(TryRecvError::Empty) => {
                        self.wait_and_retry(&mut store);
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => break,
                }
            };
            self.handle(&mut store, cmd);
        }
        self.drain(&mut store);
        if !self.pending.is_empty() {
            tracing::error!(lost = self.pending.len(), "store closed with unsaved writes");
        }
    }

    fn handle(&mut self, store: &mut Store, cmd: Command) {
        match cmd {
            Command::Write(op) => {
                self.push(op);
                // While failing, wait for the retry clock instead of hammering the disk.
                if self.failing.is_none() {
                    self.drain(store);
                }
            }
            Command::Call(f) => f(store),
            Command::Flush(reply) => {
                store.retry_writable();
                self.drain(store);
                let result = match &self.failing {
                    None => Ok(()),
                    Some(last) => Err(StoreError::Unsaved {
                        pending: self.pending.len(),
                        last_error: last.clone(),
                    }),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Queues `op`; a checkpoint replaces a queued checkpoint of the same answer just before
    /// it (only the newest text matters), so a long outage does not pile up copies.
    fn push(&mut self, op: WriteOp) {
        if let (WriteOp::Checkpoint { id, .. }, Some(WriteOp::Checkpoint { id: last, .. })) = (&op, self.pending.back())
        {
            if id == last {
                self.pending.pop_back();
            }
        }
        self.pending.push_back(op);
    }

    fn wait_and_retry(&mut self, store: &mut Store) {
        let now = Instant::now();
        if now < self.next_retry {
            std::thread::sleep(POLL.min(self.next_retry - now));
            return;
        }
        store.retry_writable();
        self.drain(store);
    }

    /// Applies queued writes in order until one fails for a reason that may pass.
    fn drain(&mut self, store: &mut Store) {
        while let Some(op) = self.pending.front() {
            match store.apply(op) {
                Ok(()) => {
                    self.pending.pop_front();
                    self.saved_since_failure += 1;
                }
                Err(e) if e.is_transient() => return self.note_failure(op.describe(), e),
                Err(e) => {
                    tracing::warn!(error = %e, "write refused");
                    let what = op.describe();
                    self.emit(StoreEvent::WriteRejected {
                        what,
                        message: e.to_string(),
                    });
                    self.pending.pop_front();
                }
            }
        }
        if self.failing.take().is_some() {
            let saved = self.saved_since_failure;
            tracing::info!(saved, "held writes saved");
            self.emit(StoreEvent::Recovered { saved });
        }
        self.backoff = FIRST_BACKOFF;
        self.saved_since_failure = 0;
    }

    fn note_failure(&mut self, what: &'static str, e: StoreError) {
        let message = e.to_string();
        tracing::warn!(error = %message, pending = self.pending.len(), "write failed, will retry");
        if self.failing.is_none() {
            self.saved_since_failure = 0;
            let pending = self.pending.len();
            self.emit(StoreEvent::WriteFailed {
                what,
                message: message.clone(),
                pending,
            });
        } else {
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
        self.failing = Some(message);
        self.next_retry = Instant::now() + self.backoff;
    }

    fn emit(&self, event: StoreEvent) {
        // The UI may have gone away on exit; nothing to do then.
        let _ = self.events.send(event);
    }
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
