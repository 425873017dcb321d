//! A trainer's pages ("utbildare"): their offerings, and for each session the list of
//! participants to mark present, absent or excused, made for a phone in a classroom: one
//! tap a person, big targets, each mark saved on its own (a lost connection loses at most
//! the mark being sent, and sending it again marks once), an optional note, and earlier
//! sessions corrected as corrections.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use kurslogg_domain::{Attendance, OfferingId, StaffId, Text};
use kurslogg_projections::views::roster::{RosterEntry, RosterView};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use crate::app::lists::ViewAt;
use crate::app::{AppError, Correction, Kind, Kurslogg, Role};
use crate::auth::Origin;
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::page;
use crate::web::session::{Submitted, Visitor};
use crate::web::templates;

type AppState = State<Arc<Kurslogg>>;

fn trainer(visitor: &Visitor) -> Result<(), PageError> {
    match visitor.actor.role {
        Role::Trainer => Ok(()),
        _ => Err(PageError::forbidden()),
    }
}

fn offering_id(raw: &str) -> Result<OfferingId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

/// The trainer's start page: their offerings.
pub async fn start(app: &Kurslogg, visitor: &Visitor) -> Result<Response, PageError> {
    trainer(visitor)?;
    let offerings = app.offerings_taught_by(&visitor.actor).await?;
    page::render(
        visitor,
        "trainer_start.html.j2",
        "/start",
        context! { title => "Mina kurser", offerings => Serde(offerings) },
    )
}

/// One session of the roster as the offering's page lists it.
#[derive(Serialize)]
struct SessionLine {
    index: i64,
    starts_at: String,
    ends_at: String,
    started: bool,
    marked: usize,
    participants: usize,
}

/// Participants are those holding a seat.
fn participants(roster: &RosterView) -> Vec<&RosterEntry> {
    roster.entries.iter().filter(|e| e.status == "confirmed").collect()
}

/// `/undervisning/{offering}`: the offering's sessions, each with how many are marked.
pub async fn offering(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    trainer(&visitor)?;
    let offering = offering_id(&id)?;
    let roster = app.roster_seen(&visitor.actor, &origin, offering, ViewAt::Now).await?;
    let now = app.clock.now();
    let people = participants(&roster);
    let sessions: Vec<SessionLine> = roster
        .sessions
        .iter()
        .enumerate()
        .map(|(i, s)| SessionLine {
            index: s.session,
            starts_at: s.starts_at.clone(),
            ends_at: s.ends_at.clone(),
            started: chrono::DateTime::parse_from_rfc3339(&s.starts_at).is_ok_and(|at| at <= now),
            marked: people.iter().filter(|p| p.attendance.get(i).is_some_and(Option::is_some)).count(),
            participants: people.len(),
        })
        .collect();
    page::render(
        &visitor,
        "trainer_offering.html.j2",
        "/start",
        context! { title => roster.title.clone(), roster => Serde(&roster), sessions => Serde(sessions) },
    )
}

/// One participant's row on the marking page.
#[derive(Serialize)]
struct Row {
    staff_id: String,
    name: String,
    mark: Option<String>,
    note: Option<String>,
    corrected_from: Option<String>,
}

/// Everything the marking page shows of one session.
struct SessionPage {
    roster: RosterView,
    index: usize,
    rows: Vec<Row>,
}

async fn session_page(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &Origin,
    offering: OfferingId,
    index: usize,
    at: ViewAt,
) -> Result<SessionPage, PageError> {
    let roster = app.roster_seen(&visitor.actor, origin, offering, at).await?;
    if index >= roster.sessions.len() {
        return Err(PageError::not_found());
    }
    let names = app.roster_names(&roster).await?;
    let corrections: HashMap<String, Correction> = app
        .attendance_corrections(&visitor.actor, offering, at)
        .await?
        .into_iter()
        .filter(|c| c.session == index as i64)
        .map(|c| (c.staff_id.clone(), c))
        .collect();
    let mut rows: Vec<Row> = participants(&roster)
        .into_iter()
        .map(|e| Row {
            staff_id: e.staff_id.clone(),
            name: names.get(&e.staff_id).cloned().unwrap_or_else(|| "(raderad person)".into()),
            mark: e.attendance.get(index).cloned().flatten(),
            note: e.notes.get(index).cloned().flatten(),
            corrected_from: corrections.get(&e.staff_id).map(|c| c.from.clone()),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(SessionPage { roster, index, rows })
}

/// After a mark: which page shows it.
#[derive(Debug, Default, Deserialize)]
pub struct After {
    #[serde(default)]
    efter: Option<i64>,
}

/// `/undervisning/{offering}/tillfalle/{n}`: the session's participants to mark (n from 1).
pub async fn session(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path((id, number)): Path<(String, usize)>,
    Query(after): Query<After>,
) -> Result<Response, PageError> {
    trainer(&visitor)?;
    let index = number.checked_sub(1).ok_or_else(PageError::not_found)?;
    let at = after.efter.map(ViewAt::Reached).unwrap_or_default();
    let page = session_page(&app, &visitor, &origin, offering_id(&id)?, index, at).await?;
    render_session(&app, &visitor, &page, StatusCode::OK, None)
}

fn render_session(
    app: &Kurslogg,
    visitor: &Visitor,
    page: &SessionPage,
    status: StatusCode,
    error: Option<(String, String)>,
) -> Result<Response, PageError> {
    let session = &page.roster.sessions[page.index];
    let started = chrono::DateTime::parse_from_rfc3339(&session.starts_at).is_ok_and(|at| at <= app.clock.now());
    let marked = page.rows.iter().filter(|r| r.mark.is_some()).count();
    page::render_with(
        status,
        visitor,
        "trainer_session.html.j2",
        "/start",
        context! {
            title => format!("{}, tillfälle {} av {}", page.roster.title, page.index + 1, page.roster.sessions.len()),
            roster => Serde(&page.roster),
            offering => page.roster.offering_id.clone(),
            session => Serde(session),
            number => page.index + 1,
            started,
            rows => Serde(&page.rows),
            marked,
            error => error.as_ref().map(|(_, message)| message.clone()),
            error_person => error.map(|(person, _)| person),
        },
    )
}

/// A mark as the row's form sends it.
#[derive(Debug, Default, Deserialize)]
pub struct Mark {
    #[serde(default)]
    person: String,
    #[serde(default)]
    narvaro: String,
    #[serde(default)]
    anteckning: String,
}

/// `POST /undervisning/{offering}/tillfalle/{n}`: one person's mark (and note). Without
/// JavaScript the browser comes back to the list at the person; with it (htmx) only the
/// person's row is sent back and swapped in place.
pub async fn mark(
    State(app): AppState,
    Seen(origin): Seen,
    headers: HeaderMap,
    Path((id, number)): Path<(String, usize)>,
    submitted: Submitted<Mark>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    trainer(&visitor)?;
    let offering = offering_id(&id)?;
    let index = number.checked_sub(1).ok_or_else(PageError::not_found)?;
    let in_place = headers.contains_key("hx-request");
    let refuse = |message: String, page: SessionPage| {
        if in_place {
            row_fragment(&visitor, offering, &page, &form.person, Some(message), StatusCode::UNPROCESSABLE_ENTITY)
        } else {
            render_session(
                &app,
                &visitor,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((form.person.clone(), message)),
            )
        }
    };
    let attendance = match form.narvaro.as_str() {
        "present" => Attendance::Present,
        "absent" => Attendance::Absent,
        "excused" => Attendance::Excused,
        _ => {
            let page = session_page(&app, &visitor, &origin, offering, index, ViewAt::Now).await?;
            return refuse("Välj närvarande, frånvarande eller anmäld frånvaro".into(), page);
        }
    };
    let Ok(staff) = form.person.parse::<StaffId>() else { return Err(PageError::not_found()) };
    let note = match form.anteckning.trim() {
        "" => None,
        raw => match Text::prose(raw) {
            Ok(note) => Some(note),
            Err(e) => {
                let page = session_page(&app, &visitor, &origin, offering, index, ViewAt::Now).await?;
                return refuse(format!("Anteckningen: {}", e.0), page);
            }
        },
    };
    match app.record_attendance(&ctx, offering, staff, index, attendance, note).await {
        Ok(written) => {
            if in_place {
                let at = written.position.map(ViewAt::Reached).unwrap_or_default();
                let page = session_page(&app, &visitor, &origin, offering, index, at).await?;
                row_fragment(&visitor, offering, &page, &form.person, None, StatusCode::OK)
            } else {
                let after = written.position.map(|p| format!("?efter={p}")).unwrap_or_default();
                Ok(see_other(&format!("/undervisning/{offering}/tillfalle/{number}{after}#person-{staff}")))
            }
        }
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let page = session_page(&app, &visitor, &origin, offering, index, ViewAt::Now).await?;
            refuse(message, page)
        }
        Err(e) => Err(e.into()),
    }
}

/// One person's row alone (for htmx to swap in place).
fn row_fragment(
    visitor: &Visitor,
    offering: OfferingId,
    page: &SessionPage,
    person: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let row = page.rows.iter().find(|r| r.staff_id == person).ok_or_else(PageError::not_found)?;
    let html = templates::render(
        "trainer_row.html.j2",
        context! {
            row => Serde(row),
            offering => offering.to_string(),
            number => page.index + 1,
            csrf => visitor.csrf.clone(),
            error,
        },
    )?;
    Ok((status, Html(html)).into_response())
}
