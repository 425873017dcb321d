//! What a page answers when it cannot show what was asked: a page in Swedish that says
//! what happened and what to do, with the status a browser and a test can read. Nothing
//! internal reaches the page; the log gets the details.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use super::templates;
use crate::app::{AppError, Kind};

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Nobody is logged in (or the session ended): to the login page, then back here.
    LoginNeeded {
        /// The session cookie was there but no longer valid.
        expired: bool,
        /// Where to come back to after logging in.
        next: String,
    },
    /// A page to show instead, with its status.
    Shown {
        /// The HTTP status.
        status: StatusCode,
        /// The heading.
        title: String,
        /// What happened and what to do, in Swedish.
        message: String,
    },
}

impl PageError {
    /// 404: no such page or thing.
    pub fn not_found() -> Self {
        Self::shown(
            StatusCode::NOT_FOUND,
            "Sidan finns inte",
            "Det du letar efter finns inte, eller så har adressen skrivits fel. Gå till startsidan och leta därifrån.",
        )
    }

    /// 403: the page exists but not for this user.
    pub fn forbidden() -> Self {
        Self::shown(
            StatusCode::FORBIDDEN,
            "Du har inte behörighet till sidan",
            "Din roll ger inte tillgång till det här. Om du behöver det, kontakta kursadministrationen.",
        )
    }

    /// A page with `status`, `title` and `message`.
    pub fn shown(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Shown { status, title: title.into(), message: message.into() }
    }

    /// 503: storage or views could not answer.
    pub fn unavailable() -> Self {
        Self::shown(
            StatusCode::SERVICE_UNAVAILABLE,
            "Tjänsten svarar inte just nu",
            "Något tillfälligt hindrar Kurslogg från att visa sidan. Försök igen om en stund; inget du gjort har gått förlorat.",
        )
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Refused { kind: Kind::NotFound, .. } => PageError::not_found(),
            AppError::Forbidden(_) => PageError::forbidden(),
            AppError::Store(_) | AppError::Contention => {
                tracing::error!(error = %error, "a page's read or command failed");
                PageError::unavailable()
            }
            // A list asked to wait for a write the views have not reached yet.
            AppError::ViewsBehind(_) => PageError::unavailable(),
            AppError::Refused { kind, message, .. } => {
                let status = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::CONFLICT);
                PageError::shown(status, "Det gick inte", message)
            }
            AppError::Validation(message) => PageError::shown(StatusCode::UNPROCESSABLE_ENTITY, "Det gick inte", message),
            AppError::IdempotencyKeyReused | AppError::IdempotencyKeyInFlight => PageError::shown(
                StatusCode::CONFLICT,
                "Formuläret har redan skickats",
                "Det här formuläret har redan skickats in. Gå tillbaka till sidan och ladda om den innan du skickar något nytt.",
            ),
        }
    }
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> Self {
        tracing::error!(error = %error, "a page's template failed");
        PageError::shown(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Något gick fel",
            "Sidan kunde inte visas på grund av ett fel i Kurslogg. Felet är loggat; försök igen senare.",
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::LoginNeeded { expired, next } => {
                let mut target = String::from("/?");
                if expired {
                    target.push_str("utgangen=1&");
                }
                target.push_str("nasta=");
                target.push_str(&super::session::encode_query_value(&next));
                see_other(&target)
            }
            PageError::Shown { status, title, message } => {
                let page = templates::render(
                    "error.html.j2",
                    context! { title => title.clone(), message => message.clone(), status => status.as_u16() },
                );
                match page {
                    // The pages' policy, also when the API's routes answer a person with a page.
                    Ok(html) => (
                        status,
                        [(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::CONTENT_SECURITY_POLICY))],
                        Html(html),
                    )
                        .into_response(),
                    // The error page itself failed: say so in plain text rather than loop.
                    Err(e) => {
                        tracing::error!(error = %e, "the error page failed");
                        (status, format!("{title}\n\n{message}\n")).into_response()
                    }
                }
            }
        }
    }
}

/// 303 See Other to `location` (a local path): after a form, the browser asks for the
/// answer with GET, so a reload does not send the form again.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
