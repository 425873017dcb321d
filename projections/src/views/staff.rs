//! Staff lists: a municipality's staff register and a supervisor's staff, each person
//! with how their courses stand (taken, registered, waiting), hours attended and
//! certificates. People appear by id; names are filled in by the application from each
//! person's own stream (the views keep none), which is also why the lists are sorted by
//! name there and not here.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::participant::{lines, RecordLine};
use super::Conditions;
use crate::db::Db;
use crate::runner::ProjectionError;

/// One person in a staff list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StaffListItem {
    /// Staff id.
    pub staff_id: String,
    /// Name, from the staff member's own stream as it is now; null once they are erased.
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
    /// active, paused, removed or erased.
    pub status: String,
    /// Courses taken: offerings they completed.
    pub courses_taken: i64,
    /// Courses registered for and still to come or under way: requested or confirmed on
    /// an offering not completed or cancelled.
    pub courses_registered: i64,
    /// Courses they wait for: on the waiting list of an offering not completed or
    /// cancelled.
    pub courses_waiting: i64,
    /// Teaching hours attended, in all.
    pub hours_attended: f64,
    /// Certificate numbers of the offerings they completed.
    pub certificates: Vec<String>,
}

/// Whose staff a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffOf {
    /// A municipality's (its id).
    Municipality(String),
    /// Those who name this staff member as their supervisor.
    Supervisor(String),
}

impl StaffOf {
    /// As a condition on `enrolment_staff`'s columns, and its value.
    fn condition(&self) -> (&'static str, &str) {
        match self {
            StaffOf::Municipality(m) => ("municipality", m),
            StaffOf::Supervisor(s) => ("supervisor", s),
        }
    }
}

/// Which of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffFilter {
    /// Who name this staff member as their supervisor.
    pub supervisor: Option<String>,
    /// active, paused, removed or erased.
    pub status: Option<String>,
    /// Staff group.
    pub staff_group: Option<String>,
    /// Experience band.
    pub experience_band: Option<String>,
}

/// The staff of `of` that `filter` lets through, by staff id, each with their courses
/// summed up.
pub async fn staff(db: &Db, of: &StaffOf, filter: &StaffFilter) -> Result<Vec<StaffListItem>, ProjectionError> {
    let (whose, value) = of.condition();
    let mut conditions = Conditions::default();
    conditions.push(&format!("{whose} = {{}}"), value);
    let fields = [
        ("supervisor", &filter.supervisor),
        ("status", &filter.status),
        ("staff_group", &filter.staff_group),
        ("experience_band", &filter.experience_band),
    ];
    for (column, value) in fields {
        if let Some(value) = value {
            conditions.push(&format!("{column} = {{}}"), value.as_str());
        }
    }
    let sql = format!(
        "SELECT staff_id, municipality, unit, supervisor, staff_group, experience_band, social_work_degree, status \
         FROM enrolment_staff{} ORDER BY staff_id",
        conditions.where_clause()
    );
    let people = db.fetch(&sql, &conditions.params).await?;
    let mut courses: HashMap<String, Vec<RecordLine>> = HashMap::new();
    let everyone = format!("e.staff_id IN (SELECT staff_id FROM enrolment_staff WHERE {whose} = $1)");
    for (staff, line) in lines(db, &everyone, value.into()).await? {
        courses.entry(staff).or_default().push(line);
    }
    Ok(people
        .iter()
        .map(|r| {
            let staff_id = r.text(0);
            let own = courses.remove(&staff_id).unwrap_or_default();
            let ahead = |l: &&RecordLine| matches!(l.offering_state.as_str(), "open" | "allocated");
            let completed = |l: &&RecordLine| l.completion.as_deref() == Some("completed");
            StaffListItem {
                name: None,
                municipality: r.text(1),
                unit: r.text(2),
                supervisor: r.opt_text(3),
                staff_group: r.text(4),
                experience_band: r.text(5),
                social_work_degree: r.flag(6),
                status: r.text(7),
                courses_taken: own.iter().filter(completed).count() as i64,
                courses_registered: own
                    .iter()
                    .filter(ahead)
                    .filter(|l| matches!(l.status.as_str(), "requested" | "confirmed"))
                    .count() as i64,
                courses_waiting: own.iter().filter(ahead).filter(|l| l.status == "waiting").count() as i64,
                hours_attended: own.iter().map(|l| l.hours_attended).sum(),
                certificates: own.iter().filter(completed).filter_map(|l| l.certificate.clone()).collect(),
                staff_id,
            }
        })
        .collect())
}
