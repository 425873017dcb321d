//! Participation statistics: what the federation reports each year (participants per
//! year, per municipality, per course) and what Socialstyrelsen asks for (by experience
//! and education).
//!
//! A **participation** is one person's confirmed place on an offering that was not
//! cancelled (completed ones included). Participations are not persons: the same person
//! takes several courses, so every count comes with the number of distinct persons
//! beside it. People are counted as they were when they were put on the offering
//! (municipality, staff group, experience band, degree), and by id only: an erased
//! person still counts.

use std::cmp::Ordering;

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{Db, Param, Record};
use crate::enrolment;
use crate::runner::ProjectionError;

/// What participations can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The calendar year of the offering's term.
    Year,
    /// The offering's term, e.g. HT2027.
    Term,
    /// The participant's municipality.
    Municipality,
    /// The course.
    Course,
    /// The participant's experience band.
    ExperienceBand,
    /// The participant's staff group.
    StaffGroup,
    /// Whether the participant holds a social-work degree (socionomexamen).
    SocialWorkDegree,
}

impl Dimension {
    /// Every dimension, in the order they are documented.
    pub const ALL: [Dimension; 7] = [
        Dimension::Year,
        Dimension::Term,
        Dimension::Municipality,
        Dimension::Course,
        Dimension::ExperienceBand,
        Dimension::StaffGroup,
        Dimension::SocialWorkDegree,
    ];

    /// Its name in `group_by`.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Year => "year",
            Dimension::Term => "term",
            Dimension::Municipality => "municipality",
            Dimension::Course => "course",
            Dimension::ExperienceBand => "experience_band",
            Dimension::StaffGroup => "staff_group",
            Dimension::SocialWorkDegree => "social_work_degree",
        }
    }

    /// The dimensions of a comma-separated list such as `year,municipality`; a clear
    /// message for an unknown, empty or repeated one.
    pub fn parse_list(raw: &str) -> Result<Vec<Dimension>, String> {
        let known = || Dimension::ALL.map(Dimension::name).join(", ");
        let mut dimensions = Vec::new();
        for part in raw.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!("group_by has an empty dimension; give a comma-separated list of {}", known()));
            }
            let Some(dimension) = Dimension::ALL.into_iter().find(|d| d.name() == part) else {
                return Err(format!("group_by: unknown dimension {part:?}; the dimensions are {}", known()));
            };
            if dimensions.contains(&dimension) {
                return Err(format!("group_by names {part:?} twice"));
            }
            dimensions.push(dimension);
        }
        Ok(dimensions)
    }

    /// The columns it selects (the first is the one grouped by).
    fn columns(self) -> &'static [&'static str] {
        match self {
            Dimension::Year => &["o.year"],
            Dimension::Term => &["o.term"],
            Dimension::Municipality => &["e.municipality", "max(m.name)"],
            Dimension::Course => &["o.course", "max(o.title)"],
            Dimension::ExperienceBand => &["e.experience_band"],
            Dimension::StaffGroup => &["e.staff_group"],
            Dimension::SocialWorkDegree => &["e.social_work_degree"],
        }
    }
}

/// Which participations to count: each filter given narrows the count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StatisticsFilter {
    /// Only offerings of this calendar year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i64>,
    /// Only offerings of this term, e.g. HT2027.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// Only participants of this municipality (id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// Only offerings of this course (code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course: Option<String>,
}

/// One group of participations. Only the dimensions grouped by are present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StatisticsRow {
    /// Calendar year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i64>,
    /// Term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// Municipality id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// Municipality name (with `municipality`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub municipality_name: Option<String>,
    /// Course code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course: Option<String>,
    /// Course title (with `course`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub course_title: Option<String>,
    /// new0_to2, years3_to5, over5 or supervisors ("unknown" if never recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experience_band: Option<String>,
    /// myndighetsutovning or utforare ("unknown" if never recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_group: Option<String>,
    /// Holds a social-work degree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_work_degree: Option<bool>,
    /// Participations: confirmed places on offerings not cancelled.
    pub participations: i64,
    /// Distinct persons among them.
    pub persons: i64,
}

/// Participations and persons in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatisticsTotal {
    /// Participations.
    pub participations: i64,
    /// Distinct persons: fewer than participations when someone took several courses
    /// (so the rows' persons can add up to more than this).
    pub persons: i64,
}

/// Participation statistics.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Statistics {
    /// The dimensions grouped by, in the order asked.
    pub group_by: Vec<String>,
    /// The filters applied.
    pub filter: StatisticsFilter,
    /// One row per group, sorted by the dimensions in the order asked (years and terms
    /// in time order, municipalities by name in Swedish order, experience bands from new
    /// to supervisors); empty when not grouped.
    pub rows: Vec<StatisticsRow>,
    /// The whole count.
    pub total: StatisticsTotal,
    /// Log position the statistics reflect.
    pub position: i64,
}

/// Counts participations matched by `filter`, grouped by `group_by`.
pub async fn statistics(
    db: &Db,
    group_by: &[Dimension],
    filter: &StatisticsFilter,
) -> Result<Statistics, ProjectionError> {
    let position = super::position(db, enrolment::NAME).await?;
    let mut conditions: Vec<String> = vec!["e.status = 'confirmed'".into(), "o.state <> 'cancelled'".into()];
    let mut params: Vec<Param> = Vec::new();
    // Placeholders are numbered in the order they appear, as SQLite wants.
    let mut bind = |column: &str, param: Param| {
        params.push(param);
        conditions.push(format!("{column} = ${}", params.len()));
    };
    if let Some(year) = filter.year {
        bind("o.year", Param::Int(year));
    }
    if let Some(term) = &filter.term {
        bind("o.term", term.clone().into());
    }
    if let Some(municipality) = &filter.municipality {
        bind("e.municipality", municipality.clone().into());
    }
    if let Some(course) = &filter.course {
        bind("o.course", course.clone().into());
    }
    let from = format!(
        "FROM roster_entries e JOIN roster_offerings o ON o.offering_id = e.offering_id \
         LEFT JOIN enrolment_municipalities m ON m.municipality_id = e.municipality WHERE {}",
        conditions.join(" AND ")
    );

    let totals = db.fetch(&format!("SELECT count(*), count(DISTINCT e.staff_id) {from}"), &params).await?;
    let total =
        totals.first().map(|r| StatisticsTotal { participations: r.int(0), persons: r.int(1) }).unwrap_or_default();

    let mut rows = Vec::new();
    if !group_by.is_empty() {
        let selected: Vec<&str> = group_by.iter().flat_map(|d| d.columns().iter().copied()).collect();
        let grouped: Vec<&str> = group_by.iter().map(|d| d.columns()[0]).collect();
        let sql = format!(
            "SELECT {}, count(*), count(DISTINCT e.staff_id) {from} GROUP BY {}",
            selected.join(", "),
            grouped.join(", ")
        );
        let mut keyed: Vec<(Vec<(i64, String)>, StatisticsRow)> =
            db.fetch(&sql, &params).await?.iter().map(|r| row(r, group_by)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        rows = keyed.into_iter().map(|(_, row)| row).collect();
    }

    Ok(Statistics {
        group_by: group_by.iter().map(|d| d.name().to_string()).collect(),
        filter: filter.clone(),
        rows,
        total,
        position,
    })
}

/// A row read back, with its sort key.
fn row(r: &Record, group_by: &[Dimension]) -> (Vec<(i64, String)>, StatisticsRow) {
    let mut row = StatisticsRow::default();
    let mut key = Vec::with_capacity(group_by.len());
    let mut i = 0;
    let known = |raw: Option<String>| raw.unwrap_or_else(|| "unknown".to_string());
    for dimension in group_by {
        match dimension {
            Dimension::Year => {
                let year = r.int(i);
                key.push((year, String::new()));
                row.year = Some(year);
            }
            Dimension::Term => {
                let term = r.text(i);
                key.push((term_order(&term), term.clone()));
                row.term = Some(term);
            }
            Dimension::Municipality => {
                let id = r.text(i);
                let name = r.opt_text(i + 1).unwrap_or_else(|| id.clone());
                key.push((0, format!("{}\u{0}{id}", swedish_key(&name))));
                row.municipality = Some(id);
                row.municipality_name = Some(name);
            }
            Dimension::Course => {
                let code = r.text(i);
                key.push((0, code.clone()));
                row.course = Some(code);
                row.course_title = r.opt_text(i + 1);
            }
            Dimension::ExperienceBand => {
                let band = known(r.opt_text(i));
                key.push((rank(&["new0_to2", "years3_to5", "over5", "supervisors"], &band), band.clone()));
                row.experience_band = Some(band);
            }
            Dimension::StaffGroup => {
                let group = known(r.opt_text(i));
                key.push((rank(&["myndighetsutovning", "utforare"], &group), group.clone()));
                row.staff_group = Some(group);
            }
            Dimension::SocialWorkDegree => {
                let degree = r.opt_int(i).map(|d| d != 0);
                key.push((degree.map_or(2, i64::from), String::new()));
                row.social_work_degree = degree;
            }
        }
        i += dimension.columns().len();
    }
    row.participations = r.int(i);
    row.persons = r.int(i + 1);
    (key, row)
}

/// Where `value` stands in `order` (anything else after).
fn rank(order: &[&str], value: &str) -> i64 {
    order.iter().position(|o| *o == value).unwrap_or(order.len()) as i64
}

/// Terms in time order: VT2027, HT2027, VT2028.
fn term_order(term: &str) -> i64 {
    let year: i64 = term.get(2..).and_then(|y| y.parse().ok()).unwrap_or(0);
    year * 2 + i64::from(term.starts_with("HT"))
}

/// A key that sorts names the Swedish way: case-insensitive, å, ä and ö after z.
pub fn swedish_key(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'å' => '{',
            'ä' | 'æ' => '|',
            'ö' | 'ø' => '}',
            'é' | 'è' | 'ê' => 'e',
            'ü' => 'y',
            c => c,
        })
        .collect()
}

/// Orders two names the Swedish way (see [`swedish_key`]), then exactly.
pub fn swedish_order(a: &str, b: &str) -> Ordering {
    swedish_key(a).cmp(&swedish_key(b)).then_with(|| a.cmp(b))
}
