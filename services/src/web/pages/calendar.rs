//! `/kalender`: the coming courses month by month (Stockholm time), for planning each
//! person's competence development (seed 001), and a link for one's own calendar app.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use chrono::Datelike;
use chrono_tz::Europe::Stockholm;
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use crate::app::lists::CatalogueOffering;
use crate::app::Kurslogg;
use crate::http::extract::Seen;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::{Submitted, Visitor};

type AppState = State<Arc<Kurslogg>>;

const MONTHS: [&str; 12] = [
    "Januari",
    "Februari",
    "Mars",
    "April",
    "Maj",
    "Juni",
    "Juli",
    "Augusti",
    "September",
    "Oktober",
    "November",
    "December",
];

/// The coming courses of one month.
#[derive(Serialize)]
struct Month {
    name: String,
    courses: Vec<CatalogueOffering>,
}

fn by_month(courses: Vec<CatalogueOffering>) -> Vec<Month> {
    let mut months: Vec<Month> = vec![];
    for course in courses {
        let Ok(start) = chrono::DateTime::parse_from_rfc3339(&course.starts_at) else { continue };
        let local = start.with_timezone(&Stockholm);
        let name = format!("{} {}", MONTHS[local.month0() as usize], local.year());
        match months.last_mut() {
            Some(month) if month.name == name => month.courses.push(course),
            _ => months.push(Month { name, courses: vec![course] }),
        }
    }
    months
}

/// `GET /kalender`.
pub async fn calendar(State(app): AppState, visitor: Visitor) -> Result<Response, PageError> {
    let months = by_month(app.coming_courses().await?);
    page::render(
        &visitor,
        "calendar.html.j2",
        "/kalender",
        context! { title => "Kalender", months => Serde(months), link => None::<String>, has_staff => visitor.actor.staff.is_some() },
    )
}

/// A form with nothing but its proof.
#[derive(Debug, Default, Deserialize)]
pub struct Nothing {}

/// `POST /kalender/lank`: a personal link to one's own courses for a calendar app (a
/// token of its own, valid a year and revocable like any other), shown once.
pub async fn make_link(
    State(app): AppState,
    Seen(origin): Seen,
    headers: HeaderMap,
    submitted: Submitted<Nothing>,
) -> Result<Response, PageError> {
    let visitor = submitted.visitor;
    let Some(staff) = visitor.actor.staff else { return Err(PageError::forbidden()) };
    let token =
        app.auth.issue_token(&visitor.actor, &origin, &visitor.user.user_id, "Kalenderlänk", Some(365)).await.map_err(
            |e| {
                tracing::error!(error = %e, "a calendar link could not be made");
                PageError::unavailable()
            },
        )?;
    let link = format!("{}/staff/{staff}/calendar.ics?access_token={}", base_url(&headers), token.token);
    let months = by_month(app.coming_courses().await?);
    page::render(
        &visitor,
        "calendar.html.j2",
        "/kalender",
        context! { title => "Kalender", months => Serde(months), link, has_staff => true },
    )
}

/// The address the browser used for the service: a calendar app needs the whole URL. A
/// reverse proxy's `X-Forwarded-Proto` says whether that was HTTPS; without one, only a
/// local address is taken to be plain HTTP.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let forwarded = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok());
    let local = host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    let scheme = match forwarded {
        Some("http") => "http",
        Some(_) => "https",
        None if local => "http",
        None => "https",
    };
    format!("{scheme}://{host}")
}
