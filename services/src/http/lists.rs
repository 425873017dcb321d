//! The lists (`app::lists`), paged and filtered: course packages, a package's offerings,
//! the courses, a municipality's staff, a supervisor's staff and a municipality's
//! registrations on a package. Each handler parses the query string with the list's own
//! parser (a filter that does not parse is 422 `validation`, naming the field in
//! Swedish) and returns the application's page as it is.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use kurslogg_domain::{MunicipalityId, PackageId, StaffId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::{path_id, Reader, Seen, Q};
use super::views::ViewQuery;
use crate::app::lists::{
    CatalogueOffering, CourseItem, CoursesQuery, InvalidFilter, Listed, OfferingsQuery, PackageItem, PackagesQuery,
    RegistrationItem, RegistrationsQuery, StaffListItem, StaffQuery,
};
use crate::app::{AppError, Kurslogg};

type AppState = State<Arc<Kurslogg>>;
type Answer<T> = Result<Json<T>, ApiError>;

/// The query string as pairs, for the lists' own parsers.
type Pairs = Q<Vec<(String, String)>>;

fn refused(e: InvalidFilter) -> ApiError {
    AppError::from(e).into()
}

fn municipality_id(raw: &str) -> Result<MunicipalityId, ApiError> {
    MunicipalityId::parse(raw).map_err(|_| ApiError::not_found(format!("no such municipality: {raw:?}")))
}

/// Paging, the same for every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PagingParams {
    /// Items on the page: 1 to 500, default 50.
    pub limit: Option<usize>,
    /// Items to skip (the `next` of the page before), default 0.
    pub offset: Option<usize>,
}

/// Which packages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackagesParams {
    /// Only this term, e.g. HT2027.
    pub term: Option<String>,
    /// Only this phase: draft, published, registration_closed or archived.
    pub phase: Option<String>,
}

/// Which offerings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfferingsParams {
    /// Meant for this experience band (new0_to2, years3_to5, over5, supervisors); an
    /// offering that names no band is meant for everyone and always shown.
    pub experience_band: Option<String>,
    /// Meant for this staff group (myndighetsutovning, utforare); likewise.
    pub staff_group: Option<String>,
    /// Covers this competence area (without regard to case).
    pub competence_area: Option<String>,
}

/// Which people.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffParams {
    /// active, paused, removed or erased.
    pub status: Option<String>,
    /// Who name this staff member (id) as their supervisor.
    pub supervisor: Option<String>,
    /// myndighetsutovning or utforare.
    pub staff_group: Option<String>,
    /// new0_to2, years3_to5, over5 or supervisors.
    pub experience_band: Option<String>,
}

/// Which of a supervisor's people.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SupervisedParams {
    /// active, paused, removed or erased.
    pub status: Option<String>,
    /// myndighetsutovning or utforare.
    pub staff_group: Option<String>,
    /// new0_to2, years3_to5, over5 or supervisors.
    pub experience_band: Option<String>,
}

/// Which registration lines.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrationsParams {
    /// The package (id); required.
    pub package: String,
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: Option<String>,
    /// Only on this offering (id).
    pub offering: Option<String>,
}

/// The course packages, newest term first, each with its deadline and the days left
/// (Swedish calendar days) and how many offerings it has. Every user.
#[utoipa::path(get, operation_id = "list_packages", path = "/packages", params(PackagesParams, PagingParams, ViewQuery), tag = "packages",
    responses((status = 200, body = Listed<PackageItem>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn packages(State(app): AppState, _reader: Reader, Q(pairs): Pairs) -> Answer<Listed<PackageItem>> {
    let query = PackagesQuery::parse(&pairs).map_err(refused)?;
    Ok(Json(app.list_packages(&query).await?))
}

/// A package's offerings as the course catalogue shows them, by first session: dates and
/// sessions (UTC and Swedish time), place, trainer, seats and how many are requested,
/// confirmed and waiting, target group, prerequisites, competence areas, price. Every user.
#[utoipa::path(get, operation_id = "list_package_offerings", path = "/packages/{id}/offerings", params(OfferingsParams, PagingParams, ViewQuery), tag = "offerings",
    responses((status = 200, body = Listed<CatalogueOffering>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn package_offerings(
    State(app): AppState,
    _reader: Reader,
    Path(id): Path<String>,
    Q(pairs): Pairs,
) -> Answer<Listed<CatalogueOffering>> {
    let package: PackageId = path_id(&id, "course package")?;
    let query = OfferingsQuery::parse(&pairs).map_err(refused)?;
    Ok(Json(app.list_package_offerings(package, &query).await?))
}

/// The courses in the catalogue, by title: prerequisites, and how often and in which
/// terms each is given. Every user.
#[utoipa::path(get, operation_id = "list_courses", path = "/courses", params(PagingParams, ViewQuery), tag = "catalogue",
    responses((status = 200, body = Listed<CourseItem>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn courses(State(app): AppState, _reader: Reader, Q(pairs): Pairs) -> Answer<Listed<CourseItem>> {
    let query = CoursesQuery::parse(&pairs).map_err(refused)?;
    Ok(Json(app.list_courses(&query).await?))
}

/// A municipality's staff by name, with their courses taken, registered and waiting,
/// hours attended and certificates: the course office, auditors and its own coordinators.
#[utoipa::path(get, operation_id = "list_municipality_staff", path = "/municipalities/{id}/staff", params(StaffParams, PagingParams, ViewQuery), tag = "municipalities",
    responses((status = 200, body = Listed<StaffListItem>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn municipality_staff(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(pairs): Pairs,
) -> Answer<Listed<StaffListItem>> {
    let municipality = municipality_id(&id)?;
    let query = StaffQuery::parse(&pairs).map_err(refused)?;
    Ok(Json(app.list_municipality_staff(&actor, &origin, &municipality, &query).await?))
}

/// The staff who name this staff member as their supervisor, by name, each with courses
/// taken, registered and waiting, hours attended and certificates: the supervisor, their
/// municipality's coordinators, the course office and auditors.
#[utoipa::path(get, operation_id = "list_supervised_staff", path = "/staff/{id}/supervised-staff", params(SupervisedParams, PagingParams, ViewQuery), tag = "views",
    responses((status = 200, body = Listed<StaffListItem>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn supervised_staff(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(pairs): Pairs,
) -> Answer<Listed<StaffListItem>> {
    let supervisor: StaffId = path_id(&id, "staff member")?;
    let query = StaffQuery::parse_supervised(&pairs).map_err(refused)?;
    Ok(Json(app.list_supervised_staff(&actor, &origin, supervisor, &query).await?))
}

/// Every registration line of a municipality on a package's offerings, by offering and in
/// the municipality's priority order: requested, confirmed, waiting (with the place in
/// line), cancelled (charged or free) or handed to a colleague. The course office,
/// auditors and its own coordinators.
#[utoipa::path(get, operation_id = "list_municipality_registrations", path = "/municipalities/{id}/registrations", params(RegistrationsParams, PagingParams, ViewQuery), tag = "registrations",
    responses((status = 200, body = Listed<RegistrationItem>), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn registrations(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(pairs): Pairs,
) -> Answer<Listed<RegistrationItem>> {
    let municipality = municipality_id(&id)?;
    let query = RegistrationsQuery::parse(&pairs).map_err(refused)?;
    Ok(Json(app.list_municipality_registrations(&actor, &origin, &municipality, &query).await?))
}
