//! The course catalogue ("kurskatalog"): the term's packages, and each package's offerings
//! with everything a coordinator or supervisor needs to choose (dates, place, trainer,
//! seats, target group, prerequisites, competence areas, price), filtered by experience
//! band, staff group and competence area, and printable for appraisal talks.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use kurslogg_domain::PackageId;
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::app::lists::{OfferingFilter, OfferingsQuery, PackagesQuery, Paging, MAX_LIMIT};
use crate::app::Kurslogg;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::Visitor;
use crate::web::text;

type AppState = State<Arc<Kurslogg>>;

/// `/kurspaket`: every course package, newest term first.
pub async fn packages(State(app): AppState, visitor: Visitor) -> Result<Response, PageError> {
    let query = PackagesQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..PackagesQuery::default() };
    let listed = app.list_packages(&query).await?;
    // Drafts are the course office's work in progress.
    let packages: Vec<_> =
        listed.items.into_iter().filter(|p| p.phase != "draft" || visitor.actor.is_course_office()).collect();
    page::render(
        &visitor,
        "packages.html.j2",
        "/kurspaket",
        context! { title => "Kurskatalog", packages => Serde(packages) },
    )
}

/// The catalogue's filters, as the form sends them ("" is "all").
#[derive(Debug, Default, Deserialize)]
pub struct CatalogueFilter {
    #[serde(default)]
    erfarenhet: String,
    #[serde(default)]
    personalgrupp: String,
    #[serde(default)]
    omrade: String,
}

/// `/kurspaket/{id}`: a package's catalogue.
pub async fn catalogue(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, PageError> {
    let package: PackageId = id.parse().map_err(|_| PageError::not_found())?;
    let view = app.package(package).await?;
    if view.phase == "draft" && !visitor.actor.is_course_office() {
        return Err(PageError::not_found());
    }
    let all = OfferingsQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..OfferingsQuery::default() };
    let everything = app.list_package_offerings(package, &all).await?;
    let areas: BTreeSet<String> = everything.items.iter().flat_map(|o| o.competence_areas.iter().cloned()).collect();
    // Only values the form offers count; anything else shows the whole catalogue.
    let known_band = text::BANDS.iter().any(|(v, _)| *v == filter.erfarenhet);
    let known_group = text::GROUPS.iter().any(|(v, _)| *v == filter.personalgrupp);
    let known_area = areas.contains(&filter.omrade);
    let chosen = OfferingFilter {
        experience_band: known_band.then(|| filter.erfarenhet.clone()),
        staff_group: known_group.then(|| filter.personalgrupp.clone()),
        competence_area: known_area.then(|| filter.omrade.clone()),
    };
    let filtered = chosen != OfferingFilter::default();
    let offerings = if filtered {
        let query = OfferingsQuery { filter: chosen, ..all };
        app.list_package_offerings(package, &query).await?.items
    } else {
        everything.items
    };
    let area_options: Vec<(String, String)> = areas.iter().map(|a| (a.clone(), a.clone())).collect();
    page::render(
        &visitor,
        "catalogue.html.j2",
        "/kurspaket",
        context! {
            title => format!("Kurskatalog {}", view.term),
            package => Serde(&view),
            offerings => Serde(offerings),
            filtered,
            total => everything.total,
            bands => Serde(text::BANDS),
            groups => Serde(text::GROUPS),
            areas => Serde(area_options),
            chosen => context! {
                band => if known_band { filter.erfarenhet } else { String::new() },
                group => if known_group { filter.personalgrupp } else { String::new() },
                area => if known_area { filter.omrade } else { String::new() },
            },
        },
    )
}
