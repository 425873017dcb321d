//! The deadline overview of one package: what the course office looks at in the days
//! around the registration deadline. Which member municipalities have registered anyone
//! (and how much), and for every offering the seats against the requests in time and
//! late, and, once seats are allocated, who got one, who waits and who cancelled.
//!
//! Every registration is counted once, by where it stands now: `requests_in_time +
//! late_requests = requested + confirmed + waiting + cancelled` for each offering (a seat
//! handed to a colleague is counted once, for the colleague; the hand-over is counted in
//! `transferred`).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::statistics::swedish_order;
use crate::db::Db;
use crate::enrolment;
use crate::runner::ProjectionError;

/// A member municipality's part in the package.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MunicipalityDeadline {
    /// Municipality id.
    pub municipality_id: String,
    /// Name.
    pub name: String,
    /// Federation.
    pub federation: String,
    /// Has at least one registration standing in the package (requested, confirmed or
    /// waiting).
    pub registered: bool,
    /// Registrations standing (requested, confirmed or waiting): one per person and
    /// offering.
    pub requests: i64,
    /// Of those, made after the deadline.
    pub late_requests: i64,
    /// Of those, confirmed.
    pub confirmed: i64,
    /// Of those, on a waiting list.
    pub waiting: i64,
    /// Registrations cancelled.
    pub cancelled: i64,
    /// Of those, charged (cancelled after the deadline).
    pub charged_cancellations: i64,
}

/// One offering of the package at the deadline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OfferingDeadline {
    /// Offering id.
    pub offering_id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// First session starts (RFC 3339 UTC).
    pub starts_at: String,
    /// open, allocated, completed or cancelled.
    pub state: String,
    /// Seats have been allocated (the offering is allocated or completed).
    pub allocated: bool,
    /// Seats.
    pub seats: i64,
    /// Registrations made before the deadline, however they stand now.
    pub requests_in_time: i64,
    /// Registrations made after the deadline, however they stand now.
    pub late_requests: i64,
    /// Waiting for the allocation.
    pub requested: i64,
    /// Confirmed.
    pub confirmed: i64,
    /// On the waiting list.
    pub waiting: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Of those, charged.
    pub charged_cancellations: i64,
    /// Seats handed to a colleague of the same municipality.
    pub transferred: i64,
    /// Seats not taken: seats less confirmed (never below zero).
    pub free_seats: i64,
    /// More registrations standing (requested, confirmed, waiting) than seats.
    pub oversubscribed: bool,
}

/// A package around its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeadlineOverview {
    /// Package id.
    pub package_id: String,
    /// Term, e.g. HT2027.
    pub term: String,
    /// Title.
    pub title: String,
    /// Registration deadline (RFC 3339 UTC).
    pub deadline: String,
    /// draft, published, registration_closed or archived.
    pub phase: String,
    /// Municipalities with at least one registration standing.
    pub municipalities_registered: i64,
    /// Every municipality known to the service (it serves one federation), in Swedish
    /// alphabetical order, registered or not.
    pub municipalities: Vec<MunicipalityDeadline>,
    /// Every offering of the package, by first session.
    pub offerings: Vec<OfferingDeadline>,
    /// Log position the overview reflects.
    pub position: i64,
}

/// Counts per municipality, from the package's registrations.
const BY_MUNICIPALITY: &str = "SELECT e.municipality, \
     CAST(sum(CASE WHEN e.status IN ('requested', 'confirmed', 'waiting') THEN 1 ELSE 0 END) AS bigint), \
     CAST(sum(CASE WHEN e.status IN ('requested', 'confirmed', 'waiting') AND e.late = 1 THEN 1 ELSE 0 END) AS bigint), \
     CAST(sum(CASE WHEN e.status = 'confirmed' THEN 1 ELSE 0 END) AS bigint), \
     CAST(sum(CASE WHEN e.status = 'waiting' THEN 1 ELSE 0 END) AS bigint), \
     CAST(sum(CASE WHEN e.status = 'cancelled' THEN 1 ELSE 0 END) AS bigint), \
     CAST(sum(CASE WHEN e.status = 'cancelled' AND e.charged = 1 THEN 1 ELSE 0 END) AS bigint) \
     FROM roster_entries e JOIN roster_offerings o ON o.offering_id = e.offering_id \
     WHERE o.package_id = $1 GROUP BY e.municipality";

/// Each offering with its counts.
const BY_OFFERING: &str = "SELECT o.offering_id, o.course, o.title, o.starts_at, o.state, o.seat_limit, \
     CAST(coalesce(sum(CASE WHEN e.status <> 'transferred_away' AND e.late = 0 THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status <> 'transferred_away' AND e.late = 1 THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status = 'requested' THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status = 'confirmed' THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status = 'waiting' THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status = 'cancelled' THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status = 'cancelled' AND e.charged = 1 THEN 1 ELSE 0 END), 0) AS bigint), \
     CAST(coalesce(sum(CASE WHEN e.status = 'transferred_away' THEN 1 ELSE 0 END), 0) AS bigint) \
     FROM roster_offerings o LEFT JOIN roster_entries e ON e.offering_id = o.offering_id \
     WHERE o.package_id = $1 \
     GROUP BY o.offering_id, o.course, o.title, o.starts_at, o.state, o.seat_limit";

/// A package's deadline overview, or `None` if the views have not seen the package.
pub async fn deadline_overview(db: &Db, package: &str) -> Result<Option<DeadlineOverview>, ProjectionError> {
    let position = super::position(db, enrolment::NAME).await?;
    let heads = db
        .fetch("SELECT term, title, deadline, phase FROM enrolment_packages WHERE package_id = $1", &[package.into()])
        .await?;
    let Some(head) = heads.first() else { return Ok(None) };

    let mut counts: BTreeMap<String, [i64; 6]> = db
        .fetch(BY_MUNICIPALITY, &[package.into()])
        .await?
        .iter()
        .map(|r| (r.text(0), [r.int(1), r.int(2), r.int(3), r.int(4), r.int(5), r.int(6)]))
        .collect();
    let mut municipalities: Vec<MunicipalityDeadline> = db
        .fetch("SELECT municipality_id, name, federation FROM enrolment_municipalities", &[])
        .await?
        .iter()
        .map(|r| {
            let id = r.text(0);
            let c = counts.remove(&id).unwrap_or_default();
            municipality(id, r.text(1), r.text(2), c)
        })
        .collect();
    // A registration always names a known municipality; should one not, it is still shown.
    municipalities.extend(counts.into_iter().map(|(id, c)| municipality(id.clone(), id, String::new(), c)));
    municipalities
        .sort_by(|a, b| swedish_order(&a.name, &b.name).then_with(|| a.municipality_id.cmp(&b.municipality_id)));

    let mut offerings: Vec<OfferingDeadline> = db
        .fetch(BY_OFFERING, &[package.into()])
        .await?
        .iter()
        .map(|r| {
            let state = r.text(4);
            let seats = r.int(5);
            let (requested, confirmed, waiting) = (r.int(8), r.int(9), r.int(10));
            OfferingDeadline {
                offering_id: r.text(0),
                course: r.text(1),
                title: r.text(2),
                starts_at: r.text(3),
                allocated: state == "allocated" || state == "completed",
                state,
                seats,
                requests_in_time: r.int(6),
                late_requests: r.int(7),
                requested,
                confirmed,
                waiting,
                cancelled: r.int(11),
                charged_cancellations: r.int(12),
                transferred: r.int(13),
                free_seats: (seats - confirmed).max(0),
                oversubscribed: requested + confirmed + waiting > seats,
            }
        })
        .collect();
    offerings.sort_by(|a, b| {
        a.starts_at
            .cmp(&b.starts_at)
            .then_with(|| a.course.cmp(&b.course))
            .then_with(|| a.offering_id.cmp(&b.offering_id))
    });

    Ok(Some(DeadlineOverview {
        package_id: package.to_string(),
        term: head.text(0),
        title: head.text(1),
        deadline: head.text(2),
        phase: head.text(3),
        municipalities_registered: municipalities.iter().filter(|m| m.registered).count() as i64,
        municipalities,
        offerings,
        position,
    }))
}

fn municipality(municipality_id: String, name: String, federation: String, c: [i64; 6]) -> MunicipalityDeadline {
    MunicipalityDeadline {
        municipality_id,
        name,
        federation,
        registered: c[0] > 0,
        requests: c[0],
        late_requests: c[1],
        confirmed: c[2],
        waiting: c[3],
        cancelled: c[4],
        charged_cancellations: c[5],
    }
}
