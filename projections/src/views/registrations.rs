//! A municipality's registrations on one package: every line it has on the package's
//! offerings, however it stands now (requested, confirmed, waiting with the place in
//! line, cancelled free or charged, handed to a colleague), in the municipality's own
//! priority order per offering.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Db;
use crate::runner::ProjectionError;

/// One registration line.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RegistrationItem {
    /// Staff id.
    pub staff_id: String,
    /// Name, from the staff member's own stream as it is now; null once they are erased.
    pub name: Option<String>,
    /// Offering id.
    pub offering_id: String,
    /// Course code.
    pub course: String,
    /// Course title.
    pub title: String,
    /// The offering's first session starts (RFC 3339 UTC).
    pub starts_at: String,
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: String,
    /// Cancelled after the deadline: the seat is charged.
    pub charged: bool,
    /// Registered after the deadline.
    pub late: bool,
    /// Place in the offering's waiting list (1 = next), when waiting.
    pub waiting_place: Option<i64>,
    /// Place in the municipality's own priority order on the offering (1 = first), among
    /// its lines that still stand (requested, confirmed, waiting); null for the others.
    pub priority: Option<i64>,
    /// Took the seat over from (staff id).
    pub transferred_from: Option<String>,
    /// Handed the seat to (staff id).
    pub transferred_to: Option<String>,
    /// When they were put on the offering (RFC 3339 UTC).
    pub registered_at: String,
    /// When they cancelled.
    pub cancelled_at: Option<String>,
}

/// Which lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationFilter {
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: Option<String>,
    /// On this offering.
    pub offering: Option<String>,
}

/// The lines of `municipality` on `package`'s offerings that `filter` lets through: by
/// the offering's first session and course, then in the municipality's priority order;
/// `None` if the views do not know the package.
pub async fn municipality_registrations(
    db: &Db,
    municipality: &str,
    package: &str,
    filter: &RegistrationFilter,
) -> Result<Option<Vec<RegistrationItem>>, ProjectionError> {
    let known = db.fetch("SELECT 1 FROM enrolment_packages WHERE package_id = $1", &[package.into()]).await?;
    if known.is_empty() {
        return Ok(None);
    }
    let sql = "SELECT e.staff_id, e.offering_id, o.course, o.title, o.starts_at, e.status, e.charged, e.late, \
               CASE WHEN e.waiting_rank IS NULL THEN NULL ELSE \
               (SELECT count(*) FROM roster_entries w WHERE w.offering_id = e.offering_id \
                AND w.waiting_rank IS NOT NULL AND w.waiting_rank <= e.waiting_rank) END, \
               e.transferred_from, e.transferred_to, e.registered_at, e.cancelled_at \
               FROM roster_entries e JOIN roster_offerings o ON o.offering_id = e.offering_id \
               WHERE o.package_id = $1 AND e.municipality = $2 \
               ORDER BY o.starts_at, o.course, o.offering_id, e.priority, e.staff_id";
    let mut places: HashMap<String, i64> = HashMap::new();
    let lines = db
        .fetch(sql, &[package.into(), municipality.into()])
        .await?
        .iter()
        .map(|r| {
            let status = r.text(5);
            // Rows come in priority order per offering.
            let priority = matches!(status.as_str(), "requested" | "confirmed" | "waiting").then(|| {
                let place = places.entry(r.text(1)).or_default();
                *place += 1;
                *place
            });
            RegistrationItem {
                staff_id: r.text(0),
                name: None,
                offering_id: r.text(1),
                course: r.text(2),
                title: r.text(3),
                starts_at: r.text(4),
                status,
                charged: r.flag(6),
                late: r.flag(7),
                waiting_place: r.opt_int(8),
                priority,
                transferred_from: r.opt_text(9),
                transferred_to: r.opt_text(10),
                registered_at: r.text(11),
                cancelled_at: r.opt_text(12),
            }
        })
        .filter(|l| filter.status.as_ref().is_none_or(|s| *s == l.status))
        .filter(|l| filter.offering.as_ref().is_none_or(|o| *o == l.offering_id))
        .collect();
    Ok(Some(lines))
}
