//! The course office's offerings: one planned in a package (with its sessions, a row
//! each, more rows on request, Swedish time) and revised; its roster with the attendance
//! grid, completion and certificates; its seat limit changed, its trainers' accounts
//! assigned, the offering cancelled; the roster exported as CSV or Excel.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::offering::{OfferingCommand, OfferingDetails, TargetGroups};
use kurslogg_domain::{
    CompletionThreshold, CourseCode, ExperienceBand, OfferingId, PackageId, Place, SeatLimit, Sek, Session, StaffGroup,
    StaffId, Text,
};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::office_courses::{all_courses, office, Done};
use super::office_packages::{package_id, to_package};
use crate::app::lists::{CourseItem, ViewAt};
use crate::app::{AppError, Kind, Kurslogg, OfferingView};
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{Submitted, Visitor};
use crate::web::text;

type AppState = State<Arc<Kurslogg>>;

/// The most session rows one form shows; an offering with more is planned over the API.
pub const MAX_ROWS: usize = 24;
/// Rows a new offering's form starts with.
const FIRST_ROWS: usize = 3;

/// Field ids of the session rows (the error summary links to a row's date).
const ROW_IDS: [&str; MAX_ROWS] = [
    "tillfalle-1",
    "tillfalle-2",
    "tillfalle-3",
    "tillfalle-4",
    "tillfalle-5",
    "tillfalle-6",
    "tillfalle-7",
    "tillfalle-8",
    "tillfalle-9",
    "tillfalle-10",
    "tillfalle-11",
    "tillfalle-12",
    "tillfalle-13",
    "tillfalle-14",
    "tillfalle-15",
    "tillfalle-16",
    "tillfalle-17",
    "tillfalle-18",
    "tillfalle-19",
    "tillfalle-20",
    "tillfalle-21",
    "tillfalle-22",
    "tillfalle-23",
    "tillfalle-24",
];

/// An instant typed as a date (`2027-09-07`) and a time of day (`09:00`) in Swedish time.
pub fn local_instant(date: &str, time: &str) -> Result<DateTime<Utc>, String> {
    let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| format!("Skriv datumet som år-månad-dag, till exempel 2027-09-07, inte {:?}", date.trim()))?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .map_err(|_| format!("Skriv klockslaget som timmar och minuter, till exempel 09:00, inte {:?}", time.trim()))?;
    Stockholm
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| "Klockslaget finns inte den dagen (sommartid börjar); välj en annan tid".to_string())
}

/// An instant as the date and time of day a form shows, in Swedish time.
pub fn local_parts(at: DateTime<Utc>) -> (String, String) {
    let local = at.with_timezone(&Stockholm);
    (local.format("%Y-%m-%d").to_string(), local.format("%H:%M").to_string())
}

fn offering_id(raw: &str) -> Result<OfferingId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

/// One session row as typed.
#[derive(Debug, Default, Clone, Serialize)]
struct Row {
    id: &'static str,
    number: usize,
    datum: String,
    start: String,
    slut: String,
    timmar: String,
}

/// The offering form's fields, as typed. The session rows come as repeated fields, one
/// of each per row, in the rows' order.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct OfferingForm {
    #[serde(default)]
    kurs: String,
    #[serde(default)]
    beskrivning: String,
    #[serde(default)]
    erfarenhet: Vec<String>,
    #[serde(default)]
    personalgrupp: Vec<String>,
    #[serde(default)]
    kompetensomraden: String,
    #[serde(default)]
    utbildare: String,
    #[serde(default)]
    plats: String,
    #[serde(default)]
    platser: String,
    #[serde(default)]
    pris: String,
    #[serde(default)]
    grans: String,
    #[serde(default)]
    uppfoljning: String,
    #[serde(default)]
    datum: Vec<String>,
    #[serde(default)]
    start: Vec<String>,
    #[serde(default)]
    slut: Vec<String>,
    #[serde(default)]
    timmar: Vec<String>,
    /// "Fler tillfällen": the form back with more rows, nothing saved.
    #[serde(default)]
    fler: Option<String>,
}

impl OfferingForm {
    /// The form filled in from an offering's details (to revise it, or as the start of
    /// the course's next run).
    fn of(course: &str, details: &OfferingDetails, seats: u32) -> Self {
        let mut form = OfferingForm {
            kurs: course.to_string(),
            beskrivning: details.description.to_string(),
            erfarenhet: details.target_groups.experience_bands.iter().map(snake).collect(),
            personalgrupp: details.target_groups.staff_groups.iter().map(snake).collect(),
            kompetensomraden: details.competence_areas.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            utbildare: details.trainer.to_string(),
            plats: match &details.place {
                Place::Venue(address) => address.to_string(),
                Place::Digital => "digitalt".into(),
            },
            platser: seats.to_string(),
            pris: details.price.0.to_string(),
            grans: details.completion_threshold.percent().to_string(),
            uppfoljning: details.follow_up.as_ref().map(ToString::to_string).unwrap_or_default(),
            ..OfferingForm::default()
        };
        for s in &details.sessions {
            let (datum, start) = local_parts(s.starts_at);
            let (_, slut) = local_parts(s.ends_at);
            form.datum.push(datum);
            form.start.push(start);
            form.slut.push(slut);
            let length = (s.ends_at - s.starts_at).num_minutes();
            form.timmar.push(if i64::from(s.minutes) == length { String::new() } else { hours(s.minutes) });
        }
        form
    }

    /// The rows to show: what was typed, and at least `min` (empty ones after).
    fn rows(&self, min: usize) -> Vec<Row> {
        let typed = self.datum.len().max(self.start.len()).max(self.slut.len());
        let count = typed.max(min).min(MAX_ROWS);
        let at = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        (0..count)
            .map(|i| Row {
                id: ROW_IDS[i],
                number: i + 1,
                datum: at(&self.datum, i),
                start: at(&self.start, i),
                slut: at(&self.slut, i),
                timmar: at(&self.timmar, i),
            })
            .collect()
    }

    /// The details the form describes (and, when planning, the course and seats), or
    /// what is wrong with them, field by field.
    fn checked(
        &self,
        new: bool,
        courses: &[CourseItem],
    ) -> Result<(Option<CourseCode>, OfferingDetails, u32), Checked> {
        let mut checked = Checked::default();
        let course = if new {
            match CourseCode::parse(&self.kurs).ok().filter(|c| courses.iter().any(|k| k.code == c.as_str())) {
                Some(code) => Some(code),
                None => {
                    checked.refuse("kurs", "Välj en kurs i listan".into());
                    None
                }
            }
        } else {
            None
        };
        let description = checked
            .required("beskrivning", &self.beskrivning, "Fyll i vad kurstillfället handlar om")
            .and_then(|raw| checked.take("beskrivning", "Beskrivningen", Text::prose(raw)));
        let (bands, groups) = target_groups(&mut checked, &self.erfarenhet, &self.personalgrupp);
        let areas = competence_areas(&mut checked, &self.kompetensomraden);
        let trainer = checked
            .required("utbildare", &self.utbildare, "Fyll i utbildaren")
            .and_then(|raw| checked.take("utbildare", "Utbildaren", Text::parse(raw)));
        let place = checked.required("plats", &self.plats, "Fyll i platsen, eller skriv digitalt").and_then(|raw| {
            if raw.eq_ignore_ascii_case("digitalt") || raw.eq_ignore_ascii_case("digital") {
                Some(Place::Digital)
            } else {
                checked.take("plats", "Platsen", Text::parse(raw)).map(Place::Venue)
            }
        });
        let seats = if new {
            whole(&mut checked, "platser", &self.platser, "Fyll i antal platser").and_then(|n| {
                match SeatLimit::new(n) {
                    Ok(seats) => Some(seats.get()),
                    Err(_) => {
                        checked.refuse("platser", "Antal platser är ett heltal från 1 till 10 000".into());
                        None
                    }
                }
            })
        } else {
            Some(0)
        };
        let price =
            whole(&mut checked, "pris", &self.pris, "Fyll i priset per deltagare i kronor (0 om det är gratis)");
        let threshold = threshold(&mut checked, &self.grans);
        let follow_up = match self.uppfoljning.trim() {
            "" => Some(None),
            raw => checked.take("uppfoljning", "Uppföljningen", Text::prose(raw)).map(Some),
        };
        let sessions = self.sessions(&mut checked);
        match (description, trainer, place, seats, price, threshold, follow_up, sessions) {
            (
                Some(description),
                Some(trainer),
                Some(place),
                Some(seats),
                Some(price),
                Some(completion_threshold),
                Some(follow_up),
                Some(sessions),
            ) if checked.is_clean() => Ok((
                course,
                OfferingDetails {
                    description,
                    target_groups: TargetGroups { experience_bands: bands, staff_groups: groups },
                    competence_areas: areas,
                    trainer,
                    place,
                    sessions,
                    price: Sek(price),
                    completion_threshold,
                    prerequisites: vec![],
                    follow_up,
                },
                seats,
            )),
            _ => Err(checked),
        }
    }

    /// The sessions of the rows that are filled in; an empty row is left out.
    fn sessions(&self, checked: &mut Checked) -> Option<Vec<Session>> {
        let rows = self.rows(0);
        let mut sessions = vec![];
        let mut ok = true;
        for row in &rows {
            if row.datum.trim().is_empty() && row.start.trim().is_empty() && row.slut.trim().is_empty() {
                continue;
            }
            let n = row.number;
            let starts = local_instant(&row.datum, &row.start);
            let ends = local_instant(&row.datum, &row.slut);
            let (starts, ends) = match (starts, ends) {
                (Ok(s), Ok(e)) => (s, e),
                (Err(m), _) | (_, Err(m)) => {
                    checked.refuse(row.id, format!("Tillfälle {n}: {m}"));
                    ok = false;
                    continue;
                }
            };
            if ends <= starts {
                checked.refuse(row.id, format!("Tillfälle {n}: sluttiden måste komma efter starttiden"));
                ok = false;
                continue;
            }
            let length = (ends - starts).num_minutes();
            let minutes = match row.timmar.trim() {
                "" => length,
                raw => match raw.replace(',', ".").parse::<f64>() {
                    Ok(h) if h.is_finite() && h > 0.0 && (h * 60.0).round() as i64 <= length => {
                        (h * 60.0).round() as i64
                    }
                    _ => {
                        checked.refuse(
                            row.id,
                            format!("Tillfälle {n}: undervisningstiden är timmar mellan 0 och tillfällets längd, till exempel 6 eller 2,5"),
                        );
                        ok = false;
                        continue;
                    }
                },
            };
            match Session::new(starts, ends, u32::try_from(minutes).unwrap_or(0)) {
                Ok(session) => sessions.push(session),
                Err(_) => {
                    checked.refuse(row.id, format!("Tillfälle {n}: kontrollera tiderna"));
                    ok = false;
                }
            }
        }
        if ok && sessions.is_empty() {
            checked.refuse(ROW_IDS[0], "Fyll i minst ett tillfälle med datum och tider".into());
            return None;
        }
        ok.then_some(sessions)
    }
}

/// The target group ticked: experience bands and staff groups (none ticked: everyone).
pub(super) fn target_groups(
    checked: &mut Checked,
    erfarenhet: &[String],
    personalgrupp: &[String],
) -> (Vec<ExperienceBand>, Vec<StaffGroup>) {
    let mut bands = vec![];
    for raw in erfarenhet {
        match choice::<ExperienceBand>(raw) {
            Some(band) => bands.push(band),
            None => checked.refuse("erfarenhet", "Välj erfarenhet bland alternativen".into()),
        }
    }
    let mut groups = vec![];
    for raw in personalgrupp {
        match choice::<StaffGroup>(raw) {
            Some(group) => groups.push(group),
            None => checked.refuse("personalgrupp", "Välj personalgrupp bland alternativen".into()),
        }
    }
    (bands, groups)
}

/// Competence areas typed one a line (empty lines left out).
pub(super) fn competence_areas(checked: &mut Checked, raw: &str) -> Vec<Text> {
    let mut areas = vec![];
    for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(area) = checked.take("kompetensomraden", "Kompetensområdet", Text::parse(line)) {
            areas.push(area);
        }
    }
    areas
}

/// The completion threshold typed in percent (empty: the usual 80 %).
pub(super) fn threshold(checked: &mut Checked, raw: &str) -> Option<CompletionThreshold> {
    match raw.trim() {
        "" => Some(CompletionThreshold::default()),
        raw => match raw.trim_end_matches('%').trim().parse::<u8>().ok().and_then(|p| CompletionThreshold::new(p).ok())
        {
            Some(t) => Some(t),
            None => {
                checked.refuse("grans", "Skriv en andel i procent mellan 1 och 100, till exempel 80".into());
                None
            }
        },
    }
}

pub(super) fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn choice<T: serde::de::DeserializeOwned>(raw: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(raw.to_string())).ok()
}

fn hours(minutes: u32) -> String {
    let h = f64::from(minutes) / 60.0;
    if h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        format!("{h:.2}").trim_end_matches('0').replace('.', ",")
    }
}

/// A whole number of at least 0 typed in `field`.
pub(super) fn whole(checked: &mut Checked, field: &'static str, raw: &str, missing: &str) -> Option<u32> {
    let raw = checked.required(field, raw, missing)?;
    match raw.replace([' ', '\u{a0}'], "").parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            checked.refuse(field, "Skriv ett heltal, till exempel 12".into());
            None
        }
    }
}

/// The form page: planning a new offering in `package`, or revising `offering`.
#[allow(clippy::too_many_arguments)]
fn form_page(
    visitor: &Visitor,
    status: StatusCode,
    package: &crate::app::PackageView,
    offering: Option<&OfferingView>,
    form: &OfferingForm,
    rows: usize,
    checked: &Checked,
    courses: &[CourseItem],
    from_earlier: bool,
) -> Result<Response, PageError> {
    let title = match offering {
        Some(o) => format!("Ändra {}", o.title),
        None => "Planera kurstillfälle".to_string(),
    };
    let course_options: Vec<(String, String)> =
        courses.iter().map(|c| (c.code.clone(), format!("{} ({})", c.title, c.code))).collect();
    page::render_with(
        status,
        visitor,
        "office_offering_form.html.j2",
        "/kansli/kurspaket",
        context! {
            title,
            package => Serde(package),
            offering => Serde(offering),
            form => Serde(form),
            rows => Serde(form.rows(rows)),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            courses => Serde(course_options),
            bands => Serde(text::BANDS),
            groups => Serde(text::GROUPS),
            from_earlier,
            key => page::form_key(),
        },
    )
}

/// Which course the new offering is of (chosen on the package's page).
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    kurs: String,
}

/// `GET /kansli/kurspaket/{id}/tillfallen/nytt?kurs=CODE`: the form, started from the
/// course's latest run when it has one.
pub async fn new_offering(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let package = app.package(package_id(&id)?).await?;
    let courses = all_courses(&app, ViewAt::Now).await?;
    let mut form = OfferingForm { kurs: q.kurs.clone(), grans: "80".into(), ..OfferingForm::default() };
    let mut from_earlier = false;
    if let Ok(code) = CourseCode::parse(&q.kurs) {
        if let Some((details, seats)) = app.latest_run_of(&visitor.actor, &code).await? {
            // The dates are this term's to decide; everything else is a good start.
            form = OfferingForm { kurs: code.to_string(), ..OfferingForm::of(code.as_str(), &details, seats) };
            form.datum.clear();
            form.start.clear();
            form.slut.clear();
            form.timmar.clear();
            from_earlier = true;
        } else if let Some(course) = courses.iter().find(|c| c.code == code.as_str()) {
            form.beskrivning = course.description.clone();
        }
        // What the course says a run usually is wins over the latest run: the office
        // keeps it on the course for the next run (a new price, say).
        if let Some(defaults) = app.course_defaults(&code).await? {
            form.erfarenhet = defaults.target_groups.experience_bands.iter().map(snake).collect();
            form.personalgrupp = defaults.target_groups.staff_groups.iter().map(snake).collect();
            form.kompetensomraden =
                defaults.competence_areas.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            form.grans = defaults.completion_threshold.percent().to_string();
            form.pris = defaults.price.0.to_string();
            from_earlier = true;
        }
    }
    form_page(&visitor, StatusCode::OK, &package, None, &form, FIRST_ROWS, &Checked::default(), &courses, from_earlier)
}

/// `POST /kansli/kurspaket/{id}/tillfallen/nytt`: plans the offering (or shows the form
/// with more rows when "Fler tillfällen" was pressed).
pub async fn plan_offering(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<OfferingForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let package_id: PackageId = package_id(&id)?;
    let package = app.package(package_id).await?;
    let courses = all_courses(&app, ViewAt::Now).await?;
    let rows = form.rows(0).len();
    if form.fler.is_some() {
        let more = (rows + 4).min(MAX_ROWS);
        return form_page(&visitor, StatusCode::OK, &package, None, &form, more, &Checked::default(), &courses, false);
    }
    let refused = |checked: &Checked| {
        form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &package, None, &form, rows, checked, &courses, false)
    };
    let (course, details, seats) = match form.checked(true, &courses) {
        Ok(checked) => checked,
        Err(checked) => return refused(&checked),
    };
    let (Some(course), Ok(seat_limit)) = (course, SeatLimit::new(seats)) else {
        return refused(&Checked::default());
    };
    match app.plan_offering(&ctx, package_id, course, details, None, seat_limit).await {
        Ok(written) => Ok(to_package(&package_id.to_string(), "planerat", written.position)),
        Err(AppError::Refused { message, code, kind: Kind::Rule | Kind::Conflict }) => {
            let mut checked = Checked::default();
            checked.refuse(field_of(&code), message);
            refused(&checked)
        }
        Err(e) => Err(e.into()),
    }
}

/// The field a refusal of the domain belongs by.
fn field_of(code: &str) -> &'static str {
    match code {
        // The sessions' rules (decision 0012), and "no sessions" or "too many".
        c if c.starts_with("session") || c == "validation" => ROW_IDS[0],
        _ => "beskrivning",
    }
}

/// `GET /kansli/tillfallen/{id}/andra`: the offering's form, filled in.
pub async fn edit_offering(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    let offering = app.offering(offering_id).await?;
    let package = app.package(package_id(&offering.package_id)?).await?;
    let details = app.planned_details(&visitor.actor, offering_id).await?;
    let form = OfferingForm::of(&offering.course, &details, offering.seat_limit);
    let rows = form.rows(0).len() + 1;
    form_page(&visitor, StatusCode::OK, &package, Some(&offering), &form, rows, &Checked::default(), &[], false)
}

/// `POST /kansli/tillfallen/{id}/andra`: revises the offering (its course and seats stay;
/// seats change on the roster).
pub async fn revise_offering(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<OfferingForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    let offering = app.offering(offering_id).await?;
    let package = app.package(package_id(&offering.package_id)?).await?;
    let rows = form.rows(0).len();
    if form.fler.is_some() {
        let more = (rows + 4).min(MAX_ROWS);
        return form_page(
            &visitor,
            StatusCode::OK,
            &package,
            Some(&offering),
            &form,
            more,
            &Checked::default(),
            &[],
            false,
        );
    }
    let refused = |checked: &Checked| {
        form_page(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            &package,
            Some(&offering),
            &form,
            rows,
            checked,
            &[],
            false,
        )
    };
    let (_, mut details, _) = match form.checked(false, &[]) {
        Ok(checked) => checked,
        Err(checked) => return refused(&checked),
    };
    details.prerequisites = app.planned_details(&visitor.actor, offering_id).await?.prerequisites;
    let command = OfferingCommand::ReviseOffering { details, window: None };
    match app.offering_command(&ctx, offering_id, command).await {
        Ok(written) => Ok(to_roster(offering_id, "andrat", written.position)),
        Err(AppError::Refused { message, code, kind: Kind::Rule | Kind::Conflict }) => {
            let mut checked = Checked::default();
            checked.refuse(field_of(&code), message);
            refused(&checked)
        }
        Err(e) => Err(e.into()),
    }
}

/// 303 to the offering's roster saying what was done.
fn to_roster(id: OfferingId, what: &str, position: Option<i64>) -> Response {
    let efter = position.map(|p| format!("&efter={p}")).unwrap_or_default();
    see_other(&format!("/kansli/tillfallen/{id}?klart={what}{efter}"))
}

/// One person's row of the roster.
#[derive(Serialize)]
struct RosterRow {
    staff_id: String,
    name: String,
    municipality: String,
    status: String,
    late: bool,
    charged: bool,
    waiting_place: Option<i64>,
    attendance: Vec<Option<String>>,
    attended: usize,
    completion: Option<String>,
    certificate: Option<String>,
}

/// `GET /kansli/tillfallen/{id}`: the roster: those with a seat (attendance grid,
/// completion, certificate), those waiting for allocation, the waiting list in order,
/// cancellations; and what the office can do with the offering.
pub async fn roster(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    roster_page(&app, &visitor, &origin, offering_id, &done, StatusCode::OK, None, None).await
}

#[allow(clippy::too_many_arguments)]
async fn roster_page(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    offering_id: OfferingId,
    done: &Done,
    status: StatusCode,
    refusal: Option<(&'static str, String)>,
    typed_seats: Option<String>,
) -> Result<Response, PageError> {
    let roster = app.roster_seen(&visitor.actor, origin, offering_id, done.at()).await?;
    let offering = app.offering(offering_id).await?;
    let names = app.roster_names(&roster).await?;
    let municipalities = app.municipality_names().await?;
    let mut rows: Vec<RosterRow> = roster
        .entries
        .iter()
        .map(|e| RosterRow {
            staff_id: e.staff_id.clone(),
            name: names.get(&e.staff_id).cloned().unwrap_or_else(|| "(raderad person)".into()),
            municipality: municipalities.get(&e.municipality).cloned().unwrap_or_else(|| e.municipality.clone()),
            status: e.status.clone(),
            late: e.late,
            charged: e.charged,
            waiting_place: e.waiting_place,
            attended: e.attendance.iter().filter(|a| a.as_deref() == Some("present")).count(),
            attendance: e.attendance.clone(),
            completion: e.completion.clone(),
            certificate: e.certificate.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let confirmed: Vec<&RosterRow> = rows.iter().filter(|r| r.status == "confirmed").collect();
    let requested: Vec<&RosterRow> = rows.iter().filter(|r| r.status == "requested").collect();
    let mut waiting: Vec<&RosterRow> = rows.iter().filter(|r| r.status == "waiting").collect();
    waiting.sort_by_key(|r| r.waiting_place.unwrap_or(i64::MAX));
    let sessions_over = offering
        .sessions
        .iter()
        .filter_map(|s| DateTime::parse_from_rfc3339(&s.ends_at).ok())
        .max()
        .is_some_and(|end| end <= app.clock.now());
    let ended: Vec<&RosterRow> =
        rows.iter().filter(|r| matches!(r.status.as_str(), "cancelled" | "transferred_away")).collect();
    let trainers = app.trainer_accounts(&visitor.actor).await?;
    let assigned = app.assigned_trainers(&visitor.actor, offering_id).await?;
    let assignable: Vec<&(String, String)> =
        trainers.iter().filter(|(id, _)| !assigned.iter().any(|(a, _)| a == id)).collect();
    let message = match done.klart.as_deref() {
        Some("andrat") => Some("Kurstillfället är ändrat."),
        Some("platser") => Some("Antalet platser är ändrat. Fler platser går först till dem som står på väntelistan."),
        Some("installt") => Some("Kurstillfället är inställt. Ingen kommun debiteras och alla anmälda får besked."),
        Some("utbildare") => Some("Utbildarna är ändrade."),
        Some("avslutat") => Some("Kurstillfället är avslutat. De som nådde närvarokravet har fått intyg."),
        Some("aterkallat") => Some(
            "Intyget är återkallat. Det går inte längre att hämta, och kontrollen av intyg svarar att det är återkallat.",
        ),
        _ => None,
    };
    let (error_field, error_message) = refusal.unzip();
    let errors: Vec<minijinja::Value> = error_field
        .zip(error_message.clone())
        .map(|(field, message)| context! { field, message })
        .into_iter()
        .collect();
    page::render_with(
        status,
        visitor,
        "office_roster.html.j2",
        "/kansli/kurspaket",
        context! {
            title => roster.title.clone(),
            roster => Serde(&roster),
            offering => Serde(&offering),
            confirmed => Serde(confirmed),
            requested => Serde(requested),
            waiting => Serde(waiting),
            ended => Serde(ended),
            assigned => Serde(assigned),
            assignable => Serde(assignable),
            message,
            errors,
            error_field,
            error_message,
            typed_seats => typed_seats.unwrap_or_else(|| offering.seat_limit.to_string()),
            sessions_over,
            key => page::form_key(),
        },
    )
}

/// The seat limit form.
#[derive(Debug, Default, Deserialize)]
pub struct SeatsForm {
    #[serde(default)]
    platser: String,
}

/// `POST /kansli/tillfallen/{id}/platser`: raises or lowers the seat limit.
pub async fn change_seats(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<SeatsForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    let refuse = |message: String| ("platser", message);
    let seats =
        match form.platser.trim().parse::<u32>().ok().and_then(|n| SeatLimit::new(n).ok()).filter(|s| s.get() > 0) {
            Some(seats) => seats,
            None => {
                let refusal = refuse("Skriv antalet platser som ett heltal från 1, till exempel 20".into());
                return roster_page(
                    &app,
                    &visitor,
                    &origin,
                    offering_id,
                    &Done::default(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(refusal),
                    Some(form.platser),
                )
                .await;
            }
        };
    let command = OfferingCommand::ChangeSeatLimit { seat_limit: seats, unavailable: vec![] };
    match app.offering_command(&ctx, offering_id, command).await {
        Ok(written) => Ok(to_roster(offering_id, "platser", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            roster_page(
                &app,
                &visitor,
                &origin,
                offering_id,
                &Done::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(refuse(message)),
                Some(form.platser),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The trainer form: which account.
#[derive(Debug, Default, Deserialize)]
pub struct TrainerForm {
    #[serde(default)]
    utbildare: String,
}

async fn trainer_change(
    app: &Kurslogg,
    origin: &crate::auth::Origin,
    id: &str,
    submitted: Submitted<TrainerForm>,
    assign: bool,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let offering_id = offering_id(id)?;
    let known = app.trainer_accounts(&visitor.actor).await?;
    let assigned = app.assigned_trainers(&visitor.actor, offering_id).await?;
    let listed = if assign {
        known.iter().any(|(u, _)| *u == form.utbildare)
    } else {
        assigned.iter().any(|(u, _)| *u == form.utbildare)
    };
    if !listed {
        let refusal = ("utbildare", "Välj en utbildare i listan".to_string());
        return roster_page(
            app,
            &visitor,
            origin,
            offering_id,
            &Done::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(refusal),
            None,
        )
        .await;
    }
    match app.assign_trainer(&ctx, offering_id, &form.utbildare, assign).await {
        Ok(written) => Ok(to_roster(offering_id, "utbildare", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. } | AppError::Validation(message)) => {
            roster_page(
                app,
                &visitor,
                origin,
                offering_id,
                &Done::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(("utbildare", message)),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /kansli/tillfallen/{id}/utbildare`: assigns a trainer's account.
pub async fn assign_trainer(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<TrainerForm>,
) -> Result<Response, PageError> {
    trainer_change(&app, &origin, &id, submitted, true).await
}

/// `POST /kansli/tillfallen/{id}/utbildare/ta-bort`: takes a trainer's account off.
pub async fn unassign_trainer(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<TrainerForm>,
) -> Result<Response, PageError> {
    trainer_change(&app, &origin, &id, submitted, false).await
}

/// The form of an act that asks why first (cancelling an offering, withdrawing a
/// certificate): the reason.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CancelForm {
    #[serde(default)]
    anledning: String,
}

impl CancelForm {
    /// The reason as typed, or `missing` (or what is wrong with it) by the field.
    fn reason(&self, checked: &mut Checked, missing: &str) -> Option<Text> {
        checked
            .required("anledning", &self.anledning, missing)
            .and_then(|raw| checked.take("anledning", "Anledningen", Text::prose(raw)))
    }
}

fn cancel_page(
    visitor: &Visitor,
    status: StatusCode,
    offering: &OfferingView,
    form: &CancelForm,
    checked: &Checked,
) -> Result<Response, PageError> {
    let people = offering
        .registrations
        .iter()
        .filter(|r| matches!(r.status.as_str(), "requested" | "confirmed" | "waiting"))
        .count();
    page::render_with(
        status,
        visitor,
        "office_cancel.html.j2",
        "/kansli/kurspaket",
        context! {
            title => format!("Ställ in {}", offering.title),
            offering => Serde(offering),
            people,
            form => Serde(form),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            key => page::form_key(),
        },
    )
}

/// `GET /kansli/tillfallen/{id}/stall-in`: what cancelling means, and why (asked first).
pub async fn confirm_cancel(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let offering = app.offering(offering_id(&id)?).await?;
    cancel_page(&visitor, StatusCode::OK, &offering, &CancelForm::default(), &Checked::default())
}

/// `POST /kansli/tillfallen/{id}/stall-in`: cancels the offering; nobody is charged.
pub async fn cancel(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<CancelForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    let offering = app.offering(offering_id).await?;
    let mut checked = Checked::default();
    let reason = form.reason(&mut checked, "Skriv varför kurstillfället ställs in; de anmälda får läsa det");
    let Some(reason) = reason else {
        return cancel_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &offering, &form, &checked);
    };
    match app.offering_command(&ctx, offering_id, OfferingCommand::CancelOffering { reason }).await {
        Ok(written) => Ok(to_roster(offering_id, "installt", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            checked.refuse("anledning", message);
            cancel_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &offering, &form, &checked)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /kansli/tillfallen/{id}/avsluta`: completes the offering after its last session:
/// completion by the threshold, certificates for those who reached it.
pub async fn complete(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<super::office_packages::Empty>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    match app.offering_command(&ctx, offering_id, OfferingCommand::CompleteOffering).await {
        Ok(written) => Ok(to_roster(offering_id, "avslutat", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let refusal = Some(("avsluta", message));
            roster_page(
                &app,
                &visitor,
                &origin,
                offering_id,
                &Done::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                refusal,
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /kansli/tillfallen/{id}/intyg/{staff}/aterkalla`: the page before a certificate is
/// withdrawn (a correction: the certificate stays in the log, marked withdrawn).
pub async fn confirm_withdraw_certificate(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path((id, staff)): Path<(String, String)>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let holder = certificate_holder(&app, &visitor, &origin, offering_id(&id)?, &staff).await?;
    withdraw_page(&visitor, StatusCode::OK, &holder, &CancelForm::default(), &Checked::default())
}

/// `POST /kansli/tillfallen/{id}/intyg/{staff}/aterkalla`: withdraws the certificate, with
/// the reason the audit trail shows.
pub async fn withdraw_certificate(
    State(app): AppState,
    Seen(origin): Seen,
    Path((id, staff)): Path<(String, String)>,
    submitted: Submitted<CancelForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let offering_id = offering_id(&id)?;
    let holder = certificate_holder(&app, &visitor, &origin, offering_id, &staff).await?;
    let mut checked = Checked::default();
    let reason = form.reason(&mut checked, "Skriv varför intyget återkallas; det syns i granskningsloggen");
    let Some(reason) = reason else {
        return withdraw_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &holder, &form, &checked);
    };
    let command = OfferingCommand::WithdrawCertificate { staff: holder.staff, reason };
    match app.offering_command(&ctx, offering_id, command).await {
        Ok(written) => Ok(to_roster(offering_id, "aterkallat", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            checked.refuse("anledning", message);
            withdraw_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &holder, &form, &checked)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whose certificate on which offering: what the withdrawal page names.
#[derive(Serialize)]
struct CertificateHolder {
    #[serde(skip)]
    staff: StaffId,
    offering_id: String,
    staff_id: String,
    title: String,
    term: String,
    name: String,
    certificate: String,
}

/// The holder of a certificate on `offering` that still stands, or "not found".
async fn certificate_holder(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    offering: OfferingId,
    staff: &str,
) -> Result<CertificateHolder, PageError> {
    let staff_id: StaffId = staff.parse().map_err(|_| PageError::not_found())?;
    let roster = app.roster_seen(&visitor.actor, origin, offering, ViewAt::Now).await?;
    let entry = roster.entries.iter().find(|e| e.staff_id == staff).ok_or_else(PageError::not_found)?;
    let certificate = entry.certificate.clone().ok_or_else(PageError::not_found)?;
    let names = app.roster_names(&roster).await?;
    Ok(CertificateHolder {
        staff: staff_id,
        offering_id: offering.to_string(),
        staff_id: staff.to_string(),
        title: roster.title.clone(),
        term: roster.term.clone(),
        name: names.get(staff).cloned().unwrap_or_else(|| "(raderad person)".into()),
        certificate,
    })
}

fn withdraw_page(
    visitor: &Visitor,
    status: StatusCode,
    holder: &CertificateHolder,
    form: &CancelForm,
    checked: &Checked,
) -> Result<Response, PageError> {
    page::render_with(
        status,
        visitor,
        "office_withdraw_certificate.html.j2",
        "/kansli/kurspaket",
        context! {
            title => format!("Återkalla intyg {}", holder.certificate),
            holder => Serde(holder),
            form => Serde(form),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            key => page::form_key(),
        },
    )
}
