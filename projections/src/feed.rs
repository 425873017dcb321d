//! Reading the event log in global-position order, never past a position whose events
//! could still change.
//!
//! PostgreSQL hands out identity values when rows are inserted, not when they commit: a
//! transaction can take position 101 and commit before the one holding 100 does. A
//! reader that moved past 101 would never see 100. So every append takes a *shared*
//! advisory lock (the append fence) in the same statement that inserts, and the reader
//! takes the *exclusive* one for an instant to read the high-water mark: that waits for
//! appends in flight and holds new ones back, so every position at or below the mark is
//! committed or gone for good. Transactions that do not append (a long report, an open
//! psql session) hold no such lock and cause no lag.
//!
//! SQLite has one writer at a time, so rowid order is commit order.

use serde_json::Value;
use sqlx::Row;

use crate::db::Db;
use crate::runner::ProjectionError;

/// The advisory-lock key of the append fence (the appends in kurslogg::store use it too).
pub const APPEND_FENCE_KEY: i64 = 0x4B4C_0001;

/// An event as read from the log for projections.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    /// Global position.
    pub position: i64,
    /// Aggregate type (`offering`, `staff`, …).
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Sequence within the aggregate.
    pub sequence: i64,
    /// Event type name.
    pub event_type: String,
    /// The event (externally tagged: `{"RegistrationRequested": {...}}`).
    pub payload: Value,
    /// cqrs-es metadata: actor, request id, time, …
    pub metadata: Value,
}

impl LoggedEvent {
    /// The event's fields (the inside of the external tag).
    pub fn body(&self) -> &Value {
        self.payload.as_object().and_then(|o| o.values().next()).unwrap_or(&Value::Null)
    }

    /// A metadata field as text ("" if absent).
    pub fn meta(&self, field: &str) -> &str {
        self.metadata.get(field).and_then(Value::as_str).unwrap_or("")
    }

    /// When the command that wrote the event was recorded (RFC 3339 UTC, milliseconds).
    pub fn recorded_at(&self) -> &str {
        self.meta("recorded_at")
    }
}

/// A text field of an event's body, or why the event cannot be read.
pub(crate) fn text(body: &Value, field: &str, event: &LoggedEvent) -> Result<String, ProjectionError> {
    body.get(field).and_then(Value::as_str).map(str::to_string).ok_or_else(|| ProjectionError::Unreadable {
        position: event.position,
        reason: format!("{} has no text field {field}", event.event_type),
    })
}

/// The highest position below which the log is final.
pub async fn high_water_mark(db: &Db) -> Result<i64, sqlx::Error> {
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPEND_FENCE_KEY).execute(&mut *tx).await?;
            let mark: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events").fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(mark.unwrap_or(0))
        }
        Db::Sqlite { read, .. } => {
            let mark: Option<i64> = sqlx::query_scalar("SELECT max(rowid) FROM events").fetch_one(read).await?;
            Ok(mark.unwrap_or(0))
        }
        Db::Private(_) => Err(no_log()),
    }
}

/// A private database (`crate::db::Private`) holds views, never the log.
fn no_log() -> sqlx::Error {
    sqlx::Error::Protocol("the event log was read from a private database, which holds none".into())
}

/// The latest position appended so far, without waiting on the fence: for showing lag,
/// never for deciding how far to read (an append in flight may still fill a gap below).
pub async fn latest_position(db: &Db) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT max({}) FROM events", db.log_position());
    Ok(db.read_int(&sql, &[]).await?.unwrap_or(0))
}

/// Which events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Filter {
    /// All of them.
    #[default]
    Everything,
    /// These offerings' events and every event that is not an offering's.
    Offerings(Vec<String>),
}

/// Up to `limit` events with `after < position <= up_to`, in position order.
pub async fn read(db: &Db, after: i64, up_to: i64, limit: i64) -> Result<Vec<LoggedEvent>, sqlx::Error> {
    read_filtered(db, after, up_to, limit, &Filter::Everything).await
}

/// Up to `limit` events with `after < position <= up_to` that pass `filter`, in order.
pub async fn read_filtered(
    db: &Db,
    after: i64,
    up_to: i64,
    limit: i64,
    filter: &Filter,
) -> Result<Vec<LoggedEvent>, sqlx::Error> {
    // Every parameter in every statement, first used in ascending order (see `db`).
    // The offerings as one text parameter, ",id,id,", matched with LIKE (ids are UUIDs:
    // no `%` or `_`); "" reads everything.
    let offerings = match filter {
        Filter::Everything => String::new(),
        Filter::Offerings(ids) => format!(",{},", ids.join(",")),
    };
    let offering = offerings.as_str();
    let rows = match db {
        Db::Postgres(pool) => sqlx::query(
            "SELECT position, aggregate_type, aggregate_id, sequence, event_type, payload::text, metadata::text \
             FROM events WHERE position > $1 AND position <= $2 \
             AND ($3 = '' OR aggregate_type <> 'offering' OR $3 LIKE '%,' || aggregate_id || ',%') ORDER BY position LIMIT $4",
        )
        .bind(after)
        .bind(up_to)
        .bind(offering)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| logged_event(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get::<&str, _>(5), r.get::<&str, _>(6)))
        .collect(),
        Db::Sqlite { read, .. } => sqlx::query(
            "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, payload, metadata \
             FROM events WHERE rowid > $1 AND rowid <= $2 \
             AND ($3 = '' OR aggregate_type <> 'offering' OR $3 LIKE '%,' || aggregate_id || ',%') ORDER BY rowid LIMIT $4",
        )
        .bind(after)
        .bind(up_to)
        .bind(offering)
        .bind(limit)
        .fetch_all(read)
        .await?
        .into_iter()
        .map(|r| logged_event(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get::<&str, _>(5), r.get::<&str, _>(6)))
        .collect(),
        Db::Private(_) => return Err(no_log()),
    };
    Ok(rows)
}

/// An event from its row in the log (payload and metadata as JSON text, parsed where
/// they lie in the row, not copied first).
pub(crate) fn logged_event(
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: &str,
    metadata: &str,
) -> LoggedEvent {
    LoggedEvent {
        position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        payload: serde_json::from_str(payload).unwrap_or(Value::Null),
        metadata: serde_json::from_str(metadata).unwrap_or(Value::Null),
    }
}
