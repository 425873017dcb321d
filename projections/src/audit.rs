//! The audit trail: for every event, who did it, when, on whose behalf and with which
//! request id, and which offering, municipality and staff members it concerns, so that
//! an auditor can ask "who attended what and when" and "who changed this".
//!
//! The trail refers to the log rather than copying it: an entry holds what the trail is
//! searched by (time, actor, offering, municipality, staff members) and the rest is read
//! from the event at the same position when a page is shown (`crate::views::audit_trail`).
//! A staff member's own events that carry personal data (name, e-mail, attendance notes,
//! sealed with the person's key) are listed by type only; their other events (paused,
//! removed, erased with its reason) in full.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use serde_json::Value;

use crate::db::{Param, ViewTx};
use crate::feed::LoggedEvent;
use crate::runner::{Projection, ProjectionError};

/// The audit projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Audit;

/// Its name.
pub const NAME: &str = "audit";

/// Its tables.
const TABLES: [&str; 3] = ["audit_entries", "audit_staff", "audit_registered_municipalities"];

/// Every staff member an event concerns.
fn staff_concerned(event: &LoggedEvent) -> Vec<String> {
    if event.aggregate_type == "staff" {
        return vec![event.aggregate_id.clone()];
    }
    let mut staff = Vec::new();
    // One pass over the fields (most events have three or four) rather than a look-up of
    // each name that may hold staff: this runs for every event of the log.
    for (field, value) in event.body().as_object().into_iter().flatten() {
        match (field.as_str(), value) {
            ("staff", Value::String(id)) => staff.push(id.clone()),
            // `from`/`to` are also timestamps on DeadlineChanged: keep only ids of staff.
            ("from" | "to", Value::String(id)) if event.aggregate_type == "offering" => staff.push(id.clone()),
            ("confirmed" | "waitlisted", Value::Array(ids)) => {
                staff.extend(ids.iter().filter_map(Value::as_str).map(str::to_string));
            }
            _ => {}
        }
    }
    staff.sort();
    staff.dedup();
    staff
}

/// The offering an event concerns, if any.
fn offering_concerned(event: &LoggedEvent) -> Option<String> {
    if event.aggregate_type == "offering" {
        return Some(event.aggregate_id.clone());
    }
    event.body().get("offering").and_then(Value::as_str).map(str::to_string)
}

/// The columns of an `audit_entries` row, as [`entry`] gives them.
const ENTRY_COLUMNS: [&str; ENTRY_WIDTH] =
    ["position", "recorded_at", "actor_id", "offering_id", "municipality", "staff_id"];

/// Values per `audit_entries` row.
const ENTRY_WIDTH: usize = 6;

/// Rows of (staff id, position) for the events that concern several staff members (an
/// event that concerns one names them in its entry); unique without a constraint to say
/// so (see migration 000010): each staff member once per event, and no event is applied
/// twice.
const INSERT_STAFF: &str = "INSERT INTO audit_staff (staff_id, position) {rows}";

/// The positions of the events that concern one staff member, whose id is the parameter
/// written `?` (both places): an event that concerns only them names them in its entry,
/// one that concerns several lists them in `audit_staff`.
pub(crate) const POSITIONS_CONCERNING_STAFF: &str =
    "SELECT position FROM audit_entries WHERE staff_id = ? UNION ALL SELECT position FROM audit_staff WHERE staff_id = ?";

/// The municipalities staff members were registered in: rows of (staff id) give (staff id,
/// municipality) for those whose `StaffMemberAdded` has been recorded.
const REGISTERED_MUNICIPALITIES: &str = "SELECT m.staff_id, m.municipality FROM audit_registered_municipalities m \
     JOIN ({rows}) AS r ON m.staff_id = r.column1";

/// Rows of (staff id, municipality); the first registration stands.
const INSERT_REGISTERED: &str =
    "INSERT INTO audit_registered_municipalities (staff_id, municipality) {rows} ON CONFLICT DO NOTHING";

/// On whose behalf `event` was recorded, if anyone's.
pub(crate) fn on_behalf_of(event: &LoggedEvent) -> Option<String> {
    Some(event.meta("on_behalf_of")).filter(|m| !m.is_empty()).map(str::to_string)
}

/// Whether the municipality of `event` has to be looked up: a staff member's own event
/// that does not name it (only `StaffMemberAdded` does).
fn needs_registered_municipality(event: &LoggedEvent) -> bool {
    event.aggregate_type == "staff" && event.body().get("municipality").and_then(Value::as_str).is_none()
}

/// The municipality concerned: the one acted for, else the subject's own. `registered`
/// is what the staff member's `StaffMemberAdded` entry recorded, for the events
/// [`needs_registered_municipality`] picks out.
fn municipality(event: &LoggedEvent, registered: Option<String>) -> Option<String> {
    let body = event.body();
    match event.aggregate_type.as_str() {
        "municipality" => Some(event.aggregate_id.clone()),
        "staff" => body.get("municipality").and_then(Value::as_str).map(str::to_string).or(registered),
        _ => body.get("municipality").and_then(Value::as_str).map(str::to_string),
    }
    .or_else(|| on_behalf_of(event))
}

/// A staff member's events that carry their (sealed) personal data.
const STAFF_EVENTS_WITH_PERSONAL_DATA: [&str; 3] = ["StaffMemberAdded", "StaffMemberUpdated", "AttendanceNoted"];

/// What the trail shows of `event`'s fields: all of them, except for a staff member's own
/// events that carry personal data, which it lists by type only.
pub(crate) fn details(event: &LoggedEvent) -> Option<Value> {
    let personal =
        event.aggregate_type == "staff" && STAFF_EVENTS_WITH_PERSONAL_DATA.contains(&event.event_type.as_str());
    (!personal).then(|| event.body().clone())
}

/// The `audit_entries` row of `event`, in [`ENTRY_COLUMNS`]' order. `staff` is
/// the one staff member it concerns, if exactly one.
fn entry(event: &LoggedEvent, municipality: Option<String>, staff: Option<String>) -> [Param; ENTRY_WIDTH] {
    [
        Param::Int(event.position),
        event.recorded_at().into(),
        event.meta("actor_id").into(),
        offering_concerned(event).into(),
        municipality.into(),
        staff.into(),
    ]
}

#[async_trait]
impl Projection for Audit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &TABLES
    }

    /// Its tables are its own and its reset only empties them.
    fn rebuilds_aside(&self) -> bool {
        true
    }

    /// An entry per event, at its position, written once: copied to PostgreSQL as a
    /// rebuild goes.
    fn appended_table(&self) -> Option<&'static str> {
        Some("audit_entries")
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// One row per event in `audit_entries` and, for an event that concerns several staff
    /// members, one per staff member in `audit_staff`, each table in one multi-row
    /// statement, after one look-up of the municipalities of staff members whose own events
    /// do not name it.
    async fn apply_batch(&self, tx: &mut ViewTx, events: &[LoggedEvent]) -> Result<(), ProjectionError> {
        // Where each staff member was registered: first as recorded before this batch,
        // then this batch's registrations, as it goes.
        let wanted: BTreeSet<&str> =
            events.iter().filter(|e| needs_registered_municipality(e)).map(|e| e.aggregate_id.as_str()).collect();
        let wanted: Vec<Param> = wanted.into_iter().map(Param::from).collect();
        let mut registered: HashMap<String, Option<String>> = HashMap::new();
        for row in tx.fetch_rows(REGISTERED_MUNICIPALITIES, 1, &wanted).await? {
            registered.insert(row.text(0), row.opt_text(1));
        }
        let mut registrations = Vec::new();
        let mut entries = Vec::with_capacity(events.len() * ENTRY_WIDTH);
        let mut staff = Vec::new();
        for event in events {
            let known = if needs_registered_municipality(event) {
                registered.get(&event.aggregate_id).cloned().flatten()
            } else {
                None
            };
            let municipality = municipality(event, known);
            if event.event_type == "StaffMemberAdded" && !registered.contains_key(&event.aggregate_id) {
                registered.insert(event.aggregate_id.clone(), municipality.clone());
                registrations.extend([Param::from(event.aggregate_id.as_str()), municipality.clone().into()]);
            }
            let mut concerned = staff_concerned(event);
            let one = if concerned.len() == 1 { concerned.pop() } else { None };
            entries.extend(entry(event, municipality, one));
            for id in concerned {
                staff.push(Param::from(id));
                staff.push(Param::Int(event.position));
            }
        }
        tx.append_rows("audit_entries", &ENTRY_COLUMNS, &entries).await?;
        tx.execute_rows(INSERT_STAFF, 2, &staff).await?;
        tx.execute_rows(INSERT_REGISTERED, 2, &registrations).await?;
        Ok(())
    }
}
