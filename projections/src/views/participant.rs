//! A staff member's record: every offering they were on, hours attended, completion,
//! certificates and the competence areas covered: the competence-plan view a supervisor
//! opens at an appraisal talk.

use std::collections::BTreeSet;

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{Db, Param, Record};
use crate::enrolment;
use crate::runner::ProjectionError;

/// One offering on a person's record.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RecordLine {
    /// Offering id.
    pub offering_id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// Term.
    pub term: String,
    /// First session starts (RFC 3339 UTC).
    pub starts_at: String,
    /// Last session ends (RFC 3339 UTC).
    pub ends_at: String,
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: String,
    /// The offering: open, allocated, completed or cancelled.
    pub offering_state: String,
    /// Sessions in all.
    pub sessions: i64,
    /// Sessions attended (present).
    pub sessions_attended: i64,
    /// Teaching hours attended.
    pub hours_attended: f64,
    /// completed or not_completed, once decided.
    pub completion: Option<String>,
    /// Certificate number.
    pub certificate: Option<String>,
    /// Competence areas the course covers.
    pub competence_areas: Vec<String>,
}

/// A staff member's record.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ParticipantRecord {
    /// Staff id.
    pub staff_id: String,
    /// Name, from the staff member's own stream as it is now (the views keep no names;
    /// filled in by the API, absent once the person is erased).
    pub name: Option<String>,
    /// Municipality.
    pub municipality: String,
    /// Unit.
    pub unit: String,
    /// Supervisor's staff id.
    pub supervisor: Option<String>,
    /// Staff group.
    pub staff_group: String,
    /// Experience band.
    pub experience_band: String,
    /// Holds a social-work degree.
    pub social_work_degree: bool,
    /// active, paused or removed.
    pub status: String,
    /// Every offering, earliest first.
    pub offerings: Vec<RecordLine>,
    /// Offerings completed.
    pub completed: i64,
    /// Teaching hours attended, in all.
    pub hours_attended: f64,
    /// Certificate numbers.
    pub certificates: Vec<String>,
    /// Competence areas covered by completed offerings.
    pub competence_areas_covered: Vec<String>,
    /// Log position the record reflects.
    pub position: i64,
}

/// The record lines of everyone matched by `who` (an SQL condition on `e.staff_id`).
pub(crate) async fn lines(db: &Db, who: &str, param: Param) -> Result<Vec<(String, RecordLine)>, ProjectionError> {
    let sql = format!(
        "SELECT e.staff_id, e.offering_id, o.course, o.title, o.term, o.starts_at, o.ends_at, e.status, o.state, \
         o.sessions, \
         CAST(coalesce(length(a.marks) - length(replace(a.marks, '{present}', '')), 0) AS bigint), \
         (SELECT CAST(coalesce(sum(s.minutes), 0) AS bigint) FROM roster_sessions s \
          WHERE s.offering_id = e.offering_id AND substr(a.marks, CAST(s.session AS integer) + 1, 1) = '{present}'), \
         e.completion, e.certificate, o.competence_areas \
         FROM roster_entries e JOIN roster_offerings o ON o.offering_id = e.offering_id \
         LEFT JOIN roster_attendance a ON a.offering_id = e.offering_id AND a.staff_id = e.staff_id \
         WHERE {who} ORDER BY e.staff_id, o.starts_at, o.offering_id",
        present = crate::enrolment::marks::PRESENT,
    );
    Ok(db.fetch(&sql, &[param]).await?.iter().map(|r| (r.text(0), line(r))).collect())
}

fn line(r: &Record) -> RecordLine {
    RecordLine {
        offering_id: r.text(1),
        course: r.text(2),
        title: r.text(3),
        term: r.text(4),
        starts_at: r.text(5),
        ends_at: r.text(6),
        status: r.text(7),
        offering_state: r.text(8),
        sessions: r.int(9),
        sessions_attended: r.int(10),
        hours_attended: r.int(11) as f64 / 60.0,
        completion: r.opt_text(12),
        certificate: r.opt_text(13),
        competence_areas: super::text_list(&r.text(14)),
    }
}

/// Builds a record from the person's details row and their lines.
pub(crate) fn record(staff: &Record, offerings: Vec<RecordLine>, position: i64) -> ParticipantRecord {
    let completed: Vec<&RecordLine> =
        offerings.iter().filter(|l| l.completion.as_deref() == Some("completed")).collect();
    let areas: BTreeSet<String> = completed.iter().flat_map(|l| l.competence_areas.iter().cloned()).collect();
    ParticipantRecord {
        staff_id: staff.text(0),
        name: None,
        municipality: staff.text(1),
        unit: staff.text(2),
        supervisor: staff.opt_text(3),
        staff_group: staff.text(4),
        experience_band: staff.text(5),
        social_work_degree: staff.flag(6),
        status: staff.text(7),
        completed: completed.len() as i64,
        hours_attended: offerings.iter().map(|l| l.hours_attended).sum(),
        certificates: completed.iter().filter_map(|l| l.certificate.clone()).collect(),
        competence_areas_covered: areas.into_iter().collect(),
        offerings,
        position,
    }
}

/// The columns of `enrolment_staff` that [`record`] reads.
pub(crate) const STAFF_COLUMNS: &str =
    "staff_id, municipality, unit, supervisor, staff_group, experience_band, social_work_degree, status";

/// A staff member's record, or `None` if the views have not seen them.
pub async fn participant_record(db: &Db, staff: &str) -> Result<Option<ParticipantRecord>, ProjectionError> {
    let position = super::position(db, enrolment::NAME).await?;
    let sql = format!("SELECT {STAFF_COLUMNS} FROM enrolment_staff WHERE staff_id = $1");
    let Some(person) = db.fetch(&sql, &[staff.into()]).await?.into_iter().next() else { return Ok(None) };
    let offerings = lines(db, "e.staff_id = $1", staff.into()).await?.into_iter().map(|(_, l)| l).collect();
    Ok(Some(record(&person, offerings, position)))
}
