//! The audit trail: for every event, who did it, when, on whose behalf and with which
//! request id, and which offering, municipality and staff members it concerns, so that
//! an auditor can ask "who attended what and when" and "who changed this".
//!
//! A staff member's own events (name, e-mail, attendance notes) are listed by type only:
//! their personal data stays in their stream, where it can be erased.

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

/// Every staff member an event concerns.
fn staff_concerned(event: &LoggedEvent) -> Vec<String> {
    if event.aggregate_type == "staff" {
        return vec![event.aggregate_id.clone()];
    }
    let body = event.body();
    let mut staff = Vec::new();
    for field in ["staff", "from", "to"] {
        if let Some(id) = body.get(field).and_then(Value::as_str) {
            // `from`/`to` are also timestamps on DeadlineChanged: keep only ids of staff.
            if event.aggregate_type == "offering" || field == "staff" {
                staff.push(id.to_string());
            }
        }
    }
    for field in ["confirmed", "waitlisted"] {
        if let Some(ids) = body.get(field).and_then(Value::as_array) {
            staff.extend(ids.iter().filter_map(Value::as_str).map(str::to_string));
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

#[async_trait]
impl Projection for Audit {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        tx.execute("DELETE FROM audit_staff", &[]).await?;
        tx.execute("DELETE FROM audit_entries", &[]).await?;
        Ok(())
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        let body = event.body();
        let on_behalf_of = Some(event.meta("on_behalf_of")).filter(|m| !m.is_empty()).map(str::to_string);
        // The municipality concerned: the one acted for, else the subject's own.
        let municipality = match event.aggregate_type.as_str() {
            "municipality" => Some(event.aggregate_id.clone()),
            "staff" => match body.get("municipality").and_then(Value::as_str) {
                Some(m) => Some(m.to_string()),
                None => {
                    let known = tx
                        .fetch(
                            "SELECT municipality FROM audit_entries WHERE aggregate_id = $1 AND event_type = 'StaffMemberAdded'",
                            &[event.aggregate_id.as_str().into()],
                        )
                        .await?;
                    known.first().and_then(|r| r.opt_text(0))
                }
            },
            _ => body.get("municipality").and_then(Value::as_str).map(str::to_string),
        }
        .or_else(|| on_behalf_of.clone());
        let details = (event.aggregate_type != "staff").then(|| body.to_string());
        tx.execute(
            "INSERT INTO audit_entries (position, recorded_at, aggregate_type, aggregate_id, event_type, actor_id, \
             actor_role, on_behalf_of, request_id, offering_id, municipality, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                Param::Int(event.position),
                event.recorded_at().into(),
                event.aggregate_type.as_str().into(),
                event.aggregate_id.as_str().into(),
                event.event_type.as_str().into(),
                event.meta("actor_id").into(),
                event.meta("actor_role").into(),
                on_behalf_of.into(),
                event.meta("request_id").into(),
                offering_concerned(event).into(),
                municipality.into(),
                details.into(),
            ],
        )
        .await?;
        for staff in staff_concerned(event) {
            tx.execute(
                "INSERT INTO audit_staff (staff_id, position) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[staff.into(), Param::Int(event.position)],
            )
            .await?;
        }
        Ok(())
    }
}
