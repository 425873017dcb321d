//! `/kostnader`: what the municipality pays for a term (confirmed seats and charged
//! cancellations at each offering's price), line by line, with the same figures as CSV
//! or Excel from the API's export.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use kurslogg_domain::Term;
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::app::lists::{PackagesQuery, Paging, ViewAt, MAX_LIMIT};
use crate::app::{Kurslogg, Role};
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::Visitor;

/// The term asked for.
#[derive(Debug, Default, Deserialize)]
pub struct CostsQuery {
    #[serde(default)]
    termin: String,
}

/// `GET /kostnader?termin=HT2027`.
pub async fn costs(
    State(app): State<Arc<Kurslogg>>,
    visitor: Visitor,
    Query(q): Query<CostsQuery>,
) -> Result<Response, PageError> {
    let municipality = match (&visitor.actor.role, &visitor.actor.municipality) {
        (Role::Coordinator, Some(m)) => m.clone(),
        _ => return Err(PageError::forbidden()),
    };
    let packages = app
        .list_packages(&PackagesQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, ..Default::default() })
        .await?
        .items;
    let mut terms: Vec<String> = packages.iter().filter(|p| p.phase != "draft").map(|p| p.term.clone()).collect();
    terms.dedup();
    // The term asked for if it is one of the packages', else the newest.
    let chosen = terms.iter().find(|t| **t == q.termin).or(terms.first()).cloned();
    let basis = match chosen.as_deref().map(Term::parse) {
        Some(Ok(term)) => Some(app.municipality_costs(&visitor.actor, &municipality, &term, ViewAt::Now).await?),
        _ => None,
    };
    let options: Vec<(String, String)> = terms.iter().map(|t| (t.clone(), t.clone())).collect();
    page::render(
        &visitor,
        "costs.html.j2",
        "/kostnader",
        context! {
            title => "Kostnader",
            term => chosen,
            terms => Serde(options),
            costs => Serde(basis),
        },
    )
}
