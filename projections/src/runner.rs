//! Runs projections: each reads the log from its checkpoint and applies events to its
//! view rows, storing the new checkpoint in the same transaction, so a crash at any
//! point leaves the view exactly as it was at its checkpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::aside::Scratch;
use crate::db::{Db, Param, ViewTx};
use crate::feed::{self, LoggedEvent};
use crate::tasks::Spawned;

/// Events read and applied per transaction while catching up.
const BATCH: i64 = 1_000;

/// Events read and applied per transaction while rebuilding: larger, so that a projection's
/// multi-row statements and the per-transaction work (checkpoint, commit) are spread over
/// more events, and a participant's attendance marks in a batch are mostly one run of
/// sessions, set by one row (`enrolment::marks::runs`; at 5,000 most participants had one
/// mark per batch). Four batches are in memory at most (two waiting per projection, one
/// being read): about 100 MB. On SQLite a rebuild in place holds the one writer for a
/// batch at a time, so appends wait for at most one batch.
const REBUILD_BATCH: i64 = 20_000;

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A rebuild could not go on.
    #[error("rebuild: {0}")]
    Rebuild(String),
    /// An event could not be understood.
    #[error("event at position {position}: {reason}")]
    Unreadable {
        /// Where.
        position: i64,
        /// What was wrong.
        reason: String,
    },
}

impl ProjectionError {
    /// Whether the event being applied is at fault (it cannot be read, or the database
    /// refuses what it holds) rather than the database being away or busy: the one kind
    /// that applying it again cannot cure, and that the runner records and passes over.
    pub fn is_the_events(&self) -> bool {
        let Self::Database(sqlx::Error::Database(e)) = self else {
            return matches!(self, Self::Unreadable { .. });
        };
        use sqlx::error::ErrorKind;
        let code = e.code().unwrap_or_default();
        matches!(
            e.kind(),
            ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation | ErrorKind::NotNullViolation | ErrorKind::CheckViolation
        )
            // PostgreSQL's class 22, data exceptions: a value the column cannot take.
            || code.starts_with("22")
            // SQLite: a value too big, of the wrong type, or out of range.
            || matches!(code.as_ref(), "18" | "20" | "25")
    }
}

/// A read model built from the log.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Stable name, used for its checkpoint.
    fn name(&self) -> &'static str;
    /// The tables it writes, all its own. A rebuild drops their secondary indexes and
    /// builds them again at the end, so none of the projection's own statements may need
    /// one (they find rows by primary key).
    fn tables(&self) -> &'static [&'static str];
    /// Empties the view (for a rebuild), inside `tx`. By default: every one of its tables.
    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        for table in self.tables() {
            tx.empty(table).await?;
        }
        Ok(())
    }
    /// Whether a rebuild builds this projection aside, in a scratch SQLite database of its
    /// own, and puts the finished rows in place at the end (see `crate::aside`). Only for
    /// a projection whose statements touch nothing but its [`Projection::tables`] (all of
    /// them created by the migrations), or whose [`Projection::prepare_aside`] and
    /// [`Projection::install_aside`] carry what else they touch between the live database
    /// and the scratch one. By default: no, it is rebuilt in place.
    fn rebuilds_aside(&self) -> bool {
        false
    }
    /// A table of [`Projection::tables`] that the projection only ever adds rows to, each
    /// with a greater key (its one integer primary key) than any before, and never reads,
    /// changes or removes (but for [`Projection::reset`]). Rebuilt aside on PostgreSQL, its
    /// rows are copied to the live database as the rebuild goes, not after it (see
    /// `crate::aside::streamed`); a rebuild that finds the promise broken fails. By
    /// default: none.
    fn appended_table(&self) -> Option<&'static str> {
        None
    }
    /// Rebuilt aside: what the fresh scratch database `scratch` must hold from `live`,
    /// beyond the migrations, before the log is applied to it. By default: nothing.
    async fn prepare_aside(&self, _live: &Db, _scratch: &mut ViewTx) -> Result<(), ProjectionError> {
        Ok(())
    }
    /// Rebuilt aside: carries what the projection wrote in `scratch` outside its own tables
    /// into `live`, the transaction that has just put those tables' rows in place (after
    /// [`Projection::reset`]) and will set the checkpoint to `reached`. By default: nothing.
    async fn install_aside(&self, _scratch: &Db, _live: &mut ViewTx, _reached: i64) -> Result<(), ProjectionError> {
        Ok(())
    }
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
    projection: Arc<P>,
}

impl<P: Projection + 'static> Runner<P> {
    /// A runner of `projection` over `db`.
    pub fn new(db: Db, projection: P) -> Self {
        Self { db, projection: Arc::new(projection) }
    }

    /// The projection's checkpoint: the last position applied (0 before any).
    /// A plain read: no lock, no write. `catch_up` re-reads it under a lock before applying.
    pub async fn checkpoint(&self) -> Result<i64, ProjectionError> {
        let sql = "SELECT position FROM projection_checkpoints WHERE name = $1";
        Ok(self.db.read_int(sql, &[Param::from(self.projection.name())]).await?.unwrap_or(0))
    }

    /// Builds the view again from the whole log ([`rebuild`]: aside or in place, as the
    /// projection says); returns the new checkpoint.
    pub async fn rebuild(&self) -> Result<i64, ProjectionError> {
        rebuild(&self.db, &[self.projection.clone() as Arc<dyn Projection>]).await
    }

    /// Applies everything below the log's high-water mark; returns the new checkpoint.
    /// In transactions of up to [`BATCH`] events; the next batch is read (on a connection
    /// of its own) while the current one is applied.
    pub async fn catch_up(&self) -> Result<i64, ProjectionError> {
        let mark = feed::high_water_mark(&self.db).await?;
        let mut checkpoint = self.checkpoint().await?;
        let mut prefetched: Option<(i64, Vec<LoggedEvent>)> = None;
        while checkpoint < mark {
            let events = match prefetched.take() {
                Some((after, events)) if after == checkpoint => events,
                _ => feed::read(&self.db, checkpoint, mark, BATCH).await?,
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
                tokio::spawn(async move { feed::read(&db, last, mark, BATCH).await })
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
                    if !e.is_the_events() {
                        return Err(e);
                    }
                    // One of these events cannot be applied (the transaction is rolled
                    // back): apply them one at a time, so the others get through.
                    checkpoint = one_by_one(&self.db, self.projection.as_ref(), &events, true).await?.0;
                    continue;
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
        // A rebuild cut off before its end leaves its tables without their secondary
        // indexes: build them now (the runner then finishes the rebuild as a catch-up).
        if let Err(e) = restore_indexes(&self.db, name).await {
            tracing::error!(projection = name, error = %e, "could not restore the indexes a rebuild dropped");
        }
        crate::leader::lead(self.db.clone(), name, interval, || async {
            if let Err(e) = self.catch_up().await {
                tracing::error!(projection = name, error = %e, "projection failed; retrying");
            }
        })
        .await;
    }
}

/// Builds `projections`' views again from the whole log (up to its high-water mark when
/// the rebuild starts), reading the log once for all of them; returns the position
/// reached.
///
/// Built for speed, without giving up what a catch-up guarantees:
/// - one reader hands batches of [`REBUILD_BATCH`] events to every projection, and each
///   applies them in transactions of its own that store its checkpoint, as a catch-up
///   does;
/// - a projection that [rebuilds aside](Projection::rebuilds_aside) applies them to a
///   scratch database of its own (`crate::aside`), side by side with the others, and its
///   live views stay as they were (and current) until the finished rows replace them in
///   one transaction with the new checkpoint; a rebuild cut off before then changes
///   nothing;
/// - any other projection is rebuilt in place: it first empties its tables, in one
///   transaction with its checkpoint set to 0, so a crash leaves its view as it was at
///   its checkpoint and a runner that starts later carries on from there; a runner of the
///   same projection that moves the checkpoint on meanwhile (another instance) is not
///   applied twice over;
/// - either way, the live tables' secondary indexes are dropped before they are filled,
///   each recorded in `projection_dropped_indexes` in the same transaction, and built
///   again, once, at the end (several times cheaper than keeping them up to date row by
///   row); a rebuild cut off in between leaves the record from which the projection's
///   next start restores them ([`restore_indexes`]).
pub async fn rebuild(db: &Db, projections: &[Arc<dyn Projection>]) -> Result<i64, ProjectionError> {
    let started = std::time::Instant::now();
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    let mut scratches = Vec::with_capacity(projections.len());
    for projection in projections {
        if projection.rebuilds_aside() {
            scratches.push(Some(crate::aside::Scratch::create(db, projection.as_ref()).await?));
            continue;
        }
        let mut tx = begin(db).await?;
        projection.reset(&mut tx).await?;
        save_checkpoint(&mut tx, projection.name(), 0).await?;
        drop_indexes(&mut tx, projection.name(), projection.tables()).await?;
        tx.commit().await?;
        scratches.push(None);
    }
    let mark = feed::high_water_mark(db).await?;
    let mut senders = Vec::new();
    let mut appliers = Vec::with_capacity(projections.len());
    // Per projection, the events it passed over (docs/decisions/0010).
    let mut all_passed_over: Vec<Arc<std::sync::Mutex<Vec<Failed>>>> = Vec::with_capacity(projections.len());
    for (projection, scratch) in projections.iter().zip(&mut scratches) {
        // Two batches in hand per projection: the reader stays ahead, memory stays bounded.
        let (send, batches) = tokio::sync::mpsc::channel(2);
        senders.push(send);
        let target = scratch.as_ref().map_or_else(|| db.clone(), |s| s.db());
        // Each on a task of its own, so on a thread of its own where there is one: the
        // projections' own work (and, rebuilt aside, their databases') runs side by side.
        // A private (scratch) database runs its statements on the caller's thread: there
        // the task is a thread of its own, off the runtime's few.
        let projection = Arc::clone(projection);
        let passed_over = Arc::new(std::sync::Mutex::new(Vec::new()));
        all_passed_over.push(Arc::clone(&passed_over));
        let cut_off = Err(ProjectionError::Rebuild(format!("the rebuild of {} was cut off", projection.name())));
        let private = matches!(target, Db::Private(_));
        // The end of its appended table's copy, if that is copied as it grows.
        let tail = scratch.as_mut().and_then(Scratch::take_tail);
        let work = async move {
            let reached = apply_all(&target, projection.as_ref(), batches, &passed_over).await?;
            if let Some(tail) = tail {
                tail.finish().await?;
            }
            Ok(reached)
        };
        appliers.push(if private { Spawned::blocking(work, cut_off) } else { Spawned::new(work) });
    }
    // The reader decodes on a task of its own, so on a thread of its own if there is one.
    let reader = Spawned::new(read_all(db.clone(), mark, senders));
    let mut applied = Vec::with_capacity(appliers.len());
    for applier in appliers {
        applied.push(applier.await.unwrap_or_else(|e| Err(ProjectionError::Rebuild(format!("applying: {e}")))));
    }
    let read = reader.await.unwrap_or_else(|e| Err(ProjectionError::Rebuild(format!("reading the log: {e}"))));
    let filled = started.elapsed();
    // The first failure, if any: a projection's own, the reader's, then putting in place.
    let reached = applied.into_iter().collect::<Result<Vec<i64>, _>>().and_then(|reached| read.map(|()| reached));
    // Each projection goes on by itself from here (see `finish`), side by side, taking
    // turns to build indexes.
    let index_turns = tokio::sync::Semaphore::new(index_builders(db));
    let finishing = projections.iter().zip(scratches).enumerate().map(|(i, (projection, scratch))| {
        let reached = reached.as_ref().ok().map(|reached| reached[i]);
        finish(db, projection.as_ref(), scratch, reached, started, &index_turns)
    });
    let finished = futures::future::join_all(finishing).await;
    tracing::info!(
        projections = ?names,
        mark,
        filled_s = filled.as_secs_f64(),
        finished_s = (started.elapsed() - filled).as_secs_f64(),
        "rebuilt"
    );
    reached?;
    for result in finished {
        result?;
    }
    // Every event up to the mark was tried again: what failed this time is what stands.
    let mut tx = db.begin().await?;
    for (name, passed_over) in names.iter().zip(&all_passed_over) {
        tx.execute(
            "DELETE FROM projection_failures WHERE projection = $1 AND position <= $2",
            &[(*name).into(), Param::Int(mark)],
        )
        .await?;
        let failed = passed_over.lock().expect("failures").clone();
        record_failures(&mut tx, name, &failed).await?;
    }
    tx.commit().await?;
    Ok(mark)
}

/// The end of one projection's rebuild, once its fill is done: its rows put in place
/// (`reached` is `None` when the fill failed: nothing is), its indexes built again and,
/// on PostgreSQL, its tables analysed. Each projection does this by itself, so a small
/// view's index builds keep the other core busy while the largest view is still copied.
async fn finish(
    db: &Db,
    projection: &dyn Projection,
    scratch: Option<Scratch>,
    reached: Option<i64>,
    started: std::time::Instant,
    index_turns: &tokio::sync::Semaphore,
) -> Result<(), ProjectionError> {
    let name = projection.name();
    let began = started.elapsed();
    let installed = match (scratch, reached) {
        (Some(scratch), Some(reached)) => scratch.install(db, projection, reached).await,
        // Nothing to put in place, or a failure to report: the scratch file goes.
        _ => Ok(()),
    };
    let in_place = started.elapsed();
    // Always: a view half built still needs its indexes, for its readers and its runner.
    let restored = restore_indexes_sharing(db, name, index_turns).await;
    tracing::info!(
        projection = name,
        put_in_place_s = (in_place - began).as_secs_f64(),
        indexes_s = (started.elapsed() - in_place).as_secs_f64(),
        "finished"
    );
    installed?;
    restored?;
    if matches!(db, Db::Postgres(_)) && reached.is_some() {
        // Fresh statistics for the planner: the tables changed wholesale, and autovacuum
        // may be slow to notice (or off). Without them, reads of a rebuilt view can take a
        // poor plan for minutes. After the indexes, not beside them: `ANALYZE` and
        // `CREATE INDEX` on one table take turns (their locks conflict), and an `ANALYZE`
        // waiting for one build holds up the builds asked for after it (fifteenth
        // session: the audit trail's last two builds waited 0.6 s). Each table in a
        // transaction of its own, so that its lock is held only while it is analysed; the
        // smaller views are analysed while the audit trail's indexes are still built.
        for table in projection.tables() {
            let mut tx = db.begin().await?;
            tx.execute(&format!("ANALYZE {table}"), &[]).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Reads the log up to `mark` once, handing every batch to every projection.
async fn read_all(
    db: Db,
    mark: i64,
    senders: Vec<tokio::sync::mpsc::Sender<Arc<Vec<LoggedEvent>>>>,
) -> Result<(), ProjectionError> {
    let mut after = 0;
    while after < mark {
        let events = Arc::new(feed::read(&db, after, mark, REBUILD_BATCH).await?);
        let Some(last) = events.last().map(|e| e.position) else { break };
        for send in &senders {
            // A projection that stopped has failed, and says why itself.
            let _ = send.send(Arc::clone(&events)).await;
        }
        if senders.iter().all(|send| send.is_closed()) {
            break;
        }
        after = last;
    }
    Ok(())
}

/// An event a projection could not apply: its position, type and why.
type Failed = (i64, String, String);

/// Applies `events` to `db` one per transaction. An event that cannot be applied
/// ([`ProjectionError::is_the_events`]) is passed over in a transaction that moves the
/// checkpoint past it, with an ERROR line in the log, and, when `record`, with its record in
/// `projection_failures` (docs/decisions/0010): the events behind it are applied. Returns
/// the checkpoint reached and the events passed over.
async fn one_by_one(
    db: &Db,
    projection: &dyn Projection,
    events: &[LoggedEvent],
    record: bool,
) -> Result<(i64, Vec<Failed>), ProjectionError> {
    let name = projection.name();
    let mut checkpoint = 0;
    let mut failed = Vec::new();
    for event in events {
        let mut tx = begin(db).await?;
        checkpoint = checkpoint_in(&mut tx, name).await?;
        if checkpoint >= event.position {
            continue;
        }
        let applied = async {
            projection.apply_batch(&mut tx, std::slice::from_ref(event)).await?;
            save_checkpoint(&mut tx, name, event.position).await?;
            tx.commit().await?;
            Ok::<_, ProjectionError>(())
        }
        .await;
        match applied {
            Ok(()) => checkpoint = event.position,
            Err(e) if e.is_the_events() => {
                let mut tx = begin(db).await?;
                checkpoint = checkpoint_in(&mut tx, name).await?;
                if checkpoint >= event.position {
                    continue;
                }
                let failure = (event.position, event.event_type.clone(), e.to_string());
                if record {
                    record_failures(&mut tx, name, std::slice::from_ref(&failure)).await?;
                }
                save_checkpoint(&mut tx, name, event.position).await?;
                tx.commit().await?;
                checkpoint = event.position;
                tracing::error!(
                    projection = name,
                    position = event.position,
                    event_type = %event.event_type,
                    error = %e,
                    "an event could not be applied: recorded in projection_failures, and the events after it go on"
                );
                failed.push(failure);
            }
            Err(e) => return Err(e),
        }
    }
    Ok((checkpoint, failed))
}

/// Records events `projection` passed over in `projection_failures`.
async fn record_failures(tx: &mut ViewTx, projection: &str, failed: &[Failed]) -> Result<(), sqlx::Error> {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for (position, event_type, reason) in failed {
        tx.execute(
            "INSERT INTO projection_failures (projection, position, event_type, reason, failed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (projection, position) DO NOTHING",
            &[
                projection.into(),
                Param::Int(*position),
                event_type.as_str().into(),
                reason.as_str().into(),
                at.as_str().into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Applies the batches a rebuild's reader hands over, from an emptied view; returns the
/// checkpoint reached.
async fn apply_all(
    db: &Db,
    projection: &dyn Projection,
    mut batches: tokio::sync::mpsc::Receiver<Arc<Vec<LoggedEvent>>>,
    passed_over: &std::sync::Mutex<Vec<Failed>>,
) -> Result<i64, ProjectionError> {
    let name = projection.name();
    let mut checkpoint = 0;
    while let Some(events) = batches.recv().await {
        let Some(last) = events.last().map(|e| e.position) else { continue };
        let mut tx = begin(db).await?;
        let stored = checkpoint_in(&mut tx, name).await?;
        if stored < checkpoint {
            return Err(ProjectionError::Rebuild(format!(
                "the checkpoint of {name} went back from {checkpoint} to {stored}: rebuilt twice at once?"
            )));
        }
        // Another runner of the projection may have applied some of these already.
        let fresh = events.partition_point(|e| e.position <= stored);
        if fresh < events.len() {
            match projection.apply_batch(&mut tx, &events[fresh..]).await {
                Ok(()) => save_checkpoint(&mut tx, name, last).await?,
                Err(e) if e.is_the_events() => {
                    // As a catch-up does: the others get through, the bad one is passed
                    // over (and recorded when the rebuild is in place; aside, at the end).
                    drop(tx);
                    let in_place = !matches!(db, Db::Private(_));
                    let (reached, failed) = one_by_one(db, projection, &events[fresh..], in_place).await?;
                    passed_over.lock().expect("failures").extend(failed);
                    checkpoint = reached.max(stored);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        checkpoint = last.max(stored);
    }
    Ok(checkpoint)
}

/// Drops the secondary (non-unique) indexes of `tables`, recording each for
/// [`restore_indexes`] in the same transaction.
pub(crate) async fn drop_indexes(tx: &mut ViewTx, projection: &str, tables: &[&str]) -> Result<(), sqlx::Error> {
    let sql = match tx {
        ViewTx::Postgres(_) => {
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = $1::regclass AND NOT i.indisunique ORDER BY c.relname"
        }
        // An index made for a key or UNIQUE constraint has no SQL of its own.
        ViewTx::Sqlite(_) | ViewTx::Private(_) => {
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL \
             AND upper(sql) NOT LIKE 'CREATE UNIQUE%' ORDER BY name"
        }
    };
    for table in tables {
        for index in tx.fetch(sql, &[Param::from(*table)]).await? {
            let (name, definition) = (index.text(0), index.text(1));
            tx.execute(
                "INSERT INTO projection_dropped_indexes (index_name, projection, definition) VALUES ($1, $2, $3)",
                &[name.as_str().into(), projection.into(), definition.into()],
            )
            .await?;
            tx.execute(&format!("DROP INDEX {name}"), &[]).await?;
        }
    }
    Ok(())
}

/// Builds again the indexes a rebuild of `projection` dropped, each in a transaction
/// that also deletes its record, so that two instances never build one twice. On
/// PostgreSQL three at a time, on connections of their own: each is a sort that keeps a
/// core busy, then waits for its writes to reach the disk, and a third build keeps the
/// cores busy meanwhile (the audit trail's five at a million entries: 2.1-2.2 s against
/// 2.3-2.4 s two at a time, BENCHMARKS.md, fourteenth session). SQLite has one writer.
pub async fn restore_indexes(db: &Db, projection: &str) -> Result<(), sqlx::Error> {
    restore_indexes_sharing(db, projection, &tokio::sync::Semaphore::new(index_builders(db))).await
}

/// How many indexes are built at a time (see [`restore_indexes`]).
fn index_builders(db: &Db) -> usize {
    if matches!(db, Db::Postgres(_)) {
        3
    } else {
        1
    }
}

/// [`restore_indexes`], with the `turns` to build (as many as [`index_builders`]) shared
/// by all the projections a rebuild finishes at once: however many there are, no more
/// builds run at a time (nor hold a connection of the pool, nor up to 256 MB of sort
/// memory each) than for one.
async fn restore_indexes_sharing(db: &Db, projection: &str, turns: &tokio::sync::Semaphore) -> Result<(), sqlx::Error> {
    let builders = (0..index_builders(db)).map(|_| restore_indexes_one_by_one(db, projection, turns));
    futures::future::try_join_all(builders).await.map(drop)
}

async fn restore_indexes_one_by_one(
    db: &Db,
    projection: &str,
    turns: &tokio::sync::Semaphore,
) -> Result<(), sqlx::Error> {
    loop {
        // Held until this index is built and its record deleted (never closed).
        let _turn = turns.acquire().await;
        let mut tx = db.begin().await?;
        // On PostgreSQL an index another builder has taken is passed over, not waited for.
        let skip_taken = if matches!(tx, ViewTx::Postgres(_)) { " FOR UPDATE SKIP LOCKED" } else { "" };
        let dropped = tx
            .fetch(
                &format!(
                    "SELECT index_name, definition FROM projection_dropped_indexes WHERE projection = $1 \
                     ORDER BY index_name LIMIT 1{skip_taken}"
                ),
                &[projection.into()],
            )
            .await?;
        let Some(index) = dropped.first() else { return Ok(()) };
        let deleted =
            tx.execute("DELETE FROM projection_dropped_indexes WHERE index_name = $1", &[index.text(0).into()]).await?;
        if deleted == 1 {
            if matches!(tx, ViewTx::Postgres(_)) {
                // Sorts a million keys in memory instead of on disk.
                tx.execute("SET LOCAL maintenance_work_mem = '256MB'", &[]).await?;
            }
            tx.execute(&index.text(1), &[]).await?;
        }
        tx.commit().await?;
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
pub(crate) async fn begin(db: &Db) -> Result<ViewTx, sqlx::Error> {
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
pub(crate) async fn checkpoint_in(tx: &mut ViewTx, name: &str) -> Result<i64, sqlx::Error> {
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
