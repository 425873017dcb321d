//! The course packages, newest term first: what a coordinator's start page and the
//! course office's package list show of each (its deadline, how many days are left, how
//! many offerings it has).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{stockholm, stockholm_days_between, Conditions};
use crate::db::Db;
use crate::runner::ProjectionError;

/// One course package in a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PackageItem {
    /// Package id.
    pub id: String,
    /// Term, e.g. HT2027.
    pub term: String,
    /// Title.
    pub title: String,
    /// Organiser, e.g. "Fyrbodals kommunalförbund".
    pub organiser: String,
    /// Registration deadline (RFC 3339 UTC).
    pub deadline: String,
    /// The deadline in Swedish time (RFC 3339 with the Europe/Stockholm offset).
    pub deadline_local: String,
    /// draft, published, registration_closed or archived.
    pub phase: String,
    /// Offerings planned in the package (cancelled ones included).
    pub offerings: i64,
    /// Calendar days from today to the deadline's day, both in Swedish time: 0 on the
    /// deadline's day, negative once it is past.
    pub days_left: i64,
    /// The deadline has passed (a registration now is late).
    pub deadline_passed: bool,
}

/// Which packages to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFilter {
    /// Only this term, e.g. HT2027.
    pub term: Option<String>,
    /// Only packages in this phase.
    pub phase: Option<String>,
}

/// The packages `filter` lets through, newest term first (autumn before spring of the
/// same year), then by deadline, latest first; `now` gives the days left.
pub async fn packages(
    db: &Db,
    filter: &PackageFilter,
    now: DateTime<Utc>,
) -> Result<Vec<PackageItem>, ProjectionError> {
    let mut conditions = Conditions::default();
    if let Some(term) = &filter.term {
        conditions.push("p.term = {}", term.as_str());
    }
    if let Some(phase) = &filter.phase {
        conditions.push("p.phase = {}", phase.as_str());
    }
    // Terms are `HT2027`/`VT2028`: the year from the third character; within a year HT
    // (autumn) is later than VT (spring), and sorts before it.
    let sql = format!(
        "SELECT p.package_id, p.term, p.title, p.organiser, p.deadline, p.phase, \
         (SELECT count(*) FROM roster_offerings o WHERE o.package_id = p.package_id) \
         FROM enrolment_packages p{} ORDER BY substr(p.term, 3) DESC, substr(p.term, 1, 2), p.deadline DESC, p.package_id",
        conditions.where_clause()
    );
    Ok(db
        .fetch(&sql, &conditions.params)
        .await?
        .iter()
        .map(|r| {
            let deadline = r.text(4);
            let at = super::instant(&deadline);
            PackageItem {
                id: r.text(0),
                term: r.text(1),
                title: r.text(2),
                organiser: r.text(3),
                deadline_local: stockholm(&deadline),
                days_left: at.map_or(0, |at| stockholm_days_between(now, at)),
                deadline_passed: at.is_some_and(|at| now > at),
                deadline,
                phase: r.text(5),
                offerings: r.int(6),
            }
        })
        .collect())
}
