//! Logging in through the municipality's identity provider (OpenID Connect): the browser
//! is sent to the provider and comes back to the callback, which begins the same session
//! as a password login (`services/src/oidc.rs` does the protocol).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::SameSite;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{cookie_value, http_only_cookie, problem, session_begun};
use super::error::{ApiError, Problem};
use super::extract::Seen;
use crate::app::Kurslogg;
use crate::auth::{AuthError, NewSession, User};
use crate::oidc::OidcError;

type AppState = State<Arc<Kurslogg>>;

/// The cookie that ties the provider's answer to the browser that asked: without it, an
/// attacker could have a victim's browser finish the attacker's login (login CSRF).
/// SameSite=Lax, because the provider sends the browser back with a cross-site redirect.
pub const STATE_COOKIE: &str = "kurslogg_oidc_state";
const CALLBACK_PATH: &str = "/auth/oidc";

fn not_configured() -> Response {
    problem(StatusCode::NOT_FOUND, "oidc_not_configured", "logging in through an identity provider is not set up here")
}

fn failure(e: OidcError) -> Response {
    match e {
        OidcError::BadReturn(detail) => problem(StatusCode::BAD_REQUEST, "oidc_bad_return", detail),
        OidcError::Refused(detail) => problem(StatusCode::UNAUTHORIZED, "oidc_refused", detail),
        e @ OidcError::Provider(_) => problem(StatusCode::BAD_GATEWAY, "oidc_provider", e.to_string()),
        OidcError::Database(e) => ApiError::from(AuthError::Database(e)).into_response(),
    }
}

fn state_cookie(app: &Kurslogg, value: String, max_age: cookie::time::Duration) -> Option<HeaderValue> {
    http_only_cookie(app, (STATE_COOKIE, value), SameSite::Lax, CALLBACK_PATH, max_age)
}

/// Log in through the municipality's identity provider: answers 303 to the provider,
/// which sends the browser back to `/auth/oidc/callback`.
#[utoipa::path(get, path = "/auth/oidc/login", tag = "auth",
    responses((status = 303, description = "to the identity provider"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")))]
pub async fn begin(State(app): AppState) -> Response {
    let Some(oidc) = &app.oidc else { return not_configured() };
    match oidc.start().await {
        Ok(started) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&started.authorize_url) {
                headers.insert(header::LOCATION, location);
            }
            if let Some(cookie) = state_cookie(&app, started.state, cookie::time::Duration::minutes(10)) {
                headers.insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(e) => failure(e),
    }
}

/// What the identity provider sends the browser back with.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The state Kurslogg sent the browser off with.
    pub state: Option<String>,
    /// The authorization code, on success.
    pub code: Option<String>,
    /// The provider's error code, when it refused (e.g. `access_denied`).
    pub error: Option<String>,
    /// The provider's explanation.
    pub error_description: Option<String>,
}

/// Where the identity provider sends the browser back: verifies the answer and begins a
/// browser session for the Kurslogg user whose login is the verified claim (as
/// `/auth/login` does). Only users the course office has made may log in.
#[utoipa::path(get, path = "/auth/oidc/callback", params(CallbackQuery), tag = "auth",
    responses((status = 200, body = super::auth::LoginAnswer),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json")))]
pub async fn callback(
    State(app): AppState,
    Seen(origin): Seen,
    headers: HeaderMap,
    Query(answer): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = &app.oidc else { return not_configured() };
    // A person in a browser gets pages: their start page, or a page that says why not.
    let page = crate::web::wants_page(&headers);
    let mut response = match finish(&app, oidc, origin, &headers, answer).await {
        Ok((_, session)) if page => crate::web::session::signed_in(&app, session, None),
        Ok((user, session)) => session_begun(&app, user, session),
        Err(refused) if page => crate::web::session::single_sign_on_refused(refused.status()),
        Err(refused) => refused,
    };
    // The state is spent either way.
    if let Some(expired) = state_cookie(&app, String::new(), cookie::time::Duration::ZERO) {
        response.headers_mut().append(header::SET_COOKIE, expired);
    }
    response
}

async fn finish(
    app: &Kurslogg,
    oidc: &crate::oidc::Oidc,
    origin: crate::auth::Origin,
    headers: &HeaderMap,
    answer: CallbackQuery,
) -> Result<(User, NewSession), Response> {
    let Some(state) = answer.state.filter(|s| !s.is_empty()) else {
        return Err(problem(StatusCode::BAD_REQUEST, "oidc_bad_return", "the identity provider's answer has no state"));
    };
    if cookie_value(headers, STATE_COOKIE).as_deref() != Some(state.as_str()) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "oidc_bad_return",
            "this login was not begun in this browser; begin again at /auth/oidc/login",
        ));
    }
    let outcome = match (answer.code.filter(|c| !c.is_empty()), answer.error) {
        (_, Some(error)) => {
            if let Err(e) = oidc.abandon(&state).await {
                return Err(failure(e));
            }
            let said = answer.error_description.map(|d| format!(": {d}")).unwrap_or_default();
            Err(OidcError::Refused(format!("the identity provider refused ({error}){said}")))
        }
        (Some(code), None) => oidc.finish(&state, &code).await,
        (None, None) => Err(OidcError::BadReturn("the identity provider's answer has neither code nor error".into())),
    };
    let login = match outcome {
        Ok(login) => login,
        Err(e) => {
            if matches!(e, OidcError::Refused(_)) {
                if let Err(e) = app.auth.record_failed_login(&origin, None, None, &format!("openid connect: {e}")).await
                {
                    return Err(ApiError::from(e).into_response());
                }
            }
            return Err(failure(e));
        }
    };
    app.auth.login_with_identity(&login, &origin).await.map_err(|e| ApiError::from(e).into_response())
}
