//! Notices: from the events that call for a letter, the outbox rows that the dispatcher
//! (kurslogg's mailer) sends. Each row is written in the same transaction as this
//! projection's checkpoint, so an event that calls for a letter leads to exactly one
//! outbox row, whatever crashes: the row's id is derived from the cause and the
//! recipient, and writing it twice leaves one.
//!
//! | event | letter | to |
//! |---|---|---|
//! | `OfferingCompleted` | after-course summary | each supervisor of someone whose completion was evaluated, listing their own staff |
//! | `CollectiveRegistrationReceived` | receipt, every line | the municipality's coordinators |
//! | `AllocationFinished` (package) | allocation result | coordinators of each municipality with people on the package |
//! | `PromotedFromWaitingList` | promotion | the person and their coordinators |
//! | `OfferingCancelled` | course cancelled | everyone on it, and their coordinators (listing their people) |
//! | `RegistrationCancelled`, charged | charged cancellation | the person's coordinators |
//!
//! Deadline reminders are caused by time, not events: the scheduler writes them.
//!
//! To address letters the projection keeps who is who (municipality, supervisor,
//! coordinators, who is on which offering) in tables of its own, by id. Rebuilding it
//! keeps the outbox: letters already written are found again, not sent again, and
//! events before `notices_since` (the log's end when this projection was introduced)
//! write no letters at all.

use crate::db::{Db, Keyed, Param, ViewTx};
use crate::feed::{text, LoggedEvent};
use crate::outbox::{copy_letters, enqueue, notice_id, requeue, NewNotice};
use crate::runner::{Projection, ProjectionError};
use async_trait::async_trait;
use serde_json::{json, Value};

/// The notices projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Notices;

/// Its name (checkpoint, `kurslogg projections rebuild notices`).
pub const NAME: &str = "notices";

/// The last position whose letters are written: `notices_since` or the projection's
/// checkpoint (`$1`: [`NAME`]), whichever is later.
const HANDLED: &str = "SELECT max(p) FROM (SELECT position AS p FROM notices_since \
     UNION ALL SELECT position FROM projection_checkpoints WHERE name = $1) AS handled";

/// The kinds of letter, as stored in `outbox.kind`.
pub mod kind {
    /// After-course summary to a supervisor.
    pub const COURSE_SUMMARY: &str = "course_summary";
    /// Receipt of a collective registration.
    pub const REGISTRATION_RECEIPT: &str = "registration_receipt";
    /// Allocation result after the deadline.
    pub const ALLOCATION_RESULT: &str = "allocation_result";
    /// Promotion from the waiting list.
    pub const PROMOTION: &str = "promotion";
    /// Offering cancelled by the organiser.
    pub const COURSE_CANCELLED: &str = "course_cancelled";
    /// Deadline reminder (written by the scheduler).
    pub const DEADLINE_REMINDER: &str = "deadline_reminder";
    /// A confirmed seat given up after the deadline, charged.
    pub const CANCELLATION_CHARGED: &str = "cancellation_charged";
}

/// A letter about `event` to `recipient`.
fn letter(event: &LoggedEvent, kind: &'static str, cause: &str, recipient: &str) -> NewNotice {
    NewNotice {
        notice_id: notice_id(kind, cause, recipient),
        kind,
        recipient: recipient.to_string(),
        offering_id: None,
        package_id: None,
        municipality: None,
        details: json!({}),
        caused_by: Some(event.position),
        created_at: event.recorded_at().to_string(),
    }
}

#[async_trait]
impl Projection for Notices {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Forgets who is who, but never the outbox; and moves `notices_since` up to where
    /// the projection had got, so the replay writes no letter for an event it has handled
    /// already, even if who gets which letter has changed since.
    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        tx.execute(&format!("UPDATE notices_since SET position = ({HANDLED})"), &[NAME.into()]).await?;
        for table in self.tables() {
            tx.empty(table).await?;
        }
        Ok(())
    }

    /// Its who-is-who is rebuilt aside; its letters are carried over at the end.
    fn rebuilds_aside(&self) -> bool {
        true
    }

    /// The scratch database writes letters from where the live projection had got, as a
    /// rebuild in place would after [`Notices::reset`].
    async fn prepare_aside(&self, live: &Db, scratch: &mut ViewTx) -> Result<(), ProjectionError> {
        let handled = live.read_int(HANDLED, &[NAME.into()]).await?.unwrap_or(0);
        scratch.execute("DELETE FROM notices_since", &[]).await?;
        scratch.execute("INSERT INTO notices_since (position) VALUES ($1)", &[Param::Int(handled)]).await?;
        Ok(())
    }

    /// Into the live outbox: the letters the rebuild wrote for events the live projection
    /// had not handled by now (those it had are in the outbox already, as they now stand:
    /// sent, failed, resent), then the resend requests among those events.
    async fn install_aside(&self, scratch: &Db, live: &mut ViewTx, reached: i64) -> Result<(), ProjectionError> {
        // `reset` has just moved it up to the live checkpoint.
        let handled = live.fetch_int("SELECT max(position) FROM notices_since", &[]).await?.unwrap_or(0);
        copy_letters(scratch, live, handled).await?;
        let position = live.log_position();
        let resends = live
            .fetch(
                &format!(
                    "SELECT aggregate_id, max(sequence) FROM events WHERE aggregate_type = 'notice' \
                     AND event_type = 'NoticeResendRequested' AND {position} > $1 AND {position} <= $2 \
                     GROUP BY aggregate_id"
                ),
                &[Param::Int(handled), Param::Int(reached)],
            )
            .await?;
        for resend in resends {
            requeue(live, &resend.text(0), resend.int(1)).await?;
        }
        Ok(())
    }

    /// Who is who; not the outbox, which is kept.
    fn tables(&self) -> &'static [&'static str] {
        &["notice_staff", "notice_coordinators", "notice_offerings", "notice_places", "notice_participants"]
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    async fn apply_batch(&self, tx: &mut ViewTx, events: &[LoggedEvent]) -> Result<(), ProjectionError> {
        let since = tx.fetch_int("SELECT max(position) FROM notices_since", &[]).await?.unwrap_or(0);
        let mut gathered = Gathered::default();
        for event in events {
            if gathered.took(event)? {
                continue;
            }
            gathered.write(tx).await?;
            let mut letters = Vec::new();
            match event.aggregate_type.as_str() {
                "staff" => apply_staff(tx, event).await?,
                "municipality" => apply_municipality(tx, event, &mut letters).await?,
                "offering" => apply_offering(tx, event, &mut letters).await?,
                "package" => apply_package(tx, event, &mut letters).await?,
                // Asked for by the course office: the letter is due again, whenever it was.
                "notice" if event.event_type == "NoticeResendRequested" => {
                    requeue(tx, &event.aggregate_id, event.sequence).await?;
                }
                _ => {}
            }
            if event.position > since {
                for notice in &letters {
                    enqueue(tx, notice).await?;
                }
            }
        }
        gathered.write(tx).await
    }
}

/// Puts a person on an offering (or back on): rows of (offering, staff, municipality).
const PUT_ON: &str = "INSERT INTO notice_places (offering_id, staff_id, municipality) {rows} \
     ON CONFLICT (offering_id, staff_id) DO UPDATE SET municipality = excluded.municipality";

/// Rows of (offering, staff).
const EVALUATED: &str = "INSERT INTO notice_participants (offering_id, staff_id) {rows} ON CONFLICT DO NOTHING";

/// The writes of the two commonest kinds of event, registrations and completion
/// decisions, gathered and written by one statement each instead of one per event. They
/// write no letter, and every other event first writes what was gathered, so every
/// statement that reads `notice_places` or `notice_participants` sees them as one-by-one
/// would have left them. The two kinds write different tables and read none, so they can
/// be gathered side by side; the last row per key is what one-by-one would leave.
struct Gathered {
    places: Keyed<(String, String)>,
    evaluated: Keyed<(String, String)>,
}

impl Default for Gathered {
    fn default() -> Self {
        Self { places: Keyed::new(3), evaluated: Keyed::new(2) }
    }
}

impl Gathered {
    /// Gathers `event`'s write if it is of a gathered kind: whether it was.
    fn took(&mut self, event: &LoggedEvent) -> Result<bool, ProjectionError> {
        if event.aggregate_type != "offering" {
            return Ok(false);
        }
        let body = event.body();
        let offering = event.aggregate_id.clone();
        match event.event_type.as_str() {
            "RegistrationRequested" | "LateRegistrationConfirmed" | "LateRegistrationWaitlisted" => {
                let (staff, municipality) = (text(body, "staff", event)?, text(body, "municipality", event)?);
                let row = vec![offering.clone().into(), staff.clone().into(), municipality.into()];
                self.places.set((offering, staff), row);
            }
            "ParticipantCompleted" | "ParticipantNotCompleted" => {
                let staff = text(body, "staff", event)?;
                self.evaluated.set((offering.clone(), staff.clone()), vec![offering.into(), staff.into()]);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Writes what was gathered, and starts again.
    async fn write(&mut self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        if !self.places.is_empty() {
            tx.execute_rows(PUT_ON, 3, &self.places.take()).await?;
        }
        if !self.evaluated.is_empty() {
            tx.execute_rows(EVALUATED, 2, &self.evaluated.take()).await?;
        }
        Ok(())
    }
}

async fn apply_staff(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    let body = event.body();
    let staff = Param::from(event.aggregate_id.as_str());
    let supervisor = || body.pointer("/profile/supervisor").and_then(Value::as_str).map(str::to_string).into();
    match event.event_type.as_str() {
        "StaffMemberAdded" => {
            tx.execute(
                "INSERT INTO notice_staff (staff_id, municipality, supervisor) VALUES ($1, $2, $3) \
                 ON CONFLICT (staff_id) DO NOTHING",
                &[staff, text(body, "municipality", event)?.into(), supervisor()],
            )
            .await?;
        }
        "StaffMemberUpdated" => {
            tx.execute("UPDATE notice_staff SET supervisor = $1 WHERE staff_id = $2", &[supervisor(), staff]).await?;
        }
        _ => {}
    }
    Ok(())
}

async fn apply_municipality(
    tx: &mut ViewTx,
    event: &LoggedEvent,
    letters: &mut Vec<NewNotice>,
) -> Result<(), ProjectionError> {
    let body = event.body();
    let municipality = event.aggregate_id.as_str();
    let is_coordinator = body.get("role").and_then(Value::as_str) == Some("coordinator");
    match event.event_type.as_str() {
        "RoleAssigned" if is_coordinator => {
            tx.execute(
                "INSERT INTO notice_coordinators (municipality, staff_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[municipality.into(), text(body, "staff", event)?.into()],
            )
            .await?;
        }
        "RoleRevoked" if is_coordinator => {
            tx.execute(
                "DELETE FROM notice_coordinators WHERE municipality = $1 AND staff_id = $2",
                &[municipality.into(), text(body, "staff", event)?.into()],
            )
            .await?;
        }
        "CollectiveRegistrationReceived" => {
            let cause = event.position.to_string();
            for coordinator in coordinators(tx, municipality).await? {
                let mut notice = letter(event, kind::REGISTRATION_RECEIPT, &cause, &coordinator);
                notice.municipality = Some(municipality.to_string());
                letters.push(notice);
            }
        }
        _ => {}
    }
    Ok(())
}

async fn apply_offering(
    tx: &mut ViewTx,
    event: &LoggedEvent,
    letters: &mut Vec<NewNotice>,
) -> Result<(), ProjectionError> {
    let body = event.body();
    let offering = event.aggregate_id.as_str();
    // Registrations and completion decisions are written by `Gathered`.
    const TAKE_OFF: &str = "DELETE FROM notice_places WHERE offering_id = $1 AND staff_id = $2";
    match event.event_type.as_str() {
        "OfferingPlanned" => {
            tx.execute(
                "INSERT INTO notice_offerings (offering_id, package_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[offering.into(), text(body, "package", event)?.into()],
            )
            .await?;
        }
        "RegistrationCancelled" => {
            let staff = text(body, "staff", event)?;
            // A charged cancellation is told to the municipality's coordinators: the
            // municipality pays, and a transfer would not have cost anything.
            if body.get("charged").and_then(Value::as_bool) == Some(true) {
                if let Some(municipality) = municipality_of(tx, &staff).await? {
                    let cause = event.position.to_string();
                    for coordinator in coordinators(tx, &municipality).await? {
                        let mut notice = letter(event, kind::CANCELLATION_CHARGED, &cause, &coordinator);
                        notice.offering_id = Some(offering.to_string());
                        notice.municipality = Some(municipality.clone());
                        notice.details = json!({ "staff": [staff], "to": "coordinator" });
                        letters.push(notice);
                    }
                }
            }
            tx.execute(TAKE_OFF, &[offering.into(), staff.into()]).await?;
        }
        "SeatTransferred" => {
            let (from, to) = (text(body, "from", event)?, text(body, "to", event)?);
            // A transfer stays within the municipality.
            tx.execute(
                "INSERT INTO notice_places (offering_id, staff_id, municipality) \
                 SELECT offering_id, $1, municipality FROM notice_places WHERE offering_id = $2 AND staff_id = $3 \
                 ON CONFLICT (offering_id, staff_id) DO NOTHING",
                &[to.into(), offering.into(), from.clone().into()],
            )
            .await?;
            tx.execute(TAKE_OFF, &[offering.into(), from.into()]).await?;
        }
        "OfferingCompleted" => {
            // One letter per supervisor, about their own staff on the offering.
            let rows = tx
                .fetch(
                    "SELECT s.supervisor, p.staff_id FROM notice_participants p \
                     JOIN notice_staff s ON s.staff_id = p.staff_id \
                     WHERE p.offering_id = $1 AND s.supervisor IS NOT NULL ORDER BY s.supervisor, p.staff_id",
                    &[offering.into()],
                )
                .await?;
            for (supervisor, staff) in grouped(rows.iter().map(|row| (row.text(0), row.text(1)))) {
                // One summary per supervisor per offering, however it came to be completed.
                let mut notice = letter(event, kind::COURSE_SUMMARY, offering, &supervisor);
                notice.offering_id = Some(offering.to_string());
                notice.details = json!({ "staff": staff });
                letters.push(notice);
            }
        }
        "PromotedFromWaitingList" => {
            let staff = text(body, "staff", event)?;
            let cause = event.position.to_string();
            let mut recipients = vec![staff.clone()];
            if let Some(municipality) = municipality_of(tx, &staff).await? {
                recipients.extend(coordinators(tx, &municipality).await?);
            }
            for (i, recipient) in recipients.into_iter().enumerate() {
                let mut notice = letter(event, kind::PROMOTION, &cause, &recipient);
                notice.offering_id = Some(offering.to_string());
                notice.details =
                    if i == 0 { json!({ "staff": [staff] }) } else { json!({ "staff": [staff], "to": "coordinator" }) };
                letters.push(notice);
            }
        }
        "OfferingCancelled" => {
            let rows = tx
                .fetch(
                    "SELECT municipality, staff_id FROM notice_places WHERE offering_id = $1 \
                     ORDER BY municipality, staff_id",
                    &[offering.into()],
                )
                .await?;
            let places: Vec<(String, String)> = rows.iter().map(|row| (row.text(0), row.text(1))).collect();
            for (municipality, staff) in &places {
                let mut notice = letter(event, kind::COURSE_CANCELLED, offering, staff);
                notice.offering_id = Some(offering.to_string());
                notice.municipality = Some(municipality.clone());
                notice.details = json!({ "staff": [staff] });
                letters.push(notice);
            }
            for (municipality, staff) in grouped(places) {
                // The coordinators' letters have a cause of their own: a coordinator who is
                // on the offering too gets both their own letter and the municipality's.
                let cause = format!("{offering}/municipality/{municipality}");
                for coordinator in coordinators(tx, &municipality).await? {
                    let mut notice = letter(event, kind::COURSE_CANCELLED, &cause, &coordinator);
                    notice.offering_id = Some(offering.to_string());
                    notice.municipality = Some(municipality.clone());
                    notice.details = json!({ "staff": staff, "to": "coordinator" });
                    letters.push(notice);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

async fn apply_package(
    tx: &mut ViewTx,
    event: &LoggedEvent,
    letters: &mut Vec<NewNotice>,
) -> Result<(), ProjectionError> {
    if event.event_type != "AllocationFinished" {
        return Ok(());
    }
    let package = event.aggregate_id.as_str();
    let municipalities = tx
        .fetch(
            "SELECT DISTINCT p.municipality FROM notice_places p \
             JOIN notice_offerings o ON o.offering_id = p.offering_id \
             WHERE o.package_id = $1 ORDER BY p.municipality",
            &[package.into()],
        )
        .await?;
    for municipality in municipalities.iter().map(|row| row.text(0)) {
        for coordinator in coordinators(tx, &municipality).await? {
            let mut notice = letter(event, kind::ALLOCATION_RESULT, package, &coordinator);
            notice.package_id = Some(package.to_string());
            notice.municipality = Some(municipality.clone());
            letters.push(notice);
        }
    }
    Ok(())
}

/// Pairs sorted by their first element, gathered as (first, every second).
fn grouped(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in pairs {
        match groups.last_mut() {
            Some((last, values)) if *last == key => values.push(value),
            _ => groups.push((key, vec![value])),
        }
    }
    groups
}

/// The coordinators of `municipality`, by staff id.
async fn coordinators(tx: &mut ViewTx, municipality: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = tx
        .fetch(
            "SELECT staff_id FROM notice_coordinators WHERE municipality = $1 ORDER BY staff_id",
            &[municipality.into()],
        )
        .await?;
    Ok(rows.iter().map(|row| row.text(0)).collect())
}

async fn municipality_of(tx: &mut ViewTx, staff: &str) -> Result<Option<String>, sqlx::Error> {
    let rows = tx.fetch("SELECT municipality FROM notice_staff WHERE staff_id = $1", &[staff.into()]).await?;
    Ok(rows.first().map(|row| row.text(0)))
}
