//! What every page has: the layout's context (who is logged in, the menu for their role,
//! the CSRF token for forms) merged with the page's own values, rendered to a response.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{context, Value};

use super::error::PageError;
use super::session::Visitor;
use super::templates;
use crate::app::Role;

/// One entry of the main menu.
#[derive(Debug, serde::Serialize)]
struct NavItem {
    href: &'static str,
    label: &'static str,
}

/// The main menu of a role: the parts of Stationen it may use.
fn menu(role: Role) -> Vec<NavItem> {
    let items: &[(&str, &str)] = match role {
        Role::Coordinator => &[
            ("/start", "Start"),
            ("/kurspaket", "Kurskatalog"),
            ("/personal", "Personal"),
            ("/kostnader", "Kostnader"),
        ],
        Role::Supervisor => &[
            ("/start", "Start"),
            ("/mina-medarbetare", "Mina medarbetare"),
            ("/sammanfattningar", "Sammanfattningar"),
            ("/kalender", "Kalender"),
        ],
        Role::Participant => &[("/start", "Mina kurser"), ("/kalender", "Kalender")],
        Role::Trainer => &[("/start", "Mina kurser")],
        Role::CourseOffice => &[
            ("/start", "Start"),
            ("/kansli/kurser", "Kurser"),
            ("/kansli/kurspaket", "Kurspaket"),
            ("/kansli/brev", "Brev"),
            ("/kansli/statistik", "Statistik"),
            ("/kansli/kostnader", "Kostnader"),
            ("/kansli/anvandare", "Användare"),
        ],
        Role::Auditor => &[("/start", "Start"), ("/granskning", "Granskning")],
        Role::System => &[("/start", "Start")],
    };
    items.iter().map(|(href, label)| NavItem { href, label }).collect()
}

/// Renders `template` for `visitor` with status 200. `current` is the menu entry the page
/// belongs to (marked for screen readers with `aria-current`).
pub fn render(visitor: &Visitor, template: &str, current: &str, page: Value) -> Result<Response, PageError> {
    render_with(StatusCode::OK, visitor, template, current, page)
}

/// As [`render`], with another status: a refused form comes back with 422 and its fields.
pub fn render_with(
    status: StatusCode,
    visitor: &Visitor,
    template: &str,
    current: &str,
    page: Value,
) -> Result<Response, PageError> {
    let layout = context! {
        user => context! {
            name => visitor.user.display_name.clone(),
            role => visitor.user.role.as_str(),
            municipality => visitor.user.municipality.clone(),
        },
        menu => Value::from(Serde(menu(visitor.user.role))),
        current,
        csrf => visitor.csrf.clone(),
    };
    let html = templates::render(template, context! { ..page, ..layout })?;
    Ok((status, Html(html)).into_response())
}

/// A fresh idempotency key for a form that makes a binding change.
pub fn form_key() -> String {
    uuid::Uuid::new_v4().to_string()
}
