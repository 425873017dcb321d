//! The audit trail: who did what, when, on whose behalf, with which request id;
//! filtered by staff member, offering, actor, municipality and time range.
//!
//! Each entry is found through the audit projection's index of the log and shown from the
//! event itself, at the same position (`crate::audit`).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{details, on_behalf_of, POSITIONS_CONCERNING_STAFF};
use crate::db::{Db, Param};
use crate::feed::logged_event;
use crate::runner::ProjectionError;

/// At most this many entries per page.
pub const MAX_LIMIT: i64 = 10_000;

/// Which entries to list. Every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Events concerning this staff member.
    pub staff: Option<String>,
    /// Events concerning this offering.
    pub offering: Option<String>,
    /// Events issued by this actor.
    pub actor: Option<String>,
    /// Events concerning this municipality (acted for, or the subject's own).
    pub municipality: Option<String>,
    /// Recorded at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Recorded before this instant (RFC 3339).
    pub to: Option<String>,
    /// Only entries after this log position (for paging: pass the last position seen).
    pub after: Option<i64>,
    /// Page size (default 500, at most 10,000).
    pub limit: Option<i64>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Log position.
    pub position: i64,
    /// When it was recorded (RFC 3339 UTC).
    pub recorded_at: String,
    /// What kind of thing it happened to (offering, staff, package, …).
    pub aggregate_type: String,
    /// Which one.
    pub aggregate_id: String,
    /// What happened.
    pub event_type: String,
    /// Who did it.
    pub actor_id: String,
    /// In which role.
    pub actor_role: String,
    /// For which municipality.
    pub on_behalf_of: Option<String>,
    /// The request.
    pub request_id: String,
    /// The offering concerned.
    pub offering_id: Option<String>,
    /// The municipality concerned.
    pub municipality: Option<String>,
    /// Staff members concerned, by id.
    pub staff: Vec<String>,
    /// The event's fields; absent for a staff member's events that carry personal data.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// A page of the audit trail, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// A timestamp filter, in the views' format, or why it is not one.
pub fn instant(field: &str, value: &str) -> Result<String, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| crate::enrolment::timestamp(t.with_timezone(&chrono::Utc)))
        .map_err(|e| format!("{field} must be an RFC 3339 instant such as 2027-06-15T21:59:00Z ({e})"))
}

/// The entries matching `filter`, up to position `up_to` (the log as of then).
pub async fn audit_trail(db: &Db, filter: &AuditFilter, up_to: Option<i64>) -> Result<AuditPage, ProjectionError> {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    let mut add = |condition: &str, param: Param| {
        params.push(param);
        conditions.push(condition.replace('?', &format!("${}", params.len())));
    };
    add("a.position > ?", Param::Int(filter.after.unwrap_or(0)));
    if let Some(up_to) = up_to {
        add("a.position <= ?", Param::Int(up_to));
    }
    if let Some(staff) = &filter.staff {
        add(&format!("a.position IN ({POSITIONS_CONCERNING_STAFF})"), staff.as_str().into());
    }
    if let Some(offering) = &filter.offering {
        add("a.offering_id = ?", offering.as_str().into());
    }
    if let Some(actor) = &filter.actor {
        add("a.actor_id = ?", actor.as_str().into());
    }
    if let Some(municipality) = &filter.municipality {
        add("a.municipality = ?", municipality.as_str().into());
    }
    if let Some(from) = &filter.from {
        add("a.recorded_at >= ?", from.as_str().into());
    }
    if let Some(to) = &filter.to {
        add("a.recorded_at < ?", to.as_str().into());
    }
    let limit = filter.limit.unwrap_or(500).clamp(1, MAX_LIMIT);
    // One more than asked, to know whether there is a next page.
    params.push(Param::Int(limit + 1));
    // The event's own row, its JSON read as text.
    let event_position = db.log_position();
    let (payload, metadata) = match db {
        Db::Postgres(_) => ("e.payload::text", "e.metadata::text"),
        Db::Sqlite { .. } | Db::Private(_) => ("e.payload", "e.metadata"),
    };
    let sql = format!(
        "SELECT a.position, a.offering_id, a.municipality, a.staff_id, \
         e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, {payload}, {metadata} \
         FROM audit_entries a JOIN events e ON e.{event_position} = a.position \
         WHERE {} ORDER BY a.position LIMIT ${}",
        conditions.join(" AND "),
        params.len()
    );
    let rows = db.fetch_planned_for_values(&sql, &params).await?;
    let more = rows.len() as i64 > limit;
    let mut entries: Vec<AuditEntry> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            // What the log says of the event, and what the audit projection concluded from it.
            let event = logged_event(r.int(0), r.text(4), r.text(5), r.int(6), r.text(7), &r.text(8), &r.text(9));
            AuditEntry {
                position: event.position,
                recorded_at: event.recorded_at().to_string(),
                actor_id: event.meta("actor_id").to_string(),
                actor_role: event.meta("actor_role").to_string(),
                on_behalf_of: on_behalf_of(&event),
                request_id: event.meta("request_id").to_string(),
                offering_id: r.opt_text(1),
                municipality: r.opt_text(2),
                staff: r.opt_text(3).into_iter().collect(),
                details: details(&event),
                aggregate_type: event.aggregate_type,
                aggregate_id: event.aggregate_id,
                event_type: event.event_type,
            }
        })
        .collect();
    // Events that concern several staff members list them in audit_staff: looked up by
    // the page's own positions (a range from the first to the last could span most of the
    // table when a person's entries are years apart).
    let several: Vec<i64> = entries.iter().filter(|e| e.staff.is_empty()).map(|e| e.position).collect();
    if !several.is_empty() {
        let positions = match db {
            Db::Postgres(_) => "SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))",
            Db::Sqlite { .. } | Db::Private(_) => "SELECT value FROM json_each($1)",
        };
        let sql =
            format!("SELECT position, staff_id FROM audit_staff WHERE position IN ({positions}) ORDER BY staff_id");
        let list = format!("[{}]", several.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        for row in db.fetch(&sql, &[list.into()]).await? {
            if let Ok(i) = entries.binary_search_by_key(&row.int(0), |e| e.position) {
                entries[i].staff.push(row.text(1));
            }
        }
    }
    let next_after = more.then(|| entries.last().map(|e| e.position)).flatten();
    Ok(AuditPage { entries, next_after })
}
