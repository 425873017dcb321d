//! The projections the service runs: their status, rebuilds, the runners, and waiting
//! for a position (read-your-writes). The views themselves are read in
//! `kurslogg_projections::views`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kurslogg_projections::audit::{self, Audit};
use kurslogg_projections::enrolment::{self, Enrolment};
use kurslogg_projections::feed::latest_position;
use kurslogg_projections::notices::{self, Notices};
use kurslogg_projections::views::FailedEvent;
use kurslogg_projections::{runner, Db, Projection, ProjectionError, Runner};
use serde::Serialize;
use utoipa::ToSchema;

/// Names of the projections, for `kurslogg projections rebuild NAME`.
pub const PROJECTIONS: [&str; 3] = [enrolment::NAME, audit::NAME, notices::NAME];

/// Where one projection stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectionStatus {
    /// Name.
    pub name: String,
    /// Last log position applied.
    pub position: i64,
    /// Events in the log (below the high-water mark) not yet applied.
    pub lag: i64,
    /// Events it could not apply and passed over (docs/decisions/0010).
    pub failed_events: i64,
    /// The latest of those (at most 10).
    pub failures: Vec<FailedEvent>,
}

/// Every projection's position and lag.
pub async fn status(db: &Db) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    // Shown, not acted on: the plain latest position spares appends the fence's wait.
    let latest = latest_position(db).await?;
    let mut all = Vec::new();
    for name in PROJECTIONS {
        let position = kurslogg_projections::views::position(db, name).await?;
        let (failed_events, failures) = kurslogg_projections::views::failures(db, name, 10).await?;
        all.push(ProjectionStatus {
            name: name.into(),
            position,
            lag: (latest - position).max(0),
            failed_events,
            failures,
        });
    }
    Ok(all)
}

/// Rebuilds the named projection (or all) from the whole log. All of them are rebuilt at
/// the same time from one read of the log (`runner::rebuild`): they share no table and no
/// checkpoint, so on PostgreSQL each works on a connection of its own.
pub async fn rebuild(db: &Db, name: Option<&str>) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    // Rebuilding the notices keeps the outbox: its letters are found again, not resent.
    let all: [Arc<dyn Projection>; 3] = [Arc::new(Enrolment), Arc::new(Audit), Arc::new(Notices)];
    let chosen: Vec<Arc<dyn Projection>> = all.into_iter().filter(|p| name.is_none_or(|n| n == p.name())).collect();
    runner::rebuild(db, &chosen).await?;
    status(db).await
}

/// How often a runner looks for new events (and a standby for the lock).
const POLL: Duration = Duration::from_millis(100);

/// Keeps every projection caught up until the process ends (or the tasks are aborted).
pub fn spawn_runners(db: &Db) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(Runner::new(db.clone(), Enrolment).run(POLL)),
        tokio::spawn(Runner::new(db.clone(), Audit).run(POLL)),
        tokio::spawn(Runner::new(db.clone(), Notices).run(POLL)),
    ]
}

/// Waits (up to `limit`) until `projection` has applied `position`; false if it has not.
pub async fn wait_for<P: Projection>(
    db: &Db,
    projection: P,
    position: i64,
    limit: Duration,
) -> Result<bool, ProjectionError> {
    wait_for_named(db, projection.name(), position, limit).await
}

/// Waits (up to `limit`) until the projection called `name` has applied `position`.
pub async fn wait_for_named(db: &Db, name: &str, position: i64, limit: Duration) -> Result<bool, ProjectionError> {
    let started = Instant::now();
    loop {
        if kurslogg_projections::views::position(db, name).await? >= position {
            return Ok(true);
        }
        if started.elapsed() >= limit {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
