//! The projections the service runs, their status, and reads of their views.

use std::time::{Duration, Instant};

use kurslogg_projections::feed::latest_position;
use kurslogg_projections::roster::Roster;
use kurslogg_projections::{Db, ProjectionError, Runner};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

/// Names of the projections, for `kurslogg projections rebuild NAME`.
pub const PROJECTIONS: [&str; 1] = ["roster"];

/// Where one projection stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectionStatus {
    /// Name.
    pub name: String,
    /// Last log position applied.
    pub position: i64,
    /// Events in the log (below the high-water mark) not yet applied.
    pub lag: i64,
}

/// Every projection's position and lag.
pub async fn status(db: &Db) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    // Shown, not acted on: the plain latest position spares appends the fence's wait.
    let latest = latest_position(db).await?;
    let position = Runner::new(db.clone(), Roster).checkpoint().await?;
    Ok(vec![ProjectionStatus { name: "roster".into(), position, lag: (latest - position).max(0) }])
}

/// Rebuilds the named projection (or all) from the whole log.
pub async fn rebuild(db: &Db, name: Option<&str>) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    if name.is_none_or(|n| n == "roster") {
        Runner::new(db.clone(), Roster).rebuild().await?;
    }
    status(db).await
}

/// Keeps every projection caught up until the process ends.
pub fn spawn_runners(db: &Db) {
    tokio::spawn(Runner::new(db.clone(), Roster).run(Duration::from_millis(100)));
}

/// Waits (up to `limit`) until the roster has applied `position`; false if it has not.
pub async fn wait_for(db: &Db, position: i64, limit: Duration) -> Result<bool, ProjectionError> {
    let runner = Runner::new(db.clone(), Roster);
    let started = Instant::now();
    loop {
        if runner.checkpoint().await? >= position {
            return Ok(true);
        }
        if started.elapsed() >= limit {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One person on an offering's roster.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterEntry {
    /// Staff id.
    pub staff_id: String,
    /// Municipality.
    pub municipality: String,
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: String,
    /// The cancellation is charged.
    pub charged: bool,
    /// Registered after the deadline.
    pub late: bool,
    /// Place in the waiting list (1 = next), when waiting.
    pub waiting_place: Option<i64>,
    /// Attendance per session index.
    pub attendance: Vec<Option<String>>,
    /// completed or not_completed, once decided.
    pub completion: Option<String>,
    /// Certificate number.
    pub certificate: Option<String>,
    /// Took the seat over from.
    pub transferred_from: Option<String>,
    /// Handed the seat to.
    pub transferred_to: Option<String>,
}

/// An offering's roster, from the roster projection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterView {
    /// Offering id.
    pub offering_id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// Term.
    pub term: String,
    /// Seats.
    pub seat_limit: i64,
    /// open, allocated, completed or cancelled.
    pub state: String,
    /// Log position the roster reflects.
    pub position: i64,
    /// Everyone, in priority order.
    pub entries: Vec<RosterEntry>,
}

/// Runs the same query on either backend and maps each row with the same code.
macro_rules! query_rows {
    ($db:expr, $sql:expr, [$($bind:expr),*], |$row:ident| $map:expr) => {
        match $db {
            Db::Postgres(pool) => sqlx::query($sql)$(.bind($bind))*.fetch_all(pool).await?
                .into_iter().map(|$row| $map).collect::<Vec<_>>(),
            Db::Sqlite { read, .. } => sqlx::query($sql)$(.bind($bind))*.fetch_all(read).await?
                .into_iter().map(|$row| $map).collect::<Vec<_>>(),
        }
    };
}

/// An offering's roster, or `None` if the roster has not seen it.
pub async fn roster(db: &Db, offering: &str) -> Result<Option<RosterView>, ProjectionError> {
    let position = Runner::new(db.clone(), Roster).checkpoint().await?;
    let heads = query_rows!(
        db,
        "SELECT course, title, term, seat_limit, sessions, state FROM roster_offerings WHERE offering_id = $1",
        [offering],
        |r| (
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<i64, _>(3),
            r.get::<i64, _>(4),
            r.get::<String, _>(5)
        )
    );
    let Some((course, title, term, seat_limit, sessions, state)) = heads.into_iter().next() else { return Ok(None) };
    let marks = query_rows!(
        db,
        "SELECT staff_id, session, attendance FROM roster_attendance WHERE offering_id = $1",
        [offering],
        |r| (r.get::<String, _>(0), r.get::<i64, _>(1), r.get::<String, _>(2))
    );
    let mut entries = query_rows!(
        db,
        "SELECT staff_id, municipality, status, charged, late, waiting_rank, completion, certificate, transferred_from, transferred_to \
         FROM roster_entries WHERE offering_id = $1 ORDER BY priority",
        [offering],
        |r| (
            RosterEntry {
                staff_id: r.get(0),
                municipality: r.get(1),
                status: r.get(2),
                charged: r.get::<i64, _>(3) != 0,
                late: r.get::<i64, _>(4) != 0,
                waiting_place: None,
                attendance: vec![None; usize::try_from(sessions).unwrap_or(0)],
                completion: r.get(6),
                certificate: r.get(7),
                transferred_from: r.get(8),
                transferred_to: r.get(9),
            },
            r.get::<Option<i64>, _>(5)
        )
    );
    let mut waiting: Vec<(i64, usize)> =
        entries.iter().enumerate().filter_map(|(i, (_, rank))| rank.map(|rank| (rank, i))).collect();
    waiting.sort_unstable();
    for (place, (_, i)) in waiting.into_iter().enumerate() {
        entries[i].0.waiting_place = Some(place as i64 + 1);
    }
    let mut entries: Vec<RosterEntry> = entries.into_iter().map(|(e, _)| e).collect();
    for (staff, session, attendance) in marks {
        if let Some(entry) = entries.iter_mut().find(|e| e.staff_id == staff) {
            if let Some(slot) = usize::try_from(session).ok().and_then(|s| entry.attendance.get_mut(s)) {
                *slot = Some(attendance);
            }
        }
    }
    Ok(Some(RosterView {
        offering_id: offering.to_string(),
        course,
        title,
        term,
        seat_limit,
        state,
        position,
        entries,
    }))
}
