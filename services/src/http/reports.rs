//! Reports built from the views: a package's deadline overview, participation
//! statistics, the cost basis of a term and the federation's four charts as SVG. Each
//! accepts `min_position`, `as_of` or `as_of_position` like every view, so an auditor can
//! ask how things stood on a given day.
//!
//! Query parameters are checked strictly: an unknown parameter, dimension or malformed
//! filter is answered with a 400 problem (`invalid_query`) that says what is wrong,
//! never silently ignored.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kurslogg_domain::{CourseCode, MunicipalityId, PackageId, Term};
use kurslogg_projections::enrolment::Enrolment;
use kurslogg_projections::history::Scope;
use kurslogg_projections::views::costs::{self, CostBasis};
use kurslogg_projections::views::deadline::{self, DeadlineOverview};
use kurslogg_projections::views::statistics::{Dimension, Statistics, StatisticsFilter};
use serde::Deserialize;
use utoipa::IntoParams;

use super::charts::Chart;
use super::error::{ApiError, Problem};
use super::export::{self, Cell, FormatQuery, Table};
use super::extract::{path_id, Reader, Q};
use super::views::{unavailable, view_db, ViewQuery};
use crate::app::{Actor, AppError, Kurslogg, Role, COUNTS_READERS};

type AppState = State<Arc<Kurslogg>>;
type Answer<T> = Result<Json<T>, ApiError>;

/// The parameters of [`ViewQuery`], accepted everywhere.
const VIEW_PARAMETERS: [&str; 3] = ["min_position", "as_of", "as_of_position"];

/// The query string as pairs, to check its names.
type RawPairs = Q<Vec<(String, String)>>;

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail)
}

/// Refuses any query parameter other than `own` and the view parameters.
fn only(pairs: &[(String, String)], own: &[&str]) -> Result<(), ApiError> {
    let known: Vec<&str> = own.iter().chain(VIEW_PARAMETERS.iter()).copied().collect();
    match pairs.iter().find(|(name, _)| !known.contains(&name.as_str())) {
        Some((name, _)) => {
            Err(invalid(format!("unknown query parameter {name:?}; this endpoint takes {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// Which participations to count, and how to group them.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// Comma-separated dimensions to group by, in the order wanted: year, term,
    /// municipality, course, experience_band, staff_group, social_work_degree.
    pub group_by: Option<String>,
    /// Only offerings of this calendar year, e.g. 2027.
    pub year: Option<String>,
    /// Only offerings of this term, e.g. HT2027.
    pub term: Option<String>,
    /// Only participants of this municipality (id), e.g. uddevalla.
    pub municipality: Option<String>,
    /// Only offerings of this course (code), e.g. LVU-GRUND.
    pub course: Option<String>,
}

/// The filters of a statistics query, checked.
fn filter(q: &StatisticsQuery) -> Result<StatisticsFilter, ApiError> {
    let year = q
        .year
        .as_deref()
        .map(|raw| {
            raw.trim()
                .parse::<i64>()
                .ok()
                .filter(|y| (1900..=2200).contains(y))
                .ok_or_else(|| invalid(format!("year must be a calendar year such as 2027; got {raw:?}")))
        })
        .transpose()?;
    let term = q
        .term
        .as_deref()
        .map(|raw| Term::parse(raw).map(|t| t.to_string()).map_err(|e| invalid(format!("term: {}", e.0))))
        .transpose()?;
    let municipality = q.municipality.as_deref().map(municipality_filter).transpose()?;
    let course = q
        .course
        .as_deref()
        .map(|raw| CourseCode::parse(raw).map(|c| c.to_string()).map_err(|e| invalid(format!("course: {}", e.0))))
        .transpose()?;
    Ok(StatisticsFilter { year, term, municipality, course })
}

fn municipality_filter(raw: &str) -> Result<String, ApiError> {
    MunicipalityId::parse(raw).map(|m| m.to_string()).map_err(|e| invalid(format!("municipality: {}", e.0)))
}

/// A package's deadline overview: each member municipality with whether it has
/// registered anyone and how much; each offering with seats, requests in time and
/// late, confirmed, waiting and cancelled, and whether seats are allocated yet.
#[utoipa::path(get, path = "/packages/{id}/deadline-overview", params(ViewQuery), tag = "views",
    responses((status = 200, body = DeadlineOverview), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_deadline_overview(
    State(app): AppState,
    Reader(actor): Reader,
    Path(id): Path<String>,
    Q(pairs): RawPairs,
    Q(q): Q<ViewQuery>,
) -> Answer<DeadlineOverview> {
    only(&pairs, &[])?;
    app.ensure_role(&actor, COUNTS_READERS, "läsa översikten vid sista anmälningsdag")?;
    let package: PackageId = path_id(&id, "course package")?;
    let db = view_db(&app, &q, Enrolment, Scope::Everything).await?;
    let overview = deadline::deadline_overview(&db, &package.to_string()).await.map_err(unavailable)?;
    overview.map(Json).ok_or_else(|| ApiError::not_found(format!("no course package {package}")))
}

/// Participation statistics: participations (a person's confirmed place on an offering
/// not cancelled) and distinct persons, grouped by any of the dimensions and filtered by
/// year, term, municipality and course. Participations are not persons: both are given.
#[utoipa::path(get, path = "/statistics", params(StatisticsQuery, ViewQuery), tag = "views",
    responses((status = 200, body = Statistics), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_statistics(
    State(app): AppState,
    Reader(actor): Reader,
    Q(pairs): RawPairs,
    Q(s): Q<StatisticsQuery>,
    Q(q): Q<ViewQuery>,
) -> Answer<Statistics> {
    only(&pairs, &["group_by", "year", "term", "municipality", "course"])?;
    app.ensure_role(&actor, COUNTS_READERS, "läsa statistiken")?;
    Ok(Json(read_statistics(&app, &actor, &s, &q).await?.0))
}

/// The statistics asked for, and the dimensions they are grouped by.
async fn read_statistics(
    app: &Kurslogg,
    actor: &Actor,
    s: &StatisticsQuery,
    q: &ViewQuery,
) -> Result<(Statistics, Vec<Dimension>), ApiError> {
    let group_by = match s.group_by.as_deref() {
        Some(raw) => Dimension::parse_list(raw).map_err(invalid)?,
        None => Vec::new(),
    };
    let filter = filter(s)?;
    let db = view_db(app, q, Enrolment, Scope::Everything).await?;
    let statistics = app.statistics_in(actor, &db, &group_by, &filter).await?;
    Ok((statistics, group_by))
}

/// Which term's costs, and whose.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostsQuery {
    /// The term, e.g. HT2027 (required).
    pub term: Option<String>,
    /// Only this municipality (id).
    pub municipality: Option<String>,
}

fn required_term(raw: Option<&str>) -> Result<String, ApiError> {
    let raw = raw.ok_or_else(|| invalid("term is required, e.g. ?term=HT2027"))?;
    Term::parse(raw).map(|t| t.to_string()).map_err(|e| invalid(format!("term: {}", e.0)))
}

/// The cost basis of a term: per municipality, line by line, every confirmed
/// participation on an offering not cancelled and every charged cancellation at the
/// offering's price; totals per municipality and in all.
#[utoipa::path(get, path = "/costs", params(CostsQuery, ViewQuery), tag = "views",
    responses((status = 200, body = CostBasis), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_costs(
    State(app): AppState,
    Reader(actor): Reader,
    Q(pairs): RawPairs,
    Q(c): Q<CostsQuery>,
    Q(q): Q<ViewQuery>,
) -> Answer<CostBasis> {
    only(&pairs, &["term", "municipality"])?;
    let municipality = cost_scope(&app, &actor, c.municipality.as_deref())?;
    Ok(Json(read_costs(&app, c.term.as_deref(), municipality.as_deref(), &q).await?))
}

/// Which municipality's costs `actor` may read when asking for `asked`: any for the
/// course office and auditors; a coordinator only their own (and theirs when not saying).
fn cost_scope(app: &Kurslogg, actor: &Actor, asked: Option<&str>) -> Result<Option<String>, ApiError> {
    let asked = asked.map(municipality_filter).transpose()?;
    if actor.sees_everything() {
        return Ok(asked);
    }
    match (&actor.municipality, asked) {
        (Some(own), None) if actor.role == Role::Coordinator => Ok(Some(own.to_string())),
        (Some(own), Some(asked)) if actor.role == Role::Coordinator => {
            app.ensure_may_see_municipality(actor, &MunicipalityId::parse(&asked)?)?;
            Ok(Some(own.to_string()))
        }
        _ => {
            Err(AppError::Forbidden(kurslogg_domain::swedish::may_not(actor.role.in_swedish(), "läsa kostnaderna"))
                .into())
        }
    }
}

/// The cost basis of a term (required), for one municipality or all, with names.
async fn read_costs(
    app: &Kurslogg,
    term: Option<&str>,
    municipality: Option<&str>,
    q: &ViewQuery,
) -> Result<CostBasis, ApiError> {
    let term = required_term(term)?;
    let db = view_db(app, q, Enrolment, Scope::Everything).await?;
    Ok(app.cost_basis_in(&db, &term, municipality).await?)
}

/// The term.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TermQuery {
    /// The term, e.g. HT2027 (required).
    pub term: Option<String>,
}

/// One municipality's cost basis for a term, line by line (as `/costs` for one).
#[utoipa::path(get, path = "/municipalities/{id}/costs", params(TermQuery, ViewQuery), tag = "views",
    responses((status = 200, body = CostBasis), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_municipality_costs(
    State(app): AppState,
    Reader(actor): Reader,
    Path(id): Path<String>,
    Q(pairs): RawPairs,
    Q(t): Q<TermQuery>,
    Q(q): Q<ViewQuery>,
) -> Answer<CostBasis> {
    only(&pairs, &["term"])?;
    let municipality =
        MunicipalityId::parse(&id).map_err(|_| ApiError::not_found(format!("no such municipality: {id:?}")))?;
    app.ensure_may_see_municipality(&actor, &municipality)?;
    let basis = read_costs(&app, t.term.as_deref(), Some(municipality.as_str()), &q).await?;
    if basis.municipalities.is_empty() {
        return Err(ApiError::not_found(format!("no municipality {municipality}")));
    }
    Ok(Json(basis))
}

/// Which participations a chart counts.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChartQuery {
    /// Only offerings of this calendar year, e.g. 2027.
    pub year: Option<String>,
    /// Only offerings of this term, e.g. HT2027.
    pub term: Option<String>,
    /// Only participants of this municipality (id), e.g. uddevalla.
    pub municipality: Option<String>,
    /// Only offerings of this course (code), e.g. LVU-GRUND.
    pub course: Option<String>,
}

/// One of the federation's charts as SVG, with Swedish titles and labels, drawn from the
/// statistics (same filters): `participants-per-year.svg` ("Deltagarantal per år"),
/// `participants-per-municipality.svg` ("Respektive kommuns deltagande"),
/// `participants-per-municipality-and-year.svg` ("Deltagare/kommun och år") and
/// `participants-per-course.svg` ("Antal deltagare/utbildning").
#[utoipa::path(get, path = "/statistics/charts/{chart}", tag = "views",
    params(("chart" = String, Path, description = "The chart's file name, e.g. participants-per-year.svg"),
        ChartQuery, ViewQuery),
    responses((status = 200, content_type = "image/svg+xml", body = String, description = "The chart"),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_chart(
    State(app): AppState,
    Reader(actor): Reader,
    Path(file): Path<String>,
    Q(pairs): RawPairs,
    Q(c): Q<ChartQuery>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    let chart = Chart::from_file_name(&file).ok_or_else(|| {
        let known: Vec<String> = Chart::ALL.iter().map(|c| format!("{}.svg", c.name())).collect();
        ApiError::not_found(format!("no chart {file:?}; the charts are {}", known.join(", ")))
    })?;
    only(&pairs, &["year", "term", "municipality", "course"])?;
    app.ensure_role(&actor, COUNTS_READERS, "läsa statistiken")?;
    let ChartQuery { year, term, municipality, course } = c;
    let filter = filter(&StatisticsQuery { group_by: None, year, term, municipality, course })?;
    let db = view_db(&app, &q, Enrolment, Scope::Everything).await?;
    let statistics = app.statistics_in(&actor, &db, chart.group_by(), &filter).await?;
    let svg = chart.render(&statistics).map_err(|e| {
        tracing::error!(error = %e, "chart failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "chart_failed", "the chart could not be drawn")
    })?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response())
}

// ----- the same as files -----

/// Swedish column headers of the statistics dimensions.
fn dimension_header(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Year => "År",
        Dimension::Term => "Termin",
        Dimension::Municipality => "Kommun",
        Dimension::Course => "Kurs",
        Dimension::ExperienceBand => "Erfarenhet",
        Dimension::StaffGroup => "Personalgrupp",
        Dimension::SocialWorkDegree => "Socionomexamen",
    }
}

/// The statistics as a table: one row per group, then the totals.
pub fn statistics_table(statistics: &Statistics, group_by: &[Dimension]) -> Table {
    let mut columns: Vec<String> = group_by.iter().map(|d| dimension_header(*d).to_string()).collect();
    columns.extend(["Deltagartillfällen".to_string(), "Personer".to_string()]);
    let mut table = Table::new("Deltagarstatistik", "deltagarstatistik", columns);
    for row in &statistics.rows {
        let mut cells: Vec<Cell> = group_by
            .iter()
            .map(|d| match d {
                Dimension::Year => Cell::from(row.year),
                Dimension::Term => Cell::text(row.term.clone()),
                Dimension::Municipality => Cell::text(row.municipality_name.clone().or(row.municipality.clone())),
                Dimension::Course => Cell::text(row.course_title.clone().or(row.course.clone())),
                Dimension::ExperienceBand => Cell::text(row.experience_band.clone()),
                Dimension::StaffGroup => Cell::text(row.staff_group.clone()),
                Dimension::SocialWorkDegree => row.social_work_degree.map_or(Cell::Empty, Cell::yes_no),
            })
            .collect();
        cells.extend([Cell::Integer(row.participations), Cell::Integer(row.persons)]);
        table.rows.push(cells);
    }
    let mut total: Vec<Cell> = group_by.iter().map(|_| Cell::Empty).collect();
    if let Some(first) = total.first_mut() {
        *first = Cell::from("Totalt");
    }
    total.extend([Cell::Integer(statistics.total.participations), Cell::Integer(statistics.total.persons)]);
    table.rows.push(total);
    table
}

/// Participation statistics as CSV or XLSX: the groups asked for, then the totals.
#[utoipa::path(get, path = "/statistics/export", params(StatisticsQuery, FormatQuery, ViewQuery), tag = "exports",
    responses(
        (status = 200, description = "Semicolon-separated CSV (UTF-8 with BOM) or an Excel workbook",
            content((String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn export_statistics(
    State(app): AppState,
    Reader(actor): Reader,
    Q(pairs): RawPairs,
    Q(s): Q<StatisticsQuery>,
    Q(f): Q<FormatQuery>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    only(&pairs, &["group_by", "year", "term", "municipality", "course", "format"])?;
    app.ensure_role(&actor, COUNTS_READERS, "läsa statistiken")?;
    let format = f.format()?;
    let (statistics, group_by) = read_statistics(&app, &actor, &s, &q).await?;
    export::answer(&statistics_table(&statistics, &group_by), format)
}

/// The cost basis as a table: every line, each municipality's total, the grand total.
pub fn costs_table(basis: &CostBasis) -> Table {
    let columns = [
        "Kommun",
        "Kurs",
        "Titel",
        "Kurstillfälle",
        "Startar",
        "Personal-id",
        "Namn",
        "Typ",
        "Resultat",
        "Avanmäld",
        "Belopp (SEK)",
    ];
    let mut table = Table::new(
        format!("Kostnadsunderlag {}", basis.term),
        format!("kostnadsunderlag-{}", basis.term),
        columns.iter().map(|c| c.to_string()).collect(),
    );
    let summary = |label: String, total: i64| {
        let mut row = vec![Cell::Text(label)];
        row.extend(std::iter::repeat_n(Cell::Empty, columns.len() - 2));
        row.push(Cell::Integer(total));
        row
    };
    for municipality in &basis.municipalities {
        for line in &municipality.lines {
            let kind = if line.kind == costs::CHARGED_CANCELLATION { "avgift vid avanmälan" } else { "deltagande" };
            table.rows.push(vec![
                Cell::from(municipality.name.as_str()),
                Cell::from(line.course.as_str()),
                Cell::from(line.title.as_str()),
                Cell::from(line.offering_id.as_str()),
                Cell::instant(Some(&line.starts_at)),
                Cell::from(line.staff_id.as_str()),
                Cell::text(line.name.clone()),
                Cell::from(kind),
                Cell::text(line.completion.as_deref().map(super::exports::completion_sv)),
                Cell::instant(line.cancelled_at.as_deref()),
                Cell::Integer(line.price_sek),
            ]);
        }
        table.rows.push(summary(format!("Summa {}", municipality.name), municipality.total_sek));
    }
    table.rows.push(summary("Totalt".to_string(), basis.total_sek));
    table
}

/// A term's cost basis as CSV or XLSX: every line, each municipality's sum, the total.
#[utoipa::path(get, path = "/costs/export", params(CostsQuery, FormatQuery, ViewQuery), tag = "exports",
    responses(
        (status = 200, description = "Semicolon-separated CSV (UTF-8 with BOM) or an Excel workbook",
            content((String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn export_costs(
    State(app): AppState,
    Reader(actor): Reader,
    Q(pairs): RawPairs,
    Q(c): Q<CostsQuery>,
    Q(f): Q<FormatQuery>,
    Q(q): Q<ViewQuery>,
) -> Result<Response, ApiError> {
    only(&pairs, &["term", "municipality", "format"])?;
    let format = f.format()?;
    let municipality = cost_scope(&app, &actor, c.municipality.as_deref())?;
    let basis = read_costs(&app, c.term.as_deref(), municipality.as_deref(), &q).await?;
    export::answer(&costs_table(&basis), format)
}
