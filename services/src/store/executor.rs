//! Runs commands against cqrs-es aggregates.
//!
//! Stock cqrs-es reloads an aggregate's whole history for every command and lets
//! concurrent commands on one aggregate race to the database, where all but one fail
//! (PERFORMANCE.md: 92 % conflicts and p99 of seconds on one popular offering). Here:
//! - commands on one aggregate queue on an in-process lock, so they do not race;
//! - the aggregate's state stays in memory after a command, so nothing is reloaded;
//! - all events of a command (and its idempotency record) are one INSERT;
//! - another process writing the same aggregate is still caught by the primary key on
//!   (type, id, sequence): the state is then reloaded and the command retried.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::Serialize;

use super::log::{AppendError, EventLog, NewEvent, StoredResponse};
use super::StoreError;

/// How often a command is tried before it gives up after losing races with another
/// process writing the same aggregate.
const MAX_ATTEMPTS: u32 = 16;
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(100);
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
/// its Idempotency-Key.
pub type Respond<'a, A> =
    dyn Fn(Result<&[<A as Aggregate>::Event], &<A as Aggregate>::Error>) -> StoredResponse + Sync + 'a;

struct Cached<A> {
    state: A,
    sequence: usize,
}

type Slot<A> = Arc<tokio::sync::Mutex<Option<Cached<A>>>>;

/// One aggregate type's command executor and state cache.
pub struct Aggregates<A: Aggregate> {
    log: EventLog,
    services: A::Services,
    slots: Mutex<HashMap<String, Slot<A>>>,
    _kind: PhantomData<A>,
}

impl<A> Aggregates<A>
where
    A: Aggregate + Clone,
    A::Command: Clone,
{
    /// An executor over `log`, handing `services` to every command.
    pub fn new(log: EventLog, services: A::Services) -> Self {
        Self { log, services, slots: Mutex::new(HashMap::new()), _kind: PhantomData }
    }

    fn slot(&self, id: &str) -> Slot<A> {
        let mut slots = self.slots.lock().expect("slot map lock poisoned");
        if slots.len() >= CACHE_LIMIT {
            // Drop idle entries (nobody holds their lock); they reload on next use.
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        slots.entry(id.to_string()).or_default().clone()
    }

    /// Brings the cached state up to date with the log (events appended by other
    /// processes included) and returns a copy; `None` if the aggregate has no events.
    pub async fn load(&self, id: &str) -> Result<Option<A>, StoreError> {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        self.catch_up(id, &mut cached).await?;
        Ok(cached.as_ref().filter(|c| c.sequence > 0).map(|c| c.state.clone()))
    }

    /// Runs `f` on the aggregate's state as this process last saw it (loading it if it
    /// is not cached), without asking the log for newer events: for facts on the hot
    /// path. `None` if the aggregate has no events.
    pub async fn inspect<R>(&self, id: &str, f: impl FnOnce(&A) -> R) -> Result<Option<R>, StoreError> {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if cached.is_none() {
            self.catch_up(id, &mut cached).await?;
        }
        Ok(cached.as_ref().filter(|c| c.sequence > 0).map(|c| f(&c.state)))
    }

    /// A copy of the state as this process last saw it; see [`Self::inspect`].
    pub async fn peek(&self, id: &str) -> Result<Option<A>, StoreError> {
        self.inspect(id, A::clone).await
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

    /// Handles `command` on aggregate `id` and appends its events with `metadata`. With
    /// `response`, the idempotency record is written in the same statement; its body is
    /// computed from the events by `respond` (called with an empty list for a command that
    /// changed nothing).
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
        respond: Option<&Respond<'_, A>>,
    ) -> Result<Committed<A::Event>, CommandError<A::Error>> {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        let metadata_json = serde_json::to_string(metadata).expect("metadata serialises");
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // The other process has its state in memory and wins a plain rerun: wait a
                // random, growing while so its queue drains and ours gets a turn.
                let ceiling = Duration::from_millis(1 << attempt.min(7)).min(MAX_BACKOFF);
                tokio::time::sleep(ceiling.mul_f64(rand::random::<f64>())).await;
            }
            if cached.is_none() {
                self.catch_up(id, &mut cached).await?;
            }
            let current = cached.as_mut().expect("loaded above");
            let before = current.sequence;
            // The command works on the cached state itself (no copy: copying a large
            // offering on every command would make busy offerings slower as they grow).
            // Rules decide before they emit, so a refusal leaves the state untouched; if
            // one ever emitted and then refused, or the append fails, the state is dropped
            // and reloaded from the log.
            let sink = EventSink::<A>::default();
            let handled = current.state.handle(command.clone(), &self.services, &sink).await;
            let events = sink.collect().await;
            if let Err(refusal) = handled {
                if !events.is_empty() {
                    *cached = None;
                }
                if let Some(respond) = respond {
                    // A refusal is an answer too: a retry with the same key gets it again.
                    match self.log.append(&[], Some(&respond(Err(&refusal)))).await {
                        Ok(_) | Err(AppendError::Conflict) => {}
                        Err(AppendError::IdempotencyKeyTaken) => return Err(CommandError::IdempotencyKeyTaken),
                        Err(AppendError::Store(e)) => return Err(e.into()),
                    }
                }
                return Err(CommandError::Refused(refusal));
            }
            let rows = to_rows::<A>(id, before, &events, &metadata_json)?;
            let response = respond.map(|respond| respond(Ok(&events)));
            match self.log.append(&rows, response.as_ref()).await {
                Ok(position) => {
                    current.sequence = before + events.len();
                    return Ok(Committed { events, position });
                }
                Err(AppendError::Conflict) => {
                    // Another process wrote this aggregate: reload and decide again.
                    tracing::debug!(aggregate = A::TYPE, id, "append conflict, retrying");
                    *cached = None;
                }
                Err(AppendError::IdempotencyKeyTaken) => {
                    *cached = None;
                    return Err(CommandError::IdempotencyKeyTaken);
                }
                Err(AppendError::Store(e)) => {
                    // The append may or may not have happened: forget the state.
                    *cached = None;
                    return Err(e.into());
                }
            }
        }
        Err(CommandError::Contention)
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
