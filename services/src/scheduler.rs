//! The scheduler: time-driven work, every round.
//!
//! - **Deadlines**: a published package whose deadline has passed is closed and its
//!   seats allocated; an allocation a crash interrupted is finished.
//! - **Completion**: an offering whose last session is over and whose attendance is in
//!   for everyone confirmed is completed (which sends the supervisors' summaries).
//! - **Reminders**: the configured number of days before a deadline (e.g. 14 and 3), the
//!   coordinators of municipalities with no registration on the package get a reminder.
//! - **Retention** (when configured, [`Scheduler::with_retention_years`]): staff removed
//!   more than that many years ago are erased, as the system, with reason "retention";
//!   so are the login and name of user accounts disabled that long ago, and security-log
//!   lines that old are removed.
//! - **Interrupted erasures**: a key that an erasure left behind (the process stopped
//!   between the event and the key's deletion) is destroyed (docs/decisions/0007).
//!
//! Every job is safe to repeat: the aggregates refuse what is already done, and a
//! reminder's outbox id is derived from the package, the day and the coordinator. With
//! several instances on PostgreSQL one runs the rounds (`kurslogg_projections::leader`).
//!
//! Deadlines and course ends older than [`LOOKBACK`] are left to the course office: a
//! service started on an old log (or after a long stop) must not close last year's
//! packages or complete last year's courses, and mail everyone about them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use kurslogg_projections::enrolment::timestamp;
use kurslogg_projections::notices::kind;
use kurslogg_projections::outbox::{enqueue, notice_id, NewNotice};
use kurslogg_projections::{Db, Param};
use serde_json::json;

use crate::app::{AppError, CommandContext, Kurslogg};
use crate::store::StoreError;

/// How far back the scheduler looks for deadlines passed and courses ended.
pub const LOOKBACK: chrono::Duration = chrono::Duration::days(30);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Packages closed and allocated (or their allocation finished).
    pub closed: usize,
    /// Offerings completed.
    pub completed: usize,
    /// Reminders written to the outbox.
    pub reminders: usize,
    /// Staff members erased because retention ended.
    pub erased: usize,
    /// Keys destroyed that interrupted erasures had left behind.
    pub keys_destroyed: usize,
    /// User accounts, disabled before retention ended, whose login and name were erased.
    pub users_erased: u64,
    /// Security-log lines older than the retention, removed.
    pub security_lines_removed: u64,
}

/// Time-driven work.
pub struct Scheduler {
    app: Arc<Kurslogg>,
    reminder_days: Vec<u32>,
    retention_years: Option<u32>,
}

impl Scheduler {
    /// A scheduler reminding `reminder_days` before each deadline. It erases nobody for
    /// retention until told how long to keep people ([`Scheduler::with_retention_years`]):
    /// erasure cannot be undone, so it is never a default of its own.
    pub fn new(app: Arc<Kurslogg>, mut reminder_days: Vec<u32>) -> Self {
        reminder_days.sort_unstable();
        reminder_days.dedup();
        Self { app, reminder_days, retention_years: None }
    }

    /// Erases staff members removed more than `years` years ago (the `retention_years`
    /// setting); 0 keeps everyone.
    pub fn with_retention_years(mut self, years: u32) -> Self {
        self.retention_years = (years > 0).then_some(years);
        self
    }

    /// Runs a round every `every` until the process ends.
    pub async fn run(self, every: Duration) {
        let db = self.app.log.views();
        kurslogg_projections::leader::lead(db, "scheduler", every, || async {
            if let Err(e) = self.round().await {
                tracing::error!(error = %e, "scheduled work failed; trying again next round");
            }
        })
        .await;
    }

    /// Does whatever is due now (by the application's clock).
    pub async fn round(&self) -> Result<Round, AppError> {
        let db = self.app.log.views();
        let now = self.app.clock.now();
        let mut round = Round::default();
        let due_packages = fetch_ids(
            &db,
            "SELECT package_id FROM enrolment_packages \
             WHERE phase IN ('published', 'registration_closed') AND deadline < $1 AND deadline >= $2 \
             ORDER BY deadline",
            now,
        )
        .await?;
        for package in due_packages {
            let Ok(package) = package.parse() else { continue };
            if self.app.close_when_due(&context(), package).await? {
                round.closed += 1;
            }
        }
        let over = fetch_ids(
            &db,
            "SELECT offering_id FROM roster_offerings \
             WHERE state IN ('open', 'allocated') AND ends_at <> '' AND ends_at <= $1 AND ends_at >= $2 \
             ORDER BY ends_at",
            now,
        )
        .await?;
        for offering in over {
            let Ok(offering) = offering.parse() else { continue };
            match self.app.complete_when_attendance_in(&context(), offering).await {
                Ok(true) => round.completed += 1,
                Ok(false) => {}
                // Refused (e.g. completed meanwhile by the course office): nothing to do.
                Err(AppError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        round.reminders = self.remind(&db, now).await?;
        round.keys_destroyed = self.app.finish_erasures().await?;
        let retention_cutoff =
            self.retention_years.and_then(|years| now.checked_sub_months(Months::new(years.saturating_mul(12))));
        if let Some(cutoff) = retention_cutoff {
            round.erased = self.erase_when_retention_ends(&db, cutoff).await?;
            (round.users_erased, round.security_lines_removed) = self.app.auth.apply_retention(cutoff).await?;
        }
        Ok(round)
    }

    /// Erases everyone removed before `cutoff`, each once: an erased person's status is
    /// `erased` in the views, and should the views lag, the aggregate refuses a second
    /// erasure (which is then nothing to do).
    async fn erase_when_retention_ends(&self, db: &Db, cutoff: DateTime<Utc>) -> Result<usize, AppError> {
        let due = db
            .fetch(
                "SELECT staff_id FROM enrolment_staff WHERE status = 'removed' AND removed_at < $1 \
                 ORDER BY removed_at, staff_id",
                &[timestamp(cutoff).into()],
            )
            .await
            .map_err(StoreError::from)?;
        let mut erased = 0;
        for row in due {
            let Ok(staff) = row.text(0).parse() else { continue };
            match self.app.erase_after_retention(&context(), staff).await {
                Ok(_) => erased += 1,
                Err(AppError::Refused { code, .. }) if code == "staff_erased" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(erased)
    }

    /// Writes the reminders due at `now`: for each open package, the nearest reminder day
    /// that has been reached (a reminder missed while the service was down is not sent
    /// late once a nearer one is due), to the coordinators of each municipality with no
    /// registration on the package.
    async fn remind(&self, db: &Db, now: DateTime<Utc>) -> Result<usize, AppError> {
        let packages = db
            .fetch(
                "SELECT package_id, deadline FROM enrolment_packages WHERE phase = 'published' AND deadline > $1",
                &[timestamp(now).into()],
            )
            .await
            .map_err(StoreError::from)?;
        let mut written = 0;
        for package in packages {
            let (package, deadline) = (package.text(0), package.text(1));
            let Ok(deadline) = DateTime::parse_from_rfc3339(&deadline).map(|d| d.to_utc()) else { continue };
            let Some(days) =
                self.reminder_days.iter().copied().find(|d| now >= deadline - chrono::Duration::days(i64::from(*d)))
            else {
                continue;
            };
            let silent = db
                .fetch(
                    "SELECT c.municipality, c.staff_id FROM notice_coordinators c \
                     WHERE NOT EXISTS (SELECT 1 FROM roster_entries e \
                         JOIN roster_offerings o ON o.offering_id = e.offering_id \
                         WHERE o.package_id = $1 AND e.municipality = c.municipality) \
                     ORDER BY c.municipality, c.staff_id",
                    &[package.clone().into()],
                )
                .await
                .map_err(StoreError::from)?;
            if silent.is_empty() {
                continue;
            }
            let mut tx = db.begin().await.map_err(StoreError::from)?;
            for row in silent {
                let (municipality, coordinator) = (row.text(0), row.text(1));
                let notice = NewNotice {
                    notice_id: notice_id(kind::DEADLINE_REMINDER, &format!("{package}/{days}"), &coordinator),
                    kind: kind::DEADLINE_REMINDER,
                    recipient: coordinator,
                    offering_id: None,
                    package_id: Some(package.clone()),
                    municipality: Some(municipality),
                    details: json!({ "days": days }),
                    caused_by: None,
                    created_at: timestamp(Utc::now()),
                };
                if enqueue(&mut tx, &notice).await.map_err(StoreError::from)? {
                    written += 1;
                }
            }
            tx.commit().await.map_err(StoreError::from)?;
        }
        Ok(written)
    }
}

/// The context of the scheduler's commands: the system, with a request id of its own.
fn context() -> CommandContext {
    CommandContext::system(format!("scheduler-{}", uuid::Uuid::new_v4()))
}

/// The ids `sql` selects for the window ($1 = now, $2 = the start of the look-back).
async fn fetch_ids(db: &Db, sql: &str, now: DateTime<Utc>) -> Result<Vec<String>, AppError> {
    let window = [Param::from(timestamp(now)), Param::from(timestamp(now - LOOKBACK))];
    let rows = db.fetch(sql, &window).await.map_err(StoreError::from)?;
    Ok(rows.iter().map(|row| row.text(0)).collect())
}
