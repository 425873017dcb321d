//! The course office's catalogue (`/kansli/kurser`): every course with the terms it was
//! given in, a new course, and a course revised: its code, title, description and
//! prerequisites, and what a run of it usually is (target group, competence areas,
//! completion threshold, price), where the form for its next offering starts. Each
//! offering keeps its own details (decision 0020).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kurslogg_domain::course::CourseDefaults;
use kurslogg_domain::offering::TargetGroups;
use kurslogg_domain::{CourseCode, Sek, Text};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::office_offerings::{competence_areas, snake, target_groups, threshold, whole};
use crate::app::lists::{CourseItem, CoursesQuery, Paging, ViewAt, MAX_LIMIT};
use crate::app::{AppError, CommandContext, Kind, Kurslogg, Role};
use crate::web::error::{see_other, PageError};
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{Submitted, Visitor};

type AppState = State<Arc<Kurslogg>>;

/// The pages of the course office are for the course office.
pub fn office(visitor: &Visitor) -> Result<(), PageError> {
    match visitor.actor.role {
        Role::CourseOffice => Ok(()),
        _ => Err(PageError::forbidden()),
    }
}

/// What a page says after a change, and the log position it waits for.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub klart: Option<String>,
    #[serde(default)]
    pub efter: Option<i64>,
}

impl Done {
    /// The views' state the page reads: after the change it reports.
    pub fn at(&self) -> ViewAt {
        self.efter.map(ViewAt::Reached).unwrap_or_default()
    }
}

/// Every course of the catalogue.
pub async fn all_courses(app: &Kurslogg, at: ViewAt) -> Result<Vec<CourseItem>, PageError> {
    let query = CoursesQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, at };
    Ok(app.list_courses(&query).await?.items)
}

/// `GET /kansli/kurser`: the catalogue.
pub async fn courses(State(app): AppState, visitor: Visitor, Query(done): Query<Done>) -> Result<Response, PageError> {
    office(&visitor)?;
    let courses = all_courses(&app, done.at()).await?;
    let message = match done.klart.as_deref() {
        Some("ny") => Some("Kursen är tillagd i katalogen."),
        Some("andrad") => Some("Kursen är ändrad. Kurstillfällen som redan är planerade behåller sina uppgifter."),
        _ => None,
    };
    page::render(
        &visitor,
        "office_courses.html.j2",
        "/kansli/kurser",
        context! { title => "Kurser", courses => Serde(&courses), message },
    )
}

/// The course form's fields, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CourseForm {
    #[serde(default)]
    kod: String,
    #[serde(default)]
    titel: String,
    #[serde(default)]
    beskrivning: String,
    #[serde(default)]
    forkunskaper: Vec<String>,
    #[serde(default)]
    erfarenhet: Vec<String>,
    #[serde(default)]
    personalgrupp: Vec<String>,
    #[serde(default)]
    kompetensomraden: String,
    #[serde(default)]
    grans: String,
    #[serde(default)]
    pris: String,
}

/// A course as the form checked it.
struct CheckedCourse {
    code: Option<CourseCode>,
    title: Text,
    description: Text,
    prerequisites: Vec<CourseCode>,
    defaults: CourseDefaults,
}

impl CourseForm {
    fn checked(&self, new: bool, courses: &[CourseItem]) -> Result<CheckedCourse, Checked> {
        let mut checked = Checked::default();
        let code = if new {
            checked.required("kod", &self.kod, "Fyll i kursens kod").and_then(|raw| match CourseCode::parse(raw) {
                Ok(code) => Some(code),
                Err(_) => {
                    checked.refuse(
                        "kod",
                        "Koden får bara ha bokstäverna A–Z, siffror, bindestreck och understreck (högst 64 tecken), till exempel LVU-GRUND".into(),
                    );
                    None
                }
            })
        } else {
            None
        };
        let title = checked
            .required("titel", &self.titel, "Fyll i kursens titel")
            .and_then(|raw| checked.take("titel", "Titeln", Text::parse(raw)));
        let description = checked
            .required("beskrivning", &self.beskrivning, "Fyll i en beskrivning av kursen")
            .and_then(|raw| checked.take("beskrivning", "Beskrivningen", Text::prose(raw)));
        let mut prerequisites = vec![];
        for raw in &self.forkunskaper {
            match CourseCode::parse(raw).ok().filter(|c| courses.iter().any(|k| k.code == c.as_str())) {
                Some(code) => prerequisites.push(code),
                None => checked.refuse("forkunskaper", "Välj förkunskaper bland kurserna i listan".into()),
            }
        }
        let (experience_bands, staff_groups) = target_groups(&mut checked, &self.erfarenhet, &self.personalgrupp);
        let competence_areas = competence_areas(&mut checked, &self.kompetensomraden);
        let completion_threshold = threshold(&mut checked, &self.grans);
        let price = whole(
            &mut checked,
            "pris",
            &self.pris,
            "Fyll i det vanliga priset per deltagare i kronor (0 om kursen är gratis)",
        );
        match (title, description, completion_threshold, price) {
            (Some(title), Some(description), Some(completion_threshold), Some(price))
                if checked.is_clean() && (code.is_some() || !new) =>
            {
                let defaults = CourseDefaults {
                    target_groups: TargetGroups { experience_bands, staff_groups },
                    competence_areas,
                    completion_threshold,
                    price: Sek(price),
                };
                Ok(CheckedCourse { code, title, description, prerequisites, defaults })
            }
            _ => Err(checked),
        }
    }
}

fn form_page(
    visitor: &Visitor,
    status: StatusCode,
    course: Option<&str>,
    form: &CourseForm,
    checked: &Checked,
    courses: &[CourseItem],
) -> Result<Response, PageError> {
    let title = match course {
        Some(code) => format!("Ändra kursen {code}"),
        None => "Ny kurs".to_string(),
    };
    let others: Vec<(String, String)> = courses
        .iter()
        .filter(|c| Some(c.code.as_str()) != course)
        .map(|c| (c.code.clone(), format!("{} ({})", c.title, c.code)))
        .collect();
    page::render_with(
        status,
        visitor,
        "office_course_form.html.j2",
        "/kansli/kurser",
        context! {
            title,
            course,
            form => Serde(form),
            errors => checked.summary(),
            error => Serde(checked.by_field()),
            others => Serde(others),
            bands => Serde(crate::web::text::BANDS),
            groups => Serde(crate::web::text::GROUPS),
            key => page::form_key(),
        },
    )
}

/// `GET /kansli/kurser/ny`.
pub async fn new_course(State(app): AppState, visitor: Visitor) -> Result<Response, PageError> {
    office(&visitor)?;
    let courses = all_courses(&app, ViewAt::Now).await?;
    let form = CourseForm { grans: "80".into(), ..CourseForm::default() };
    form_page(&visitor, StatusCode::OK, None, &form, &Checked::default(), &courses)
}

/// `POST /kansli/kurser/ny`: adds the course, or the form back with what is wrong.
pub async fn add_course(State(app): AppState, submitted: Submitted<CourseForm>) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let courses = all_courses(&app, ViewAt::Now).await?;
    let course = match form.checked(true, &courses) {
        Ok(course) => course,
        Err(checked) => return form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, None, &form, &checked, &courses),
    };
    let code = course.code.expect("a new course has its code");
    let added = app.add_course(&ctx, code.clone(), course.title, course.description, course.prerequisites).await;
    let done = match added {
        Ok(added) => app
            .set_course_defaults(&next_step(&ctx), code, course.defaults)
            .await
            .map(|set| set.position.max(added.position)),
        Err(e) => Err(e),
    };
    match done {
        Ok(position) => Ok(after(&position, "ny")),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, code, .. }) => {
            let mut checked = Checked::default();
            checked.refuse(if code == "already_exists" { "kod" } else { "forkunskaper" }, message);
            form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, None, &form, &checked, &courses)
        }
        Err(e) => Err(e.into()),
    }
}

fn after(position: &Option<i64>, what: &str) -> Response {
    let efter = position.map(|p| format!("&efter={p}")).unwrap_or_default();
    see_other(&format!("/kansli/kurser?klart={what}{efter}"))
}

fn code_of(raw: &str) -> Result<CourseCode, PageError> {
    CourseCode::parse(raw).map_err(|_| PageError::not_found())
}

/// `GET /kansli/kurser/{code}`: the course's form, filled in.
pub async fn edit_course(
    State(app): AppState,
    visitor: Visitor,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    office(&visitor)?;
    let code = code_of(&code)?;
    let course = app.course(code.as_str()).await?;
    let courses = all_courses(&app, ViewAt::Now).await?;
    let defaults = app.course_defaults(&code).await?;
    let mut form = CourseForm {
        kod: course.code.clone(),
        titel: course.title,
        beskrivning: course.description,
        forkunskaper: course.prerequisites,
        grans: "80".into(),
        ..CourseForm::default()
    };
    if let Some(d) = defaults {
        form.erfarenhet = d.target_groups.experience_bands.iter().map(snake).collect();
        form.personalgrupp = d.target_groups.staff_groups.iter().map(snake).collect();
        form.kompetensomraden = d.competence_areas.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
        form.grans = d.completion_threshold.percent().to_string();
        form.pris = d.price.0.to_string();
    }
    form_page(&visitor, StatusCode::OK, Some(code.as_str()), &form, &Checked::default(), &courses)
}

/// `POST /kansli/kurser/{code}`: revises the course.
pub async fn revise_course(
    State(app): AppState,
    Path(code): Path<String>,
    submitted: Submitted<CourseForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    office(&visitor)?;
    let code = code_of(&code)?;
    app.course(code.as_str()).await?;
    let courses = all_courses(&app, ViewAt::Now).await?;
    let course = match form.checked(false, &courses) {
        Ok(course) => course,
        Err(checked) => {
            return form_page(
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(code.as_str()),
                &form,
                &checked,
                &courses,
            )
        }
    };
    let revised = app.revise_course(&ctx, code.clone(), course.title, course.description, course.prerequisites).await;
    let done = match revised {
        Ok(revised) => app
            .set_course_defaults(&next_step(&ctx), code.clone(), course.defaults)
            .await
            .map(|set| set.position.max(revised.position)),
        Err(e) => Err(e),
    };
    match done {
        Ok(position) => Ok(after(&position, "andrad")),
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let mut checked = Checked::default();
            checked.refuse("forkunskaper", message);
            form_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, Some(code.as_str()), &form, &checked, &courses)
        }
        Err(e) => Err(e.into()),
    }
}

/// The context of a form's second command: its own idempotency key beside the first's, so
/// a form sent again replays both answers rather than the first one twice.
fn next_step(ctx: &CommandContext) -> CommandContext {
    let mut next = ctx.clone();
    if let Some(idempotency) = &mut next.idempotency {
        idempotency.key = format!("{}/standard", idempotency.key);
    }
    next
}
