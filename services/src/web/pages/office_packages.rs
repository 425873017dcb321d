//! The course office's packages (`/kansli/kurspaket`): the term's package created,
//! its offerings planned, published, its deadline set or extended, archived; next year's
//! package of the same term copied from it; and the course office's start page, with what
//! needs doing now in the term.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kurslogg_domain::package::PackageCommand;
use kurslogg_domain::{PackageId, Term, Text};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::office_courses::{office, Done};
use super::office_offerings::{local_instant, local_parts};
use crate::app::lists::{CatalogueOffering, PackageItem, PackagesQuery, Paging, ViewAt, MAX_LIMIT};
use crate::app::{AppError, Kind, Kurslogg, PackageView};
use crate::web::error::{see_other, PageError};
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{Submitted, Visitor};

type AppState = State<Arc<Kurslogg>>;

/// How many days ahead "starting soon" looks on the start page.
const SOON_DAYS: i64 = 30;

pub fn package_id(raw: &str) -> Result<PackageId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

async fn all_packages(app: &Kurslogg, at: ViewAt) -> Result<Vec<PackageItem>, PageError> {
    let query = PackagesQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, at, ..PackagesQuery::default() };
    Ok(app.list_packages(&query).await?.items)
}

/// A package open for registration on the start page, with how registration stands.
#[derive(Serialize)]
struct OpenPackage {
    package: PackageItem,
    municipalities_registered: i64,
    municipalities: i64,
    requests: i64,
    seats: i64,
}

/// The course office's start page: packages open for registration with their deadline
/// and how many have registered, packages whose deadline has passed and wait to be
/// closed, drafts being built, and offerings starting within a month.
pub async fn start(app: &Kurslogg, visitor: &Visitor) -> Result<Response, PageError> {
    office(visitor)?;
    let packages = all_packages(app, ViewAt::Now).await?;
    let mut open = vec![];
    let mut to_close = vec![];
    for package in packages.iter().filter(|p| p.phase == "published") {
        if package.deadline_passed {
            to_close.push(package.clone());
            continue;
        }
        let id = package_id(&package.id)?;
        let overview = app.office_deadline_overview(&visitor.actor, id, ViewAt::Now).await?.overview;
        open.push(OpenPackage {
            municipalities_registered: overview.municipalities_registered,
            municipalities: overview.municipalities.len() as i64,
            requests: overview.offerings.iter().map(|o| o.requested + o.confirmed + o.waiting).sum(),
            seats: overview.offerings.iter().filter(|o| o.state != "cancelled").map(|o| o.seats).sum(),
            package: package.clone(),
        });
    }
    let drafts: Vec<&PackageItem> = packages.iter().filter(|p| p.phase == "draft").collect();
    let now = app.clock.now();
    let soon: Vec<CatalogueOffering> = app
        .coming_courses()
        .await?
        .into_iter()
        .filter(|o| {
            chrono::DateTime::parse_from_rfc3339(&o.starts_at)
                .is_ok_and(|at| at > now && at <= now + chrono::Duration::days(SOON_DAYS))
        })
        .collect();
    page::render(
        visitor,
        "office_start.html.j2",
        "/start",
        context! {
            title => "Start",
            open => Serde(open),
            to_close => Serde(to_close),
            drafts => Serde(drafts),
            soon => Serde(soon),
            soon_days => SOON_DAYS,
        },
    )
}

/// `GET /kansli/kurspaket`: every package, newest term first.
pub async fn packages(State(app): AppState, visitor: Visitor, Query(done): Query<Done>) -> Result<Response, PageError> {
    office(&visitor)?;
    let packages = all_packages(&app, done.at()).await?;
    page::render(
        &visitor,
        "office_packages.html.j2",
        "/kansli/kurspaket",
        context! { title => "Kurspaket", packages => Serde(packages) },
    )
}

/// The new package's fields, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PackageForm {
    #[serde(default)]
    termin: String,
    #[serde(default)]
    titel: String,
    #[serde(default)]
    arrangor: String,
    #[serde(default)]
    datum: String,
    #[serde(default)]
    tid: String,
    #[serde(default)]
    efterhand: Option<String>,
}

fn package_form(
    visitor: &Visitor,
    status: StatusCode,
    form: &PackageForm,
    checked: &Checked,
) -> Result<Response, PageError> {
    page::render_with(
        status,
        visitor,
        "office_package_form.html.j2",
        "/kansli/kurspaket",
        context! {
            title => "Nytt kurspaket",
            form => Serde(form),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            key => page::form_key(),
        },
    )
}

/// `GET /kansli/kurspaket/nytt`.
pub async fn new_package(State(app): AppState, visitor: Visitor) -> Result<Response, PageError> {
    office(&visitor)?;
    // The organiser of the latest package is the likely one.
    let organiser = all_packages(&app, ViewAt::Now).await?.first().map(|p| p.organiser.clone()).unwrap_or_default();
    let form = PackageForm { arrangor: organiser, ..PackageForm::default() };
    package_form(&visitor, StatusCode::OK, &form, &Checked::default())
}

/// A deadline typed as a date and a time of day (23:59 when left out), Swedish time.
fn deadline(checked: &mut Checked, date: &str, time: &str) -> Option<DateTime<Utc>> {
    let time = if time.trim().is_empty() { "23:59" } else { time.trim() };
    match local_instant(date, time) {
        Ok(at) => Some(at),
        Err(message) => {
            checked.refuse("datum", message);
            None
        }
    }
}

/// `POST /kansli/kurspaket/nytt`: creates the draft package.
pub async fn create_package(State(app): AppState, submitted: Submitted<PackageForm>) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let mut checked = Checked::default();
    let term = checked.required("termin", &form.termin, "Fyll i terminen, till exempel HT2028").and_then(|raw| {
        match Term::parse(raw) {
            Ok(term) => Some(term),
            Err(_) => {
                checked.refuse("termin", "Skriv terminen som VT eller HT och året, till exempel HT2028".into());
                None
            }
        }
    });
    let title = checked
        .required("titel", &form.titel, "Fyll i paketets titel")
        .and_then(|raw| checked.take("titel", "Titeln", Text::parse(raw)));
    let organiser = checked
        .required("arrangor", &form.arrangor, "Fyll i arrangören")
        .and_then(|raw| checked.take("arrangor", "Arrangören", Text::parse(raw)));
    let deadline = match form.datum.trim() {
        "" => Some(None),
        date => deadline(&mut checked, date, &form.tid).map(Some),
    };
    let (Some(term), Some(title), Some(organiser), Some(deadline)) = (term, title, organiser, deadline) else {
        return package_form(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &form, &checked);
    };
    let afterwards = form.efterhand.is_some();
    match app.create_package(&ctx, term, title, organiser, deadline, afterwards).await {
        Ok(written) => Ok(to_package(&written.id, "skapat", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            checked.refuse("datum", message);
            package_form(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &form, &checked)
        }
        Err(e) => Err(e.into()),
    }
}

/// 303 to the package's page saying what was done.
pub fn to_package(id: &str, what: &str, position: Option<i64>) -> Response {
    let efter = position.map(|p| format!("&efter={p}")).unwrap_or_default();
    see_other(&format!("/kansli/kurspaket/{id}?klart={what}{efter}"))
}

/// `GET /kansli/kurspaket/{id}`: the package with its offerings and what can be done next.
pub async fn package(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let id = package_id(&id)?;
    package_page(&app, &visitor, id, &done, StatusCode::OK, None).await
}

async fn package_page(
    app: &Kurslogg,
    visitor: &Visitor,
    id: PackageId,
    done: &Done,
    status: StatusCode,
    refusal: Option<String>,
) -> Result<Response, PageError> {
    let mut package: PackageView = app.package(id).await?;
    package.offerings.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then_with(|| a.title.cmp(&b.title)));
    let now = app.clock.now();
    let deadline_passed = DateTime::parse_from_rfc3339(&package.deadline).is_ok_and(|d| now > d);
    let next_term = Term::parse(&package.term).map(|t| crate::app::next_years_term(t).to_string()).unwrap_or_default();
    let courses = super::office_courses::all_courses(app, ViewAt::Now).await?;
    let message = match done.klart.as_deref() {
        Some("skapat") => {
            Some("Kurspaketet är skapat som utkast. Planera kurstillfällena och publicera sedan paketet.")
        }
        Some("planerat") => Some("Kurstillfället är planerat."),
        Some("publicerat") => {
            Some("Kurspaketet är publicerat. Kommunernas samordnare kan nu göra sin samlade anmälan.")
        }
        Some("sista-dag") => Some("Sista anmälningsdag är ändrad."),
        Some("arkiverat") => Some("Kurspaketet är arkiverat."),
        Some("kopierat") => {
            Some("Kurspaketet är kopierat från förra årets. Gå igenom kurstillfällena och ändra det som är nytt i år.")
        }
        _ => None,
    };
    page::render_with(
        status,
        visitor,
        "office_package.html.j2",
        "/kansli/kurspaket",
        context! {
            title => package.title.clone(),
            package => Serde(&package),
            courses => Serde(courses),
            deadline_passed,
            next_term,
            message,
            refusal,
            skipped => done.klart.as_deref() == Some("kopierat"),
            key => page::form_key(),
        },
    )
}

/// A form with only its proof (CSRF token and idempotency key).
#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

/// Runs a package command from a button: to the package's page saying it was done, or
/// back to it with the domain's reason.
async fn package_action(
    app: &Kurslogg,
    id: &str,
    submitted: Submitted<Empty>,
    command: PackageCommand,
    what: &str,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    office(&visitor)?;
    let id = package_id(id)?;
    match app.package_command(&ctx, id, command).await {
        Ok(written) => Ok(to_package(&written.id, what, written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            package_page(app, &visitor, id, &Done::default(), StatusCode::UNPROCESSABLE_ENTITY, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /kansli/kurspaket/{id}/publicera`.
pub async fn publish(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<Empty>,
) -> Result<Response, PageError> {
    package_action(&app, &id, submitted, PackageCommand::Publish, "publicerat").await
}

/// `POST /kansli/kurspaket/{id}/arkivera`.
pub async fn archive(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<Empty>,
) -> Result<Response, PageError> {
    package_action(&app, &id, submitted, PackageCommand::Archive, "arkiverat").await
}

/// `POST /kansli/kurspaket/{id}/kopiera`: next year's package of the same term.
pub async fn copy(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<Empty>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    office(&visitor)?;
    let from = package_id(&id)?;
    match app.copy_package(&ctx, from).await {
        Ok(report) => {
            let skipped: Vec<String> = report.skipped.iter().map(|s| format!("{}: {}", s.title, s.reason)).collect();
            if skipped.is_empty() {
                Ok(to_package(&report.package_id, "kopierat", report.position))
            } else {
                let done = Done { klart: Some("kopierat".into()), efter: report.position };
                let id = package_id(&report.package_id)?;
                let message = format!("Några kurstillfällen kunde inte kopieras: {}", skipped.join("; "));
                package_page(&app, &visitor, id, &done, StatusCode::OK, Some(message)).await
            }
        }
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            package_page(&app, &visitor, from, &Done::default(), StatusCode::UNPROCESSABLE_ENTITY, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The deadline form's fields.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct DeadlineForm {
    #[serde(default)]
    datum: String,
    #[serde(default)]
    tid: String,
}

fn deadline_form(
    visitor: &Visitor,
    status: StatusCode,
    package: &PackageView,
    form: &DeadlineForm,
    checked: &Checked,
) -> Result<Response, PageError> {
    page::render_with(
        status,
        visitor,
        "office_deadline_form.html.j2",
        "/kansli/kurspaket",
        context! {
            title => "Sista anmälningsdag",
            package => Serde(package),
            form => Serde(form),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            key => page::form_key(),
        },
    )
}

/// `GET /kansli/kurspaket/{id}/sista-dag`: the deadline to set or extend.
pub async fn edit_deadline(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let package = app.package(package_id(&id)?).await?;
    let (datum, tid) =
        DateTime::parse_from_rfc3339(&package.deadline).map(|d| local_parts(d.with_timezone(&Utc))).unwrap_or_default();
    deadline_form(&visitor, StatusCode::OK, &package, &DeadlineForm { datum, tid }, &Checked::default())
}

/// `POST /kansli/kurspaket/{id}/sista-dag`.
pub async fn change_deadline(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<DeadlineForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let id = package_id(&id)?;
    let package = app.package(id).await?;
    let mut checked = Checked::default();
    let Some(date) = checked.required("datum", &form.datum, "Fyll i datum för sista anmälningsdag") else {
        return deadline_form(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &package, &form, &checked);
    };
    let Some(at) = deadline(&mut checked, date, &form.tid) else {
        return deadline_form(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &package, &form, &checked);
    };
    let command = PackageCommand::ChangeDeadline { deadline: at, first_session: None };
    match app.package_command(&ctx, id, command).await {
        Ok(written) => Ok(to_package(&written.id, "sista-dag", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            checked.refuse("datum", message);
            deadline_form(&visitor, StatusCode::UNPROCESSABLE_ENTITY, &package, &form, &checked)
        }
        Err(e) => Err(e.into()),
    }
}
