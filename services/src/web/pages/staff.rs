//! The municipality's staff register ("Administration" in Stationen, seed 001), as its
//! coordinator keeps it: the list with filters, adding and changing a person, pausing
//! (no new registrations) and resuming, removing someone who has left (their history is
//! kept), and each person's courses, hours and certificates.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kurslogg_domain::staff::{StaffCommand, StaffProfile};
use kurslogg_domain::{ExperienceBand, MunicipalityId, PersonName, StaffGroup, StaffId, Text, WorkEmail};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::app::lists::{Paging, StaffQuery, ViewAt};
use crate::app::{AppError, Kind, Kurslogg, Role, StaffView};
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{Submitted, Visitor};
use crate::web::text;

type AppState = State<Arc<Kurslogg>>;

/// People on one page of the register.
const PAGE_SIZE: usize = 50;

/// The municipality whose register the visitor keeps (its coordinators).
fn keepers_municipality(visitor: &Visitor) -> Result<MunicipalityId, PageError> {
    match (&visitor.actor.role, &visitor.actor.municipality) {
        (Role::Coordinator, Some(municipality)) => Ok(municipality.clone()),
        _ => Err(PageError::forbidden()),
    }
}

fn staff_id(raw: &str) -> Result<StaffId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

/// The register's filters as the form sends them ("" is "all"), the page, and what was
/// just done.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    arbetsledare: String,
    #[serde(default)]
    personalgrupp: String,
    #[serde(default)]
    erfarenhet: String,
    #[serde(default)]
    sida: Option<usize>,
    #[serde(default)]
    klart: Option<String>,
    #[serde(default)]
    efter: Option<i64>,
}

const STATUSES: [(&str, &str); 3] = [("active", "Aktiva"), ("paused", "Pausade"), ("removed", "Har slutat")];

/// The municipality's supervisors, as (id, name), for filters and the form.
async fn supervisors(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    municipality: &MunicipalityId,
    at: ViewAt,
) -> Result<Vec<(String, String)>, PageError> {
    let view = app.municipality(municipality).await?;
    let ids: Vec<StaffId> = view.supervisors.iter().filter_map(|s| s.parse().ok()).collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut query =
        StaffQuery { paging: Paging { limit: crate::app::lists::MAX_LIMIT, offset: 0 }, at, ..Default::default() };
    query.filter.status = Some("active".into());
    let people = app.list_municipality_staff(&visitor.actor, origin, municipality, &query).await?.items;
    Ok(people
        .into_iter()
        .filter(|p| view.supervisors.contains(&p.staff_id))
        .map(|p| (p.staff_id, p.name.unwrap_or_else(|| "(raderad person)".into())))
        .collect())
}

/// `GET /personal`: the register.
pub async fn register(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, PageError> {
    let municipality = keepers_municipality(&visitor)?;
    let at = q.efter.map(ViewAt::Reached).unwrap_or_default();
    let supervisors = supervisors(&app, &visitor, &origin, &municipality, at).await?;
    let page_number = q.sida.unwrap_or(1).max(1);
    let mut query = StaffQuery {
        paging: Paging { limit: PAGE_SIZE, offset: (page_number - 1) * PAGE_SIZE },
        at,
        ..Default::default()
    };
    let known = |value: &str, options: &[(&str, &str)]| options.iter().any(|(v, _)| *v == value);
    query.filter.status = known(&q.status, &STATUSES).then(|| q.status.clone());
    query.filter.staff_group = known(&q.personalgrupp, &text::GROUPS).then(|| q.personalgrupp.clone());
    query.filter.experience_band = known(&q.erfarenhet, &text::BANDS).then(|| q.erfarenhet.clone());
    query.filter.supervisor = supervisors.iter().any(|(id, _)| *id == q.arbetsledare).then(|| q.arbetsledare.clone());
    let listed = app.list_municipality_staff(&visitor.actor, &origin, &municipality, &query).await?;
    let filter_query = format!(
        "status={}&arbetsledare={}&personalgrupp={}&erfarenhet={}",
        query.filter.status.clone().unwrap_or_default(),
        query.filter.supervisor.clone().unwrap_or_default(),
        query.filter.staff_group.clone().unwrap_or_default(),
        query.filter.experience_band.clone().unwrap_or_default(),
    );
    let pages = listed.total.div_ceil(PAGE_SIZE).max(1);
    let message = match q.klart.as_deref() {
        Some("borttagen") => Some("Personen är borttagen ur registret. Kurser och intyg finns kvar i historiken."),
        _ => None,
    };
    page::render(
        &visitor,
        "staff_register.html.j2",
        "/personal",
        context! {
            title => "Personal",
            people => Serde(&listed.items),
            total => listed.total,
            page_number,
            pages,
            filter_query,
            statuses => Serde(STATUSES),
            bands => Serde(text::BANDS),
            groups => Serde(text::GROUPS),
            supervisors => Serde(&supervisors),
            chosen => context! {
                status => query.filter.status,
                supervisor => query.filter.supervisor,
                group => query.filter.staff_group,
                band => query.filter.experience_band,
            },
            message,
        },
    )
}

/// The person form's fields, as typed.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct PersonForm {
    #[serde(default)]
    namn: String,
    #[serde(default)]
    epost: String,
    #[serde(default)]
    enhet: String,
    #[serde(default)]
    arbetsledare: String,
    #[serde(default)]
    personalgrupp: String,
    #[serde(default)]
    erfarenhet: String,
    #[serde(default)]
    socionom: String,
}

impl PersonForm {
    fn of(person: &StaffView) -> Self {
        PersonForm {
            namn: person.name.clone().unwrap_or_default(),
            epost: person.work_email.clone().unwrap_or_default(),
            enhet: person.unit.clone(),
            arbetsledare: person.supervisor.clone().unwrap_or_default(),
            personalgrupp: person.staff_group.clone(),
            erfarenhet: person.experience_band.clone(),
            socionom: if person.social_work_degree { "ja".into() } else { "nej".into() },
        }
    }

    /// The profile the form describes, or what is wrong with it, field by field.
    fn profile(&self, supervisors: &[(String, String)]) -> Result<StaffProfile, Checked> {
        let mut checked = Checked::default();
        let name = checked
            .required("namn", &self.namn, "Fyll i namnet")
            .and_then(|raw| checked.take("namn", "Namnet", PersonName::parse(raw)));
        let email = checked.required("epost", &self.epost, "Fyll i e-postadressen i arbetet").and_then(|raw| {
            match WorkEmail::parse(raw) {
                Ok(email) => Some(email),
                Err(_) => {
                    checked.refuse("epost", "Skriv e-postadressen som namn@kommun.se, utan mellanslag".into());
                    None
                }
            }
        });
        let unit = checked
            .required("enhet", &self.enhet, "Fyll i enheten")
            .and_then(|raw| checked.take("enhet", "Enheten", Text::parse(raw)));
        let supervisor = match self.arbetsledare.trim() {
            "" => Some(None),
            raw => match supervisors.iter().find(|(id, _)| id == raw).and_then(|(id, _)| id.parse().ok()) {
                Some(id) => Some(Some(id)),
                None => {
                    checked.refuse("arbetsledare", "Välj en arbetsledare i listan".into());
                    None
                }
            },
        };
        let group = choice::<StaffGroup>(&self.personalgrupp);
        if group.is_none() {
            checked.refuse("personalgrupp", "Välj personalgrupp".into());
        }
        let band = choice::<ExperienceBand>(&self.erfarenhet);
        if band.is_none() {
            checked.refuse("erfarenhet", "Välj erfarenhet".into());
        }
        let degree = match self.socionom.as_str() {
            "ja" => Some(true),
            "nej" => Some(false),
            _ => {
                checked.refuse("socionom", "Välj om personen har socionomexamen".into());
                None
            }
        };
        match (name, email, unit, supervisor, group, band, degree) {
            (
                Some(name),
                Some(work_email),
                Some(unit),
                Some(supervisor),
                Some(staff_group),
                Some(experience_band),
                Some(social_work_degree),
            ) if checked.is_clean() => Ok(StaffProfile {
                name,
                work_email,
                unit,
                supervisor,
                staff_group,
                experience_band,
                social_work_degree,
            }),
            _ => Err(checked),
        }
    }
}

fn choice<T: serde::de::DeserializeOwned>(raw: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(raw.to_string())).ok()
}

/// The person form: new (no `person`) or a change, with what was typed and its refusals.
fn form_page(
    visitor: &Visitor,
    status: StatusCode,
    person: Option<&StaffView>,
    form: &PersonForm,
    checked: &Checked,
    supervisors: &[(String, String)],
) -> Result<Response, PageError> {
    let title = match person {
        Some(p) => format!("Ändra uppgifter för {}", p.name.clone().unwrap_or_default()),
        None => "Lägg till medarbetare".to_string(),
    };
    page::render_with(
        status,
        visitor,
        "staff_form.html.j2",
        "/personal",
        context! {
            title,
            person => Serde(person),
            form => Serde(form),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            bands => Serde(text::BANDS),
            groups => Serde(text::GROUPS),
            supervisors => Serde(supervisors),
            key => page::form_key(),
        },
    )
}

/// `GET /personal/ny`: the form for a new person.
pub async fn new_person(State(app): AppState, visitor: Visitor, Seen(origin): Seen) -> Result<Response, PageError> {
    let municipality = keepers_municipality(&visitor)?;
    let supervisors = supervisors(&app, &visitor, &origin, &municipality, ViewAt::Now).await?;
    let form = PersonForm { socionom: String::new(), ..Default::default() };
    form_page(&visitor, StatusCode::OK, None, &form, &Checked::default(), &supervisors)
}

/// `POST /personal/ny`: adds the person, or shows the form again with what is wrong.
pub async fn add_person(
    State(app): AppState,
    Seen(origin): Seen,
    submitted: Submitted<PersonForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    let municipality = keepers_municipality(&visitor)?;
    let supervisors = supervisors(&app, &visitor, &origin, &municipality, ViewAt::Now).await?;
    let profile = match form.profile(&supervisors) {
        Ok(profile) => profile,
        Err(checked) => {
            return form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, None, &form, &checked, &supervisors)
        }
    };
    match app.add_staff(&ctx, municipality, profile).await {
        Ok(written) => Ok(after_change(&written.id, "tillagd", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let mut checked = Checked::default();
            checked.refuse("namn", message);
            form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, None, &form, &checked, &supervisors)
        }
        Err(e) => Err(e.into()),
    }
}

fn after_change(id: &str, what: &str, position: Option<i64>) -> Response {
    let after = position.map(|p| format!("&efter={p}")).unwrap_or_default();
    see_other(&format!("/personal/{id}?klart={what}{after}"))
}

/// What a person's page says after a change.
#[derive(Debug, Default, Deserialize)]
pub struct PersonQuery {
    #[serde(default)]
    klart: Option<String>,
    #[serde(default)]
    efter: Option<i64>,
}

/// `GET /personal/{id}`: one person: details, status, courses, hours and certificates.
pub async fn person(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Query(q): Query<PersonQuery>,
) -> Result<Response, PageError> {
    let municipality = keepers_municipality(&visitor)?;
    let staff = staff_id(&id)?;
    let at = q.efter.map(ViewAt::Reached).unwrap_or_default();
    let person = app.staff_member_seen(&visitor.actor, &origin, staff).await?;
    if person.municipality != municipality.as_str() {
        return Err(PageError::not_found());
    }
    let record = app.participant_record_seen(&visitor.actor, &origin, staff, at).await?;
    let supervisor_name = match person.supervisor.as_deref().and_then(|s| s.parse::<StaffId>().ok()) {
        Some(s) => app.staff_names(&[s]).await?.remove(&s),
        None => None,
    };
    let message = match q.klart.as_deref() {
        Some("tillagd") => Some("Personen är tillagd i registret."),
        Some("andrad") => Some("Uppgifterna är ändrade."),
        Some("pausad") => Some("Personen är pausad och kan inte anmälas till nya kurser."),
        Some("aktiv") => Some("Personen är aktiv igen och kan anmälas till kurser."),
        _ => None,
    };
    page::render(
        &visitor,
        "staff_person.html.j2",
        "/personal",
        context! {
            title => person.name.clone().unwrap_or_else(|| "(raderad person)".into()),
            person => Serde(&person),
            record => Serde(&record),
            supervisor_name,
            message,
            key => page::form_key(),
        },
    )
}

/// `GET /personal/{id}/andra`: the form with the person's details.
pub async fn edit_person(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let municipality = keepers_municipality(&visitor)?;
    let person = app.staff_member_seen(&visitor.actor, &origin, staff_id(&id)?).await?;
    if person.municipality != municipality.as_str() || person.status == "erased" {
        return Err(PageError::not_found());
    }
    let supervisors = supervisors(&app, &visitor, &origin, &municipality, ViewAt::Now).await?;
    form_page(&visitor, StatusCode::OK, Some(&person), &PersonForm::of(&person), &Checked::default(), &supervisors)
}

/// `POST /personal/{id}/andra`: changes the details, or shows the form again.
pub async fn change_person(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<PersonForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    let municipality = keepers_municipality(&visitor)?;
    let staff = staff_id(&id)?;
    let person = app.staff_member_seen(&visitor.actor, &origin, staff).await?;
    let supervisors = supervisors(&app, &visitor, &origin, &municipality, ViewAt::Now).await?;
    let profile = match form.profile(&supervisors) {
        Ok(profile) => profile,
        Err(checked) => {
            return form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, Some(&person), &form, &checked, &supervisors)
        }
    };
    match app.staff_command(&ctx, staff, StaffCommand::UpdateStaffMember { profile }).await {
        Ok(written) => Ok(after_change(&id, "andrad", written.position)),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let mut checked = Checked::default();
            checked.refuse("namn", message);
            form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, Some(&person), &form, &checked, &supervisors)
        }
        Err(e) => Err(e.into()),
    }
}

/// A form with nothing but its proof.
#[derive(Debug, Default, Deserialize)]
pub struct Nothing {}

/// `POST /personal/{id}/pausa`.
pub async fn pause(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<Nothing>,
) -> Result<Response, PageError> {
    status_change(&app, &id, submitted, StaffCommand::PauseStaffMember, "pausad").await
}

/// `POST /personal/{id}/aterstall`.
pub async fn resume(
    State(app): AppState,
    Path(id): Path<String>,
    submitted: Submitted<Nothing>,
) -> Result<Response, PageError> {
    status_change(&app, &id, submitted, StaffCommand::ResumeStaffMember, "aktiv").await
}

async fn status_change(
    app: &Kurslogg,
    id: &str,
    submitted: Submitted<Nothing>,
    command: StaffCommand,
    done: &str,
) -> Result<Response, PageError> {
    keepers_municipality(&submitted.visitor)?;
    let written = app.staff_command(&submitted.ctx, staff_id(id)?, command).await?;
    Ok(after_change(id, done, written.position))
}

/// `GET /personal/{id}/ta-bort`: what removing means, before it is done.
pub async fn confirm_remove(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let municipality = keepers_municipality(&visitor)?;
    let staff = staff_id(&id)?;
    let person = app.staff_member_seen(&visitor.actor, &origin, staff).await?;
    if person.municipality != municipality.as_str() || !matches!(person.status.as_str(), "active" | "paused") {
        return Err(PageError::not_found());
    }
    remove_page(&app, &visitor, &origin, person, StatusCode::OK, None).await
}

/// The page that asks before removing `person`, with the reason a removal was refused.
async fn remove_page(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    person: StaffView,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let staff = staff_id(&person.id)?;
    let record = app.participant_record_seen(&visitor.actor, origin, staff, ViewAt::Now).await?;
    page::render_with(
        status,
        visitor,
        "staff_remove.html.j2",
        "/personal",
        context! {
            title => format!("Ta bort {} ur registret", person.name.clone().unwrap_or_default()),
            person => Serde(&person),
            record => Serde(&record),
            key => page::form_key(),
            error,
        },
    )
}

/// `POST /personal/{id}/ta-bort`: the person has left; their history is kept. A refusal
/// (a seat on a course about to start that should be transferred first) is shown with
/// its reason.
pub async fn remove(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<Nothing>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    keepers_municipality(&visitor)?;
    let staff = staff_id(&id)?;
    match app.staff_command(&ctx, staff, StaffCommand::RemoveStaffMember).await {
        Ok(written) => {
            let after = written.position.map(|p| format!("&efter={p}")).unwrap_or_default();
            Ok(see_other(&format!("/personal?klart=borttagen{after}")))
        }
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let person = app.staff_member_seen(&visitor.actor, &origin, staff).await?;
            remove_page(&app, &visitor, &origin, person, StatusCode::CONFLICT, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}
