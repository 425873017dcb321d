//! Certificates as PDF for the people who may have them, and the public check of a
//! certificate by number and name (docs/decisions/0019). The pages link to the PDF
//! addresses with the page session, which the API's GET endpoints accept.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kurslogg_domain::StaffId;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::export;
use super::extract::{actor, path_id, Body, Seen};
use crate::app::{CheckAnswer, CheckRefused, Kurslogg};
use crate::certificates::{certificate_pdf, record_pdf};

type AppState = State<Arc<Kurslogg>>;

/// The answer to a request with no login: a browser (following a link in a letter) is
/// sent to log in and then back here, anyone else gets the 401.
fn signed_out(parts: &Parts, refusal: ApiError) -> Response {
    if crate::web::wants_page(&parts.headers) {
        let here = crate::web::session::encode_query_value(parts.uri.path());
        (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/?nasta={here}"))]).into_response()
    } else {
        refusal.into_response()
    }
}

/// A refusal: a Swedish page for a browser that followed a link from a page, a problem
/// document for a program.
fn refused(parts: &Parts, error: crate::app::AppError) -> Response {
    if crate::web::wants_page(&parts.headers) {
        crate::web::PageError::from(error).into_response()
    } else {
        ApiError::from(error).into_response()
    }
}

/// A PDF made from the log, or a logged 500 (never with the fonts compiled in).
fn pdf(made: Result<Vec<u8>, crate::certificates::PdfError>, filename: &str) -> Result<Response, ApiError> {
    let bytes = made.map_err(|e| {
        tracing::error!(error = %e, "certificate PDF failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the document could not be made")
    })?;
    Ok(export::attachment(bytes, "application/pdf", filename))
}

/// A certificate as PDF (A4, Swedish): the organiser, the holder, the course and what it
/// covered, its sessions, attendance and hours, the number, the date of issue and where
/// to check it (with a QR code). The person, their supervisor, their municipality's
/// coordinators and the course office; anyone else 404 (trainers and auditors 403). A
/// withdrawn certificate, or one whose holder is erased, is 409.
#[utoipa::path(get, path = "/certificates/{number}/pdf", tag = "certificates",
    responses(
        (status = 200, description = "the certificate", content_type = "application/pdf", body = Vec<u8>),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn certificate(
    State(app): AppState,
    Seen(origin): Seen,
    Path(number): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let actor = match actor(&parts) {
        Ok(actor) => actor,
        Err(refusal) => return Ok(signed_out(&parts, refusal)),
    };
    match app.certificate_document(&actor, &origin, &number).await {
        Ok(doc) => pdf(certificate_pdf(&doc), &format!("intyg-{}.pdf", doc.number)),
        Err(e) => Ok(refused(&parts, e)),
    }
}

/// A person's every standing certificate in one PDF ("utbildningsbevis"): each course
/// with its dates, attendance, hours and certificate number. The same readers as a
/// certificate; 409 once the person is erased.
#[utoipa::path(get, path = "/staff/{id}/certificates.pdf", tag = "certificates",
    responses(
        (status = 200, description = "the list of completed courses", content_type = "application/pdf", body = Vec<u8>),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn record(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let actor = match actor(&parts) {
        Ok(actor) => actor,
        Err(refusal) => return Ok(signed_out(&parts, refusal)),
    };
    let staff: StaffId = path_id(&id, "staff member")?;
    match app.certificates_of(&actor, &origin, staff).await {
        Ok(doc) => pdf(record_pdf(&doc), &format!("utbildningsbevis-{}.pdf", doc.holder)),
        Err(e) => Ok(refused(&parts, e)),
    }
}

/// What the check is asked.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckBody {
    /// The certificate's number, as printed on it.
    #[serde(default)]
    pub number: String,
    /// The holder's name, as printed on it (case, spacing and accents' composition do
    /// not matter).
    #[serde(default)]
    pub name: String,
}

/// The answer to a check refused for asking too often: 429 with `Retry-After`.
pub(crate) fn too_many_checks(retry_after_secs: i64) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "För många kontroller av intyg från din adress på kort tid. Försök igen om {} minuter.",
            (retry_after_secs + 59) / 60
        ),
    )
    .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
    response
}

/// Checks a certificate, with no login: `valid` (with what it says), `withdrawn` (with
/// the date), or `unknown`, which is also the answer for a wrong name and for an erased
/// holder. Limited per client address (429).
#[utoipa::path(post, path = "/certificates/check", request_body = CheckBody, tag = "certificates",
    responses((status = 200, body = CheckAnswer),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn check(State(app): AppState, Seen(origin): Seen, Body(body): Body<CheckBody>) -> Response {
    match app.check_certificate(&origin, &body.number, &body.name).await {
        Ok(answer) => Json(answer).into_response(),
        Err(CheckRefused::RateLimited { retry_after_secs }) => too_many_checks(retry_after_secs),
        Err(CheckRefused::Invalid(detail)) => ApiError::validation(detail).into_response(),
        Err(CheckRefused::App(e)) => ApiError::from(e).into_response(),
    }
}
