//! Erasing a staff member's personal data on request (docs/decisions/0007).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use kurslogg_domain::StaffId;

use super::dto::{prose, ReasonBody};
use super::error::{ApiError, Problem};
use super::extract::{path_id, Cmd};
use crate::app::{Kurslogg, Written};

/// Erase a staff member's personal data (course office only). Their name, work e-mail
/// and attendance notes become unreadable everywhere, for good: views, exports, the
/// audit trail, letters and the log itself (their key is destroyed). Registrations,
/// attendance and certificates stay, by id, so counts and costs do not change. The
/// erasure is an event in the audit trail with who asked and why; the reason stays, so
/// it must not give the person's name or e-mail address (422 if it does). A second
/// erasure is refused with 409 `staff_erased`, as is any other command on the person.
#[utoipa::path(post, path = "/staff/{id}/erase", request_body = ReasonBody, tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn erase_staff(
    State(app): State<Arc<Kurslogg>>,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<ReasonBody>,
) -> Result<Json<Written>, ApiError> {
    let staff: StaffId = path_id(&id, "staff member")?;
    Ok(Json(app.erase_staff(&ctx, staff, prose("reason", &body.reason)?).await?))
}
