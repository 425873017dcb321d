//! The public check of a certificate (`/kontrollera-intyg`, decision 0019): anyone,
//! logged in or not, types a certificate's number and its holder's name and learns
//! whether it is valid, withdrawn (with the date) or unknown. The QR code on a
//! certificate opens the page with the number filled in (`?nummer=`).
//!
//! The form changes nothing, so it carries no CSRF token and needs no session; it is
//! limited per client address like the API's check (429 with a page saying when to try
//! again).

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use minijinja::context;
use serde::Deserialize;

use crate::app::{CheckAnswer, CheckRefused, Kurslogg};
use crate::mail::swedish;
use crate::web::error::PageError;
use crate::web::templates;

type AppState = State<Arc<Kurslogg>>;

/// `?nummer=` from the QR code.
#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    nummer: Option<String>,
}

/// The form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    nummer: String,
    #[serde(default)]
    namn: String,
}

fn date(day: NaiveDate) -> String {
    // Noon UTC falls on the same date in Stockholm, winter and summer.
    let noon = day.and_hms_opt(12, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    noon.map(swedish::short_date).unwrap_or_else(|| day.to_string())
}

fn page(status: StatusCode, context: minijinja::Value) -> Response {
    match templates::render("certificate_check.html.j2", context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `GET /kontrollera-intyg`: the form, with the number filled in from the QR code.
pub async fn form(Query(query): Query<CheckQuery>) -> Response {
    let number = query.nummer.unwrap_or_default();
    page(StatusCode::OK, context! { title => "Kontrollera ett intyg", number, name => "", errors => Vec::<()>::new() })
}

/// The form back as sent, with what is wrong in it (422).
fn refused(form: &CheckForm, number_error: Option<String>, name_error: Option<String>) -> Response {
    let mut errors = Vec::new();
    if let Some(message) = &number_error {
        errors.push(context! { field => "nummer", message });
    }
    if let Some(message) = &name_error {
        errors.push(context! { field => "namn", message });
    }
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        context! {
            title => "Kontrollera ett intyg",
            number => form.nummer.clone(),
            name => form.namn.clone(),
            number_error,
            name_error,
            errors,
        },
    )
}

/// `POST /kontrollera-intyg`: the answer, under the form filled in as sent.
pub async fn answer(State(app): AppState, request: Request) -> Response {
    let origin = crate::http::auth::origin_of(&app, &request);
    let bytes = match axum::body::to_bytes(request.into_body(), 16 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return PageError::shown(StatusCode::PAYLOAD_TOO_LARGE, "Formuläret är för stort", "Försök igen.")
                .into_response()
        }
    };
    let form: CheckForm = serde_html_form::from_bytes(&bytes).unwrap_or_default();
    let number_error = form.nummer.trim().is_empty().then(|| "Skriv intygsnumret, som det står på intyget".to_string());
    let name_error =
        form.namn.trim().is_empty().then(|| "Skriv innehavarens namn, som det står på intyget".to_string());
    if number_error.is_some() || name_error.is_some() {
        return refused(&form, number_error, name_error);
    }
    let answer = match app.check_certificate(&origin, &form.nummer, &form.namn).await {
        Ok(answer) => answer,
        Err(CheckRefused::RateLimited { retry_after_secs }) => {
            let minutes = (retry_after_secs + 59) / 60;
            let mut response = PageError::shown(
                StatusCode::TOO_MANY_REQUESTS,
                "För många kontroller",
                format!(
                    "Det har gjorts många kontroller av intyg från din adress på kort tid, så fler tas inte emot \
                     just nu. Försök igen om {minutes} minuter. Om du har intyget framför dig kan du också fråga \
                     kursadministrationen i kommunalförbundet som utfärdade det."
                ),
            )
            .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            return response;
        }
        Err(CheckRefused::Invalid(message)) => return refused(&form, Some(message), None),
        Err(CheckRefused::App(e)) => return PageError::from(e).into_response(),
    };
    let result = match answer {
        CheckAnswer::Valid {
            number,
            course,
            title,
            term,
            organiser,
            starts_on,
            ends_on,
            sessions_attended,
            sessions,
            hours_attended,
            issued_on,
        } => context! {
            status => "valid",
            number,
            course,
            title,
            term,
            organiser,
            period => if starts_on == ends_on { date(starts_on) } else { format!("{} – {}", date(starts_on), date(ends_on)) },
            attendance => format!("{sessions_attended} av {sessions} tillfällen, {hours_attended}"),
            issued_on => date(issued_on),
        },
        CheckAnswer::Withdrawn { number, withdrawn_on } => {
            context! { status => "withdrawn", number, withdrawn_on => date(withdrawn_on) }
        }
        CheckAnswer::Unknown => context! { status => "unknown" },
    };
    page(
        StatusCode::OK,
        context! {
            title => "Kontrollera ett intyg",
            number => form.nummer,
            name => form.namn,
            errors => Vec::<()>::new(),
            result,
        },
    )
}
