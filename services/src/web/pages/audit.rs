//! `/granskning`: the auditor's pages. The audit trail in words, filtered by person,
//! offering, actor, municipality and period (each entry: who did what, when, on whose
//! behalf, with the request id), with the same extract as CSV or Excel; and the "time
//! travel": an offering's roster or a person's record as it stood at a chosen date and
//! time, rebuilt from the log and marked as a past view.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::{MunicipalityId, OfferingId, StaffId};
use kurslogg_projections::history::AsOf;
use kurslogg_projections::views::audit_trail::AuditFilter;
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::follow_up;
use crate::app::lists::{OfferingsQuery, PackagesQuery, Paging, StaffQuery, ViewAt, MAX_LIMIT};
use crate::app::{AuditLine, Kurslogg, Role, ERASED};
use crate::http::extract::Seen;
use crate::web::error::PageError;
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{encode_query_value, Visitor};
use crate::web::text;

type AppState = State<Arc<Kurslogg>>;

/// Entries on one page of the trail.
const PAGE_SIZE: i64 = 100;

/// Every offering of every package, as (id, "title, term, first day"), for the choices.
async fn offerings(app: &Kurslogg) -> Result<Vec<(String, String)>, PageError> {
    let all = Paging { limit: MAX_LIMIT, offset: 0 };
    let packages = app.list_packages(&PackagesQuery { paging: all, ..Default::default() }).await?.items;
    let mut options = vec![];
    for package in packages {
        let Ok(id) = package.id.parse() else { continue };
        let query = OfferingsQuery { filter: Default::default(), paging: all, at: ViewAt::Now };
        for o in app.list_package_offerings(id, &query).await?.items {
            let day = o.starts_local.get(..10).unwrap_or_default().to_string();
            options.push((o.id, format!("{}, {} ({day})", o.title, o.term)));
        }
    }
    Ok(options)
}

/// The trail's filters as the form sends them ("" is "all").
#[derive(Debug, Default, Deserialize)]
pub struct TrailQuery {
    #[serde(default)]
    kommun: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    kurstillfalle: String,
    #[serde(default)]
    utforare: String,
    #[serde(default)]
    fran: String,
    #[serde(default)]
    till: String,
    #[serde(default)]
    efter: Option<i64>,
}

/// A day typed as `YYYY-MM-DD`, its start in Swedish time as UTC.
fn day_start(raw: &str) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()?;
    Stockholm.from_local_datetime(&day.and_time(NaiveTime::MIN)).earliest().map(|t| t.with_timezone(&Utc))
}

/// An entry of the trail on the page, with a link to its offering's roster as it stood
/// just after it (the next whole second, as the time travel is typed).
#[derive(Serialize)]
struct TrailLine {
    #[serde(flatten)]
    line: AuditLine,
    travel: Option<String>,
}

impl TrailLine {
    fn of(line: AuditLine) -> Self {
        let after = DateTime::parse_from_rfc3339(&line.recorded_at)
            .ok()
            .map(|t| t.with_timezone(&Stockholm) + Duration::milliseconds(999));
        let travel = match (&line.offering_id, after) {
            (Some(offering), Some(at)) => Some(format!(
                "kurstillfalle={}&datum={}&tid={}",
                encode_query_value(offering),
                at.format("%Y-%m-%d"),
                at.format("%H:%M:%S")
            )),
            _ => None,
        };
        TrailLine { line, travel }
    }
}

/// `GET /granskning`: the audit trail in words.
pub async fn trail(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Query(q): Query<TrailQuery>,
) -> Result<Response, PageError> {
    follow_up::auditor(&visitor)?;
    let municipalities = app.municipalities_by_name().await?;
    let offerings = offerings(&app).await?;
    let users: Vec<(String, String)> = {
        let mut users: Vec<(String, String)> = app
            .users_seen(&visitor.actor)
            .await?
            .into_iter()
            .filter(|u| u.role != Role::System)
            .map(|u| (u.user_id, format!("{} ({})", u.display_name, text::role(u.role.as_str()).to_lowercase())))
            .collect();
        users.sort_by(|a, b| a.1.cmp(&b.1));
        users
    };
    let municipality = municipalities.iter().find(|(id, _)| *id == q.kommun).map(|(id, _)| id.clone());
    let mut checked = Checked::default();
    let from = match q.fran.trim() {
        "" => None,
        raw => day_start(raw).or_else(|| {
            checked.refuse("fran", "Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2027-06-15".into());
            None
        }),
    };
    let to = match q.till.trim() {
        "" => None,
        raw => day_start(raw).map(|t| t + Duration::days(1)).or_else(|| {
            checked.refuse("till", "Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2027-06-30".into());
            None
        }),
    };
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            checked.refuse("till", "Till och med kan inte vara före från och med".into());
        }
    }
    // People to choose among: the chosen municipality's.
    let people: Vec<(String, String)> = match &municipality {
        Some(m) => {
            let id = MunicipalityId::parse(m).map_err(|_| PageError::not_found())?;
            let query = StaffQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..Default::default() };
            app.list_municipality_staff(&visitor.actor, &origin, &id, &query)
                .await?
                .items
                .into_iter()
                .map(|p| (p.staff_id, p.name.unwrap_or_else(|| ERASED.into())))
                .collect()
        }
        None => vec![],
    };
    let person: Option<StaffId> = q.person.parse().ok();
    let person_name = match person {
        Some(p) => Some(app.staff_names(&[p]).await?.remove(&p).unwrap_or_else(|| ERASED.into())),
        None => None,
    };
    let offering = offerings.iter().find(|(id, _)| *id == q.kurstillfalle).map(|(id, _)| id.clone());
    let actor = users.iter().find(|(id, _)| *id == q.utforare).map(|(id, _)| id.clone());
    let filter = AuditFilter {
        staff: person.map(|p| p.to_string()),
        offering: offering.clone(),
        actor: actor.clone(),
        municipality: municipality.clone(),
        from: from.map(kurslogg_projections::enrolment::timestamp),
        to: to.map(kurslogg_projections::enrolment::timestamp),
        after: q.efter,
        limit: Some(PAGE_SIZE),
    };
    let (lines, next) = if checked.is_clean() {
        let page = app.audit_trail_in(&visitor.actor, &app.log.views(), &filter, None).await?;
        let mut read: Vec<StaffId> =
            page.entries.iter().flat_map(|e| e.staff.iter()).filter_map(|s| s.parse().ok()).collect();
        read.sort();
        read.dedup();
        app.note_people_read(&visitor.actor, &origin, &read, "audit trail").await?;
        let lines = app.audit_in_words(&page.entries).await?;
        (lines.into_iter().map(TrailLine::of).collect(), page.next_after)
    } else {
        (vec![], None)
    };
    // The filters again, for the next page and the API's extract.
    let mut ours = vec![];
    let mut api = vec![];
    for (our, theirs, value) in [
        ("kommun", "municipality", municipality.clone()),
        ("person", "staff", person.map(|p| p.to_string())),
        ("kurstillfalle", "offering", offering.clone()),
        ("utforare", "actor", actor.clone()),
    ] {
        if let Some(value) = value {
            ours.push(format!("{our}={}", encode_query_value(&value)));
            api.push(format!("{theirs}={}", encode_query_value(&value)));
        }
    }
    for (our, theirs, raw, value) in [("fran", "from", &q.fran, from), ("till", "to", &q.till, to)] {
        if let Some(value) = value {
            ours.push(format!("{our}={}", encode_query_value(raw.trim())));
            api.push(format!("{theirs}={}", encode_query_value(&value.to_rfc3339())));
        }
    }
    let status = if checked.is_clean() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page::render_with(
        status,
        &visitor,
        "audit_trail.html.j2",
        "/granskning",
        context! {
            title => "Granskningslogg",
            errors => checked.summary(),
            error => checked.by_field(),
            lines => Serde(lines),
            municipalities => Serde(&municipalities),
            people => Serde(people),
            offerings => Serde(&offerings),
            users => Serde(users),
            person_name,
            chosen => context! {
                municipality => municipality.unwrap_or_default(),
                person => person.map(|p| p.to_string()).unwrap_or_default(),
                offering => offering.unwrap_or_default(),
                actor => actor.unwrap_or_default(),
                from => q.fran.trim(),
                to => q.till.trim(),
            },
            next => next.map(|n| format!("{}&efter={n}", ours.join("&"))),
            first_page => q.efter.is_some(),
            filter_query => ours.join("&"),
            export_query => api.join("&"),
        },
    )
}

/// What the time travel shows, and when.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PastQuery {
    #[serde(default)]
    kurstillfalle: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    datum: String,
    #[serde(default)]
    tid: String,
}

/// A line of a roster or record as it stood.
#[derive(Serialize)]
struct PastLine {
    name: String,
    municipality: String,
    status: &'static str,
    detail: String,
}

/// `GET /granskning/tidsresa`: a roster or a person's record as it stood then.
pub async fn time_travel(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Query(q): Query<PastQuery>,
) -> Result<Response, PageError> {
    follow_up::auditor(&visitor)?;
    let offerings = offerings(&app).await?;
    let asked = !(q.datum.is_empty() && q.tid.is_empty() && q.kurstillfalle.is_empty() && q.person.is_empty());
    let mut checked = Checked::default();
    let offering =
        offerings.iter().find(|(id, _)| *id == q.kurstillfalle).and_then(|(id, _)| id.parse::<OfferingId>().ok());
    let person: Option<StaffId> = q.person.trim().parse().ok();
    if asked && offering.is_none() && person.is_none() {
        checked.refuse(
            "kurstillfalle",
            "Välj ett kurstillfälle (eller öppna tidsresan från en person i granskningsloggen)".into(),
        );
    }
    let day = NaiveDate::parse_from_str(q.datum.trim(), "%Y-%m-%d").ok();
    if asked && day.is_none() {
        checked.refuse("datum", "Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2027-06-15".into());
    }
    let time = match q.tid.trim() {
        "" => Some(NaiveTime::MIN),
        raw => NaiveTime::parse_from_str(raw, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M")).ok(),
    };
    if asked && time.is_none() {
        checked.refuse("tid", "Skriv klockslaget som TT:MM eller TT:MM:SS, till exempel 08:00".into());
    }
    let at = match (day, time) {
        (Some(day), Some(time)) => {
            Stockholm.from_local_datetime(&day.and_time(time)).earliest().map(|t| t.with_timezone(&Utc))
        }
        _ => None,
    };
    if let Some(at) = at {
        if at > app.clock.now() {
            checked.refuse("datum", "Välj en tidpunkt som har varit: tidsresan visar hur det såg ut förut".into());
        }
    }
    let mut heading = None;
    let mut lines: Vec<PastLine> = vec![];
    let mut now_link = None;
    if asked && checked.is_clean() {
        let at = at.ok_or_else(PageError::not_found)?;
        let view = ViewAt::AsOf(AsOf::Instant(at));
        let municipalities: std::collections::HashMap<String, String> =
            app.municipalities_by_name().await?.into_iter().collect();
        if let Some(offering) = offering.filter(|_| person.is_none()) {
            let roster = app.roster_seen(&visitor.actor, &origin, offering, view).await?;
            let names = app.roster_names(&roster).await?;
            heading = Some(format!("Deltagarlistan för {} ({})", roster.title, roster.term));
            lines = roster
                .entries
                .iter()
                .map(|e| PastLine {
                    name: names.get(&e.staff_id).cloned().unwrap_or_else(|| ERASED.into()),
                    municipality: municipalities
                        .get(&e.municipality)
                        .cloned()
                        .unwrap_or_else(|| e.municipality.clone()),
                    status: text::registration(&e.status),
                    detail: match (e.waiting_place, e.late) {
                        (Some(place), _) => format!("plats {place} på väntelistan"),
                        (None, true) => "anmäld efter sista anmälningsdag".into(),
                        _ => String::new(),
                    },
                })
                .collect();
            now_link = Some(format!("/granskning?kurstillfalle={offering}"));
        } else if let Some(person) = person {
            let record = app.participant_record_seen(&visitor.actor, &origin, person, view).await?;
            let name = record.name.clone().unwrap_or_else(|| ERASED.into());
            heading = Some(format!("{name}s kurser"));
            let municipality =
                municipalities.get(&record.municipality).cloned().unwrap_or_else(|| record.municipality.clone());
            lines = record
                .offerings
                .iter()
                .map(|l| PastLine {
                    name: format!("{} ({})", l.title, l.term),
                    municipality: municipality.clone(),
                    status: text::registration(&l.status),
                    detail: match l.completion.as_deref() {
                        Some("completed") => "genomförd".into(),
                        Some("not_completed") => "inte genomförd".into(),
                        _ => format!("{} av {} tillfällen", l.sessions_attended, l.sessions),
                    },
                })
                .collect();
            now_link = Some(format!("/granskning?person={person}"));
        }
    }
    let status = if checked.is_clean() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page::render_with(
        status,
        &visitor,
        "audit_past.html.j2",
        "/granskning",
        context! {
            title => "Tidsresa",
            errors => checked.summary(),
            error => checked.by_field(),
            offerings => Serde(&offerings),
            form => Serde(&q),
            person => person.map(|p| p.to_string()),
            at => at.filter(|_| heading.is_some()).map(|t| {
                let seconds = t.with_timezone(&Stockholm).format("%H.%M.%S");
                format!("{} kl. {seconds}", crate::mail::swedish::date(t))
            }),
            heading,
            lines => Serde(lines),
            now_link,
        },
    )
}

/// The auditor's start page.
pub async fn start(visitor: &Visitor) -> Result<Response, PageError> {
    follow_up::auditor(visitor)?;
    page::render(visitor, "audit_start.html.j2", "/start", context! { title => "Start" })
}
