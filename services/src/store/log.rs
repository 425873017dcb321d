//! The event log on either backend.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::Aggregate;
use kurslogg_projections::feed::APPEND_FENCE_KEY;
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

use super::StoreError;

/// Which database holds the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file under the data directory.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// An event ready to append: payload and metadata already JSON text.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// cqrs-es aggregate type.
    pub aggregate_type: &'static str,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Per-aggregate sequence, from 1.
    pub sequence: i64,
    /// Event type name.
    pub event_type: String,
    /// Event version.
    pub event_version: String,
    /// JSON payload.
    pub payload: String,
    /// JSON metadata.
    pub metadata: String,
}

/// The first answer given to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Who sent it.
    pub actor_id: String,
    /// Their Idempotency-Key.
    pub key: String,
    /// Hash of method, path and body, to catch a key reused for another request.
    pub request_hash: String,
    /// HTTP status of the first answer.
    pub status: u16,
    /// JSON body of the first answer; `POSITION_PLACEHOLDER` in it becomes the global
    /// position of event `last_sequence` of aggregate `aggregate_id` appended alongside.
    pub body: String,
    /// The aggregate whose event's position the body refers to.
    pub aggregate_id: Option<String>,
    /// That event's sequence.
    pub last_sequence: Option<i64>,
}

/// Stands for the global position in a remembered answer until the append knows it:
/// `append` writes the real position in its place, in the same statement.
pub const POSITION_PLACEHOLDER: i64 = i64::MIN;
const PLACEHOLDER_TEXT: &str = "-9223372036854775808";

/// An aggregate as a command saw it when it was decided: the append goes through only if
/// the aggregate has no event after `sequence` by then (docs/decisions/0002).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seen {
    /// cqrs-es aggregate type.
    pub aggregate_type: &'static str,
    /// Aggregate id.
    pub aggregate_id: String,
    /// The last sequence the command's facts were read at (0: no events).
    pub sequence: i64,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to the same aggregate first.
    #[error("another writer appended to the aggregate first")]
    Conflict,
    /// Aggregates that were seen (see [`Seen`]) have newer events: nothing was written.
    /// Each entry is (aggregate type, aggregate id).
    #[error("facts the command was decided on have changed")]
    Stale(Vec<(String, String)>),
    /// Another request with the same idempotency key was recorded first.
    #[error("the idempotency key was used by a concurrent request")]
    IdempotencyKeyTaken,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A person's appearance on an offering, read from the log for the participation index.
#[derive(Debug, Clone)]
pub struct PeopleOnOffering {
    /// Global position of the event.
    pub position: i64,
    /// Offering id.
    pub offering_id: String,
    /// The event's JSON payload.
    pub payload: String,
}

/// Binds an event's seven columns, in table order, to a query on either backend.
macro_rules! bind_event {
    ($query:expr, $e:expr) => {
        $query
            .bind($e.aggregate_type)
            .bind(&$e.aggregate_id)
            .bind($e.sequence)
            .bind(&$e.event_type)
            .bind(&$e.event_version)
            .bind(&$e.payload)
            .bind(&$e.metadata)
    };
}

#[derive(Clone)]
pub(super) enum Pools {
    /// SQLite allows one writer at a time: a one-connection write pool queues writers
    /// in-process instead of failing them with SQLITE_BUSY.
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
    },
    Postgres(PgPool),
}

/// The event log.
#[derive(Clone)]
pub struct EventLog {
    pub(super) pools: Pools,
}

/// Connection settings for the log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Pool size for PostgreSQL (SQLite reads use up to 4).
    pub max_connections: u32,
    /// SQLite: fsync every commit (FULL) rather than at checkpoints (NORMAL).
    pub sqlite_synchronous_full: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self { max_connections: 16, sqlite_synchronous_full: true }
    }
}

/// SQLite page cache of the writer connection, in KiB.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

impl EventLog {
    /// Opens the SQLite file at `path`, creating it if missing.
    pub async fn open_sqlite(path: &Path, options: &LogOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.sqlite_synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // The one writer also writes the views, many rows per statement when the
        // projections catch up or rebuild: SQLite keeps each such statement's undo pages
        // (its statement journal) in a temporary file unless told to keep them in memory,
        // a write system call per page; and its default page cache (2 MB) is far smaller
        // than the views' indexes, so pages are spilled mid-transaction and read again.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                connect
                    .clone()
                    .pragma("temp_store", "MEMORY")
                    .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
                    // A deleted personal key must not linger in the file's free space
                    // (docs/decisions/0007): zero deleted content where that costs no
                    // extra I/O, which covers rows as small as a key.
                    .pragma("secure_delete", "FAST"),
            )
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(connect.read_only(false))
            .await?;
        Ok(Self { pools: Pools::Sqlite { write, read } })
    }

    /// Connects to PostgreSQL.
    pub async fn connect_postgres(url: &str, options: &LogOptions) -> Result<Self, StoreError> {
        // No JIT compilation: PostgreSQL compiles a query with LLVM once the planner's
        // cost estimate passes `jit_above_cost`, which the feed's reads and the
        // projections' multi-row statements do on a large log (a generic plan cannot
        // see their LIMIT or their row count). Compiling costs tens of milliseconds per
        // execution, far more than these short statements run; a rebuild spent a fifth
        // of its CPU in LLVM (BENCHMARKS.md).
        let connect = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            // sqlx pings every connection on acquire by default: a round trip per
            // command that a healthy local pool does not need (PERFORMANCE.md).
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect)
            .await?;
        Ok(Self { pools: Pools::Postgres(pool) })
    }

    /// The database for projections' views (the log's own).
    pub fn views(&self) -> kurslogg_projections::Db {
        match &self.pools {
            Pools::Postgres(pool) => kurslogg_projections::Db::Postgres(pool.clone()),
            Pools::Sqlite { write, read } => {
                kurslogg_projections::Db::Sqlite { write: write.clone(), read: read.clone() }
            }
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The PostgreSQL pool, for tools that need it (benchmarks).
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(pool) => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }

    /// Applies the migrations in `migrations/<backend>/`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { write, .. } => sqlx::migrate!("../migrations/sqlite").run(write).await?,
            Pools::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { read, .. } => sqlx::query("SELECT 1").execute(read).await.map(drop)?,
            Pools::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    /// Closes the pools (on shutdown).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { write, read } => {
                write.close().await;
                read.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }

    /// All events of one aggregate with sequence above `after`, in order (through
    /// sqlite-es / postgres-es).
    pub async fn load<A: Aggregate>(&self, id: &str, after: usize) -> Result<Vec<SerializedEvent>, StoreError> {
        let events = match &self.pools {
            Pools::Sqlite { read, .. } => {
                let repo = SqliteEventRepository::new(read.clone());
                if after == 0 {
                    repo.get_events::<A>(id).await?
                } else {
                    repo.get_last_events::<A>(id, after).await?
                }
            }
            Pools::Postgres(pool) => {
                let repo = PostgresEventRepository::new(pool.clone());
                if after == 0 {
                    repo.get_events::<A>(id).await?
                } else {
                    repo.get_last_events::<A>(id, after).await?
                }
            }
        };
        Ok(events)
    }

    /// Appends events (possibly none) and idempotency records, all or nothing, in one
    /// statement on PostgreSQL (one transaction on SQLite). Returns each event's global
    /// position, in the order given.
    pub async fn append(&self, events: &[NewEvent], responses: &[StoredResponse]) -> Result<Vec<i64>, AppendError> {
        self.append_checked(events, responses, &[]).await
    }

    /// As [`Self::append`], only if none of the `seen` aggregates has an event after the
    /// sequence it was seen at, checked in the same statement (transaction on SQLite) as
    /// the writes: otherwise nothing is written and the answer is
    /// [`AppendError::Stale`] naming the aggregates that moved on. With nothing to write,
    /// it is only that check (one indexed read per aggregate).
    pub async fn append_checked(
        &self,
        events: &[NewEvent],
        responses: &[StoredResponse],
        seen: &[Seen],
    ) -> Result<Vec<i64>, AppendError> {
        if events.is_empty() && responses.is_empty() && seen.is_empty() {
            return Ok(vec![]);
        }
        let result = match &self.pools {
            Pools::Postgres(pool) => append_postgres(pool, events, responses, seen).await,
            Pools::Sqlite { write, .. } => append_sqlite(write, events, responses, seen).await,
        };
        match result.map_err(classify_append_error)? {
            Appended::Written(positions) => Ok(positions),
            Appended::Stale(stale) => Err(AppendError::Stale(stale)),
        }
    }

    /// The recorded answer to an idempotent request, if any.
    pub async fn stored_response(&self, actor_id: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
        const SELECT_PG: &str =
            "SELECT request_hash, status, body FROM idempotency_keys WHERE actor_id = $1 AND key = $2";
        const SELECT_SQLITE: &str =
            "SELECT request_hash, status, body FROM idempotency_keys WHERE actor_id = ? AND key = ?";
        let row = match &self.pools {
            Pools::Postgres(pool) => sqlx::query(SELECT_PG).bind(actor_id).bind(key).fetch_optional(pool).await?,
            Pools::Sqlite { read, .. } => {
                let row = sqlx::query(SELECT_SQLITE).bind(actor_id).bind(key).fetch_optional(read).await?;
                return Ok(row.map(|row| StoredResponse {
                    actor_id: actor_id.to_string(),
                    key: key.to_string(),
                    request_hash: row.get(0),
                    status: row.get::<i64, _>(1) as u16,
                    body: row.get(2),
                    aggregate_id: None,
                    last_sequence: None,
                }));
            }
        };
        Ok(row.map(|row| StoredResponse {
            actor_id: actor_id.to_string(),
            key: key.to_string(),
            request_hash: row.get(0),
            status: row.get::<i32, _>(1) as u16,
            body: row.get(2),
            aggregate_id: None,
            last_sequence: None,
        }))
    }

    /// Events that put a person on an offering, after global position `after`.
    pub async fn people_on_offerings(&self, after: i64) -> Result<Vec<PeopleOnOffering>, StoreError> {
        const TYPES: &str =
            "('RegistrationRequested', 'LateRegistrationConfirmed', 'LateRegistrationWaitlisted', 'SeatTransferred')";
        let to_row =
            |position: i64, offering_id: String, payload: String| PeopleOnOffering { position, offering_id, payload };
        let rows: Vec<PeopleOnOffering> = match &self.pools {
            Pools::Postgres(pool) => {
                let sql = format!(
                    "SELECT position, aggregate_id, payload::text FROM events \
                     WHERE position > $1 AND aggregate_type = 'offering' AND event_type IN {TYPES} ORDER BY position"
                );
                let rows = sqlx::query(&sql).bind(after).fetch_all(pool).await?;
                rows.into_iter().map(|r| to_row(r.get(0), r.get(1), r.get(2))).collect()
            }
            Pools::Sqlite { read, .. } => {
                let sql = format!(
                    "SELECT rowid, aggregate_id, payload FROM events \
                     WHERE rowid > ? AND aggregate_type = 'offering' AND event_type IN {TYPES} ORDER BY rowid"
                );
                let rows = sqlx::query(&sql).bind(after).fetch_all(read).await?;
                rows.into_iter().map(|r| to_row(r.get(0), r.get(1), r.get(2))).collect()
            }
        };
        Ok(rows)
    }
}

/// What an append did: wrote (each event's position), or nothing because seen aggregates
/// had moved on (their type and id).
enum Appended {
    Written(Vec<i64>),
    Stale(Vec<(String, String)>),
}

/// The check of seen aggregates as a CTE over parameters `$1..$3`: the ones that have an
/// event after the sequence they were seen at. Each is one probe of the primary key.
const STALE_CTE: &str = "stale AS (
    SELECT g.t, g.i FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS g(t, i, s)
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.aggregate_type = g.t AND e.aggregate_id = g.i AND e.sequence > g.s)
)";

fn column<T, U>(items: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    items.iter().map(f).collect()
}

/// Binds the seen aggregates as `$1..$3` (see [`STALE_CTE`]).
fn bind_seen<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    seen: &[Seen],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(column(seen, |g| g.aggregate_type.to_string()))
        .bind(column(seen, |g| g.aggregate_id.clone()))
        .bind(column(seen, |g| g.sequence))
}

/// One statement on PostgreSQL whatever the append holds, so a batch of commands is a
/// single round trip and atomic: the plain multi-row INSERT when that is all it is;
/// otherwise the check of seen aggregates, the events and the idempotency records as
/// CTEs, the writes made only when nothing seen has moved on.
async fn append_postgres(
    pool: &PgPool,
    events: &[NewEvent],
    responses: &[StoredResponse],
    seen: &[Seen],
) -> Result<Appended, sqlx::Error> {
    if seen.is_empty() && responses.is_empty() && events.len() <= 8 {
        return append_postgres_plain(pool, events).await.map(Appended::Written);
    }
    let stale_rows = |rows: &[sqlx::postgres::PgRow]| -> Vec<(String, String)> {
        rows.iter().filter_map(|r| Some((r.get::<Option<String>, _>(3)?, r.get::<String, _>(0)))).collect()
    };
    if events.is_empty() && responses.is_empty() {
        // A refusal to verify: nothing to write, only the check.
        let sql = format!("WITH {STALE_CTE} SELECT i, NULL::bigint, NULL::bigint, t FROM stale");
        let rows = bind_seen(sqlx::query(&sql), seen).fetch_all(pool).await?;
        let stale = stale_rows(&rows);
        return Ok(if stale.is_empty() { Appended::Written(vec![]) } else { Appended::Stale(stale) });
    }
    let rows = if responses.is_empty() && events.len() <= 8 {
        // The hot path (a registration with its facts): the plain VALUES list, guarded.
        let sql = format!(
            "WITH fence AS (SELECT pg_advisory_xact_lock_shared({APPEND_FENCE_KEY})), {STALE_CTE}, appended AS (
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
    SELECT v.t, v.i, v.s, v.et, v.ev, v.p::json, v.m::json FROM fence, (VALUES {values}) AS v(t, i, s, et, ev, p, m)
     WHERE NOT EXISTS (SELECT 1 FROM stale)
    RETURNING aggregate_id, sequence, position
)
SELECT aggregate_id, sequence, position, NULL::text FROM appended
UNION ALL SELECT i, NULL, NULL, t FROM stale",
            values = values_list(events.len(), 4)
        );
        let mut query = bind_seen(sqlx::query(&sql), seen);
        for e in events {
            query = bind_event!(query, e);
        }
        query.fetch_all(pool).await?
    } else {
        let sql = format!(
            "
WITH fence AS (SELECT pg_advisory_xact_lock_shared({APPEND_FENCE_KEY})), {STALE_CTE}, appended AS (
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
    SELECT t, i, s, et, ev, p::json, m::json
      FROM fence, UNNEST($4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[])
           AS e(t, i, s, et, ev, p, m)
     WHERE NOT EXISTS (SELECT 1 FROM stale)
    RETURNING aggregate_id, sequence, position
), remembered AS (
    INSERT INTO idempotency_keys (actor_id, key, request_hash, status, body)
    SELECT r.actor, r.key, r.hash, r.status,
           replace(r.body, $18::text, coalesce(
               (SELECT a.position::text FROM appended a WHERE a.aggregate_id = r.agg AND a.sequence = r.seq), 'null'))
      FROM UNNEST($11::text[], $12::text[], $13::text[], $14::integer[], $15::text[], $16::text[], $17::bigint[])
           AS r(actor, key, hash, status, body, agg, seq)
     WHERE NOT EXISTS (SELECT 1 FROM stale)
)
SELECT aggregate_id, sequence, position, NULL::text FROM appended
UNION ALL SELECT i, NULL, NULL, t FROM stale"
        );
        bind_seen(sqlx::query(&sql), seen)
            .bind(column(events, |e| e.aggregate_type.to_string()))
            .bind(column(events, |e| e.aggregate_id.clone()))
            .bind(column(events, |e| e.sequence))
            .bind(column(events, |e| e.event_type.clone()))
            .bind(column(events, |e| e.event_version.clone()))
            .bind(column(events, |e| e.payload.clone()))
            .bind(column(events, |e| e.metadata.clone()))
            .bind(column(responses, |r| r.actor_id.clone()))
            .bind(column(responses, |r| r.key.clone()))
            .bind(column(responses, |r| r.request_hash.clone()))
            .bind(column(responses, |r| i32::from(r.status)))
            .bind(column(responses, |r| r.body.clone()))
            .bind(column(responses, |r| r.aggregate_id.clone()))
            .bind(column(responses, |r| r.last_sequence))
            .bind(PLACEHOLDER_TEXT)
            .fetch_all(pool)
            .await?
    };
    let stale = stale_rows(&rows);
    if !stale.is_empty() {
        return Ok(Appended::Stale(stale));
    }
    let by_event: HashMap<(String, i64), i64> = rows
        .into_iter()
        .map(|r| {
            (
                (r.get::<String, _>(0), r.get::<Option<i64>, _>(1).unwrap_or_default()),
                r.get::<Option<i64>, _>(2).unwrap_or_default(),
            )
        })
        .collect();
    Ok(Appended::Written(
        events
            .iter()
            .map(|e| by_event.get(&(e.aggregate_id.clone(), e.sequence)).copied().unwrap_or_default())
            .collect(),
    ))
}

/// `($first::text, …, $(first+6)::text), (…)`: the VALUES rows of `count` events, seven
/// parameters each, numbered from `first`.
fn values_list(count: usize, first: usize) -> String {
    let mut sql = String::new();
    for i in 0..count {
        let n = first + i * 7;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}::text, ${}::text, ${}::bigint, ${}::text, ${}::text, ${}::text, ${}::text)",
            n,
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6
        ));
    }
    sql
}

/// The common case (a few events, no idempotency record) as a plain multi-row INSERT:
/// cheaper for PostgreSQL to plan and run than the UNNEST statement.
async fn append_postgres_plain(pool: &PgPool, events: &[NewEvent]) -> Result<Vec<i64>, sqlx::Error> {
    append_postgres_events(pool, events).await
}

/// Appends events behind the append fence through any executor: the pool, or (in the
/// fault-injection tests) a transaction held open to commit late or roll back.
pub async fn append_postgres_events<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    events: &[NewEvent],
) -> Result<Vec<i64>, sqlx::Error> {
    // The shared fence lock is taken before any position is drawn (see
    // kurslogg_projections::feed): the CTE is joined, so it runs first.
    let sql = format!(
        "WITH fence AS (SELECT pg_advisory_xact_lock_shared({APPEND_FENCE_KEY})) \
         INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         SELECT v.t, v.i, v.s, v.et, v.ev, v.p::json, v.m::json FROM fence, (VALUES {}) AS v(t, i, s, et, ev, p, m) \
         RETURNING position",
        values_list(events.len(), 1)
    );
    let mut query = sqlx::query(&sql);
    for e in events {
        query = bind_event!(query, e);
    }
    // Identity values rise in insertion order.
    let mut positions: Vec<i64> = query.fetch_all(executor).await?.iter().map(|r| r.get::<i64, _>(0)).collect();
    positions.sort_unstable();
    Ok(positions)
}

async fn append_sqlite(
    pool: &SqlitePool,
    events: &[NewEvent],
    responses: &[StoredResponse],
    seen: &[Seen],
) -> Result<Appended, sqlx::Error> {
    // With aggregates to check, the transaction takes the database's write lock at once, so
    // that no other process appends between the check and the writes; the check comes
    // first, before this transaction's own events are there to be found.
    let mut tx = if seen.is_empty() { pool.begin().await? } else { pool.begin_with("BEGIN IMMEDIATE").await? };
    let mut stale = vec![];
    for g in seen {
        let newer =
            sqlx::query("SELECT 1 FROM events WHERE aggregate_type = ? AND aggregate_id = ? AND sequence > ? LIMIT 1")
                .bind(g.aggregate_type)
                .bind(&g.aggregate_id)
                .bind(g.sequence)
                .fetch_optional(&mut *tx)
                .await?;
        if newer.is_some() {
            stale.push((g.aggregate_type.to_string(), g.aggregate_id.clone()));
        }
    }
    if !stale.is_empty() {
        tx.rollback().await?;
        return Ok(Appended::Stale(stale));
    }
    let mut positions = Vec::with_capacity(events.len());
    // SQLite allows 32,766 bound parameters per statement; 7 per event.
    for chunk in events.chunks(4_000) {
        let mut sql = String::from(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?, ?, ?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?, ?, ?)" });
        }
        sql.push_str(" RETURNING rowid");
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = bind_event!(query, e);
        }
        // Rows come back in insertion order; rowids rise with it.
        let mut rowids: Vec<i64> = query.fetch_all(&mut *tx).await?.iter().map(|r| r.get::<i64, _>(0)).collect();
        rowids.sort_unstable();
        positions.extend(rowids);
    }
    for r in responses {
        let position = events
            .iter()
            .zip(&positions)
            .find(|(e, _)| Some(&e.aggregate_id) == r.aggregate_id.as_ref() && Some(e.sequence) == r.last_sequence)
            .map_or_else(|| "null".to_string(), |(_, p)| p.to_string());
        sqlx::query("INSERT INTO idempotency_keys (actor_id, key, request_hash, status, body) VALUES (?, ?, ?, ?, ?)")
            .bind(&r.actor_id)
            .bind(&r.key)
            .bind(&r.request_hash)
            .bind(i64::from(r.status))
            .bind(r.body.replace(PLACEHOLDER_TEXT, &position))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Appended::Written(positions))
}

fn classify_append_error(error: sqlx::Error) -> AppendError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation() {
            let message = db.message();
            let on_idempotency = db.constraint().is_some_and(|c| c.starts_with("idempotency_keys"))
                || message.contains("idempotency_keys");
            return if on_idempotency { AppendError::IdempotencyKeyTaken } else { AppendError::Conflict };
        }
    }
    AppendError::Store(StoreError::Database(error))
}
