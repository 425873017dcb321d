//! Enrolment: every offering (its details and sessions), everyone on it (status,
//! attendance per session, completion and certificate, the waiting list in order,
//! cancellations free or charged, transfers), the trainers assigned to it, the packages
//! and their deadlines, the course catalogue, the municipalities, staff as the work needs
//! them, and the federations' competence plans. The roster, participant record,
//! supervisor overview, deadline overview, statistics, cost basis, competence plans and
//! the lists the pages page through all read these tables (see `crate::views`).
//!
//! People appear by id only: names and e-mail addresses stay in the staff member's own
//! stream. A person's unit, supervisor, staff group, experience band and degree are
//! copied onto each entry as they were when the person was put on the offering, so
//! statistics count people as they were when they took the course.

use std::collections::HashMap;

use async_trait::async_trait;
use kurslogg_domain::offering::{OfferingDetails, MAX_SESSIONS};
use serde_json::Value;

use crate::db::{Keyed, Param, ViewTx};
use crate::feed::{text, LoggedEvent};
use crate::runner::{Projection, ProjectionError};

/// The enrolment projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Enrolment;

/// Its name (checkpoint, `kurslogg projections rebuild enrolment`).
pub const NAME: &str = "enrolment";

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

/// Puts people on offerings (or back on): one row per (offering, staff).
const UPSERT_ENTRIES: &str =
    "INSERT INTO roster_entries (offering_id, staff_id, municipality, status, late, priority, waiting_rank, registered_at) \
     {rows} \
     ON CONFLICT (offering_id, staff_id) DO UPDATE SET municipality = excluded.municipality, status = excluded.status, \
     late = excluded.late, priority = excluded.priority, waiting_rank = excluded.waiting_rank, charged = 0, \
     certificate = NULL, completion = NULL, registered_at = excluded.registered_at, cancelled_at = NULL";

/// Values per row of [`UPSERT_ENTRIES`].
const ENTRY_WIDTH: usize = 8;

/// Copies the people's details as they are now onto their entries: rows of (offering,
/// staff).
const SNAPSHOT_STAFF: &str =
    "UPDATE roster_entries SET (unit, supervisor, staff_group, experience_band, social_work_degree) = \
     (SELECT unit, supervisor, staff_group, experience_band, social_work_degree FROM enrolment_staff \
      WHERE enrolment_staff.staff_id = roster_entries.staff_id) \
     WHERE (offering_id, staff_id) IN ({rows})";

const SET_STATUS: &str =
    "UPDATE roster_entries SET status = $1, waiting_rank = $2 WHERE offering_id = $3 AND staff_id = $4";

/// Rows of (offering, staff, status, waiting rank).
const SET_STATUSES: &str = "UPDATE roster_entries SET status = r.column3, waiting_rank = r.column4 FROM ({rows}) AS r \
     WHERE roster_entries.offering_id = r.column1 AND roster_entries.staff_id = r.column2";

/// Rows of (offering, staff, completion, certificate).
const SET_COMPLETIONS: &str = "UPDATE roster_entries SET completion = r.column3, certificate = r.column4 \
     FROM ({rows}) AS r WHERE roster_entries.offering_id = r.column1 AND roster_entries.staff_id = r.column2";

/// Sets runs of marks of participants: rows of (offering, staff, marks), where marks is
/// [`marks::run`]: `-` up to the run's first session, then its marks. A participant seen
/// for the first time gets that string; one already there gets the run set over theirs, in
/// SQL both backends read alike: their marks before the run (lengthened with the new
/// string's `-`s if too short to reach it), the run, and their marks after it. A statement
/// sets at most one run per participant.
const SET_MARKS: &str = "INSERT INTO roster_attendance (offering_id, staff_id, marks) {rows} \
     ON CONFLICT (offering_id, staff_id) DO UPDATE SET marks = \
     substr(roster_attendance.marks || substr(excluded.marks, length(roster_attendance.marks) + 1), 1, \
     length(excluded.marks) - length(ltrim(excluded.marks, '-'))) \
     || ltrim(excluded.marks, '-') \
     || substr(roster_attendance.marks, length(excluded.marks) + 1)";

/// How a participant's attendance on an offering is stored (`roster_attendance.marks`):
/// one character per session, in session order. One row per participant instead of one
/// per mark: in the benchmark's log, 57,925 rows instead of 835,624.
pub mod marks {
    /// Present.
    pub const PRESENT: char = 'P';
    /// Absent.
    pub const ABSENT: char = 'A';
    /// Absent with a valid reason.
    pub const EXCUSED: char = 'E';
    /// No mark recorded for the session (yet).
    pub const NOT_RECORDED: char = '-';

    /// The character for an attendance as events name it (`present`, …).
    pub fn code(attendance: &str) -> Option<char> {
        match attendance {
            "present" => Some(PRESENT),
            "absent" => Some(ABSENT),
            "excused" => Some(EXCUSED),
            _ => None,
        }
    }

    /// The attendance a character stands for, as events name it; `None` if not recorded.
    pub fn attendance(code: char) -> Option<&'static str> {
        match code {
            PRESENT => Some("present"),
            ABSENT => Some("absent"),
            EXCUSED => Some("excused"),
            _ => None,
        }
    }

    /// The marks of someone marked only at sessions `first`, `first + 1`, …: `codes` after
    /// as many [`NOT_RECORDED`] as `first`.
    pub fn run(first: usize, codes: impl IntoIterator<Item = char>) -> String {
        let mut marks = NOT_RECORDED.to_string().repeat(first);
        marks.extend(codes);
        marks
    }

    /// Marks given one after another, `(session, code)`, as runs of consecutive sessions
    /// ([`run`]), each session's last mark standing: what setting the runs in any order
    /// leaves is what setting the marks in the order given leaves.
    pub fn runs(given: impl IntoIterator<Item = (usize, char)>) -> Vec<String> {
        let last: std::collections::BTreeMap<usize, char> = given.into_iter().collect();
        let mut runs: Vec<(usize, Vec<char>)> = Vec::new();
        for (session, code) in last {
            match runs.last_mut() {
                Some((first, codes)) if *first + codes.len() == session => codes.push(code),
                _ => runs.push((session, vec![code])),
            }
        }
        runs.into_iter().map(|(first, codes)| run(first, codes)).collect()
    }
}

const TABLES: [&str; 11] = [
    "roster_attendance",
    "roster_trainers",
    "roster_charges",
    "roster_sessions",
    "roster_entries",
    "roster_offerings",
    "enrolment_packages",
    "enrolment_municipalities",
    "enrolment_staff",
    "enrolment_courses",
    "enrolment_competence_plans",
];

#[async_trait]
impl Projection for Enrolment {
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

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        let mut gathered = Gathered::default();
        gathered.apply(tx, event).await?;
        gathered.write(tx).await
    }

    /// As [`Enrolment::apply`] event by event, in far fewer statements: the writes of
    /// some kinds of event are gathered into rows and written by one statement per kind
    /// (see [`Gathered`]).
    async fn apply_batch(&self, tx: &mut ViewTx, events: &[LoggedEvent]) -> Result<(), ProjectionError> {
        let mut gathered = Gathered::default();
        for event in events {
            gathered.apply(tx, event).await?;
        }
        gathered.write(tx).await
    }
}

/// Writes gathered while applying events in order, written by one statement per kind
/// instead of one or two per event. The tables come out as if each event had been
/// applied on its own because:
///
/// - attendance marks (the bulk of the log) only write `roster_attendance`, one row per
///   (offering, staff) holding every session's mark, and no other statement of this
///   projection reads that table: so they are kept, in order, and set over the stored
///   marks in that order when the batch ends;
/// - people put on offerings (registrations, late ones) and completion decisions are
///   gathered only while they follow each other: any other event first writes what was
///   gathered, so it sees the rows as one-by-one would have left them. Within a run of
///   registrations nothing changes `enrolment_staff`, so each person's details can be
///   copied onto the run's entries at the end of the run; the last row per key is what
///   one-by-one would leave (each row sets every column it writes).
///
/// A statement added later that reads `roster_attendance` would have to write the marks
/// gathered so far first.
struct Gathered {
    /// Per participant on an offering, the marks in the order given: (session, mark).
    marks: HashMap<(String, String), Vec<(usize, char)>>,
    entries: Keyed<(String, String)>,
    completions: Keyed<(String, String)>,
}

impl Default for Gathered {
    fn default() -> Self {
        Self { marks: HashMap::new(), entries: Keyed::new(ENTRY_WIDTH), completions: Keyed::new(4) }
    }
}

impl Gathered {
    async fn apply(&mut self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        if event.aggregate_type == "offering" {
            let body = event.body();
            let offering = || event.aggregate_id.clone();
            match event.event_type.as_str() {
                "AttendanceRecorded" | "AttendanceCorrected" => {
                    let field = if event.event_type == "AttendanceRecorded" { "attendance" } else { "to" };
                    let mark = text(body, field, event)?;
                    let unreadable = |reason: String| ProjectionError::Unreadable { position: event.position, reason };
                    let code = marks::code(&mark).ok_or_else(|| unreadable(format!("no such attendance: {mark}")))?;
                    let session = usize::try_from(int(body, "session"))
                        .ok()
                        .filter(|s| *s < MAX_SESSIONS)
                        .ok_or_else(|| unreadable(format!("no such session: {}", int(body, "session"))))?;
                    let staff = text(body, "staff", event)?;
                    self.marks.entry((offering(), staff)).or_default().push((session, code));
                    return Ok(());
                }
                "RegistrationRequested" | "LateRegistrationConfirmed" | "LateRegistrationWaitlisted" => {
                    let (status, late, waiting) = match event.event_type.as_str() {
                        "RegistrationRequested" => ("requested", flag(body, "late"), Param::NullInt),
                        "LateRegistrationConfirmed" => ("confirmed", 1, Param::NullInt),
                        _ => ("waiting", 1, Param::Int(rank(event, 0))),
                    };
                    let staff = text(body, "staff", event)?;
                    let row = vec![
                        offering().into(),
                        staff.clone().into(),
                        text(body, "municipality", event)?.into(),
                        status.into(),
                        Param::Int(late),
                        Param::Int(event.position),
                        waiting,
                        event.recorded_at().into(),
                    ];
                    self.write_completions(tx).await?;
                    self.entries.set((offering(), staff), row);
                    return Ok(());
                }
                "ParticipantCompleted" | "ParticipantNotCompleted" | "CertificateWithdrawn" => {
                    let staff = text(body, "staff", event)?;
                    let (completion, certificate) = match event.event_type.as_str() {
                        "ParticipantCompleted" => ("completed", Param::from(text(body, "certificate", event)?)),
                        _ => ("not_completed", Param::NullText),
                    };
                    let row = vec![offering().into(), staff.clone().into(), completion.into(), certificate];
                    self.write_entries(tx).await?;
                    self.completions.set((offering(), staff), row);
                    return Ok(());
                }
                _ => {}
            }
        }
        self.write_entries(tx).await?;
        self.write_completions(tx).await?;
        match event.aggregate_type.as_str() {
            "offering" => apply_offering(tx, event).await,
            "staff" => apply_staff(tx, event).await,
            "package" => apply_package(tx, event).await,
            "municipality" => apply_municipality(tx, event).await,
            "course" => apply_course(tx, event).await,
            "competence_plan" => apply_competence_plan(tx, event).await,
            _ => Ok(()),
        }
    }

    async fn write_entries(&mut self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let rows = self.entries.take();
        tx.execute_rows(UPSERT_ENTRIES, ENTRY_WIDTH, &rows).await?;
        let keys: Vec<Param> = rows.chunks(ENTRY_WIDTH).flat_map(|row| row[..2].iter().cloned()).collect();
        tx.execute_rows(SNAPSHOT_STAFF, 2, &keys).await?;
        Ok(())
    }

    async fn write_completions(&mut self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        if !self.completions.is_empty() {
            tx.execute_rows(SET_COMPLETIONS, 4, &self.completions.take()).await?;
        }
        Ok(())
    }

    /// Writes everything still gathered.
    async fn write(mut self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        self.write_entries(tx).await?;
        self.write_completions(tx).await?;
        self.write_marks(tx).await
    }

    /// The gathered marks, set over the stored ones: each participant's as runs of
    /// consecutive sessions ([`marks::runs`]; in a rebuild's large batches, usually one run
    /// per participant however many marks), in rounds of one run per participant, as many
    /// statements as the most runs one participant has in the batch.
    async fn write_marks(&mut self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        let mut rounds: Vec<Vec<Param>> = Vec::new();
        for ((offering, staff), given) in std::mem::take(&mut self.marks) {
            for (round, run) in marks::runs(given).into_iter().enumerate() {
                if rounds.len() == round {
                    rounds.push(Vec::new());
                }
                rounds[round].extend([offering.as_str().into(), staff.as_str().into(), run.into()]);
            }
        }
        for rows in rounds {
            tx.execute_rows(SET_MARKS, 3, &rows).await?;
        }
        Ok(())
    }
}

/// The offering's details, typed.
fn details(body: &Value, event: &LoggedEvent) -> Result<OfferingDetails, ProjectionError> {
    serde_json::from_value(body.get("details").cloned().unwrap_or(Value::Null))
        .map_err(|e| ProjectionError::Unreadable { position: event.position, reason: format!("offering details: {e}") })
}

/// Writes an offering's details and sessions (planned or revised).
async fn write_details(tx: &mut ViewTx, offering: &Param, details: &OfferingDetails) -> Result<(), ProjectionError> {
    let place = match &details.place {
        kurslogg_domain::Place::Venue(address) => address.to_string(),
        kurslogg_domain::Place::Digital => "digitalt".to_string(),
    };
    let areas: Vec<String> = details.competence_areas.iter().map(ToString::to_string).collect();
    let minutes: i64 = details.sessions.iter().map(|s| i64::from(s.minutes)).sum();
    let json = |value: serde_json::Result<String>| Param::from(value.unwrap_or_else(|_| "[]".into()));
    tx.execute(
        "UPDATE roster_offerings SET sessions = $1, price = $2, minutes = $3, trainer = $4, place = $5, \
         starts_at = $6, ends_at = $7, completion_threshold = $8, competence_areas = $9, description = $10, \
         experience_bands = $11, staff_groups = $12, prerequisites = $13 WHERE offering_id = $14",
        &[
            Param::Int(details.sessions.len() as i64),
            Param::Int(i64::from(details.price.0)),
            Param::Int(minutes),
            details.trainer.to_string().into(),
            place.into(),
            timestamp(details.starts_at()).into(),
            timestamp(details.ends_at()).into(),
            Param::Int(i64::from(u8::from(details.completion_threshold))),
            serde_json::to_string(&areas).unwrap_or_else(|_| "[]".into()).into(),
            details.description.to_string().into(),
            json(serde_json::to_string(&details.target_groups.experience_bands)),
            json(serde_json::to_string(&details.target_groups.staff_groups)),
            json(serde_json::to_string(&details.prerequisites)),
            offering.clone(),
        ],
    )
    .await?;
    tx.execute("DELETE FROM roster_sessions WHERE offering_id = $1", std::slice::from_ref(offering)).await?;
    let mut rows = Vec::with_capacity(details.sessions.len() * 5);
    for (i, session) in details.sessions.iter().enumerate() {
        rows.extend([
            offering.clone(),
            Param::Int(i as i64),
            timestamp(session.starts_at).into(),
            timestamp(session.ends_at).into(),
            Param::Int(i64::from(session.minutes)),
        ]);
    }
    tx.execute_rows("INSERT INTO roster_sessions (offering_id, session, starts_at, ends_at, minutes) {rows}", 5, &rows)
        .await?;
    Ok(())
}

/// RFC 3339 in UTC with milliseconds: the one format every view stores, so that text
/// order is time order.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A timestamp field of an event body, in the views' format.
fn time_field(body: &Value, field: &str) -> Param {
    body.get(field)
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or(Param::NullText, |t| timestamp(t.with_timezone(&chrono::Utc)).into())
}

async fn apply_offering(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    let offering = Param::from(event.aggregate_id.as_str());
    let body = event.body();
    let staff = || text(body, "staff", event).map(Param::from);
    match event.event_type.as_str() {
        "OfferingPlanned" => {
            let term = text(body, "term", event)?;
            let year: i64 = term.get(2..).and_then(|y| y.parse().ok()).unwrap_or(0);
            tx.execute(
                    "INSERT INTO roster_offerings (offering_id, package_id, course, title, term, year, seat_limit, sessions, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 'open') ON CONFLICT (offering_id) DO NOTHING",
                    &[
                        offering.clone(),
                        text(body, "package", event)?.into(),
                        text(body, "course", event)?.into(),
                        text(body, "title", event)?.into(),
                        term.into(),
                        Param::Int(year),
                        Param::Int(int(body, "seat_limit")),
                    ],
                )
                .await?;
            write_details(tx, &offering, &details(body, event)?).await?;
        }
        "OfferingRevised" => write_details(tx, &offering, &details(body, event)?).await?,
        "SeatLimitChanged" => {
            tx.execute(
                "UPDATE roster_offerings SET seat_limit = $1 WHERE offering_id = $2",
                &[Param::Int(int(body, "to")), offering],
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
            // In the order one-by-one would set them: the last status per person stands.
            let mut statuses = Keyed::new(4);
            for staff in ids("confirmed") {
                let row = vec![offering.clone(), staff.clone().into(), "confirmed".into(), Param::NullInt];
                statuses.set(staff, row);
            }
            for (i, staff) in ids("waitlisted").into_iter().enumerate() {
                let row = vec![offering.clone(), staff.clone().into(), "waiting".into(), Param::Int(rank(event, i))];
                statuses.set(staff, row);
            }
            tx.execute_rows(SET_STATUSES, 4, &statuses.take()).await?;
            tx.execute("UPDATE roster_offerings SET state = 'allocated' WHERE offering_id = $1", &[offering]).await?;
        }
        "PromotedFromWaitingList" => {
            tx.execute(SET_STATUS, &["confirmed".into(), Param::NullInt, offering, staff()?]).await?;
        }
        "RegistrationCancelled" => {
            tx.execute(
                "UPDATE roster_entries SET status = 'cancelled', charged = $1, cancelled_at = $2, waiting_rank = NULL \
                     WHERE offering_id = $3 AND staff_id = $4",
                &[Param::Int(flag(body, "charged")), time_field(body, "at"), offering.clone(), staff()?],
            )
            .await?;
            if flag(body, "charged") == 1 {
                // Kept apart: the entry is reused if the person registers again.
                tx.execute(
                    "INSERT INTO roster_charges (offering_id, staff_id, position, municipality, cancelled_at) \
                     SELECT offering_id, staff_id, $1, municipality, cancelled_at FROM roster_entries \
                     WHERE offering_id = $2 AND staff_id = $3 ON CONFLICT DO NOTHING",
                    &[Param::Int(event.position), offering, staff()?],
                )
                .await?;
            }
        }
        "SeatTransferred" => {
            let from = Param::from(text(body, "from", event)?);
            let to = Param::from(text(body, "to", event)?);
            // The newcomer takes the holder's place: status, priority, waiting-list spot.
            tx.execute(
                    "INSERT INTO roster_entries (offering_id, staff_id, municipality, status, late, priority, waiting_rank, transferred_from, registered_at) \
                     SELECT offering_id, $1, municipality, status, late, priority, waiting_rank, $2, $3 FROM roster_entries \
                     WHERE offering_id = $4 AND staff_id = $2 \
                     ON CONFLICT (offering_id, staff_id) DO UPDATE SET municipality = excluded.municipality, \
                     status = excluded.status, late = excluded.late, priority = excluded.priority, \
                     waiting_rank = excluded.waiting_rank, transferred_from = excluded.transferred_from, charged = 0, \
                     certificate = NULL, completion = NULL, registered_at = excluded.registered_at, cancelled_at = NULL",
                    &[to.clone(), from.clone(), event.recorded_at().into(), offering.clone()],
                )
                .await?;
            tx.execute_rows(SNAPSHOT_STAFF, 2, &[offering.clone(), to.clone()]).await?;
            tx.execute(
                "UPDATE roster_entries SET status = 'transferred_away', transferred_to = $1, waiting_rank = NULL \
                     WHERE offering_id = $2 AND staff_id = $3",
                &[to, offering, from],
            )
            .await?;
        }
        "OfferingCompleted" => {
            tx.execute("UPDATE roster_offerings SET state = 'completed' WHERE offering_id = $1", &[offering]).await?;
        }
        "OfferingCancelled" => {
            tx.execute("UPDATE roster_offerings SET state = 'cancelled' WHERE offering_id = $1", &[offering]).await?;
        }
        "TrainerAssigned" => {
            tx.execute(
                "INSERT INTO roster_trainers (offering_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[offering, text(body, "user", event)?.into()],
            )
            .await?;
        }
        "TrainerUnassigned" => {
            tx.execute(
                "DELETE FROM roster_trainers WHERE offering_id = $1 AND user_id = $2",
                &[offering, text(body, "user", event)?.into()],
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn apply_staff(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    let body = event.body();
    let staff = Param::from(event.aggregate_id.as_str());
    let profile = |field: &str| body.pointer(&format!("/profile/{field}")).cloned().unwrap_or(Value::Null);
    let profile_text = |field: &str| -> Param { profile(field).as_str().map_or(Param::NullText, Param::from) };
    let degree = Param::Int(i64::from(profile("social_work_degree").as_bool().unwrap_or(false)));
    match event.event_type.as_str() {
        "StaffMemberAdded" => {
            tx.execute(
                "INSERT INTO enrolment_staff (staff_id, municipality, unit, supervisor, staff_group, experience_band, social_work_degree, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active') ON CONFLICT (staff_id) DO NOTHING",
                &[
                    staff,
                    text(body, "municipality", event)?.into(),
                    profile_text("unit"),
                    profile_text("supervisor"),
                    profile_text("staff_group"),
                    profile_text("experience_band"),
                    degree,
                ],
            )
            .await?;
        }
        "StaffMemberUpdated" => {
            tx.execute(
                "UPDATE enrolment_staff SET unit = $1, supervisor = $2, staff_group = $3, experience_band = $4, \
                 social_work_degree = $5 WHERE staff_id = $6",
                &[
                    profile_text("unit"),
                    profile_text("supervisor"),
                    profile_text("staff_group"),
                    profile_text("experience_band"),
                    degree,
                    staff,
                ],
            )
            .await?;
        }
        "StaffMemberPaused" | "StaffMemberResumed" | "StaffMemberErased" => {
            let status = match event.event_type.as_str() {
                "StaffMemberPaused" => "paused",
                "StaffMemberResumed" => "active",
                _ => "erased",
            };
            tx.execute("UPDATE enrolment_staff SET status = $1 WHERE staff_id = $2", &[status.into(), staff]).await?;
        }
        // Retention counts from the removal (docs/decisions/0007).
        "StaffMemberRemoved" => {
            tx.execute(
                "UPDATE enrolment_staff SET status = 'removed', removed_at = $1 WHERE staff_id = $2",
                &[time_field(body, "at"), staff],
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn apply_package(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    let body = event.body();
    let package = Param::from(event.aggregate_id.as_str());
    let phase = |phase: &'static str| -> (&'static str, Vec<Param>) {
        ("UPDATE enrolment_packages SET phase = $1 WHERE package_id = $2", vec![phase.into(), package.clone()])
    };
    let (sql, params) = match event.event_type.as_str() {
        "PackageCreated" => (
            "INSERT INTO enrolment_packages (package_id, term, title, deadline, phase, organiser) \
             VALUES ($1, $2, $3, $4, 'draft', $5) ON CONFLICT (package_id) DO NOTHING",
            vec![
                package.clone(),
                text(body, "term", event)?.into(),
                text(body, "title", event)?.into(),
                time_field(body, "deadline"),
                text(body, "organiser", event)?.into(),
            ],
        ),
        "DeadlineChanged" => (
            "UPDATE enrolment_packages SET deadline = $1 WHERE package_id = $2",
            vec![time_field(body, "to"), package.clone()],
        ),
        "PackagePublished" => phase("published"),
        "RegistrationClosed" => phase("registration_closed"),
        "PackageArchived" => phase("archived"),
        _ => return Ok(()),
    };
    tx.execute(sql, &params).await?;
    Ok(())
}

async fn apply_municipality(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    if event.event_type != "MunicipalityAdded" {
        return Ok(());
    }
    let body = event.body();
    tx.execute(
        "INSERT INTO enrolment_municipalities (municipality_id, name, federation) VALUES ($1, $2, $3) \
         ON CONFLICT (municipality_id) DO NOTHING",
        &[
            event.aggregate_id.as_str().into(),
            text(body, "name", event)?.into(),
            text(body, "federation", event)?.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The catalogue: a course as added, then as last revised (its code is its stream's id).
async fn apply_course(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    if !matches!(event.event_type.as_str(), "CourseAdded" | "CourseRevised") {
        return Ok(());
    }
    let body = event.body();
    let prerequisites = body.get("prerequisites").cloned().unwrap_or(Value::Array(Vec::new()));
    tx.execute(
        "INSERT INTO enrolment_courses (code, title, description, prerequisites) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (code) DO UPDATE SET title = excluded.title, description = excluded.description, \
         prerequisites = excluded.prerequisites",
        &[
            event.aggregate_id.as_str().into(),
            text(body, "title", event)?.into(),
            text(body, "description", event)?.into(),
            prerequisites.to_string().into(),
        ],
    )
    .await?;
    Ok(())
}

/// A federation's competence plan: the row holds its current version, whole (each event
/// carries the whole plan).
async fn apply_competence_plan(tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
    let body = event.body();
    let plan = Param::from(event.aggregate_id.as_str());
    let bands = body.get("bands").map_or_else(|| "[]".to_string(), Value::to_string);
    match event.event_type.as_str() {
        "CompetencePlanSet" => {
            tx.execute(
                "INSERT INTO enrolment_competence_plans (plan_id, federation, year, version, bands, set_at, revised_at) \
                 VALUES ($1, $2, $3, 1, $4, $5, $5) ON CONFLICT (plan_id) DO NOTHING",
                &[
                    plan,
                    text(body, "federation", event)?.into(),
                    Param::Int(int(body, "year")),
                    bands.into(),
                    event.recorded_at().into(),
                ],
            )
            .await?;
        }
        "CompetencePlanRevised" => {
            tx.execute(
                "UPDATE enrolment_competence_plans SET version = $1, bands = $2, revised_at = $3 WHERE plan_id = $4",
                &[Param::Int(int(body, "version")), bands.into(), event.recorded_at().into(), plan],
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::marks;

    #[test]
    fn a_mark_lands_on_its_session_and_sessions_not_marked_stay_unrecorded() {
        assert_eq!(marks::run(0, [marks::PRESENT]), "P");
        assert_eq!(marks::run(2, [marks::EXCUSED]), "--E");
        assert_eq!(marks::run(1, ['P', 'A']), "-PA");
        let read: Vec<Option<&str>> = "A-E".chars().map(marks::attendance).collect();
        assert_eq!(read, [Some("absent"), None, Some("excused")]);
        assert_eq!(marks::code("present"), Some(marks::PRESENT));
        assert_eq!(marks::code("late"), None);
    }

    #[test]
    fn marks_given_one_after_another_become_runs_of_consecutive_sessions_the_last_mark_standing() {
        assert_eq!(marks::runs([(3, 'P'), (3, 'A'), (3, 'E')]), ["---E"]);
        assert_eq!(marks::runs([(5, 'E'), (1, 'P'), (2, 'A'), (1, 'A')]), ["-AA", "-----E"]);
        assert_eq!(marks::runs([(0, 'P'), (1, 'P'), (2, 'A')]), ["PPA"]);
        assert!(marks::runs([]).is_empty());
    }
}
