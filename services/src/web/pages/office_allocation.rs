//! Around the deadline: which municipalities have registered and which not (with the
//! reminders their coordinators were sent), requests against seats per offering; once
//! the deadline has passed, registration closed and seats allocated (asked first), and
//! each offering's allocation with why each municipality got what it got (decision 0003,
//! explained from the log as decision 0020 says).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::DateTime;
use kurslogg_domain::OfferingId;
use minijinja::context;
use minijinja::value::Serde;
use serde::Serialize;

use super::office_courses::{office, Done};
use super::office_packages::{package_id, Empty};
use crate::app::{AllocationExplained, AppError, Kind, Kurslogg, ReminderSent};
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::page;
use crate::web::session::{Submitted, Visitor};

type AppState = State<Arc<Kurslogg>>;

/// A municipality's line of the overview.
#[derive(Serialize)]
struct MunicipalityLine {
    name: String,
    registered: bool,
    requests: i64,
    late_requests: i64,
    confirmed: i64,
    waiting: i64,
    cancelled: i64,
    reminders: Vec<ReminderSent>,
}

/// `GET /kansli/kurspaket/{id}/oversikt`: the deadline overview.
pub async fn overview(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let id = package_id(&id)?;
    let office_overview = app.office_deadline_overview(&visitor.actor, id, done.at()).await?;
    let mut reminders = office_overview.reminders;
    let overview = office_overview.overview;
    let lines: Vec<MunicipalityLine> = overview
        .municipalities
        .iter()
        .map(|m| MunicipalityLine {
            name: m.name.clone(),
            registered: m.registered,
            requests: m.requests,
            late_requests: m.late_requests,
            confirmed: m.confirmed,
            waiting: m.waiting,
            cancelled: m.cancelled,
            reminders: reminders.remove(&m.municipality_id).unwrap_or_default(),
        })
        .collect();
    let now = app.clock.now();
    let deadline_passed = DateTime::parse_from_rfc3339(&overview.deadline).is_ok_and(|d| now > d);
    let (registered, silent): (Vec<&MunicipalityLine>, Vec<&MunicipalityLine>) =
        lines.iter().partition(|l| l.registered);
    page::render(
        &visitor,
        "office_overview.html.j2",
        "/kansli/kurspaket",
        context! {
            title => format!("Översikt: {}", overview.title),
            overview => Serde(&overview),
            registered => Serde(registered),
            silent => Serde(silent),
            deadline_passed,
        },
    )
}

/// `GET /kansli/kurspaket/{id}/stang`: what closing registration does, asked first.
pub async fn confirm_close(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let id = package_id(&id)?;
    close_page(&app, &visitor, id, StatusCode::OK, None).await
}

async fn close_page(
    app: &Kurslogg,
    visitor: &Visitor,
    id: kurslogg_domain::PackageId,
    status: StatusCode,
    refusal: Option<String>,
) -> Result<Response, PageError> {
    let overview = app.office_deadline_overview(&visitor.actor, id, crate::app::lists::ViewAt::Now).await?.overview;
    let now = app.clock.now();
    let deadline_passed = DateTime::parse_from_rfc3339(&overview.deadline).is_ok_and(|d| now > d);
    page::render_with(
        status,
        visitor,
        "office_close.html.j2",
        "/kansli/kurspaket",
        context! {
            title => "Stäng anmälan och fördela platser",
            overview => Serde(&overview),
            deadline_passed,
            oversubscribed => overview.offerings.iter().filter(|o| o.oversubscribed && o.state != "cancelled").count(),
            refusal,
            key => page::form_key(),
        },
    )
}

/// `POST /kansli/kurspaket/{id}/stang`: closes registration and allocates every
/// offering's seats fairly; to the allocation.
pub async fn close(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<Empty>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    office(&visitor)?;
    let id = package_id(&id)?;
    match app.close_registration(&ctx, id).await {
        Ok(report) => {
            let efter = report.position.map(|p| format!("?efter={p}")).unwrap_or_default();
            Ok(see_other(&format!("/kansli/kurspaket/{id}/fordelning{efter}")))
        }
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            close_page(&app, &visitor, id, StatusCode::UNPROCESSABLE_ENTITY, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// One offering's allocation as the page shows it.
#[derive(Serialize)]
struct OfferingAllocationPage {
    offering_id: String,
    title: String,
    starts_at: String,
    state: String,
    seats: i64,
    explained: Option<AllocationExplained>,
    /// Each municipality's share with its name and the sentence that explains it.
    shares: Vec<ShareLine>,
    /// Everyone in allocation order, named.
    order: Vec<OrderLine>,
}

#[derive(Serialize)]
struct ShareLine {
    name: String,
    turn: Option<usize>,
    in_time: usize,
    late: usize,
    confirmed: usize,
    waitlisted: usize,
    why: String,
}

#[derive(Serialize)]
struct OrderLine {
    place: usize,
    name: String,
    municipality: String,
    round: Option<usize>,
    seat: bool,
    waiting_place: Option<usize>,
}

/// "1, 2 och 3".
fn listed(numbers: &[usize]) -> String {
    let words: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} och {last}", rest.join(", ")),
    }
}

/// Why a municipality got what it got, in one or two Swedish sentences.
fn why(share: &crate::app::MunicipalityShare, explained: &AllocationExplained, municipalities: usize) -> String {
    let mut sentences = vec![];
    match share.turn {
        Some(turn) => {
            sentences.push(format!("Lottningen gav kommunen plats {turn} av {municipalities} i turordningen."))
        }
        None => sentences.push("Kommunen anmälde bara efter sista anmälningsdag.".to_string()),
    }
    if share.confirmed == 1 && share.in_time + share.late == 1 {
        sentences.push("Den som anmäldes fick plats.".to_string());
    } else if share.in_time > 0 && share.confirmed == share.in_time + share.late {
        sentences.push(format!("Alla {} som anmäldes fick plats.", share.confirmed));
    } else if !share.seat_rounds.is_empty() {
        let rounds = listed(&share.seat_rounds);
        let word = if share.seat_rounds.len() == 1 { "omgång" } else { "omgångarna" };
        sentences.push(format!(
            "Kommunen fick en plats i {word} {rounds}, en person i taget i kommunens prioritetsordning."
        ));
    } else if share.in_time > 0 {
        sentences.push("Platserna tog slut innan det blev kommunens tur.".to_string());
    }
    if share.waitlisted > 0 {
        let places = listed(&share.waiting_places);
        sentences.push(format!(
            "Platserna tog slut i omgång {}; {} står på väntelistan (plats {places}).",
            explained.last_round.max(1),
            share.waitlisted
        ));
    }
    if share.late > 0 {
        sentences.push(format!(
            "{} anmälningar kom efter sista anmälningsdag och fick turas om efter alla som anmälts i tid.",
            share.late
        ));
    }
    sentences.join(" ")
}

/// `GET /kansli/kurspaket/{id}/fordelning`: each offering's allocation: who got a seat,
/// the waiting list in order, and why each municipality got what it got.
pub async fn allocation(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let id = package_id(&id)?;
    let overview = app.office_deadline_overview(&visitor.actor, id, done.at()).await?.overview;
    let municipalities: BTreeMap<String, String> = app.municipality_names().await?;
    let mut offerings = vec![];
    for offering in &overview.offerings {
        let offering_id: OfferingId = offering.offering_id.parse().map_err(|_| PageError::not_found())?;
        let explained = app.allocation_explained(&visitor.actor, offering_id).await?;
        let name_of = |m: &str| municipalities.get(m).cloned().unwrap_or_else(|| m.to_string());
        let (mut shares, mut order) = (vec![], vec![]);
        if let Some(explained) = &explained {
            let people: Vec<kurslogg_domain::StaffId> =
                explained.order.iter().filter_map(|p| p.staff_id.parse().ok()).collect();
            let names = app.staff_names(&people).await?;
            app.note_people_read(&visitor.actor, &origin, &people, "allocation").await?;
            let count = explained.round_order.len();
            shares = explained
                .shares
                .iter()
                .map(|s| ShareLine {
                    name: name_of(&s.municipality),
                    turn: s.turn,
                    in_time: s.in_time,
                    late: s.late,
                    confirmed: s.confirmed,
                    waitlisted: s.waitlisted,
                    why: why(s, explained, count),
                })
                .collect();
            let mut waiting = 0;
            order = explained
                .order
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let waiting_place = (!p.seat).then(|| {
                        waiting += 1;
                        waiting
                    });
                    OrderLine {
                        place: i + 1,
                        name: p
                            .staff_id
                            .parse()
                            .ok()
                            .and_then(|s| names.get(&s).cloned())
                            .unwrap_or_else(|| "(raderad person)".into()),
                        municipality: name_of(&p.municipality),
                        round: p.round,
                        seat: p.seat,
                        waiting_place,
                    }
                })
                .collect();
        }
        offerings.push(OfferingAllocationPage {
            offering_id: offering.offering_id.clone(),
            title: offering.title.clone(),
            starts_at: offering.starts_at.clone(),
            state: offering.state.clone(),
            seats: offering.seats,
            explained,
            shares,
            order,
        });
    }
    page::render(
        &visitor,
        "office_allocation.html.j2",
        "/kansli/kurspaket",
        context! {
            title => format!("Fördelning: {}", overview.title),
            overview => Serde(&overview),
            offerings => Serde(offerings),
            closed => done.efter.is_some(),
        },
    )
}
