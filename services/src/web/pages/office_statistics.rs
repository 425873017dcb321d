//! `/kansli/statistik` and `/kansli/kostnader`: the course office's follow-up in figures.
//! Participations grouped as asked (year, term, municipality, course, experience band,
//! staff group, degree), with persons beside participations and the difference said in
//! words; the federation's four charts, each with its figures as a table; and the cost
//! basis of a term for every municipality or one. Downloads come from the API's exports.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use kurslogg_domain::Term;
use kurslogg_projections::views::statistics::{Dimension, Statistics, StatisticsFilter, StatisticsRow};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::follow_up;
use crate::app::lists::{CoursesQuery, PackagesQuery, Paging, ViewAt, MAX_LIMIT};
use crate::app::Kurslogg;
use crate::http::charts::Chart;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::{encode_query_value, Visitor};
use crate::web::text;

type AppState = State<Arc<Kurslogg>>;

/// The statistics page's choices as the form sends them ("" is "all"); `grupp` repeats.
#[derive(Debug, Default, Deserialize)]
struct StatisticsQuery {
    #[serde(default)]
    grupp: Vec<String>,
    #[serde(default)]
    ar: String,
    #[serde(default)]
    termin: String,
    #[serde(default)]
    kommun: String,
    #[serde(default)]
    kurs: String,
}

/// The groupings, as (value, Swedish name), in the order the page offers them.
const GROUPINGS: [(&str, &str); 7] = [
    ("year", "År"),
    ("term", "Termin"),
    ("municipality", "Kommun"),
    ("course", "Kurs"),
    ("experience_band", "Erfarenhet"),
    ("staff_group", "Personalgrupp"),
    ("social_work_degree", "Socionomexamen"),
];

/// A row of a statistics table: the group's values in words, then the two counts.
#[derive(Serialize)]
struct Row {
    cells: Vec<String>,
    participations: i64,
    persons: i64,
}

/// One grouping's value of `row` in words.
fn cell(dimension: Dimension, row: &StatisticsRow) -> String {
    match dimension {
        Dimension::Year => row.year.map(|y| y.to_string()).unwrap_or_default(),
        Dimension::Term => row.term.clone().unwrap_or_default(),
        Dimension::Municipality => row.municipality_name.clone().or(row.municipality.clone()).unwrap_or_default(),
        Dimension::Course => row.course_title.clone().or(row.course.clone()).unwrap_or_default(),
        Dimension::ExperienceBand => row.experience_band.as_deref().map(text::band).unwrap_or_default().to_string(),
        Dimension::StaffGroup => row.staff_group.as_deref().map(text::group).unwrap_or_default().to_string(),
        Dimension::SocialWorkDegree => match row.social_work_degree {
            Some(true) => "Ja".into(),
            Some(false) => "Nej".into(),
            None => String::new(),
        },
    }
}

/// `statistics` as a table grouped by `group_by`.
fn rows(statistics: &Statistics, group_by: &[Dimension]) -> Vec<Row> {
    statistics
        .rows
        .iter()
        .map(|r| Row {
            cells: group_by.iter().map(|d| cell(*d, r)).collect(),
            participations: r.participations,
            persons: r.persons,
        })
        .collect()
}

fn header(dimension: Dimension) -> &'static str {
    GROUPINGS.iter().find(|(name, _)| *name == dimension.name()).map_or("", |(_, label)| label)
}

/// The terms and years of the packages, newest first, for the choices.
async fn terms(app: &Kurslogg) -> Result<Vec<String>, PageError> {
    let packages = app
        .list_packages(&PackagesQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..Default::default() })
        .await?
        .items;
    let mut terms: Vec<String> = packages.iter().filter(|p| p.phase != "draft").map(|p| p.term.clone()).collect();
    terms.dedup();
    Ok(terms)
}

/// A chart on the page: its image from the API, and its figures as a table.
#[derive(Serialize)]
struct ChartOnPage {
    title: &'static str,
    src: String,
    headers: Vec<&'static str>,
    rows: Vec<Row>,
}

/// `GET /kansli/statistik`.
pub async fn statistics(
    State(app): AppState,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let q: StatisticsQuery = serde_html_form::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let terms = terms(&app).await?;
    let mut years: Vec<String> = terms.iter().filter_map(|t| t.get(2..)).map(str::to_string).collect();
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    let municipalities = app.municipalities_by_name().await?;
    let courses: Vec<(String, String)> = app
        .list_courses(&CoursesQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, at: ViewAt::Now })
        .await?
        .items
        .into_iter()
        .map(|c| (c.code, c.title))
        .collect();
    // Only what the choices offer is taken; anything else is "all".
    let group_by: Vec<Dimension> =
        Dimension::ALL.into_iter().filter(|d| q.grupp.iter().any(|g| g == d.name())).collect();
    let filter = StatisticsFilter {
        year: years.contains(&q.ar).then(|| q.ar.parse().ok()).flatten(),
        term: terms.contains(&q.termin).then(|| Term::parse(&q.termin).ok().map(|t| t.to_string())).flatten(),
        municipality: municipalities.iter().any(|(id, _)| *id == q.kommun).then(|| q.kommun.clone()),
        course: courses.iter().any(|(code, _)| *code == q.kurs).then(|| q.kurs.clone()),
    };
    let (db, _) = app.views_at(ViewAt::Now).await?;
    let statistics = app.statistics_in(&visitor.actor, &db, &group_by, &filter).await?;
    // The same filters for the charts and the downloads, in the API's words.
    let mut api_filter = vec![];
    for (name, value) in [
        ("year", filter.year.map(|y| y.to_string())),
        ("term", filter.term.clone()),
        ("municipality", filter.municipality.clone()),
        ("course", filter.course.clone()),
    ] {
        if let Some(value) = value {
            api_filter.push(format!("{name}={}", encode_query_value(&value)));
        }
    }
    let filter_query = api_filter.join("&");
    let mut charts = vec![];
    for chart in Chart::ALL {
        let figures = app.statistics_in(&visitor.actor, &db, chart.group_by(), &filter).await?;
        charts.push(ChartOnPage {
            title: chart.title(),
            src: format!("/statistics/charts/{}.svg?{filter_query}", chart.name()),
            headers: chart.group_by().iter().map(|d| header(*d)).collect(),
            rows: rows(&figures, chart.group_by()),
        });
    }
    let mut export = api_filter.clone();
    if !group_by.is_empty() {
        let names: Vec<&str> = group_by.iter().map(|d| d.name()).collect();
        export.push(format!("group_by={}", encode_query_value(&names.join(","))));
    }
    let year_options: Vec<(String, String)> = years.iter().map(|y| (y.clone(), y.clone())).collect();
    let term_options: Vec<(String, String)> = terms.iter().map(|t| (t.clone(), t.clone())).collect();
    page::render(
        &visitor,
        "office_statistics.html.j2",
        "/kansli/statistik",
        context! {
            title => "Statistik",
            groupings => Serde(GROUPINGS),
            grouped => group_by.iter().map(|d| d.name()).collect::<Vec<_>>(),
            headers => group_by.iter().map(|d| header(*d)).collect::<Vec<_>>(),
            rows => Serde(rows(&statistics, &group_by)),
            total => Serde(statistics.total),
            years => Serde(year_options),
            terms => Serde(term_options),
            municipalities => Serde(&municipalities),
            courses => Serde(&courses),
            chosen => context! {
                year => filter.year.map(|y| y.to_string()).unwrap_or_default(),
                term => filter.term.clone().unwrap_or_default(),
                municipality => filter.municipality.clone().unwrap_or_default(),
                course => filter.course.clone().unwrap_or_default(),
            },
            charts => Serde(charts),
            export_query => export.join("&"),
        },
    )
}

/// The costs page's choices.
#[derive(Debug, Default, Deserialize)]
struct CostsQuery {
    #[serde(default)]
    termin: String,
    #[serde(default)]
    kommun: String,
}

/// `GET /kansli/kostnader`: a term's cost basis, every municipality's total and, for the
/// municipality chosen, line by line.
pub async fn costs(State(app): AppState, visitor: Visitor, RawQuery(raw): RawQuery) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let q: CostsQuery = serde_html_form::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let terms = terms(&app).await?;
    let municipalities = app.municipalities_by_name().await?;
    let term = terms.iter().find(|t| **t == q.termin).or(terms.first()).cloned();
    let municipality = municipalities.iter().find(|(id, _)| *id == q.kommun).cloned();
    let (basis, lines) = match &term {
        Some(term) => {
            let (db, _) = app.views_at(ViewAt::Now).await?;
            let all = app.cost_basis_in(&db, term, None).await?;
            let lines = match &municipality {
                Some((id, _)) => app.cost_basis_in(&db, term, Some(id)).await?.municipalities.into_iter().next(),
                None => None,
            };
            (Some(all), lines)
        }
        None => (None, None),
    };
    let mut export = format!("term={}", encode_query_value(term.as_deref().unwrap_or_default()));
    if let Some((id, _)) = &municipality {
        export.push_str(&format!("&municipality={}", encode_query_value(id)));
    }
    let term_options: Vec<(String, String)> = terms.iter().map(|t| (t.clone(), t.clone())).collect();
    page::render(
        &visitor,
        "office_costs.html.j2",
        "/kansli/kostnader",
        context! {
            title => "Kostnader",
            term,
            terms => Serde(term_options),
            municipalities => Serde(&municipalities),
            municipality => municipality.as_ref().map(|(id, name)| context! { id => id.clone(), name => name.clone() }),
            basis => Serde(basis),
            lines => Serde(lines),
            export_query => export,
        },
    )
}
