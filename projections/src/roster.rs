//! The roster of each offering: participants with municipality, status, attendance per
//! session, completion and certificate; the waiting list in order; cancellations (free
//! or charged) and transfers. People appear by id only.

use async_trait::async_trait;
use serde_json::Value;

use crate::db::{Param, ViewTx};
use crate::feed::LoggedEvent;
use crate::runner::{Projection, ProjectionError};

/// The roster projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Roster;

fn text(body: &Value, field: &str, event: &LoggedEvent) -> Result<String, ProjectionError> {
    body.get(field).and_then(Value::as_str).map(str::to_string).ok_or_else(|| ProjectionError::Unreadable {
        position: event.position,
        reason: format!("{} has no text field {field}", event.event_type),
    })
}

fn int(body: &Value, field: &str) -> i64 {
    body.get(field).and_then(Value::as_i64).unwrap_or(0)
}

fn flag(body: &Value, field: &str) -> i64 {
    i64::from(body.get(field).and_then(Value::as_bool).unwrap_or(false))
}

/// Waiting-list rank: the event's position, then the order within the event.
fn rank(event: &LoggedEvent, index: usize) -> i64 {
    event.position * 100_000 + index as i64
}

const UPSERT_ENTRY: &str =
    "INSERT INTO roster_entries (offering_id, staff_id, municipality, status, late, priority, waiting_rank) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (offering_id, staff_id) DO UPDATE SET municipality = excluded.municipality, status = excluded.status, \
     late = excluded.late, priority = excluded.priority, waiting_rank = excluded.waiting_rank, charged = 0, \
     certificate = NULL, completion = NULL";

const SET_STATUS: &str =
    "UPDATE roster_entries SET status = $1, waiting_rank = $2 WHERE offering_id = $3 AND staff_id = $4";

#[async_trait]
impl Projection for Roster {
    fn name(&self) -> &'static str {
        "roster"
    }

    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        for table in ["roster_attendance", "roster_entries", "roster_offerings"] {
            tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
        }
        Ok(())
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type != "offering" {
            return Ok(());
        }
        let offering = Param::from(event.aggregate_id.as_str());
        let body = event.body();
        let staff = || text(body, "staff", event).map(Param::from);
        match event.event_type.as_str() {
            "OfferingPlanned" => {
                let sessions = body.pointer("/details/sessions").and_then(Value::as_array).map_or(0, Vec::len);
                tx.execute(
                    "INSERT INTO roster_offerings (offering_id, package_id, course, title, term, seat_limit, sessions, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') ON CONFLICT (offering_id) DO NOTHING",
                    &[
                        offering,
                        text(body, "package", event)?.into(),
                        text(body, "course", event)?.into(),
                        text(body, "title", event)?.into(),
                        text(body, "term", event)?.into(),
                        Param::Int(int(body, "seat_limit")),
                        Param::Int(sessions as i64),
                    ],
                )
                .await?;
            }
            "OfferingRevised" => {
                let sessions = body.pointer("/details/sessions").and_then(Value::as_array).map_or(0, Vec::len);
                tx.execute(
                    "UPDATE roster_offerings SET sessions = $1 WHERE offering_id = $2",
                    &[Param::Int(sessions as i64), offering],
                )
                .await?;
            }
            "SeatLimitChanged" => {
                tx.execute(
                    "UPDATE roster_offerings SET seat_limit = $1 WHERE offering_id = $2",
                    &[Param::Int(int(body, "to")), offering],
                )
                .await?;
            }
            "RegistrationRequested" | "LateRegistrationConfirmed" | "LateRegistrationWaitlisted" => {
                let (status, late, waiting) = match event.event_type.as_str() {
                    "RegistrationRequested" => ("requested", flag(body, "late"), Param::NullInt),
                    "LateRegistrationConfirmed" => ("confirmed", 1, Param::NullInt),
                    _ => ("waiting", 1, Param::Int(rank(event, 0))),
                };
                tx.execute(
                    UPSERT_ENTRY,
                    &[
                        offering,
                        staff()?,
                        text(body, "municipality", event)?.into(),
                        status.into(),
                        Param::Int(late),
                        Param::Int(event.position),
                        waiting,
                    ],
                )
                .await?;
            }
            "SeatsAllocated" => {
                let ids = |field: &str| -> Vec<String> {
                    body.get(field)
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                        .unwrap_or_default()
                };
                for staff in ids("confirmed") {
                    tx.execute(SET_STATUS, &["confirmed".into(), Param::NullInt, offering.clone(), staff.into()])
                        .await?;
                }
                for (i, staff) in ids("waitlisted").into_iter().enumerate() {
                    let waiting = Param::Int(rank(event, i));
                    tx.execute(SET_STATUS, &["waiting".into(), waiting, offering.clone(), staff.into()]).await?;
                }
                tx.execute("UPDATE roster_offerings SET state = 'allocated' WHERE offering_id = $1", &[offering])
                    .await?;
            }
            "PromotedFromWaitingList" => {
                tx.execute(SET_STATUS, &["confirmed".into(), Param::NullInt, offering, staff()?]).await?;
            }
            "RegistrationCancelled" => {
                tx.execute(
                    "UPDATE roster_entries SET status = 'cancelled', charged = $1, waiting_rank = NULL \
                     WHERE offering_id = $2 AND staff_id = $3",
                    &[Param::Int(flag(body, "charged")), offering, staff()?],
                )
                .await?;
            }
            "SeatTransferred" => {
                let from = Param::from(text(body, "from", event)?);
                let to = Param::from(text(body, "to", event)?);
                // The newcomer takes the holder's place: status, priority, waiting-list spot.
                tx.execute(
                    "INSERT INTO roster_entries (offering_id, staff_id, municipality, status, late, priority, waiting_rank, transferred_from) \
                     SELECT offering_id, $1, municipality, status, late, priority, waiting_rank, $2 FROM roster_entries \
                     WHERE offering_id = $3 AND staff_id = $4 \
                     ON CONFLICT (offering_id, staff_id) DO UPDATE SET municipality = excluded.municipality, \
                     status = excluded.status, late = excluded.late, priority = excluded.priority, \
                     waiting_rank = excluded.waiting_rank, transferred_from = excluded.transferred_from, charged = 0, \
                     certificate = NULL, completion = NULL",
                    &[to.clone(), from.clone(), offering.clone(), from.clone()],
                )
                .await?;
                tx.execute(
                    "UPDATE roster_entries SET status = 'transferred_away', transferred_to = $1, waiting_rank = NULL \
                     WHERE offering_id = $2 AND staff_id = $3",
                    &[to, offering, from],
                )
                .await?;
            }
            "AttendanceRecorded" | "AttendanceCorrected" => {
                let field = if event.event_type == "AttendanceRecorded" { "attendance" } else { "to" };
                tx.execute(
                    "INSERT INTO roster_attendance (offering_id, staff_id, session, attendance) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (offering_id, staff_id, session) DO UPDATE SET attendance = excluded.attendance",
                    &[offering, staff()?, Param::Int(int(body, "session")), text(body, field, event)?.into()],
                )
                .await?;
            }
            "ParticipantCompleted" => {
                tx.execute(
                    "UPDATE roster_entries SET completion = 'completed', certificate = $1 WHERE offering_id = $2 AND staff_id = $3",
                    &[text(body, "certificate", event)?.into(), offering, staff()?],
                )
                .await?;
            }
            "ParticipantNotCompleted" | "CertificateWithdrawn" => {
                tx.execute(
                    "UPDATE roster_entries SET completion = 'not_completed', certificate = NULL \
                     WHERE offering_id = $1 AND staff_id = $2",
                    &[offering, staff()?],
                )
                .await?;
            }
            "OfferingCompleted" => {
                tx.execute("UPDATE roster_offerings SET state = 'completed' WHERE offering_id = $1", &[offering])
                    .await?;
            }
            "OfferingCancelled" => {
                tx.execute("UPDATE roster_offerings SET state = 'cancelled' WHERE offering_id = $1", &[offering])
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
