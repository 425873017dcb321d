//! Time travel: any view, as the log stood at an earlier instant or position.
//!
//! The log is append-only, so the past is a prefix of it. To answer "as of" a moment,
//! the enrolment projection is run over that prefix into a private in-memory SQLite database,
//! and the view's ordinary query runs there. Nothing is kept: the answer is always built
//! from the log itself, never from a stored copy that could have been edited.

use chrono::{DateTime, Utc};

use crate::audit::POSITIONS_CONCERNING_STAFF;
use crate::db::{Db, Param, Private};
use crate::enrolment::{self, Enrolment};
use crate::feed::{self, Filter};
use crate::runner::{save_checkpoint, Projection, ProjectionError};
use crate::tasks::Spawned;

/// A moment in the log's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Everything recorded at or before this instant.
    Instant(DateTime<Utc>),
    /// Everything up to and including this log position.
    Position(i64),
}

/// Which part of the log a view needs: narrowing it makes time travel cheaper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// The whole log.
    #[default]
    Everything,
    /// One offering's stream, and every stream that is not an offering's.
    Offering(String),
    /// What one staff member's record needs: the streams of the offerings they have been
    /// on, and every stream that is not an offering's.
    Staff(String),
}

/// Events read and applied per transaction while replaying.
const BATCH: i64 = 5_000;

/// Page cache of a replay's database, in pages of 4 kB (64 MiB). It lives in memory
/// whatever its size; this only sizes SQLite's cache of it (a replay to a million events
/// is about 45 MB).
const PAST_CACHE_PAGES: i64 = 16_384;

/// The last log position that was part of the log at `as_of`.
///
/// For an instant: the last position recorded at or before it. Positions are commit
/// order, so the answer is a prefix of the log, as it stood.
pub async fn cutoff(db: &Db, as_of: AsOf) -> Result<i64, ProjectionError> {
    let mark = feed::high_water_mark(db).await?;
    let at = match as_of {
        AsOf::Position(position) => return Ok(position.clamp(0, mark)),
        AsOf::Instant(at) => enrolment::timestamp(at),
    };
    // The audit trail indexes positions by time; beyond what it has seen, ask the log.
    let audited = db.read_int("SELECT max(position) FROM audit_entries", &[]).await?.unwrap_or(0);
    let sql = match db {
        Db::Postgres(_) => "SELECT max(position) FROM events WHERE position > $1 AND metadata->>'recorded_at' <= $2",
        Db::Sqlite { .. } | Db::Private(_) => {
            "SELECT max(rowid) FROM events WHERE rowid > $1 AND json_extract(metadata, '$.recorded_at') <= $2"
        }
    };
    if let Some(later) = db.read_int(sql, &[Param::Int(audited), at.clone().into()]).await? {
        return Ok(later.min(mark));
    }
    let sql = "SELECT max(position) FROM audit_entries WHERE recorded_at <= $1";
    Ok(db.read_int(sql, &[at.into()]).await?.unwrap_or(0).min(mark))
}

/// The views as they stood at `as_of`, built in a private in-memory database that lives
/// as long as the returned `Db`. Its checkpoints are the cutoff position.
///
/// The replay runs on a thread of its own (a private database's statements block their
/// thread), and stops at its next batch if the caller gives up on it.
pub async fn views_as_of(source: &Db, as_of: AsOf, scope: &Scope) -> Result<Db, ProjectionError> {
    let cutoff = cutoff(source, as_of).await?;
    // Every view but the audit trail reads the enrolment projection's tables, so only it is
    // replayed. The audit trail needs no replay: as of a moment it is the live trail cut
    // at the position (`cutoff`), each entry shown from the live log.
    let filter = match scope {
        Scope::Everything => Filter::Everything,
        Scope::Offering(id) => Filter::Offerings(vec![id.clone()]),
        Scope::Staff(id) => staff_filter(source, id, cutoff).await?,
    };
    let source = source.clone();
    let replay = Spawned::blocking(
        async move { replay(&source, cutoff, &filter).await },
        Err(ProjectionError::Rebuild("the replay was cut off".into())),
    );
    replay.await.unwrap_or_else(|e| Err(ProjectionError::Rebuild(format!("replaying the log: {e}"))))
}

/// The enrolment projection over the log up to `cutoff`, as far as `filter` lets through,
/// in a fresh private in-memory database.
async fn replay(source: &Db, cutoff: i64, filter: &Filter) -> Result<Db, ProjectionError> {
    let past = Db::Private(Private::create(None, PAST_CACHE_PAGES)?);
    let mut after = 0;
    loop {
        let events = feed::read_filtered(source, after, cutoff, BATCH, filter).await?;
        let Some(last) = events.last().map(|e| e.position) else { break };
        let mut tx = past.begin().await?;
        Enrolment.apply_batch(&mut tx, &events).await?;
        tx.commit().await?;
        after = last;
    }
    let mut tx = past.begin().await?;
    save_checkpoint(&mut tx, Enrolment.name(), cutoff).await?;
    tx.commit().await?;
    Ok(past)
}

/// The offerings a staff member had been on by `cutoff`, from the live audit trail; the
/// whole log if the audit trail has not reached the cutoff yet (it could miss one).
async fn staff_filter(db: &Db, staff: &str, cutoff: i64) -> Result<Filter, ProjectionError> {
    if crate::views::position(db, crate::audit::NAME).await? < cutoff {
        return Ok(Filter::Everything);
    }
    let sql = format!(
        "SELECT DISTINCT a.offering_id FROM ({}) s JOIN audit_entries a ON a.position = s.position \
         WHERE s.position <= $2 AND a.offering_id IS NOT NULL",
        POSITIONS_CONCERNING_STAFF.replace('?', "$1")
    );
    let offerings = db.fetch(&sql, &[staff.into(), Param::Int(cutoff)]).await?;
    Ok(Filter::Offerings(offerings.iter().map(|r| r.text(0)).collect()))
}
