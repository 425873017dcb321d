//! A supervisor's pages ("arbetsledare"): their staff, each person's courses taken,
//! registered and waiting, hours and certificates against what their experience band's
//! competence plan recommends (the appraisal talk on one page); and the after-course
//! summaries they received, readable as in the e-mail.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Datelike;
use kurslogg_domain::StaffId;
use kurslogg_projections::notices::kind;
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::app::lists::{Paging, StaffQuery, ViewAt, MAX_LIMIT};
use crate::app::{Kurslogg, Role};
use crate::http::extract::Seen;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::Visitor;

type AppState = State<Arc<Kurslogg>>;

/// The staff member a supervisor is.
fn supervisor(visitor: &Visitor) -> Result<StaffId, PageError> {
    match (visitor.actor.role, visitor.actor.staff) {
        (Role::Supervisor, Some(staff)) => Ok(staff),
        _ => Err(PageError::forbidden()),
    }
}

/// `/mina-medarbetare`: the supervisor's staff with their courses and hours.
pub async fn my_staff(State(app): AppState, visitor: Visitor, Seen(origin): Seen) -> Result<Response, PageError> {
    let me = supervisor(&visitor)?;
    let query = StaffQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..Default::default() };
    let staff = app.list_supervised_staff(&visitor.actor, &origin, me, &query).await?;
    page::render(
        &visitor,
        "supervisor_staff.html.j2",
        "/mina-medarbetare",
        context! { title => "Mina medarbetare", people => Serde(&staff.items) },
    )
}

/// Which year's competence plan the page shows (`?ar=2028`).
#[derive(Debug, Default, Deserialize)]
pub struct PlanYear {
    #[serde(default)]
    ar: Option<i32>,
}

/// `/mina-medarbetare/{id}`: one person's courses against their competence plan, for the
/// appraisal talk. The plan of the year asked for, else of this year; next year's is a
/// choice away, since December's talks plan the year to come.
pub async fn person(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Query(plan_year): Query<PlanYear>,
) -> Result<Response, PageError> {
    let me = supervisor(&visitor)?;
    let staff: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    let person = app.staff_member_seen(&visitor.actor, &origin, staff).await?;
    if person.supervisor.as_deref() != Some(me.to_string().as_str()) {
        return Err(PageError::not_found());
    }
    let record = app.participant_record_seen(&visitor.actor, &origin, staff, ViewAt::Now).await?;
    let this_year = app.clock.now().with_timezone(&chrono_tz::Europe::Stockholm).year();
    let year = plan_year.ar.filter(|y| (this_year - 5..=this_year + 1).contains(y)).unwrap_or(this_year);
    let competence = app.competence_seen(&visitor.actor, &origin, staff, ViewAt::Now, Some(year)).await?;
    let years: Vec<(String, String)> =
        (this_year - 1..=this_year + 1).map(|y| (y.to_string(), y.to_string())).collect();
    page::render(
        &visitor,
        "supervisor_person.html.j2",
        "/mina-medarbetare",
        context! {
            title => person.name.clone().unwrap_or_else(|| "(raderad person)".into()),
            person => Serde(&person),
            record => Serde(&record),
            competence => Serde(&competence),
            year => year.to_string(),
            years => Serde(years),
        },
    )
}

/// `/sammanfattningar`: the after-course summaries the supervisor received, newest first.
pub async fn summaries(State(app): AppState, visitor: Visitor, Seen(origin): Seen) -> Result<Response, PageError> {
    let me = supervisor(&visitor)?;
    let letters = app.letters_to(&visitor.actor, &origin, me, Some(kind::COURSE_SUMMARY), 200).await?;
    let items: Vec<_> = letters
        .iter()
        .map(|l| {
            context! {
                id => l.notice.notice_id.clone(),
                created_at => l.notice.created_at.clone(),
                subject => l.written.as_ref().map(|w| w.subject.clone()).unwrap_or_else(|_| "Sammanfattning efter kurs".into()),
                status => l.notice.status.clone(),
            }
        })
        .collect();
    page::render(
        &visitor,
        "summaries.html.j2",
        "/sammanfattningar",
        context! { title => "Sammanfattningar efter kurs", letters => items },
    )
}

/// `/sammanfattningar/{id}`: one summary, as the e-mail says it.
pub async fn summary(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let me = supervisor(&visitor)?;
    let letter = app.letter_to(&visitor.actor, &origin, me, &id).await?;
    if letter.notice.kind != kind::COURSE_SUMMARY {
        return Err(PageError::not_found());
    }
    let (subject, body) = match &letter.written {
        Ok(written) => (written.subject.clone(), Some(crate::web::letter::as_page_part(&written.html))),
        Err(_) => ("Sammanfattning efter kurs".to_string(), None),
    };
    page::render(
        &visitor,
        "summary.html.j2",
        "/sammanfattningar",
        context! {
            title => subject,
            created_at => letter.notice.created_at.clone(),
            body => body.map(minijinja::Value::from_safe_string),
        },
    )
}

/// The supervisor's start page: their staff at a glance and the latest summaries.
pub async fn start(app: &Kurslogg, visitor: &Visitor, origin: &crate::auth::Origin) -> Result<Response, PageError> {
    let me = supervisor(visitor)?;
    let query = StaffQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..Default::default() };
    let staff = app.list_supervised_staff(&visitor.actor, origin, me, &query).await?;
    let letters = app.letters_to(&visitor.actor, origin, me, Some(kind::COURSE_SUMMARY), 3).await?;
    let latest: Vec<_> = letters
        .iter()
        .map(|l| {
            context! {
                id => l.notice.notice_id.clone(),
                created_at => l.notice.created_at.clone(),
                subject => l.written.as_ref().map(|w| w.subject.clone()).unwrap_or_else(|_| "Sammanfattning efter kurs".into()),
            }
        })
        .collect();
    let registered: i64 = staff.items.iter().map(|p| p.courses_registered).sum();
    let waiting: i64 = staff.items.iter().map(|p| p.courses_waiting).sum();
    page::render(
        visitor,
        "start_supervisor.html.j2",
        "/start",
        context! {
            title => "Start",
            people => staff.total,
            registered,
            waiting,
            latest,
        },
    )
}
