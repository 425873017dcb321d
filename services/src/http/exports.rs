//! Downloads for people who work in Excel and calendars: an offering's roster and
//! audit-trail extracts as CSV or XLSX (through [`super::export`]), and iCalendar feeds
//! of an offering's sessions and of a staff member's confirmed courses.
//!
//! Column headers and values are Swedish, the same words in every export:
//! statuses `anmäld`, `antagen`, `väntelista`, `avanmäld`, `överlåten`; attendance
//! `närvarande`, `frånvarande`, `giltig frånvaro` (empty: not recorded yet); results
//! `genomförd`, `ej genomförd`; flags `ja`/`nej`. Every export takes `as_of` (and
//! `as_of_position`, `min_position`) like the JSON views.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use kurslogg_domain::text::one_line;
use kurslogg_domain::{OfferingId, StaffId};
use kurslogg_projections::history::Scope;
use kurslogg_projections::views::audit_trail::{self, AuditEntry, AuditFilter};
use kurslogg_projections::views::participant;
use kurslogg_projections::views::roster::{self, RosterView};
use kurslogg_projections::{enrolment::Enrolment, Db, ProjectionError};

use super::error::{ApiError, Problem};
use super::export::{self, Cell, FormatQuery, Table};
use super::extract::{path_id, Reader, Seen, Q};
use super::views::{audit_source, roster_for, staff_names, unavailable, view_db, ViewQuery};
use crate::app::Kurslogg;

type AppState = State<Arc<Kurslogg>>;

/// At most this many audit entries in one extract; narrow with `from`/`to` or page with
/// `after` beyond it.
pub const AUDIT_EXPORT_MAX: i64 = 100_000;

/// A registration status in Swedish.
pub fn status_sv(status: &str) -> String {
    match status {
        "requested" => "anmäld",
        "confirmed" => "antagen",
        "waiting" => "väntelista",
        "cancelled" => "avanmäld",
        "transferred_away" => "överlåten",
        other => other,
    }
    .to_string()
}

/// An attendance mark in Swedish.
pub fn attendance_sv(mark: &str) -> String {
    match mark {
        "present" => "närvarande",
        "absent" => "frånvarande",
        "excused" => "giltig frånvaro",
        other => other,
    }
    .to_string()
}

/// A completion result in Swedish.
pub fn completion_sv(completion: &str) -> String {
    match completion {
        "completed" => "genomförd",
        "not_completed" => "ej genomförd",
        other => other,
    }
    .to_string()
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
}

/// Municipality id → name, from the views.
async fn municipality_names(db: &Db) -> Result<HashMap<String, String>, ApiError> {
    let rows = db
        .fetch("SELECT municipality_id, name FROM enrolment_municipalities", &[])
        .await
        .map_err(|e| unavailable(ProjectionError::from(e)))?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
}

/// The roster as a table: one row per person, one column per session.
pub fn roster_table(
    r: &RosterView,
    names: &HashMap<String, String>,
    municipalities: &HashMap<String, String>,
) -> Table {
    let mut columns: Vec<String> = [
        "Personal-id",
        "Namn",
        "Kommun",
        "Enhet",
        "Status",
        "Plats i väntelistan",
        "Efteranmäld",
        "Avgift vid avanmälan",
    ]
    .map(String::from)
    .to_vec();
    for (i, session) in r.sessions.iter().enumerate() {
        let day = parse_instant(&session.starts_at).map(|t| export::local_text(&t)[..10].to_string());
        columns.push(match day {
            Some(day) => format!("Tillfälle {} ({day})", i + 1),
            None => format!("Tillfälle {}", i + 1),
        });
    }
    columns.extend(
        [
            "Närvarotillfällen",
            "Resultat",
            "Intygsnummer",
            "Överlåten från",
            "Överlåten till",
            "Anmälningstidpunkt",
            "Avanmälningstidpunkt",
        ]
        .map(String::from),
    );
    let stem = format!("deltagarlista-{}-{}-{}", r.course, r.term, r.offering_id.chars().take(8).collect::<String>());
    let mut table = Table::new(format!("{} {}", r.title, r.term), stem, columns);
    for e in &r.entries {
        let mut row: Vec<Cell> = vec![
            e.staff_id.as_str().into(),
            Cell::text(names.get(&e.staff_id).cloned()),
            municipalities.get(&e.municipality).cloned().unwrap_or_else(|| e.municipality.clone()).into(),
            Cell::text(e.unit.clone()),
            status_sv(&e.status).into(),
            e.waiting_place.into(),
            Cell::yes_no(e.late),
            Cell::yes_no(e.charged),
        ];
        row.extend(e.attendance.iter().map(|mark| Cell::text(mark.as_deref().map(attendance_sv))));
        let present = e.attendance.iter().filter(|m| m.as_deref() == Some("present")).count() as i64;
        row.extend([
            present.into(),
            Cell::text(e.completion.as_deref().map(completion_sv)),
            Cell::text(e.certificate.clone()),
            Cell::text(e.transferred_from.clone()),
            Cell::text(e.transferred_to.clone()),
            Cell::instant(Some(&e.registered_at)),
            Cell::instant(e.cancelled_at.as_deref()),
        ]);
        table.rows.push(row);
    }
    table
}

/// An offering's roster as CSV or XLSX: one row per person (staff id, name, municipality,
/// unit, status, waiting-list place, late, charged, attendance per session, sessions
/// attended, result, certificate, transfers, when registered and cancelled). Names are
/// the people's names as they are now, also in an `as_of` export.
#[utoipa::path(get, path = "/offerings/{id}/roster/export", params(FormatQuery, ViewQuery), tag = "exports",
    responses(
        (status = 200, description = "The roster: semicolon-separated CSV (UTF-8 with BOM) or an Excel workbook",
            content((String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn export_roster(
    State(app): AppState,
    Reader(actor): Reader,
    Path(id): Path<String>,
    Q(f): Q<FormatQuery>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    let format = f.format()?;
    let offering: OfferingId = path_id(&id, "course offering")?;
    let reach = app.roster_reach(&actor, offering).await?;
    let db = view_db(&app, &q, Enrolment, Scope::Offering(offering.to_string())).await?;
    let roster = roster::roster(&db, &offering.to_string())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("no roster for offering {offering}")))?;
    let roster = roster_for(&app, &reach, roster).await?;
    let municipalities = municipality_names(&db).await?;
    let names = staff_names(&app, roster.entries.iter().map(|e| e.staff_id.clone()).collect()).await;
    export::answer(&roster_table(&roster, &names, &municipalities), format)
}

/// The audit entries as a table.
pub fn audit_table(entries: &[AuditEntry]) -> Table {
    let columns = [
        "Position",
        "Tidpunkt",
        "Tidpunkt (UTC)",
        "Händelse",
        "Objekttyp",
        "Objekt-id",
        "Utförd av",
        "Roll",
        "För kommun",
        "Begäran-id",
        "Kurstillfälle",
        "Kommun",
        "Personal",
        "Detaljer",
    ]
    .map(String::from)
    .to_vec();
    let mut table = Table::new("Loggutdrag", "loggutdrag", columns);
    for e in entries {
        table.rows.push(vec![
            e.position.into(),
            Cell::instant(Some(&e.recorded_at)),
            e.recorded_at.as_str().into(),
            e.event_type.as_str().into(),
            e.aggregate_type.as_str().into(),
            e.aggregate_id.as_str().into(),
            e.actor_id.as_str().into(),
            e.actor_role.as_str().into(),
            Cell::text(e.on_behalf_of.clone()),
            e.request_id.as_str().into(),
            Cell::text(e.offering_id.clone()),
            Cell::text(e.municipality.clone()),
            Cell::text((!e.staff.is_empty()).then(|| e.staff.join(", "))),
            Cell::text(e.details.as_ref().map(|d| d.to_string())),
        ]);
    }
    table
}

/// An audit-trail extract as CSV or XLSX, oldest first: the filters of `GET /audit`
/// (staff, offering, actor, municipality, from, to, after), every page of them. `limit`
/// caps the rows (at most 100,000); without it an extract that would pass 100,000 rows
/// is refused (422 `export_too_large`): narrow it with `from`/`to`. When `limit` cut the
/// extract short, `X-Next-After` names the `after` that continues it.
#[utoipa::path(get, path = "/audit/export", params(AuditFilter, FormatQuery, ViewQuery), tag = "exports",
    responses(
        (status = 200, description = "The extract: semicolon-separated CSV (UTF-8 with BOM) or an Excel workbook",
            content((String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn export_audit_trail(
    State(app): AppState,
    Reader(actor): Reader,
    Q(mut filter): Q<AuditFilter>,
    Q(f): Q<FormatQuery>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    app.ensure_sees_everything(&actor, "exportera granskningsloggen")?;
    let format = f.format()?;
    let (db, up_to) = audit_source(&app, &mut filter, &q, AUDIT_EXPORT_MAX).await?;
    let wanted = filter.limit.unwrap_or(AUDIT_EXPORT_MAX);
    let mut entries: Vec<AuditEntry> = Vec::new();
    let next_after = loop {
        let left = wanted - entries.len() as i64;
        let page_filter = AuditFilter { limit: Some(left.min(audit_trail::MAX_LIMIT)), ..filter.clone() };
        let page = audit_trail::audit_trail(&db, &page_filter, up_to).await.map_err(unavailable)?;
        entries.extend(page.entries);
        match page.next_after {
            Some(after) if (entries.len() as i64) < wanted => filter.after = Some(after),
            last => break last,
        }
    };
    if next_after.is_some() && filter.limit.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "export_too_large",
            format!(
                "more than {AUDIT_EXPORT_MAX} entries match; narrow the extract with from and to, or take it in parts \
                 with limit and after"
            ),
        ));
    }
    let mut response = export::answer(&audit_table(&entries), format)?;
    if let Some(after) = next_after {
        response.headers_mut().insert("x-next-after", HeaderValue::from(after));
    }
    Ok(response)
}

// ----- iCalendar -----

/// A session's UID: stable for the offering and the session's number, so a calendar
/// that fetches the feed again updates the event instead of adding a second one.
pub fn session_uid(offering: &str, session: usize) -> String {
    format!("{offering}-tillfalle-{session}@kurslogg.se")
}

/// One VEVENT per session of `r`; cancelled offerings' sessions are marked cancelled.
fn session_events(r: &RosterView) -> Vec<Event> {
    let cancelled = r.state == "cancelled";
    let total = r.sessions.len();
    let mut events = Vec::with_capacity(total);
    for (i, session) in r.sessions.iter().enumerate() {
        let (Some(starts), Some(ends)) = (parse_instant(&session.starts_at), parse_instant(&session.ends_at)) else {
            tracing::warn!(offering = %r.offering_id, session = i, "session without valid times left out of calendar");
            continue;
        };
        let n = i + 1;
        // Titles, trainers and places are typed by people, and may have been stored before
        // the edge refused line breaks in them. The crate escapes LF in a text value but not
        // CR, and a calendar app may take a bare CR for the end of a line: each value is made
        // one line (or, in the description, CR-free) so none can add properties or events.
        let title = one_line(&r.title);
        let mut summary = format!("{title}, tillfälle {n} av {total}");
        if cancelled {
            summary = format!("INSTÄLLT: {summary}");
        }
        let mut description = format!(
            "Utbildare: {}\nKurs: {title} ({}), {}",
            one_line(&r.trainer),
            one_line(&r.course),
            one_line(&r.term)
        );
        if cancelled {
            description.push_str("\nKurstillfället är inställt.");
        }
        events.push(
            Event::new()
                .uid(&session_uid(&r.offering_id, n))
                .starts(starts)
                .ends(ends)
                .summary(&summary)
                .location(&one_line(&r.place))
                .description(&description)
                .status(if cancelled { EventStatus::Cancelled } else { EventStatus::Confirmed })
                .done(),
        );
    }
    events
}

/// A published calendar of `events`, named `name`.
fn calendar(name: &str, events: Vec<Event>) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Kurslogg//Kurslogg//SV"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-TIMEZONE", "Europe/Stockholm"))
        .name(&one_line(name))
        .ttl(&chrono::Duration::hours(1));
    calendar.extend(events);
    calendar.to_string()
}

fn ics(body: String, filename: &str) -> Response {
    export::attachment(body.into_bytes(), "text/calendar; charset=utf-8", filename)
}

/// An offering's sessions as an iCalendar feed: one event per session (UTC start and
/// end, the course title and session number, the place, the trainer), with a UID that
/// stays the same from one download to the next.
#[utoipa::path(get, path = "/offerings/{id}/calendar.ics", params(ViewQuery), tag = "exports",
    responses(
        (status = 200, description = "iCalendar (RFC 5545)", content_type = "text/calendar", body = String),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn offering_calendar(
    State(app): AppState,
    _reader: Reader,
    Path(id): Path<String>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    let offering: OfferingId = path_id(&id, "course offering")?;
    let db = view_db(&app, &q, Enrolment, Scope::Offering(offering.to_string())).await?;
    let roster = roster::roster(&db, &offering.to_string())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("no course offering {offering}")))?;
    let name = format!("{} {}", roster.title, roster.term);
    let filename =
        format!("{}-{}-{}.ics", roster.course, roster.term, roster.offering_id.chars().take(8).collect::<String>());
    Ok(ics(calendar(&name, session_events(&roster)), &filename))
}

/// A staff member's courses as an iCalendar feed: the sessions of every offering they
/// hold a seat on (confirmed; not requested, waiting, cancelled or transferred away).
#[utoipa::path(get, path = "/staff/{id}/calendar.ics", params(ViewQuery), tag = "exports",
    responses(
        (status = 200, description = "iCalendar (RFC 5545)", content_type = "text/calendar", body = String),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn staff_calendar(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    let staff: StaffId = path_id(&id, "staff member")?;
    app.ensure_may_see_staff(&actor, staff).await?;
    app.note_person_read(&actor, &origin, staff, "calendar").await?;
    let db = view_db(&app, &q, Enrolment, Scope::Everything).await?;
    let record = participant::participant_record(&db, &staff.to_string())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("no staff member {staff}")))?;
    let mut events = Vec::new();
    for line in record.offerings.iter().filter(|l| l.status == "confirmed") {
        if let Some(roster) = roster::roster(&db, &line.offering_id).await.map_err(unavailable)? {
            events.extend(session_events(&roster));
        }
    }
    Ok(ics(calendar("Mina kurser (Kurslogg)", events), &format!("kurser-{staff}.ics")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kurslogg_projections::views::roster::{RosterEntry, SessionTimes};

    fn roster() -> RosterView {
        RosterView {
            offering_id: "0b0e9b8e-1111-4c1c-9a55-000000000001".into(),
            package_id: "p".into(),
            course: "LVU-GRUND".into(),
            title: "LVU grund".into(),
            term: "HT2027".into(),
            trainer: "Advokatbyrån Väst".into(),
            place: "Kampenhof, Uddevalla".into(),
            seat_limit: 3,
            sessions: vec![
                SessionTimes {
                    starts_at: "2027-09-01T06:00:00Z".into(),
                    ends_at: "2027-09-01T12:00:00Z".into(),
                    minutes: 360,
                    session: 0,
                },
                SessionTimes {
                    starts_at: "2027-11-08T07:00:00Z".into(),
                    ends_at: "2027-11-08T13:00:00Z".into(),
                    minutes: 360,
                    session: 1,
                },
            ],
            state: "completed".into(),
            position: 10,
            entries: vec![RosterEntry {
                staff_id: "s1".into(),
                municipality: "ockero".into(),
                unit: Some("Öckerö barn och unga".into()),
                supervisor: None,
                status: "confirmed".into(),
                charged: false,
                late: false,
                waiting_place: None,
                attendance: vec![Some("present".into()), None],
                notes: vec![],
                completion: Some("not_completed".into()),
                certificate: None,
                transferred_from: None,
                transferred_to: None,
                registered_at: "2027-03-01T09:00:00.000Z".into(),
                cancelled_at: None,
            }],
        }
    }

    #[test]
    fn roster_rows_are_swedish_and_sessions_are_columns() {
        let municipalities = HashMap::from([("ockero".to_string(), "Öckerö".to_string())]);
        let table = roster_table(&roster(), &HashMap::new(), &municipalities);
        assert_eq!(table.columns[8], "Tillfälle 1 (2027-09-01)");
        assert_eq!(table.columns[9], "Tillfälle 2 (2027-11-08)");
        let row = &table.rows[0];
        assert_eq!(row[2], Cell::Text("Öckerö".into()));
        assert_eq!(row[4], Cell::Text("antagen".into()));
        assert_eq!(row[8], Cell::Text("närvarande".into()));
        assert_eq!(row[9], Cell::Empty);
        assert_eq!(row[10], Cell::Integer(1));
        assert_eq!(row[11], Cell::Text("ej genomförd".into()));
        assert_eq!(table.columns.len(), row.len());
    }

    #[test]
    fn calendar_has_one_event_per_session() {
        let text = calendar("LVU grund HT2027", session_events(&roster()));
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
        assert!(text.contains("DTSTART:20270901T060000Z"), "{text}");
        assert!(text.contains("UID:0b0e9b8e-1111-4c1c-9a55-000000000001-tillfalle-2@kurslogg.se"), "{text}");
        assert!(text.contains("SUMMARY:LVU grund\\, tillfälle 1 av 2"), "{text}");
    }
}
