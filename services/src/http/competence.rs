//! The federations' competence plans over HTTP: set or revise one (`PUT`, the course
//! office), read one or a federation's list (any logged-in user), and a staff member
//! against their band's plan (`GET /staff/{id}/competence`, as their record is read).
//! Every read can wait for a write (`min_position`) or show an earlier moment (`as_of`):
//! the plan as it read then. Refusals carry a Swedish `detail`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use kurslogg_domain::competence::{BandPlan, CompetencePlanId};
use kurslogg_domain::{CourseCode, ExperienceBand, StaffId};
use kurslogg_projections::enrolment::Enrolment;
use kurslogg_projections::history::Scope;
use kurslogg_projections::views::competence::CompetencePlanView;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::dto::{prose, text};
use super::error::{ApiError, Problem};
use super::extract::{Cmd, Reader, Seen, Q};
use super::lists::PagingParams;
use super::views::{view_db, ViewQuery};
use crate::app::lists::{CompetencePlansQuery, Listed};
use crate::app::{AppError, Competence, Kurslogg, Written};

type AppState = State<Arc<Kurslogg>>;
type Answer<T> = Result<Json<T>, ApiError>;

/// A federation's competence plan for a year, whole: what it shall read from now on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompetencePlanBody {
    /// One entry per experience band the plan covers (each band at most once).
    pub bands: Vec<BandPlanBody>,
}

/// What the plan says for one experience band.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BandPlanBody {
    /// `new0_to2`, `years3_to5`, `over5` or `supervisors`.
    pub band: String,
    /// Catalogue course codes recommended (needs met jointly), in the suggested order.
    #[serde(default)]
    pub courses: Vec<String>,
    /// Needs met locally at the workplace, each one line, e.g. "Skriftlig introduktionsplan".
    #[serde(default)]
    pub local_needs: Vec<String>,
    /// Anything else the plan says for the band (may have several lines); blank is none.
    #[serde(default)]
    pub note: Option<String>,
}

impl CompetencePlanBody {
    /// The plan's bands as the domain takes them; a clear Swedish error naming the field
    /// otherwise.
    pub fn bands(&self) -> Result<Vec<BandPlan>, ApiError> {
        self.bands
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let field = format!("bands[{i}]");
                let band: ExperienceBand = serde_json::from_value(serde_json::Value::String(b.band.clone()))
                    .map_err(|_| {
                        ApiError::validation(format!(
                            "{field}.band: okänd erfarenhetsgrupp {:?}; ange new0_to2, years3_to5, over5 eller supervisors.",
                            b.band
                        ))
                    })?;
                let courses = b
                    .courses
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        CourseCode::parse(c).map_err(|_| {
                            ApiError::validation(format!(
                                "{field}.courses[{j}]: {c:?} är ingen kurskod (1–64 tecken A–Z, 0–9, '-' eller '_')."
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                let local_needs = b
                    .local_needs
                    .iter()
                    .enumerate()
                    .map(|(j, n)| text(&format!("{field}.local_needs[{j}]"), n))
                    .collect::<Result<_, _>>()?;
                let note = match b.note.as_deref() {
                    Some(note) if !note.trim().is_empty() => Some(prose(&format!("{field}.note"), note)?),
                    _ => None,
                };
                Ok(BandPlan { band, courses, local_needs, note })
            })
            .collect()
    }
}

fn plan_id_to_find(raw: &str) -> Result<CompetencePlanId, ApiError> {
    CompetencePlanId::parse(raw).map_err(|_| ApiError::not_found(format!("Det finns ingen kompetensplan {raw:?}.")))
}

/// Set or revise a federation's competence plan for a year (`fyrbodal-2027`): the whole
/// plan as it shall read. The first `PUT` sets it (version 1); each later one that changes
/// it is a new version, and the log keeps every version (see `/audit`, or read the plan
/// `as_of` an earlier moment). Only catalogue courses may be recommended (422
/// `unknown_course`). The course office only.
#[utoipa::path(put, path = "/competence-plans/{id}", request_body = CompetencePlanBody, tag = "competence",
    params(("id" = String, Path, description = "The federation and the year, e.g. fyrbodal-2027")),
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn put_plan(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<CompetencePlanBody>,
) -> Answer<Written> {
    let id = CompetencePlanId::parse(&id).map_err(|e| ApiError::validation(e.0))?;
    Ok(Json(app.set_competence_plan(&ctx, id, body.bands()?).await?))
}

/// A competence plan as its current version reads (or as it read at `as_of`). Any
/// logged-in user.
#[utoipa::path(get, path = "/competence-plans/{id}", params(("id" = String, Path, description = "e.g. fyrbodal-2027"), ViewQuery),
    tag = "competence",
    responses((status = 200, body = CompetencePlanView), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_plan(
    State(app): AppState,
    _reader: Reader,
    Path(id): Path<String>,
    Q(q): Q<ViewQuery>,
) -> Answer<CompetencePlanView> {
    let id = plan_id_to_find(&id)?;
    let db = view_db(&app, &q, Enrolment, Scope::Everything).await?;
    Ok(Json(app.competence_plan(&db, &id).await?))
}

/// Which plans to list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// Only this federation's plans (`fyrbodal`); empty or absent: every federation's.
    pub federation: Option<String>,
}

/// The competence plans, by federation and then year, each as its current version reads,
/// paged as every list is (docs/decisions/0016). Any logged-in user.
#[utoipa::path(get, path = "/competence-plans", params(PlanParams, PagingParams, ViewQuery), tag = "competence",
    responses((status = 200, body = Listed<CompetencePlanView>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn list_plans(
    State(app): AppState,
    _reader: Reader,
    Q(pairs): Q<Vec<(String, String)>>,
) -> Answer<Listed<CompetencePlanView>> {
    let query = CompetencePlansQuery::parse(&pairs).map_err(AppError::from)?;
    Ok(Json(app.list_competence_plans(&query).await?))
}

/// Which year's plan to read a person against.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompetenceQuery {
    /// The year (the plan that applies is the federation's latest for that year or
    /// before); this year in Sweden when absent.
    pub year: Option<String>,
}

/// A staff member against their experience band's competence plan: each course it
/// recommends with where they stand (completed with when, certificate and hours; a seat,
/// a request or a waiting-list place on an offering, with when it starts; not completed;
/// cancelled; or not yet), the needs it says are met locally, and the courses they
/// completed that it does not recommend. Read as the person's record is (the person,
/// their supervisor, their municipality's coordinators, the course office, auditors);
/// each read is written to the security log.
#[utoipa::path(get, path = "/staff/{id}/competence", params(CompetenceQuery, ViewQuery), tag = "competence",
    responses((status = 200, body = Competence), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn staff_competence(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(filter): Q<CompetenceQuery>,
    Q(q): Q<ViewQuery>,
) -> Answer<Competence> {
    let staff: StaffId =
        id.parse().map_err(|_| ApiError::not_found(format!("Det finns ingen anställd med id {id:?}.")))?;
    let year = match filter.year.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => Some(
            raw.parse::<i32>()
                .ok()
                .filter(|y| CompetencePlanId::YEARS.contains(y))
                .ok_or_else(|| ApiError::validation(format!("year: {raw:?} är inget år mellan 2000 och 2200.")))?,
        ),
        _ => None,
    };
    // Who may see the person is settled before the views are waited for or replayed.
    app.ensure_may_see_competence_of(&actor, staff).await?;
    let db = view_db(&app, &q, Enrolment, Scope::Staff(staff.to_string())).await?;
    Ok(Json(app.competence_read(&db, &actor, &origin, staff, year).await?))
}
