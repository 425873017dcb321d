//! A supervisor's overview: their staff, and each one's registrations and results.

use serde::Serialize;
use utoipa::ToSchema;

use super::participant::{lines, record, ParticipantRecord, STAFF_COLUMNS};
use crate::db::Db;
use crate::enrolment;
use crate::runner::ProjectionError;

/// A supervisor's staff and their records.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupervisorOverview {
    /// The supervisor's staff id.
    pub supervisor: String,
    /// Their staff (those who name them as supervisor), by id.
    pub staff: Vec<ParticipantRecord>,
    /// Log position the overview reflects.
    pub position: i64,
}

/// The overview of `supervisor`'s staff (empty if nobody names them).
pub async fn supervisor_overview(db: &Db, supervisor: &str) -> Result<SupervisorOverview, ProjectionError> {
    let position = super::position(db, enrolment::NAME).await?;
    let sql = format!("SELECT {STAFF_COLUMNS} FROM enrolment_staff WHERE supervisor = $1 ORDER BY staff_id");
    let people = db.fetch(&sql, &[supervisor.into()]).await?;
    let mut all =
        lines(db, "e.staff_id IN (SELECT staff_id FROM enrolment_staff WHERE supervisor = $1)", supervisor.into())
            .await?
            .into_iter()
            .peekable();
    let mut staff = Vec::with_capacity(people.len());
    for person in &people {
        let id = person.text(0);
        let mut own = Vec::new();
        // Lines come sorted by staff id, as do the people.
        while let Some((_, line)) = all.next_if(|(who, _)| *who == id) {
            own.push(line);
        }
        staff.push(record(person, own, position));
    }
    Ok(SupervisorOverview { supervisor: supervisor.to_string(), staff, position })
}
