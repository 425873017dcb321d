//! A municipality's collective registration ("samlad anmälan") on a package, as its
//! coordinator makes it: choose staff for offerings, check the lines and their order of
//! priority, send once, and read the answer line by line. Then, on the same page, the
//! lines as they stand: withdrawn for free before the deadline; after it, cancelled with a
//! plain warning that the seat is charged, or transferred to a colleague.
//!
//! The forms carry everything between steps (no draft is kept on the server), and the
//! sending form carries an idempotency key: sending it twice (a double click, a reload)
//! gets the first answer again, and a line already registered is never registered twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::DateTime;
use kurslogg_domain::{MunicipalityId, OfferingId, PackageId, StaffId};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use crate::app::lists::{
    CatalogueOffering, OfferingsQuery, Paging, RegistrationItem, RegistrationsQuery, StaffListItem, StaffQuery, ViewAt,
    MAX_LIMIT,
};
use crate::app::{Kurslogg, PackageView, RegistrationLine};
use crate::auth::Origin;
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::page;
use crate::web::session::{Submitted, Visitor};

type AppState = State<Arc<Kurslogg>>;

/// Statuses of a line that holds (or waits for) a place.
const ACTIVE: [&str; 3] = ["requested", "confirmed", "waiting"];

/// The municipality a coordinator acts for; other roles have no registration pages.
fn coordinators_municipality(visitor: &Visitor) -> Result<MunicipalityId, PageError> {
    match (&visitor.actor.role, &visitor.actor.municipality) {
        (crate::app::Role::Coordinator, Some(municipality)) => Ok(municipality.clone()),
        _ => Err(PageError::forbidden()),
    }
}

fn package_id(raw: &str) -> Result<PackageId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

/// Everything the registration pages show of a package for one municipality.
struct Situation {
    package: PackageView,
    deadline_passed: bool,
    offerings: Vec<CatalogueOffering>,
    staff: Vec<StaffListItem>,
    lines: Vec<RegistrationItem>,
}

impl Situation {
    /// What the views say once they include `at` (the position of a change just made, so
    /// the page shows it).
    async fn read(
        app: &Kurslogg,
        visitor: &Visitor,
        origin: &Origin,
        municipality: &MunicipalityId,
        package: PackageId,
        at: ViewAt,
    ) -> Result<Self, PageError> {
        let view = app.package(package).await?;
        if !matches!(view.phase.as_str(), "published" | "registration_closed") {
            return Err(PageError::not_found());
        }
        let deadline_passed =
            DateTime::parse_from_rfc3339(&view.deadline).map(|deadline| app.clock.now() > deadline).unwrap_or(false);
        let all = Paging { limit: MAX_LIMIT, offset: 0 };
        let offerings = app
            .list_package_offerings(package, &OfferingsQuery { paging: all, at, ..OfferingsQuery::default() })
            .await?
            .items;
        let mut staff_query = StaffQuery { paging: all, at, ..StaffQuery::default() };
        staff_query.filter.status = Some("active".into());
        let staff = app.list_municipality_staff(&visitor.actor, origin, municipality, &staff_query).await?.items;
        let lines_query =
            RegistrationsQuery { package, filter: Default::default(), paging: all, at: Default::default() };
        let lines =
            app.list_municipality_registrations(&visitor.actor, origin, municipality, &lines_query).await?.items;
        Ok(Situation { package: view, deadline_passed, offerings, staff, lines })
    }

    /// Offerings that still take registrations: not cancelled, completed or under way.
    fn open_offerings(&self, now: DateTime<chrono::Utc>) -> Vec<&CatalogueOffering> {
        self.offerings
            .iter()
            .filter(|o| matches!(o.state.as_str(), "open" | "allocated"))
            .filter(|o| DateTime::parse_from_rfc3339(&o.starts_at).map(|start| start > now).unwrap_or(true))
            .collect()
    }

    /// Who already holds or waits for a place on each offering.
    fn taken(&self) -> HashSet<(String, String)> {
        self.lines
            .iter()
            .filter(|l| ACTIVE.contains(&l.status.as_str()))
            .map(|l| (l.offering_id.clone(), l.staff_id.clone()))
            .collect()
    }
}

/// One choosable person on one offering, as the selection form shows it.
#[derive(Serialize)]
struct Choice {
    value: String,
    staff_id: String,
    name: String,
    band: String,
    group: String,
    checked: bool,
}

#[derive(Serialize)]
struct OfferingChoices {
    id: String,
    title: String,
    starts_at: String,
    ends_at: String,
    sessions: usize,
    free_seats: i64,
    seat_limit: i64,
    already: Vec<String>,
    choices: Vec<Choice>,
    chosen: usize,
}

/// A line's form value: `{offering}:{staff}`.
fn line_value(offering: &str, staff: &str) -> String {
    format!("{offering}:{staff}")
}

fn parse_line(value: &str) -> Option<(OfferingId, StaffId)> {
    let (offering, staff) = value.split_once(':')?;
    Some((offering.parse().ok()?, staff.parse().ok()?))
}

/// What the pages say after a change, by the `klart` the redirect carries, and the log
/// position of the change (`efter`), which the page waits for so it shows the change.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    klart: Option<String>,
    #[serde(default)]
    efter: Option<i64>,
}

impl Done {
    fn at(&self) -> ViewAt {
        self.efter.map(ViewAt::Reached).unwrap_or_default()
    }
}

/// Back to the registration page after a change, saying what was done.
fn done(package: PackageId, what: &str, position: Option<i64>) -> Response {
    let after = position.map(|p| format!("&efter={p}")).unwrap_or_default();
    see_other(&format!("/kurspaket/{package}/anmalan?klart={what}{after}"))
}

fn done_message(done: &Done) -> Option<&'static str> {
    match done.klart.as_deref()? {
        "borttagen" => Some("Anmälan är borttagen. Det kostar inget."),
        "avanmald" => Some("Anmälan är avanmäld. Platsen debiteras kommunen."),
        "overlaten" => Some("Platsen är överlåten. Ingenting debiteras för överlåtelsen."),
        _ => None,
    }
}

/// The selection form's fields (also what "change the choices" sends back).
#[derive(Debug, Default, Deserialize)]
pub struct Chosen {
    #[serde(default)]
    rad: Vec<String>,
    #[serde(default)]
    ordning: Vec<String>,
}

/// `GET /kurspaket/{id}/anmalan`: the municipality's lines and the form to add more.
pub async fn registration(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let municipality = coordinators_municipality(&visitor)?;
    let situation = Situation::read(&app, &visitor, &origin, &municipality, package_id(&id)?, done.at()).await?;
    selection_page(&app, &visitor, &situation, &[], done_message(&done), vec![], StatusCode::OK)
}

/// `POST /kurspaket/{id}/anmalan`: the form again with earlier choices ticked (from the
/// check page's "change the choices").
pub async fn change_choices(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<Chosen>,
) -> Result<Response, PageError> {
    let municipality = coordinators_municipality(&submitted.visitor)?;
    let situation =
        Situation::read(&app, &submitted.visitor, &origin, &municipality, package_id(&id)?, ViewAt::Now).await?;
    selection_page(&app, &submitted.visitor, &situation, &submitted.form.rad, None, vec![], StatusCode::OK)
}

fn selection_page(
    app: &Kurslogg,
    visitor: &Visitor,
    situation: &Situation,
    ticked: &[String],
    message: Option<&str>,
    errors: Vec<minijinja::Value>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let taken = situation.taken();
    let ticked: HashSet<&str> = ticked.iter().map(String::as_str).collect();
    let names: BTreeMap<&str, &str> = situation
        .lines
        .iter()
        .filter_map(|l| l.name.as_deref().map(|n| (l.staff_id.as_str(), n)))
        .chain(situation.staff.iter().filter_map(|s| s.name.as_deref().map(|n| (s.staff_id.as_str(), n))))
        .collect();
    let offerings: Vec<OfferingChoices> = situation
        .open_offerings(app.clock.now())
        .into_iter()
        .map(|o| {
            let already: Vec<String> = situation
                .lines
                .iter()
                .filter(|l| l.offering_id == o.id && ACTIVE.contains(&l.status.as_str()))
                .map(|l| names.get(l.staff_id.as_str()).copied().unwrap_or("(raderad person)").to_string())
                .collect();
            let choices: Vec<Choice> = situation
                .staff
                .iter()
                .filter(|s| !taken.contains(&(o.id.clone(), s.staff_id.clone())))
                .map(|s| {
                    let value = line_value(&o.id, &s.staff_id);
                    Choice {
                        checked: ticked.contains(value.as_str()),
                        value,
                        staff_id: s.staff_id.clone(),
                        name: s.name.clone().unwrap_or_else(|| "(raderad person)".into()),
                        band: s.experience_band.clone(),
                        group: s.staff_group.clone(),
                    }
                })
                .collect();
            OfferingChoices {
                id: o.id.clone(),
                title: o.title.clone(),
                starts_at: o.starts_at.clone(),
                ends_at: o.ends_at.clone(),
                sessions: o.sessions.len(),
                free_seats: o.free_seats,
                seat_limit: o.seat_limit,
                chosen: choices.iter().filter(|c| c.checked).count(),
                already,
                choices,
            }
        })
        .collect();
    let lines: Vec<_> = situation
        .lines
        .iter()
        .map(|l| {
            context! {
                line => Serde(l),
                name => l.name.clone().unwrap_or_else(|| "(raderad person)".into()),
                active => ACTIVE.contains(&l.status.as_str()),
            }
        })
        .collect();
    let requested = situation.lines.iter().filter(|l| l.status == "requested").count();
    let confirmed = situation.lines.iter().filter(|l| l.status == "confirmed").count();
    let waiting = situation.lines.iter().filter(|l| l.status == "waiting").count();
    page::render_with(
        status,
        visitor,
        "registration.html.j2",
        "/kurspaket",
        context! {
            title => format!("Anmälan {}", situation.package.term),
            package => Serde(&situation.package),
            deadline_passed => situation.deadline_passed,
            offerings => Serde(offerings),
            lines,
            counts => context! { requested, confirmed, waiting },
            message,
            errors,
        },
    )
}

/// The check page's lines: chosen people on chosen offerings, in the order given.
#[derive(Serialize)]
struct CheckedLine {
    value: String,
    name: String,
    title: String,
    starts_at: String,
    ends_at: String,
    position: usize,
}

/// The chosen lines in their order of priority: by the numbers typed in `ordning` (a line
/// without a number keeps its place after the numbered ones), then as chosen.
fn ordered(form: &Chosen) -> Vec<String> {
    let mut numbered: Vec<(u32, usize, &String)> = form
        .rad
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let number = form.ordning.get(i).and_then(|n| n.trim().parse::<u32>().ok()).unwrap_or(u32::MAX);
            (number, i, value)
        })
        .collect();
    numbered.sort();
    let mut seen = HashSet::new();
    numbered.into_iter().map(|(_, _, v)| v.clone()).filter(|v| seen.insert(v.clone())).collect()
}

/// `POST /kurspaket/{id}/anmalan/kontroll`: the chosen lines to check, and put in order of
/// priority, before anything binding is sent.
pub async fn check(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<Chosen>,
) -> Result<Response, PageError> {
    let visitor = &submitted.visitor;
    let municipality = coordinators_municipality(visitor)?;
    let situation = Situation::read(&app, visitor, &origin, &municipality, package_id(&id)?, ViewAt::Now).await?;
    let chosen = ordered(&submitted.form);
    let lines = checked_lines(&situation, &chosen);
    if lines.is_empty() {
        let error = context! { field => "val", message => "Välj minst en person till en kurs" };
        return selection_page(&app, visitor, &situation, &[], None, vec![error], StatusCode::UNPROCESSABLE_ENTITY);
    }
    page::render(
        visitor,
        "registration_check.html.j2",
        "/kurspaket",
        context! {
            title => "Kontrollera anmälan",
            package => Serde(&situation.package),
            deadline_passed => situation.deadline_passed,
            lines => Serde(lines),
            key => page::form_key(),
        },
    )
}

/// The chosen lines that name a known offering and person, in the order given.
fn checked_lines(situation: &Situation, chosen: &[String]) -> Vec<CheckedLine> {
    chosen
        .iter()
        .filter_map(|value| {
            let (offering, staff) = parse_line(value)?;
            let offering = situation.offerings.iter().find(|o| o.id == offering.to_string())?;
            let person = situation.staff.iter().find(|s| s.staff_id == staff.to_string())?;
            Some((value, offering, person))
        })
        .enumerate()
        .map(|(i, (value, offering, person))| CheckedLine {
            value: value.clone(),
            name: person.name.clone().unwrap_or_else(|| "(raderad person)".into()),
            title: offering.title.clone(),
            starts_at: offering.starts_at.clone(),
            ends_at: offering.ends_at.clone(),
            position: i + 1,
        })
        .collect()
}

/// `POST /kurspaket/{id}/anmalan/skicka`: the collective registration, sent once; the
/// answer line by line.
pub async fn send(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<Chosen>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    let municipality = coordinators_municipality(&visitor)?;
    let package = package_id(&id)?;
    let chosen = ordered(&form);
    let lines: Vec<RegistrationLine> = chosen
        .iter()
        .filter_map(|v| parse_line(v))
        .map(|(offering, staff)| RegistrationLine { staff, offering, override_prerequisites: false })
        .collect();
    if lines.is_empty() {
        let situation = Situation::read(&app, &visitor, &origin, &municipality, package, ViewAt::Now).await?;
        let error = context! { field => "val", message => "Välj minst en person till en kurs" };
        return selection_page(&app, &visitor, &situation, &[], None, vec![error], StatusCode::UNPROCESSABLE_ENTITY);
    }
    let receipt = app.register_collectively(&ctx, municipality.clone(), lines).await?;
    let written = receipt.lines.iter().filter_map(|l| l.position).max();
    let at = written.map(ViewAt::Reached).unwrap_or_default();
    let situation = Situation::read(&app, &visitor, &origin, &municipality, package, at).await?;
    let names: BTreeMap<&str, &str> =
        situation.staff.iter().filter_map(|s| s.name.as_deref().map(|n| (s.staff_id.as_str(), n))).collect();
    let titles: BTreeMap<&str, &str> = situation.offerings.iter().map(|o| (o.id.as_str(), o.title.as_str())).collect();
    let lines: Vec<_> = receipt
        .lines
        .iter()
        .map(|l| {
            context! {
                name => names.get(l.staff_id.as_str()).copied().unwrap_or("(raderad person)"),
                title => titles.get(l.offering_id.as_str()).copied().unwrap_or(""),
                status => serde_json::to_value(l.status).ok().and_then(|v| v.as_str().map(str::to_string)),
                already => l.already_registered,
                reason => l.reason.clone(),
            }
        })
        .collect();
    page::render(
        &visitor,
        "registration_receipt.html.j2",
        "/kurspaket",
        context! {
            title => "Anmälan skickad",
            package => Serde(&situation.package),
            deadline_passed => situation.deadline_passed,
            lines,
            counts => context! {
                requested => receipt.requested,
                confirmed => receipt.confirmed,
                waiting => receipt.waiting,
                refused => receipt.refused,
            },
        },
    )
}

/// The line `{offering}/{staff}` of the municipality on the package, if it holds or waits
/// for a place.
fn active_line<'a>(situation: &'a Situation, offering: &str, staff: &str) -> Result<&'a RegistrationItem, PageError> {
    situation
        .lines
        .iter()
        .find(|l| l.offering_id == offering && l.staff_id == staff && ACTIVE.contains(&l.status.as_str()))
        .ok_or_else(PageError::not_found)
}

/// `GET /kurspaket/{id}/anmalan/{offering}/{staff}/avanmal`: what withdrawing or
/// cancelling the line means, before it is done.
pub async fn confirm_cancel(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path((id, offering, staff)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let municipality = coordinators_municipality(&visitor)?;
    let situation = Situation::read(&app, &visitor, &origin, &municipality, package_id(&id)?, ViewAt::Now).await?;
    let line = active_line(&situation, &offering, &staff)?;
    let price = situation.offerings.iter().find(|o| o.id == offering).map(|o| o.price_sek).unwrap_or(0);
    let charged = situation.deadline_passed && line.status == "confirmed";
    page::render(
        &visitor,
        "registration_cancel.html.j2",
        "/kurspaket",
        context! {
            title => if charged { "Avanmäl och betala platsen" } else { "Ta bort anmälan" },
            package => Serde(&situation.package),
            line => Serde(line),
            name => line.name.clone().unwrap_or_else(|| "(raderad person)".into()),
            charged,
            price,
            key => page::form_key(),
        },
    )
}

/// `POST /kurspaket/{id}/anmalan/{offering}/{staff}/avanmal`: withdraws (free) or cancels
/// (charged after the deadline) the line.
pub async fn cancel(
    State(app): AppState,
    Seen(origin): Seen,
    Path((id, offering, staff)): Path<(String, String, String)>,
    submitted: Submitted<Empty>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    let municipality = coordinators_municipality(&visitor)?;
    let package = package_id(&id)?;
    let situation = Situation::read(&app, &visitor, &origin, &municipality, package, ViewAt::Now).await?;
    let line = active_line(&situation, &offering, &staff)?;
    let charged = situation.deadline_passed && line.status == "confirmed";
    let (offering, staff): (OfferingId, StaffId) = match (offering.parse(), staff.parse()) {
        (Ok(o), Ok(s)) => (o, s),
        _ => return Err(PageError::not_found()),
    };
    let written = app.cancel_registration(&ctx, offering, staff).await?;
    Ok(done(package, if charged { "avanmald" } else { "borttagen" }, written.position))
}

/// A form with nothing but its proof (CSRF token, idempotency key).
#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

/// The transfer form's field.
#[derive(Debug, Default, Deserialize)]
pub struct Transfer {
    #[serde(default)]
    till: String,
}

/// `GET /kurspaket/{id}/anmalan/{offering}/{staff}/overlat`: choose a colleague to take
/// the seat.
pub async fn choose_colleague(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path((id, offering, staff)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let municipality = coordinators_municipality(&visitor)?;
    let situation = Situation::read(&app, &visitor, &origin, &municipality, package_id(&id)?, ViewAt::Now).await?;
    transfer_page(&visitor, &situation, &offering, &staff, "", None, StatusCode::OK)
}

fn transfer_page(
    visitor: &Visitor,
    situation: &Situation,
    offering: &str,
    staff: &str,
    chosen: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let line = active_line(situation, offering, staff)?;
    let taken = situation.taken();
    let colleagues: Vec<(String, String)> = situation
        .staff
        .iter()
        .filter(|s| s.staff_id != staff && !taken.contains(&(offering.to_string(), s.staff_id.clone())))
        .map(|s| (s.staff_id.clone(), s.name.clone().unwrap_or_else(|| "(raderad person)".into())))
        .collect();
    let title = situation.offerings.iter().find(|o| o.id == offering).map(|o| o.title.clone()).unwrap_or_default();
    let errors: Vec<_> = error.iter().map(|e| context! { field => "till", message => e }).collect();
    page::render_with(
        status,
        visitor,
        "registration_transfer.html.j2",
        "/kurspaket",
        context! {
            title => "Överlåt platsen",
            package => Serde(&situation.package),
            line => Serde(line),
            course => title,
            name => line.name.clone().unwrap_or_else(|| "(raderad person)".into()),
            colleagues => Serde(colleagues),
            chosen,
            error,
            errors,
            key => page::form_key(),
        },
    )
}

/// `POST /kurspaket/{id}/anmalan/{offering}/{staff}/overlat`: the seat to the colleague
/// chosen; a refusal (the colleague lacks a prerequisite, say) comes back with its reason.
pub async fn transfer(
    State(app): AppState,
    Seen(origin): Seen,
    Path((id, offering, staff)): Path<(String, String, String)>,
    submitted: Submitted<Transfer>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    let municipality = coordinators_municipality(&visitor)?;
    let package = package_id(&id)?;
    let situation = Situation::read(&app, &visitor, &origin, &municipality, package, ViewAt::Now).await?;
    let refuse = |message: String| {
        transfer_page(
            &visitor,
            &situation,
            &offering,
            &staff,
            &form.till,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let Ok(to) = form.till.parse::<StaffId>() else {
        return refuse("Välj vem som ska få platsen".into());
    };
    if !situation.staff.iter().any(|s| s.staff_id == form.till) {
        return refuse("Välj en kollega i listan".into());
    }
    let (offering_id, from): (OfferingId, StaffId) = match (offering.parse(), staff.parse()) {
        (Ok(o), Ok(s)) => (o, s),
        _ => return Err(PageError::not_found()),
    };
    match app.transfer_seat(&ctx, offering_id, from, to, false).await {
        Ok(written) => Ok(done(package, "overlaten", written.position)),
        Err(crate::app::AppError::Refused {
            message,
            kind: crate::app::Kind::Rule | crate::app::Kind::Conflict,
            ..
        }) => refuse(message),
        Err(e) => Err(e.into()),
    }
}
