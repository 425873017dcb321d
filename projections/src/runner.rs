//! Runs projections: each reads the log from its checkpoint and applies events to its
//! view rows, storing the new checkpoint in the same transaction, so a crash at any
//! point leaves the view exactly as it was at its checkpoint.

use std::time::Duration;

use async_trait::async_trait;

use crate::db::{Db, Param, ViewTx};
use crate::feed::{self, LoggedEvent};

/// Events read and applied per transaction while catching up.
const BATCH: i64 = 1_000;

/// Events read and applied per transaction while rebuilding: larger, so that a projection's
/// multi-row statements and the per-transaction work (checkpoint, commit) are spread over
/// more events. On SQLite a transaction holds the one writer, so appends wait for at most
/// one batch.
const REBUILD_BATCH: i64 = 5_000;

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// An event could not be understood.
    #[error("event at position {position}: {reason}")]
    Unreadable {
        /// Where.
        position: i64,
        /// What was wrong.
        reason: String,
    },
}

/// A read model built from the log.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Stable name, used for its checkpoint.
    fn name(&self) -> &'static str;
    /// Empties the view (for a rebuild), inside `tx`.
    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError>;
    /// Applies one event inside `tx`.
    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError>;
    /// Applies events (in position order) inside `tx`. The views must end up exactly as
    /// if each event had been given to [`Projection::apply`] in turn; a projection
    /// overrides this to do the same work in fewer statements. By default: one by one.
    async fn apply_batch(&self, tx: &mut ViewTx, events: &[LoggedEvent]) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(tx, event).await?;
        }
        Ok(())
    }
}

/// Drives one projection.
pub struct Runner<P> {
    db: Db,
    projection: P,
}

impl<P: Projection> Runner<P> {
    /// A runner of `projection` over `db`.
    pub fn new(db: Db, projection: P) -> Self {
        Self { db, projection }
    }

    /// The projection's checkpoint: the last position applied (0 before any).
    /// A plain read: no lock, no write. `catch_up` re-reads it under a lock before applying.
    pub async fn checkpoint(&self) -> Result<i64, ProjectionError> {
        let sql = "SELECT position FROM projection_checkpoints WHERE name = $1";
        Ok(self.db.read_int(sql, &[Param::from(self.projection.name())]).await?.unwrap_or(0))
    }

    /// Applies everything below the log's high-water mark; returns the new checkpoint.
    pub async fn catch_up(&self) -> Result<i64, ProjectionError> {
        self.catch_up_in(BATCH).await
    }

    /// Empties the view and its checkpoint, then builds it again from the whole log.
    pub async fn rebuild(&self) -> Result<i64, ProjectionError> {
        let mut tx = begin(&self.db).await?;
        self.projection.reset(&mut tx).await?;
        save_checkpoint(&mut tx, self.projection.name(), 0).await?;
        tx.commit().await?;
        self.catch_up_in(REBUILD_BATCH).await
    }

    /// Catches up in transactions of up to `batch` events. The next batch is read (on a
    /// connection of its own) while the current one is applied.
    async fn catch_up_in(&self, batch: i64) -> Result<i64, ProjectionError> {
        let mark = feed::high_water_mark(&self.db).await?;
        let mut checkpoint = self.checkpoint().await?;
        let mut prefetched: Option<(i64, Vec<LoggedEvent>)> = None;
        while checkpoint < mark {
            let events = match prefetched.take() {
                Some((after, events)) if after == checkpoint => events,
                _ => feed::read(&self.db, checkpoint, mark, batch).await?,
            };
            let Some(last) = events.last().map(|e| e.position) else { break };
            let mut tx = begin(&self.db).await?;
            // Re-read inside the transaction: another runner may have moved it on.
            let stored = checkpoint_in(&mut tx, self.projection.name()).await?;
            if stored != checkpoint {
                checkpoint = stored;
                continue;
            }
            let next = (last < mark).then(|| {
                let db = self.db.clone();
                tokio::spawn(async move { feed::read(&db, last, mark, batch).await })
            });
            let applied = async {
                self.projection.apply_batch(&mut tx, &events).await?;
                save_checkpoint(&mut tx, self.projection.name(), last).await?;
                tx.commit().await?;
                Ok::<_, ProjectionError>(())
            }
            .await;
            match (applied, next) {
                (Err(e), next) => {
                    if let Some(next) = next {
                        next.abort();
                    }
                    return Err(e);
                }
                // A read that failed or panicked is simply done again by the next round.
                (Ok(()), Some(next)) => prefetched = next.await.ok().and_then(Result::ok).map(|events| (last, events)),
                (Ok(()), None) => {}
            }
            checkpoint = last;
        }
        Ok(checkpoint)
    }

    /// Catches up every `interval` until the task is dropped.
    ///
    /// On PostgreSQL, several service instances may run the same projection: only the
    /// one holding the projection's advisory lock works, the others stand by and take
    /// over when it dies (`crate::leader`).
    pub async fn run(self, interval: Duration) {
        let name = self.projection.name();
        crate::leader::lead(self.db.clone(), name, interval, || async {
            if let Err(e) = self.catch_up().await {
                tracing::error!(projection = name, error = %e, "projection failed; retrying");
            }
        })
        .await;
    }
}

/// Starts a projection's transaction. On PostgreSQL, every statement of a projection
/// finds its rows by key, but view tables grow from nothing during a rebuild without
/// statistics (nothing analyses them where autovacuum is off, and it lags where it is
/// on), and the planner's guesses then favour scanning whole tables: a generic plan
/// cached while a table was tiny keeps scanning it at a million rows, and a join with a
/// list of rows guesses many matches per key. So statements are planned for the values
/// they are given, every time (`plan_cache_mode = force_custom_plan`: a transaction runs a
/// handful of statements per batch), and sequential scans are left for where no index
/// serves (`enable_seqscan = off`, e.g. a reset's `DELETE FROM table`).
async fn begin(db: &Db) -> Result<ViewTx, sqlx::Error> {
    let mut tx = db.begin().await?;
    if matches!(tx, ViewTx::Postgres(_)) {
        tx.execute("SET LOCAL plan_cache_mode = force_custom_plan", &[]).await?;
        tx.execute("SET LOCAL enable_seqscan = off", &[]).await?;
    }
    Ok(tx)
}

/// The advisory-lock key of a projection's runner: the append fence's prefix and a hash
/// of the name (FNV-1a, stable across builds).
pub fn lock_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    (0x4B4C_i64 << 32) | i64::from(hash)
}

/// Reads a projection's checkpoint, locking its row on PostgreSQL so that two runners of
/// the same projection (two service instances) take turns instead of applying twice.
async fn checkpoint_in(tx: &mut ViewTx, name: &str) -> Result<i64, sqlx::Error> {
    tx.execute(
        "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
        &[Param::from(name)],
    )
    .await?;
    let lock = if matches!(tx, ViewTx::Postgres(_)) { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT position FROM projection_checkpoints WHERE name = $1{lock}");
    Ok(tx.fetch_int(&sql, &[Param::from(name)]).await?.unwrap_or(0))
}

/// Stores a projection's checkpoint inside `tx`.
pub(crate) async fn save_checkpoint(tx: &mut ViewTx, name: &str, position: i64) -> Result<(), sqlx::Error> {
    tx.execute(
        "INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        &[Param::from(name), Param::Int(position)],
    )
    .await?;
    Ok(())
}
