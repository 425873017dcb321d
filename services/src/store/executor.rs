//! Runs commands against cqrs-es aggregates.
//!
//! Stock cqrs-es reloads an aggregate's whole history for every command and lets
//! concurrent commands on one aggregate race to the database, where all but one fail
//! (PERFORMANCE.md: 92 % conflicts and p99 of seconds on one popular offering). Here:
//! - commands on one aggregate queue in-process, so they do not race;
//! - the aggregate's state stays in memory after a command, so nothing is reloaded;
//! - whoever holds an aggregate's lock takes every command queued behind it, decides
//!   them one after another against the state in memory, and appends all their events
//!   (and idempotency records) in ONE statement: one round trip and one fsync for the
//!   whole queue (group commit). A busy offering gets faster, not slower, under load;
//! - another process writing the same aggregate is still caught by the primary key on
//!   (type, id, sequence): the state is then reloaded and the queue decided again;
//! - what a command was decided on is checked in the same statement as the append
//!   (docs/decisions/0002): a refusal (which writes no event for the primary key to catch)
//!   only stands if the aggregate has no newer event in the log, and a command decided on
//!   facts from other aggregates ([`Basis`]) only goes through if none of them has moved
//!   on; otherwise the state is reloaded and the command decided again, or handed back
//!   to the caller ([`CommandError::StaleFacts`]) to gather its facts again.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::Serialize;
use tokio::sync::oneshot;

use super::log::{AppendError, EventLog, NewEvent, Seen, StoredResponse};
use super::StoreError;

/// How often a batch is tried before it gives up after losing races with another
/// process writing the same aggregate.
const MAX_ATTEMPTS: u32 = 16;
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// Most commands decided and appended together.
const MAX_BATCH: usize = 256;
/// Cached aggregates kept before idle ones are dropped.
const CACHE_LIMIT: usize = 50_000;

/// Who issued a command, when, on whose behalf and in which request: stored with every
/// event as cqrs-es metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// The actor's id.
    pub actor_id: String,
    /// The actor's role.
    pub actor_role: String,
    /// The municipality the actor acted for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// The request id.
    pub request_id: String,
    /// Wall-clock time the command was recorded (RFC 3339).
    pub recorded_at: String,
    /// The request's Idempotency-Key, if sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    /// The aggregate refused it (a business rule).
    #[error(transparent)]
    Refused(E),
    /// Lost the race with another process more often than it is worth retrying.
    #[error("too many concurrent writers on the same record; try again")]
    Contention,
    /// The idempotency key was taken by a concurrent request.
    #[error("a concurrent request used the same Idempotency-Key")]
    IdempotencyKeyTaken,
    /// Facts the command was decided on (its [`Basis`]) changed before it was written:
    /// nothing was written; gather them again and send the command again.
    #[error("facts the command was decided on changed; decide again")]
    StaleFacts,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a successful command did.
#[derive(Debug, Clone)]
pub struct Committed<E> {
    /// The events it appended (empty when it changed nothing).
    pub events: Vec<E>,
    /// Global position of the last event appended.
    pub position: Option<i64>,
}

/// Turns a command's outcome (its events, or the refusal) into the answer remembered for
/// its Idempotency-Key, written in the same statement as the events.
pub type Respond<A> =
    Box<dyn Fn(Result<&[<A as Aggregate>::Event], &<A as Aggregate>::Error>) -> StoredResponse + Send + Sync>;

type Reply<A> = Result<Committed<<A as Aggregate>::Event>, CommandError<<A as Aggregate>::Error>>;

/// Something a caller assumed of an aggregate's state when it gathered a command's facts.
pub type Assumption<A> = Box<dyn Fn(&A) -> bool + Send + Sync>;

/// What a command was decided on besides the aggregate's own state: other aggregates as
/// the facts in the command were read from them (checked at append, in the same
/// statement), and what the caller assumed about the aggregate itself when it gathered
/// those facts (checked against the state the command is decided on, in memory).
/// Either failing answers [`CommandError::StaleFacts`], having written nothing.
pub struct Basis<A> {
    /// Other aggregates, at the sequence the facts were read at.
    pub seen: Vec<Seen>,
    /// Must hold of the aggregate's state when the command is decided.
    pub assumes: Option<Assumption<A>>,
}

impl<A> Default for Basis<A> {
    fn default() -> Self {
        Self { seen: vec![], assumes: None }
    }
}

impl<A> Basis<A> {
    /// A basis of these aggregates as seen.
    pub fn seen(seen: Vec<Seen>) -> Self {
        Self { seen, assumes: None }
    }

    /// The same, also assuming `holds` of the aggregate's own state.
    pub fn assuming(mut self, holds: impl Fn(&A) -> bool + Send + Sync + 'static) -> Self {
        self.assumes = Some(Box::new(holds));
        self
    }
}

/// A command waiting in an aggregate's queue.
struct Job<A: Aggregate> {
    command: A::Command,
    metadata: String,
    respond: Option<Respond<A>>,
    basis: Basis<A>,
    reply: oneshot::Sender<Reply<A>>,
}

/// What deciding one job produced in the current attempt.
enum Decision<A: Aggregate> {
    Accepted(Vec<A::Event>),
    Refused(A::Error),
    /// Its [`Basis::assumes`] did not hold: not decided.
    Stale,
}

struct Cached<A> {
    state: A,
    sequence: usize,
}

struct Slot<A: Aggregate> {
    /// The state; held by the one task deciding and appending a batch, or by a reader.
    state: tokio::sync::Mutex<Option<Cached<A>>>,
    /// The highest sequence known to be in the log (another instance may have appended
    /// past the cached state): a cached state behind it is reloaded before use.
    known_sequence: AtomicUsize,
    /// Commands waiting for the next batch.
    queue: Mutex<Vec<Job<A>>>,
    /// A task is taking batches from the queue.
    leading: AtomicBool,
}

impl<A: Aggregate> Default for Slot<A> {
    fn default() -> Self {
        Self {
            state: tokio::sync::Mutex::new(None),
            known_sequence: AtomicUsize::new(0),
            queue: Mutex::new(Vec::new()),
            leading: AtomicBool::new(false),
        }
    }
}

/// One aggregate type's command executor and state cache.
pub struct Aggregates<A: Aggregate> {
    inner: Arc<Inner<A>>,
}

struct Inner<A: Aggregate> {
    log: EventLog,
    services: A::Services,
    slots: Mutex<HashMap<String, Arc<Slot<A>>>>,
    _kind: PhantomData<A>,
}

impl<A> Aggregates<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone + Send + Sync,
    A::Event: Send + Sync,
    A::Error: Send + Sync,
{
    /// An executor over `log`, handing `services` to every command.
    pub fn new(log: EventLog, services: A::Services) -> Self {
        Self { inner: Arc::new(Inner { log, services, slots: Mutex::new(HashMap::new()), _kind: PhantomData }) }
    }

    /// Brings the cached state up to date with the log (events appended by other
    /// processes included) and returns a copy; `None` if the aggregate has no events.
    pub async fn load(&self, id: &str) -> Result<Option<A>, StoreError> {
        self.inner.load(id).await
    }

    /// Runs `f` on the aggregate's state as this process last saw it (loading it if it
    /// is not cached), without asking the log for newer events: for facts on the hot
    /// path. `None` if the aggregate has no events.
    pub async fn inspect<R>(&self, id: &str, f: impl FnOnce(&A) -> R) -> Result<Option<R>, StoreError> {
        self.inner.inspect(id, f).await
    }

    /// A fact for a command: `f` run on the state as this process last saw it (`fresh`:
    /// caught up with the log first), and the aggregate as seen, for the command's
    /// [`Basis`]. `None` (and seen at sequence 0) if the aggregate has no events.
    pub async fn fact<R>(
        &self,
        id: &str,
        fresh: bool,
        f: impl FnOnce(&A) -> R,
    ) -> Result<(Option<R>, Seen), StoreError> {
        let slot = self.inner.slot(id);
        let mut cached = slot.state.lock().await;
        let known = slot.known_sequence.load(Ordering::Acquire);
        if fresh || cached.as_ref().is_none_or(|c| c.sequence < known) {
            self.inner.catch_up(id, &mut cached).await?;
        }
        let sequence = cached.as_ref().map_or(0, |c| c.sequence);
        let seen = Seen { aggregate_type: A::TYPE, aggregate_id: id.to_string(), sequence: sequence as i64 };
        Ok((cached.as_ref().filter(|c| c.sequence > 0).map(|c| f(&c.state)), seen))
    }

    /// Notes that aggregate `id` has events up to `sequence` in the log (written by any
    /// instance). A cached state behind that is reloaded on its next use; aggregates not
    /// cached are not touched.
    pub fn appended(&self, id: &str, sequence: usize) {
        let slot = self.inner.slots.lock().expect("slot map lock poisoned").get(id).cloned();
        if let Some(slot) = slot {
            slot.known_sequence.fetch_max(sequence, Ordering::AcqRel);
        }
    }

    /// A copy of the state as this process last saw it; see [`Self::inspect`].
    pub async fn peek(&self, id: &str) -> Result<Option<A>, StoreError> {
        self.inner.inspect(id, A::clone).await
    }

    /// Handles `command` on aggregate `id` and appends its events with `metadata`. With
    /// `respond`, the idempotency record is written in the same statement.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
        respond: Option<Respond<A>>,
    ) -> Reply<A> {
        self.execute_on(id, command, metadata, respond, Basis::default()).await
    }

    /// As [`Self::execute`], for a command decided on facts from other aggregates: it
    /// goes through only if its `basis` still holds when it is written.
    pub async fn execute_on(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
        respond: Option<Respond<A>>,
        basis: Basis<A>,
    ) -> Reply<A> {
        let slot = self.inner.slot(id);
        let (reply, answer) = oneshot::channel();
        let metadata = serde_json::to_string(metadata).expect("metadata serialises");
        slot.queue.lock().expect("queue lock poisoned").push(Job { command, metadata, respond, basis, reply });
        if !slot.leading.swap(true, Ordering::AcqRel) {
            // The batch runs in its own task: a caller that goes away (a dropped request)
            // must not cut short a batch that carries other callers' commands.
            let inner = self.inner.clone();
            let id = id.to_string();
            tokio::spawn(async move { inner.lead(&id, slot).await });
        }
        answer.await.unwrap_or(Err(CommandError::Contention))
    }
}

impl<A> Inner<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone + Send + Sync,
    A::Event: Send + Sync,
    A::Error: Send + Sync,
{
    /// Takes batches from the aggregate's queue until it is empty.
    async fn lead(&self, id: &str, slot: Arc<Slot<A>>) {
        loop {
            let batch: Vec<Job<A>> = {
                let mut queue = slot.queue.lock().expect("queue lock poisoned");
                let take = queue.len().min(MAX_BATCH);
                queue.drain(..take).collect()
            };
            if batch.is_empty() {
                slot.leading.store(false, Ordering::Release);
                // A command queued just before we stepped down would wait forever: look once more.
                let more = !slot.queue.lock().expect("queue lock poisoned").is_empty();
                if more && !slot.leading.swap(true, Ordering::AcqRel) {
                    continue;
                }
                return;
            }
            let mut cached = slot.state.lock().await;
            // Another instance appended past the cached state: catch up rather than
            // decide on it and meet a conflict.
            let known = slot.known_sequence.load(Ordering::Acquire);
            if cached.as_ref().is_some_and(|c| c.sequence < known) && self.catch_up(id, &mut cached).await.is_err() {
                *cached = None;
            }
            self.decide_and_append(id, &mut cached, batch).await;
        }
    }

    fn slot(&self, id: &str) -> Arc<Slot<A>> {
        let mut slots = self.slots.lock().expect("slot map lock poisoned");
        if let Some(slot) = slots.get(id) {
            return slot.clone();
        }
        if slots.len() >= CACHE_LIMIT {
            // Drop idle entries (nobody holds them); they reload on next use.
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        slots.entry(id.to_string()).or_default().clone()
    }

    /// Brings the cached state up to date with the log (events appended by other
    /// processes included) and returns a copy; `None` if the aggregate has no events.
    pub async fn load(&self, id: &str) -> Result<Option<A>, StoreError> {
        let slot = self.slot(id);
        let mut cached = slot.state.lock().await;
        self.catch_up(id, &mut cached).await?;
        Ok(cached.as_ref().filter(|c| c.sequence > 0).map(|c| c.state.clone()))
    }

    /// Runs `f` on the aggregate's state as this process last saw it (loading it if it
    /// is not cached), without asking the log for newer events: for facts on the hot
    /// path. `None` if the aggregate has no events.
    pub async fn inspect<R>(&self, id: &str, f: impl FnOnce(&A) -> R) -> Result<Option<R>, StoreError> {
        let slot = self.slot(id);
        let mut cached = slot.state.lock().await;
        let known = slot.known_sequence.load(Ordering::Acquire);
        if cached.as_ref().is_none_or(|c| c.sequence < known) {
            self.catch_up(id, &mut cached).await?;
        }
        Ok(cached.as_ref().filter(|c| c.sequence > 0).map(|c| f(&c.state)))
    }

    async fn catch_up(&self, id: &str, cached: &mut Option<Cached<A>>) -> Result<(), StoreError> {
        let after = cached.as_ref().map_or(0, |c| c.sequence);
        let events = self.log.load::<A>(id, after).await?;
        let entry = cached.get_or_insert_with(|| Cached { state: A::default(), sequence: 0 });
        for event in events {
            let payload: A::Event = serde_json::from_value(event.payload)
                .map_err(|e| StoreError::Corrupt(format!("{} {id}: {e}", A::TYPE)))?;
            entry.state.apply(payload);
            entry.sequence = event.sequence;
        }
        Ok(())
    }

    /// Decides every job of the batch in order against the state, then appends all their
    /// events and idempotency records at once, and answers each job.
    async fn decide_and_append(&self, id: &str, slot_state: &mut Option<Cached<A>>, batch: Vec<Job<A>>) {
        // Work on the state taken out of the slot: should this task stop half-way, the slot
        // is left empty and the next command reloads from the log.
        // (Every path that leaves the state doubtful sets it to `None` itself.)
        let mut taken = slot_state.take();
        self.decide_and_append_on(id, &mut taken, batch).await;
        *slot_state = taken;
    }

    async fn decide_and_append_on(&self, id: &str, cached: &mut Option<Cached<A>>, mut batch: Vec<Job<A>>) {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // The other process has its state in memory and wins a plain rerun: wait a
                // random, growing while so its queue drains and ours gets a turn.
                let ceiling = Duration::from_millis(1 << attempt.min(7)).min(MAX_BACKOFF);
                tokio::time::sleep(ceiling.mul_f64(rand::random::<f64>())).await;
            }
            if cached.is_none() {
                if let Err(e) = self.catch_up(id, cached).await {
                    return answer_all(batch, |_| Err(CommandError::Store(StoreError::Persistence(e.to_string()))));
                }
            }
            let decided = match self.decide(id, cached, &batch).await {
                Ok(decided) => decided,
                Err(e) => {
                    return answer_all(batch, |_| Err(CommandError::Store(StoreError::Persistence(e.to_string()))))
                }
            };
            let current = cached.as_mut().expect("loaded above");
            let before = current.sequence;
            let (rows, responses, last_sequences) = match self.rows_and_responses(id, before, &batch, &decided) {
                Ok(parts) => parts,
                Err(e) => {
                    *cached = None;
                    return answer_all(batch, |_| Err(CommandError::Store(StoreError::Corrupt(e.to_string()))));
                }
            };
            let seen = seen_by(id, before, &batch, &decided);
            match self.log.append_checked(&rows, &responses, &seen).await {
                Ok(positions) => {
                    current.sequence = before + rows.len();
                    let position_of = |sequence: Option<i64>| {
                        sequence.and_then(|s| positions.get(usize::try_from(s).ok()? - before - 1).copied())
                    };
                    let mut decided = decided.into_iter();
                    let mut last = last_sequences.into_iter();
                    return answer_all(batch, |_| match (decided.next(), last.next()) {
                        (Some(Decision::Accepted(events)), Some(sequence)) => {
                            Ok(Committed { events, position: position_of(sequence) })
                        }
                        (Some(Decision::Refused(refusal)), _) => Err(CommandError::Refused(refusal)),
                        (Some(Decision::Stale), _) => Err(CommandError::StaleFacts),
                        _ => Err(CommandError::Contention),
                    });
                }
                Err(AppendError::Conflict) => {
                    // Another process wrote this aggregate: reload and decide again.
                    tracing::debug!(aggregate = A::TYPE, id, attempt, "append conflict, retrying");
                    *cached = None;
                }
                Err(AppendError::Stale(stale)) => {
                    // Nothing was written, but the state has the batch's events applied.
                    *cached = None;
                    tracing::debug!(aggregate = A::TYPE, id, attempt, ?stale, "decided on stale facts");
                    let moved =
                        |seen: &Seen| stale.iter().any(|(t, i)| t == seen.aggregate_type && *i == seen.aggregate_id);
                    // This aggregate itself moved on: decide everything again on the new
                    // state. Otherwise the jobs whose facts moved on go back to their
                    // callers, to gather them again, and the rest are decided again.
                    if !stale.iter().any(|(t, i)| t == A::TYPE && i == id) {
                        let (stale_jobs, rest): (Vec<Job<A>>, Vec<Job<A>>) =
                            batch.into_iter().partition(|job| job.basis.seen.iter().any(moved));
                        answer_all(stale_jobs, |_| Err(CommandError::StaleFacts));
                        batch = rest;
                        if batch.is_empty() {
                            return;
                        }
                    }
                }
                Err(AppendError::IdempotencyKeyTaken) if batch.len() > 1 => {
                    // One of them raced a twin with the same key: settle them one by one.
                    *cached = None;
                    for job in batch {
                        Box::pin(self.decide_and_append_on(id, cached, vec![job])).await;
                    }
                    return;
                }
                Err(AppendError::IdempotencyKeyTaken) => {
                    *cached = None;
                    return answer_all(batch, |_| Err(CommandError::IdempotencyKeyTaken));
                }
                Err(AppendError::Store(e)) => {
                    // The append may or may not have happened: forget the state.
                    *cached = None;
                    let message = e.to_string();
                    return answer_all(batch, |_| Err(CommandError::Store(StoreError::Persistence(message.clone()))));
                }
            }
        }
        *cached = None;
        answer_all(batch, |_| Err(CommandError::Contention));
    }

    /// Decides each job against the cached state, in queue order. The commands work on
    /// the state itself (no copy: copying a large offering for every command would make
    /// busy offerings slower as they grow). Rules decide before they emit, so a refusal
    /// leaves the state untouched; should one ever emit and then refuse, the state is
    /// rebuilt from the log plus the events accepted so far.
    async fn decide(
        &self,
        id: &str,
        cached: &mut Option<Cached<A>>,
        batch: &[Job<A>],
    ) -> Result<Vec<Decision<A>>, StoreError> {
        let mut decided = Vec::with_capacity(batch.len());
        for job in batch {
            let current = cached.as_mut().expect("loaded by the caller");
            if job.basis.assumes.as_ref().is_some_and(|holds| !holds(&current.state)) {
                decided.push(Decision::Stale);
                continue;
            }
            let sink = EventSink::<A>::default();
            let handled = current.state.handle(job.command.clone(), &self.services, &sink).await;
            let events = sink.collect().await;
            match handled {
                Ok(()) => decided.push(Decision::Accepted(events)),
                Err(refusal) => {
                    if !events.is_empty() {
                        *cached = None;
                        self.catch_up(id, cached).await?;
                        let state = &mut cached.as_mut().expect("just loaded").state;
                        for earlier in &decided {
                            if let Decision::Accepted(events) = earlier {
                                events.iter().cloned().for_each(|e| state.apply(e));
                            }
                        }
                    }
                    decided.push(Decision::Refused(refusal));
                }
            }
        }
        Ok(decided)
    }

    #[allow(clippy::type_complexity)]
    fn rows_and_responses(
        &self,
        id: &str,
        before: usize,
        batch: &[Job<A>],
        decided: &[Decision<A>],
    ) -> Result<(Vec<NewEvent>, Vec<StoredResponse>, Vec<Option<i64>>), StoreError> {
        let mut rows = Vec::new();
        let mut responses = Vec::new();
        let mut last_sequences = Vec::with_capacity(batch.len());
        for (job, decision) in batch.iter().zip(decided) {
            match decision {
                Decision::Accepted(events) => {
                    rows.extend(to_rows::<A>(id, before + rows.len(), events, &job.metadata)?);
                    let last = (!events.is_empty()).then(|| (before + rows.len()) as i64);
                    last_sequences.push(last);
                    if let Some(respond) = &job.respond {
                        let mut response = respond(Ok(events));
                        response.aggregate_id = Some(id.to_string());
                        response.last_sequence = last;
                        responses.push(response);
                    }
                }
                Decision::Refused(refusal) => {
                    last_sequences.push(None);
                    // A refusal is an answer too: a retry with the same key gets it again.
                    if let Some(respond) = &job.respond {
                        responses.push(respond(Err(refusal)));
                    }
                }
                Decision::Stale => last_sequences.push(None),
            }
        }
        Ok((rows, responses, last_sequences))
    }
}

/// What the append must find unchanged for the batch's decisions to stand: every
/// decided job's [`Basis::seen`], and the aggregate itself at `before` when a decision
/// rests on its state without writing an event at `before + 1` for the primary key to
/// guard (a refusal, or a command that changed nothing). A batch of accepted commands
/// without other facts needs no check: the plain append it is stays as cheap as ever.
fn seen_by<A: Aggregate>(id: &str, before: usize, batch: &[Job<A>], decided: &[Decision<A>]) -> Vec<Seen> {
    let mut seen: Vec<Seen> = vec![];
    let mut itself = false;
    for (job, decision) in batch.iter().zip(decided) {
        match decision {
            Decision::Stale => continue,
            Decision::Refused(_) => itself = true,
            Decision::Accepted(events) => itself |= events.is_empty(),
        }
        for fact in &job.basis.seen {
            if !seen.contains(fact) {
                seen.push(fact.clone());
            }
        }
    }
    if itself {
        seen.push(Seen { aggregate_type: A::TYPE, aggregate_id: id.to_string(), sequence: before as i64 });
    }
    seen
}

/// Sends every job its answer.
fn answer_all<A: Aggregate>(batch: Vec<Job<A>>, mut answer: impl FnMut(usize) -> Reply<A>) {
    for (i, job) in batch.into_iter().enumerate() {
        // The caller may have gone (request cancelled); its command is done either way.
        let _ = job.reply.send(answer(i));
    }
}

fn to_rows<A: Aggregate>(
    id: &str,
    after: usize,
    events: &[A::Event],
    metadata: &str,
) -> Result<Vec<NewEvent>, StoreError> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            Ok(NewEvent {
                aggregate_type: A::TYPE,
                aggregate_id: id.to_string(),
                sequence: (after + i + 1) as i64,
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                metadata: metadata.to_string(),
            })
        })
        .collect()
}
