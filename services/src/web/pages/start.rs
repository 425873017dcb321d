//! `/start`: where each role lands after logging in.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use kurslogg_domain::{MunicipalityId, PackageId, Term};
use minijinja::context;
use minijinja::value::Serde;
use serde::Serialize;

use crate::app::lists::{PackageItem, PackagesQuery, Paging, RegistrationsQuery, ViewAt, MAX_LIMIT};
use crate::app::{Kurslogg, Role};
use crate::auth::Origin;
use crate::http::extract::Seen;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::Visitor;

type AppState = State<Arc<Kurslogg>>;

/// The start page of the visitor's role.
pub async fn start(State(app): AppState, visitor: Visitor, Seen(origin): Seen) -> Result<Response, PageError> {
    match (visitor.actor.role, visitor.actor.municipality.clone()) {
        (Role::Coordinator, Some(municipality)) => coordinator(&app, &visitor, &origin, &municipality).await,
        (Role::Participant, _) => super::participant::own_record(&app, &visitor, &origin).await,
        (Role::Supervisor, _) => super::supervisor::start(&app, &visitor, &origin).await,
        (Role::Trainer, _) => super::trainer::start(&app, &visitor).await,
        (Role::CourseOffice, _) => super::office_packages::start(&app, &visitor).await,
        (Role::Auditor, _) => super::audit::start(&visitor).await,
        _ => page::render(&visitor, "start.html.j2", "/start", context! { title => "Start" }),
    }
}

/// A package on the coordinator's start page, with where the municipality stands on it.
#[derive(Serialize)]
struct PackageStanding {
    package: PackageItem,
    lines: usize,
    requested: usize,
    confirmed: usize,
    waiting: usize,
}

/// What the municipality pays for a term so far.
#[derive(Serialize)]
struct TermCosts {
    term: String,
    participations: i64,
    charged_cancellations: i64,
    total_sek: i64,
}

/// The coordinator's start page: the packages open for registration (or just allocated)
/// with the deadline, the days left and the municipality's lines on each; and the
/// municipality's costs for those terms so far.
async fn coordinator(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &Origin,
    municipality: &MunicipalityId,
) -> Result<Response, PageError> {
    let all = Paging { limit: MAX_LIMIT, offset: 0 };
    let packages = app.list_packages(&PackagesQuery { paging: all, ..PackagesQuery::default() }).await?.items;
    let current: Vec<PackageItem> =
        packages.into_iter().filter(|p| matches!(p.phase.as_str(), "published" | "registration_closed")).collect();
    let mut standings = vec![];
    for package in current {
        let id: PackageId = package.id.parse().map_err(|_| PageError::not_found())?;
        let query = RegistrationsQuery { package: id, filter: Default::default(), paging: all, at: ViewAt::Now };
        let lines = app.list_municipality_registrations(&visitor.actor, origin, municipality, &query).await?.items;
        let count = |status: &str| lines.iter().filter(|l| l.status == status).count();
        standings.push(PackageStanding {
            requested: count("requested"),
            confirmed: count("confirmed"),
            waiting: count("waiting"),
            lines: lines.len(),
            package,
        });
    }
    let mut terms: Vec<String> = standings.iter().map(|s| s.package.term.clone()).collect();
    terms.dedup();
    let mut costs = vec![];
    for raw in terms {
        let Ok(term) = Term::parse(&raw) else { continue };
        let basis = app.municipality_costs(&visitor.actor, municipality, &term, ViewAt::Now).await?;
        costs.push(TermCosts {
            term: raw,
            participations: basis.participations,
            charged_cancellations: basis.charged_cancellations,
            total_sek: basis.total_sek,
        });
    }
    let name = app.municipality(municipality).await?.name;
    page::render(
        visitor,
        "start_coordinator.html.j2",
        "/start",
        context! {
            title => "Start",
            municipality => name,
            standings => Serde(standings),
            costs => Serde(costs),
        },
    )
}
