//! The roster of one offering: everyone on it in priority order, with municipality,
//! unit, supervisor, status, attendance per session, completion and certificate; the
//! waiting list in order; cancellations (free or charged) and transfers.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Db;
use crate::enrolment;
use crate::runner::ProjectionError;

/// One person on an offering's roster.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RosterEntry {
    /// Staff id.
    pub staff_id: String,
    /// Municipality.
    pub municipality: String,
    /// Unit, when they were put on the offering.
    pub unit: Option<String>,
    /// Supervisor's staff id, when they were put on the offering.
    pub supervisor: Option<String>,
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: String,
    /// The cancellation is charged.
    pub charged: bool,
    /// Registered after the deadline.
    pub late: bool,
    /// Place in the waiting list (1 = next), when waiting.
    pub waiting_place: Option<i64>,
    /// Attendance per session index: present, absent, excused or not yet recorded.
    pub attendance: Vec<Option<String>>,
    /// completed or not_completed, once decided.
    pub completion: Option<String>,
    /// Certificate number.
    pub certificate: Option<String>,
    /// The notes kept with their attendance, per session index (null: none), for the
    /// offering's trainers and the course office only: absent for other readers. Notes
    /// are personal data, kept in the person's own stream and added by the service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Option<String>>,
    /// Took the seat over from.
    pub transferred_from: Option<String>,
    /// Handed the seat to.
    pub transferred_to: Option<String>,
    /// When they were put on the offering.
    pub registered_at: String,
    /// When they cancelled.
    pub cancelled_at: Option<String>,
}

/// An offering's roster.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RosterView {
    /// Offering id.
    pub offering_id: String,
    /// Package id.
    pub package_id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// Term.
    pub term: String,
    /// Trainer.
    pub trainer: String,
    /// Venue, or "digitalt".
    pub place: String,
    /// Seats.
    pub seat_limit: i64,
    /// Sessions: start, end and teaching minutes.
    pub sessions: Vec<SessionTimes>,
    /// open, allocated, completed or cancelled.
    pub state: String,
    /// Log position the roster reflects.
    pub position: i64,
    /// Everyone, in priority order.
    pub entries: Vec<RosterEntry>,
}

/// When one session is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionTimes {
    /// Its index, from 0: what attendance is recorded by (`session`).
    pub session: i64,
    /// Starts (RFC 3339 UTC).
    pub starts_at: String,
    /// Ends (RFC 3339 UTC).
    pub ends_at: String,
    /// Teaching minutes.
    pub minutes: i64,
}

/// An offering's roster, or `None` if the views have not seen it.
pub async fn roster(db: &Db, offering: &str) -> Result<Option<RosterView>, ProjectionError> {
    let position = super::position(db, enrolment::NAME).await?;
    let heads = db
        .fetch(
            "SELECT package_id, course, title, term, trainer, place, seat_limit, state FROM roster_offerings \
             WHERE offering_id = $1",
            &[offering.into()],
        )
        .await?;
    let Some(head) = heads.first() else { return Ok(None) };
    let sessions: Vec<SessionTimes> = db
        .fetch(
            "SELECT starts_at, ends_at, minutes, session FROM roster_sessions WHERE offering_id = $1 ORDER BY session",
            &[offering.into()],
        )
        .await?
        .iter()
        .map(|r| SessionTimes { starts_at: r.text(0), ends_at: r.text(1), minutes: r.int(2), session: r.int(3) })
        .collect();
    let marks =
        db.fetch("SELECT staff_id, marks FROM roster_attendance WHERE offering_id = $1", &[offering.into()]).await?;
    let rows = db
        .fetch(
            "SELECT staff_id, municipality, unit, supervisor, status, charged, late, waiting_rank, completion, \
             certificate, transferred_from, transferred_to, registered_at, cancelled_at \
             FROM roster_entries WHERE offering_id = $1 ORDER BY priority, staff_id",
            &[offering.into()],
        )
        .await?;
    let mut entries: Vec<RosterEntry> = rows
        .iter()
        .map(|r| RosterEntry {
            staff_id: r.text(0),
            municipality: r.text(1),
            unit: r.opt_text(2),
            supervisor: r.opt_text(3),
            status: r.text(4),
            charged: r.flag(5),
            late: r.flag(6),
            waiting_place: None,
            attendance: vec![None; sessions.len()],
            completion: r.opt_text(8),
            certificate: r.opt_text(9),
            notes: vec![],
            transferred_from: r.opt_text(10),
            transferred_to: r.opt_text(11),
            registered_at: r.text(12),
            cancelled_at: r.opt_text(13),
        })
        .collect();
    let mut waiting: Vec<(i64, usize)> =
        rows.iter().enumerate().filter_map(|(i, r)| r.opt_int(7).map(|rank| (rank, i))).collect();
    waiting.sort_unstable();
    for (place, (_, i)) in waiting.into_iter().enumerate() {
        entries[i].waiting_place = Some(place as i64 + 1);
    }
    for row in marks {
        let staff = row.text(0);
        if let Some(entry) = entries.iter_mut().find(|e| e.staff_id == staff) {
            for (slot, code) in entry.attendance.iter_mut().zip(row.text(1).chars()) {
                *slot = crate::enrolment::marks::attendance(code).map(str::to_string);
            }
        }
    }
    Ok(Some(RosterView {
        offering_id: offering.to_string(),
        package_id: head.text(0),
        course: head.text(1),
        title: head.text(2),
        term: head.text(3),
        trainer: head.text(4),
        place: head.text(5),
        seat_limit: head.int(6),
        sessions,
        state: head.text(7),
        position,
        entries,
    }))
}
