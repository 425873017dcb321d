//! `/start`: where each role lands after logging in.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use minijinja::context;

use crate::app::Kurslogg;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::Visitor;

/// The start page of the visitor's role.
pub async fn start(State(_app): State<Arc<Kurslogg>>, visitor: Visitor) -> Result<Response, PageError> {
    page::render(&visitor, "start.html.j2", "/start", context! { title => "Start" })
}
