//! The catalogue: the courses, and the offerings of a package as the printed course
//! catalogue ("kurskatalog") shows them: dates and sessions, place, trainer, seats and how
//! many are requested, target group, prerequisites, competence areas, price.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::statistics::swedish_order;
use super::{stockholm, text_list};
use crate::db::Db;
use crate::runner::ProjectionError;

/// A course a prerequisite names.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CourseRef {
    /// Course code.
    pub code: String,
    /// Title; null if the catalogue does not know the code.
    pub title: Option<String>,
}

/// A course in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CourseItem {
    /// Stable code.
    pub code: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Courses to have taken first.
    pub prerequisites: Vec<CourseRef>,
    /// Offerings of the course in every package (cancelled ones left out).
    pub offerings: i64,
    /// Terms it has been or will be given in, newest first (cancelled offerings left out).
    pub terms: Vec<String>,
}

/// Every course in the catalogue, by title in Swedish order, then code.
pub async fn courses(db: &Db) -> Result<Vec<CourseItem>, ProjectionError> {
    let rows = db.fetch("SELECT code, title, description, prerequisites FROM enrolment_courses", &[]).await?;
    let titles: HashMap<String, String> = rows.iter().map(|r| (r.text(0), r.text(1))).collect();
    let mut given: HashMap<String, (i64, Vec<String>)> = HashMap::new();
    let sql = "SELECT course, term, count(*) FROM roster_offerings WHERE state <> 'cancelled' GROUP BY course, term \
               ORDER BY course, substr(term, 3) DESC, substr(term, 1, 2)";
    for r in db.fetch(sql, &[]).await? {
        let (count, terms) = given.entry(r.text(0)).or_default();
        *count += r.int(2);
        terms.push(r.text(1));
    }
    let mut courses: Vec<CourseItem> = rows
        .iter()
        .map(|r| {
            let code = r.text(0);
            let (offerings, terms) = given.remove(&code).unwrap_or_default();
            CourseItem {
                title: r.text(1),
                description: r.text(2),
                prerequisites: refs(&titles, &r.text(3)),
                offerings,
                terms,
                code,
            }
        })
        .collect();
    courses.sort_by(|a, b| swedish_order(&a.title, &b.title).then_with(|| a.code.cmp(&b.code)));
    Ok(courses)
}

fn refs(titles: &HashMap<String, String>, codes: &str) -> Vec<CourseRef> {
    text_list(codes).into_iter().map(|code| CourseRef { title: titles.get(&code).cloned(), code }).collect()
}

/// One session of an offering.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionItem {
    /// Index, from 0.
    pub index: i64,
    /// Starts (RFC 3339 UTC).
    pub starts_at: String,
    /// Ends (RFC 3339 UTC).
    pub ends_at: String,
    /// Starts in Swedish time (RFC 3339 with the Europe/Stockholm offset).
    pub starts_local: String,
    /// Ends in Swedish time.
    pub ends_local: String,
    /// Teaching minutes.
    pub minutes: i64,
}

/// An offering as the catalogue shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CatalogueOffering {
    /// Offering id.
    pub id: String,
    /// Package id.
    pub package_id: String,
    /// Term.
    pub term: String,
    /// Course code.
    pub course: String,
    /// Course title.
    pub title: String,
    /// What this run is about.
    pub description: String,
    /// First session starts (RFC 3339 UTC).
    pub starts_at: String,
    /// Last session ends (RFC 3339 UTC).
    pub ends_at: String,
    /// First session starts, in Swedish time.
    pub starts_local: String,
    /// Last session ends, in Swedish time.
    pub ends_local: String,
    /// Sessions in time order.
    pub sessions: Vec<SessionItem>,
    /// Teaching hours in all.
    pub hours: f64,
    /// Venue address, or "digitalt".
    pub place: String,
    /// The trainer as the offering names them (published course information).
    pub trainer: String,
    /// Display names of the user accounts assigned as its trainers, by name (filled in
    /// by the application from the users; empty when none is assigned).
    pub trainers: Vec<String>,
    /// User ids of the accounts assigned as its trainers.
    #[serde(skip)]
    pub trainer_users: Vec<String>,
    /// Seats.
    pub seat_limit: i64,
    /// Registrations awaiting allocation.
    pub requested: i64,
    /// Confirmed seats.
    pub confirmed: i64,
    /// On the waiting list.
    pub waiting: i64,
    /// Seats not taken: seats less confirmed (never below zero).
    pub free_seats: i64,
    /// Experience bands it is meant for; empty: everyone.
    pub experience_bands: Vec<String>,
    /// Staff groups it is meant for; empty: everyone.
    pub staff_groups: Vec<String>,
    /// Courses to have taken first.
    pub prerequisites: Vec<CourseRef>,
    /// Competence areas it covers.
    pub competence_areas: Vec<String>,
    /// Price per participant, SEK.
    pub price_sek: i64,
    /// Share of sessions to attend for completion, percent.
    pub completion_threshold: i64,
    /// open, allocated, completed or cancelled.
    pub state: String,
}

/// Which offerings of a package to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferingFilter {
    /// Meant for this experience band (or for everyone).
    pub experience_band: Option<String>,
    /// Meant for this staff group (or for everyone).
    pub staff_group: Option<String>,
    /// Covers this competence area (compared without regard to case).
    pub competence_area: Option<String>,
}

impl OfferingFilter {
    /// Whether `offering` passes. An offering that names no band (or group) is meant for
    /// everyone, so it passes any band (or group).
    pub fn admits(&self, offering: &CatalogueOffering) -> bool {
        let meant_for = |wanted: &Option<String>, list: &[String]| {
            wanted.as_ref().is_none_or(|w| list.is_empty() || list.contains(w))
        };
        meant_for(&self.experience_band, &offering.experience_bands)
            && meant_for(&self.staff_group, &offering.staff_groups)
            && self.competence_area.as_ref().is_none_or(|wanted| {
                let wanted = wanted.to_lowercase();
                offering.competence_areas.iter().any(|area| area.to_lowercase() == wanted)
            })
    }
}

/// The offerings of `package` that `filter` lets through, by first session, then course;
/// `None` if the views do not know the package.
pub async fn package_offerings(
    db: &Db,
    package: &str,
    filter: &OfferingFilter,
) -> Result<Option<Vec<CatalogueOffering>>, ProjectionError> {
    let known = db.fetch("SELECT 1 FROM enrolment_packages WHERE package_id = $1", &[package.into()]).await?;
    if known.is_empty() {
        return Ok(None);
    }
    let titles: HashMap<String, String> = db
        .fetch("SELECT code, title FROM enrolment_courses", &[])
        .await?
        .iter()
        .map(|r| (r.text(0), r.text(1)))
        .collect();
    let mut sessions: HashMap<String, Vec<SessionItem>> = HashMap::new();
    let sql = "SELECT s.offering_id, s.session, s.starts_at, s.ends_at, s.minutes FROM roster_sessions s \
               JOIN roster_offerings o ON o.offering_id = s.offering_id WHERE o.package_id = $1 \
               ORDER BY s.offering_id, s.session";
    for r in db.fetch(sql, &[package.into()]).await? {
        sessions.entry(r.text(0)).or_default().push(SessionItem {
            index: r.int(1),
            starts_local: stockholm(&r.text(2)),
            ends_local: stockholm(&r.text(3)),
            starts_at: r.text(2),
            ends_at: r.text(3),
            minutes: r.int(4),
        });
    }
    let mut trainers: HashMap<String, Vec<String>> = HashMap::new();
    let sql = "SELECT t.offering_id, t.user_id FROM roster_trainers t \
               JOIN roster_offerings o ON o.offering_id = t.offering_id WHERE o.package_id = $1 \
               ORDER BY t.offering_id, t.user_id";
    for r in db.fetch(sql, &[package.into()]).await? {
        trainers.entry(r.text(0)).or_default().push(r.text(1));
    }
    let sql = "SELECT o.offering_id, o.term, o.course, o.title, o.description, o.starts_at, o.ends_at, o.minutes, \
               o.place, o.trainer, o.seat_limit, o.experience_bands, o.staff_groups, o.prerequisites, \
               o.competence_areas, o.price, o.completion_threshold, o.state, \
               CAST(coalesce(sum(CASE WHEN e.status = 'requested' THEN 1 ELSE 0 END), 0) AS bigint), \
               CAST(coalesce(sum(CASE WHEN e.status = 'confirmed' THEN 1 ELSE 0 END), 0) AS bigint), \
               CAST(coalesce(sum(CASE WHEN e.status = 'waiting' THEN 1 ELSE 0 END), 0) AS bigint) \
               FROM roster_offerings o LEFT JOIN roster_entries e ON e.offering_id = o.offering_id \
               WHERE o.package_id = $1 \
               GROUP BY o.offering_id, o.term, o.course, o.title, o.description, o.starts_at, o.ends_at, o.minutes, \
               o.place, o.trainer, o.seat_limit, o.experience_bands, o.staff_groups, o.prerequisites, \
               o.competence_areas, o.price, o.completion_threshold, o.state \
               ORDER BY o.starts_at, o.course, o.offering_id";
    let offerings = db
        .fetch(sql, &[package.into()])
        .await?
        .iter()
        .map(|r| {
            let id = r.text(0);
            let seat_limit = r.int(10);
            let confirmed = r.int(19);
            CatalogueOffering {
                package_id: package.to_string(),
                term: r.text(1),
                course: r.text(2),
                title: r.text(3),
                description: r.text(4),
                starts_local: stockholm(&r.text(5)),
                ends_local: stockholm(&r.text(6)),
                starts_at: r.text(5),
                ends_at: r.text(6),
                sessions: sessions.remove(&id).unwrap_or_default(),
                hours: r.int(7) as f64 / 60.0,
                place: r.text(8),
                trainer: r.text(9),
                trainers: Vec::new(),
                trainer_users: trainers.remove(&id).unwrap_or_default(),
                seat_limit,
                experience_bands: text_list(&r.text(11)),
                staff_groups: text_list(&r.text(12)),
                prerequisites: refs(&titles, &r.text(13)),
                competence_areas: text_list(&r.text(14)),
                price_sek: r.int(15),
                completion_threshold: r.int(16),
                state: r.text(17),
                requested: r.int(18),
                confirmed,
                waiting: r.int(20),
                free_seats: (seat_limit - confirmed).max(0),
                id,
            }
        })
        .filter(|o| filter.admits(o))
        .collect();
    Ok(Some(offerings))
}
