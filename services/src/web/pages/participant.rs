//! A participant's own record: courses, sessions attended, hours, certificates.

use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;

use crate::app::lists::ViewAt;
use crate::app::Kurslogg;
use crate::auth::Origin;
use crate::web::error::PageError;
use crate::web::page;
use crate::web::session::Visitor;

/// The participant's start page: their own record.
pub async fn own_record(app: &Kurslogg, visitor: &Visitor, origin: &Origin) -> Result<Response, PageError> {
    let Some(me) = visitor.actor.staff else { return Err(PageError::forbidden()) };
    let record = app.participant_record_seen(&visitor.actor, origin, me, ViewAt::Now).await?;
    page::render(
        visitor,
        "participant.html.j2",
        "/start",
        context! { title => "Mina kurser", record => Serde(&record) },
    )
}
