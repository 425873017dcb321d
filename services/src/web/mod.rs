//! The web pages ("Stationen", seed 001): server-rendered HTML in Swedish for the people
//! who use Kurslogg, served by the same binary beside the JSON API and over the same
//! application layer (`crate::app`): a page handler parses the request, calls a use case
//! or a read, and picks a template. Every page works without JavaScript; htmx (vendored
//! in `static/`) only swaps fragments where that saves a reload.
//!
//! Paths are Swedish and readable (`/personal`, `/kurspaket/{id}`); the API keeps its
//! English paths, so the two never collide.

mod assets;
mod error;
mod form;
mod letter;
mod page;
mod pages;
pub mod session;
mod templates;
pub mod text;

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::PageError;

use crate::app::Kurslogg;

/// The pages' content security policy: our own scripts, styles and images only, forms
/// only to ourselves, never framed. No inline script or style anywhere in the templates.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every page and the static files they use.
pub fn router(app: Arc<Kurslogg>) -> Router {
    Router::new()
        .route("/", get(session::front_door))
        .route("/logga-in", post(session::log_in))
        .route("/logga-ut", post(session::log_out))
        .route("/start", get(pages::start::start))
        .route("/kurspaket", get(pages::catalogue::packages))
        .route("/kurspaket/{id}", get(pages::catalogue::catalogue))
        .route(
            "/kurspaket/{id}/anmalan",
            get(pages::registration::registration).post(pages::registration::change_choices),
        )
        .route("/kurspaket/{id}/anmalan/kontroll", post(pages::registration::check))
        .route("/kurspaket/{id}/anmalan/skicka", post(pages::registration::send))
        .route(
            "/kurspaket/{id}/anmalan/{offering}/{staff}/avanmal",
            get(pages::registration::confirm_cancel).post(pages::registration::cancel),
        )
        .route(
            "/kurspaket/{id}/anmalan/{offering}/{staff}/overlat",
            get(pages::registration::choose_colleague).post(pages::registration::transfer),
        )
        .route("/kostnader", get(pages::costs::costs))
        .route("/personal", get(pages::staff::register))
        .route("/personal/ny", get(pages::staff::new_person).post(pages::staff::add_person))
        .route("/personal/{id}", get(pages::staff::person))
        .route("/personal/{id}/andra", get(pages::staff::edit_person).post(pages::staff::change_person))
        .route("/personal/{id}/pausa", post(pages::staff::pause))
        .route("/personal/{id}/aterstall", post(pages::staff::resume))
        .route("/personal/{id}/ta-bort", get(pages::staff::confirm_remove).post(pages::staff::remove))
        .route("/mina-medarbetare", get(pages::supervisor::my_staff))
        .route("/mina-medarbetare/{id}", get(pages::supervisor::person))
        .route("/sammanfattningar", get(pages::supervisor::summaries))
        .route("/sammanfattningar/{id}", get(pages::supervisor::summary))
        .route("/undervisning/{id}", get(pages::trainer::offering))
        .route("/undervisning/{id}/tillfalle/{number}", get(pages::trainer::session).post(pages::trainer::mark))
        .route("/kalender", get(pages::calendar::calendar))
        .route("/kalender/lank", post(pages::calendar::make_link))
        // The course office: courses, packages, offerings, allocation, rosters (decision 0020).
        .route("/kansli/kurser", get(pages::office_courses::courses))
        .route("/kansli/kurser/ny", get(pages::office_courses::new_course).post(pages::office_courses::add_course))
        .route(
            "/kansli/kurser/{code}",
            get(pages::office_courses::edit_course).post(pages::office_courses::revise_course),
        )
        .route("/kansli/kurspaket", get(pages::office_packages::packages))
        .route(
            "/kansli/kurspaket/nytt",
            get(pages::office_packages::new_package).post(pages::office_packages::create_package),
        )
        .route("/kansli/kurspaket/{id}", get(pages::office_packages::package))
        .route("/kansli/kurspaket/{id}/publicera", post(pages::office_packages::publish))
        .route("/kansli/kurspaket/{id}/arkivera", post(pages::office_packages::archive))
        .route("/kansli/kurspaket/{id}/kopiera", post(pages::office_packages::copy))
        .route(
            "/kansli/kurspaket/{id}/sista-dag",
            get(pages::office_packages::edit_deadline).post(pages::office_packages::change_deadline),
        )
        .route(
            "/kansli/kurspaket/{id}/tillfallen/nytt",
            get(pages::office_offerings::new_offering).post(pages::office_offerings::plan_offering),
        )
        .route("/kansli/kurspaket/{id}/oversikt", get(pages::office_allocation::overview))
        .route(
            "/kansli/kurspaket/{id}/stang",
            get(pages::office_allocation::confirm_close).post(pages::office_allocation::close),
        )
        .route("/kansli/kurspaket/{id}/fordelning", get(pages::office_allocation::allocation))
        .route("/kansli/tillfallen/{id}", get(pages::office_offerings::roster))
        .route(
            "/kansli/tillfallen/{id}/andra",
            get(pages::office_offerings::edit_offering).post(pages::office_offerings::revise_offering),
        )
        .route("/kansli/tillfallen/{id}/platser", post(pages::office_offerings::change_seats))
        .route("/kansli/tillfallen/{id}/avsluta", post(pages::office_offerings::complete))
        .route(
            "/kansli/tillfallen/{id}/stall-in",
            get(pages::office_offerings::confirm_cancel).post(pages::office_offerings::cancel),
        )
        .route("/kansli/tillfallen/{id}/utbildare", post(pages::office_offerings::assign_trainer))
        .route("/kansli/tillfallen/{id}/utbildare/ta-bort", post(pages::office_offerings::unassign_trainer))
        .route(
            "/kansli/tillfallen/{id}/intyg/{staff}/aterkalla",
            get(pages::office_offerings::confirm_withdraw_certificate)
                .post(pages::office_offerings::withdraw_certificate),
        )
        // The course office's follow-up: letters, statistics, costs, users, erasure; the
        // auditor's pages (decision 0021).
        .route("/kansli/brev", get(pages::office_letters::outbox))
        .route("/kansli/brev/{id}", get(pages::office_letters::letter))
        .route("/kansli/brev/{id}/skicka-igen", post(pages::office_letters::resend))
        .route("/kansli/statistik", get(pages::office_statistics::statistics))
        .route("/kansli/kostnader", get(pages::office_statistics::costs))
        .route("/kansli/anvandare", get(pages::office_users::users))
        .route("/kansli/anvandare/ny", get(pages::office_users::new_user).post(pages::office_users::create_user))
        .route("/kansli/anvandare/sakerhetslogg", get(pages::office_users::security_log))
        .route("/kansli/anvandare/{id}", get(pages::office_users::user))
        .route(
            "/kansli/anvandare/{id}/stang-av",
            get(pages::office_users::confirm_disable).post(pages::office_users::disable),
        )
        .route(
            "/kansli/anvandare/{id}/losenord",
            get(pages::office_users::confirm_reset).post(pages::office_users::reset_password),
        )
        .route("/kansli/personer", get(pages::office_users::people))
        .route("/kansli/personer/{id}/radera", get(pages::office_users::confirm_erase).post(pages::office_users::erase))
        .route("/granskning", get(pages::audit::trail))
        .route("/granskning/tidsresa", get(pages::audit::time_travel))
        // Certificates and their public check (decision 0019).
        .route("/kontrollera-intyg", get(pages::certificates::form).post(pages::certificates::answer))
        .route("/static/{file}", get(assets::serve))
        .with_state(app.clone())
        .layer(axum::middleware::from_fn_with_state(app, seen))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
}

/// Puts where a request came from (client address, request id) on it, for the security
/// log that records every read of people's data, as the API's authentication does.
async fn seen(
    axum::extract::State(app): axum::extract::State<Arc<Kurslogg>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let origin = crate::http::auth::origin_of(&app, &request);
    request.extensions_mut().insert(origin);
    next.run(request).await
}

/// Whether a request comes from a browser that wants a page rather than JSON: what the
/// API's fallback and single sign-on's callback use to answer people with pages.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// The page for an address that is neither a page nor an API endpoint.
pub fn not_found_page() -> Response {
    PageError::not_found().into_response()
}
