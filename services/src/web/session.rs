//! Logging in and out through the pages, and who is looking at a page.
//!
//! A page session is the API's session (`crate::auth`): the same HttpOnly cookie, the same
//! expiry, the same security log. Forms prove they come from our own pages with the
//! session's CSRF token in a hidden field; the token is kept for the pages in a second
//! HttpOnly cookie, since the server stores only its hash. Both cookies are
//! SameSite=Strict, so another site can neither send them nor read the pages they open.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use cookie::{Cookie, SameSite};
use minijinja::context;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::{see_other, PageError};
use super::templates;
use crate::app::{Actor, CommandContext, Idempotency, Kurslogg};
use crate::auth::{AuthError, NewSession, Origin, User};
use crate::http::auth::{cookie_value, http_only_cookie, SESSION_COOKIE};

type AppState = State<Arc<Kurslogg>>;

/// The cookie that keeps the session's CSRF token for the pages' forms.
pub const CSRF_COOKIE: &str = "kurslogg_csrf";

/// The hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// The hidden form field that carries a form's idempotency key: sending the same form
/// twice (a double click, a reload, the back button) gets the first answer again.
pub const KEY_FIELD: &str = "_key";

/// Who is looking at a page: a logged-in user and their session's CSRF token.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The user.
    pub user: User,
    /// The actor the user acts as.
    pub actor: Actor,
    /// The session's CSRF token, for the forms on the page.
    pub csrf: String,
}

impl FromRequestParts<Arc<Kurslogg>> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<Kurslogg>) -> Result<Self, Self::Rejection> {
        if let Some(visitor) = parts.extensions.get::<Visitor>() {
            return Ok(visitor.clone());
        }
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let Some(cookie) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(PageError::LoginNeeded { expired: false, next });
        };
        let csrf = cookie_value(&parts.headers, CSRF_COOKIE).unwrap_or_default();
        match app.auth.authenticate_session(&cookie, None).await {
            Ok((user, _)) => {
                let visitor = Visitor { actor: user.actor(), user, csrf };
                parts.extensions.insert(visitor.clone());
                Ok(visitor)
            }
            Err(AuthError::Database(e)) => {
                tracing::error!(error = %e, "a page's session could not be read");
                Err(PageError::unavailable())
            }
            Err(_) => Err(PageError::LoginNeeded { expired: true, next }),
        }
    }
}

/// A form sent from one of our pages by a logged-in user: who sent it, the command
/// context for what it asks (request id, idempotency key), and its fields.
pub struct Submitted<T> {
    /// Who sent it.
    pub visitor: Visitor,
    /// For the use case: who, which request, which idempotency key.
    pub ctx: CommandContext,
    /// The fields.
    pub form: T,
}

#[derive(Deserialize)]
struct Proof {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(rename = "_key", default)]
    key: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<Arc<Kurslogg>> for Submitted<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, app: &Arc<Kurslogg>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, app).await?;
        let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| {
            PageError::shown(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Formuläret är för stort",
                "Formuläret innehöll mer än Kurslogg tar emot på en gång. Dela upp det och försök igen.",
            )
        })?;
        let proof: Proof = serde_html_form::from_bytes(&bytes).map_err(|_| forged())?;
        let cookie = cookie_value(&parts.headers, SESSION_COOKIE).unwrap_or_default();
        match app.auth.authenticate_session(&cookie, Some(&proof.csrf)).await {
            Ok((_, true)) => {}
            Ok((_, false)) => return Err(forged()),
            Err(_) => return Err(PageError::LoginNeeded { expired: true, next: "/start".into() }),
        }
        let form: T = serde_html_form::from_bytes(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "a form did not fit its page");
            PageError::shown(
                StatusCode::BAD_REQUEST,
                "Formuläret kunde inte läsas",
                "Formuläret innehöll något som sidan inte känner igen. Gå tillbaka, ladda om sidan och försök igen.",
            )
        })?;
        let idempotency = proof
            .key
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .map(|key| Idempotency::of_request(key, parts.method.as_str(), parts.uri.path(), &bytes));
        let ctx = CommandContext {
            actor: visitor.actor.clone(),
            request_id: crate::http::extract::request_id(&parts.headers),
            received_at: Utc::now(),
            idempotency,
        };
        Ok(Submitted { visitor, ctx, form })
    }
}

fn forged() -> PageError {
    PageError::shown(
        StatusCode::FORBIDDEN,
        "Formuläret kunde inte tas emot",
        "Formuläret kom inte från en sida du har öppen i din inloggning, eller så har sidan legat öppen länge. \
         Gå tillbaka, ladda om sidan och försök igen.",
    )
}

/// A value for a URL's query string.
pub fn encode_query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Where to go after logging in: a path on this site, never another site.
fn local_target(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/start",
    }
}

/// What the login page shows.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// The session ran out.
    #[serde(default)]
    utgangen: Option<String>,
    /// The user just logged out.
    #[serde(default)]
    utloggad: Option<String>,
    /// Where to go after logging in.
    #[serde(default)]
    nasta: Option<String>,
}

/// `GET /`: the login page, or the user's start page when they are logged in.
pub async fn front_door(State(app): AppState, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    if let Some(cookie) = cookie_value(&headers, SESSION_COOKIE) {
        if app.auth.authenticate_session(&cookie, None).await.is_ok() {
            return see_other(local_target(query.nasta.as_deref()));
        }
    }
    login_page(&app, StatusCode::OK, &query, LoginForm::default(), None)
}

/// The login form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    nasta: Option<String>,
}

/// A refusal shown on the login page: the summary at the top, and per field.
struct LoginRefusal {
    message: String,
    login_error: Option<&'static str>,
    password_error: Option<&'static str>,
}

fn login_page(
    app: &Kurslogg,
    status: StatusCode,
    query: &LoginQuery,
    form: LoginForm,
    refusal: Option<LoginRefusal>,
) -> Response {
    let next = form.nasta.clone().or_else(|| query.nasta.clone()).filter(|n| local_target(Some(n)) == n);
    let errors: Vec<_> = refusal
        .as_ref()
        .map(|r| {
            let mut errors = vec![];
            if let Some(e) = r.login_error {
                errors.push(context! { field => "login", message => e });
            }
            if let Some(e) = r.password_error {
                errors.push(context! { field => "password", message => e });
            }
            if errors.is_empty() {
                errors.push(context! { field => "login", message => r.message.clone() });
            }
            errors
        })
        .unwrap_or_default();
    let context = context! {
        title => "Logga in",
        expired => query.utgangen.is_some() && refusal.is_none(),
        logged_out => query.utloggad.is_some() && refusal.is_none(),
        single_sign_on => app.oidc.is_some(),
        next,
        login => form.login,
        errors,
        login_error => refusal.as_ref().and_then(|r| match (r.login_error, r.password_error) {
            (Some(e), _) => Some(e.to_string()),
            (None, None) => Some(r.message.clone()),
            (None, Some(_)) => None,
        }),
        password_error => refusal.as_ref().and_then(|r| r.password_error),
    };
    match templates::render("login.html.j2", context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// `POST /logga-in`: a password login from the login page.
pub async fn log_in(State(app): AppState, request: Request) -> Response {
    let origin = crate::http::auth::origin_of(&app, &request);
    let bytes = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return PageError::shown(StatusCode::PAYLOAD_TOO_LARGE, "Formuläret är för stort", "Försök igen.")
                .into_response()
        }
    };
    let form: LoginForm = serde_html_form::from_bytes(&bytes).unwrap_or_default();
    let query = LoginQuery::default();
    let login_missing = form.login.trim().is_empty();
    let password_missing = form.password.is_empty();
    if login_missing || password_missing {
        let refusal = LoginRefusal {
            message: "Fyll i e-postadress och lösenord".into(),
            login_error: login_missing.then_some("Fyll i din e-postadress eller ditt användarnamn"),
            password_error: password_missing.then_some("Fyll i ditt lösenord"),
        };
        return login_page(&app, StatusCode::UNPROCESSABLE_ENTITY, &query, form, Some(refusal));
    }
    match app.auth.login(&form.login, &form.password, &origin).await {
        Ok((_, session)) => signed_in(&app, session, form.nasta.as_deref()),
        Err(AuthError::RateLimited { retry_after_secs }) => {
            let minutes = (retry_after_secs + 59) / 60;
            let message = if minutes <= 1 {
                "För många misslyckade inloggningar. Vänta en minut och försök igen.".to_string()
            } else {
                format!("För många misslyckade inloggningar. Vänta {minutes} minuter och försök igen.")
            };
            let mut response = login_page(
                &app,
                StatusCode::TOO_MANY_REQUESTS,
                &query,
                form,
                Some(LoginRefusal { message, login_error: None, password_error: None }),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        // A login no user can have (a line break, a NUL): said as such, never looked up
        // (docs/decisions/0010). What was typed is shown again as one line.
        Err(AuthError::Invalid(_)) => login_page(
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            &query,
            LoginForm { login: kurslogg_domain::text::one_line(&form.login), password: String::new(), ..form },
            Some(LoginRefusal {
                message: "Kontrollera e-postadressen".into(),
                login_error: Some(
                    "En e-postadress eller ett användarnamn är en rad utan mellanslag, radbrytningar eller andra \
                     styrtecken",
                ),
                password_error: None,
            }),
        ),
        Err(AuthError::Database(e)) => {
            tracing::error!(error = %e, "a login could not be checked");
            PageError::unavailable().into_response()
        }
        Err(_) => login_page(
            &app,
            StatusCode::UNAUTHORIZED,
            &query,
            LoginForm { password: String::new(), ..form },
            Some(LoginRefusal {
                message: "E-postadressen eller lösenordet stämmer inte. Kontrollera och försök igen.".into(),
                login_error: None,
                password_error: None,
            }),
        ),
    }
}

/// The answer to a successful login from a page, by password or single sign-on: both
/// cookies, and on to the start page (or the page the user was sent away from).
pub fn signed_in(app: &Kurslogg, session: NewSession, next: Option<&str>) -> Response {
    let max_age = cookie::time::Duration::seconds((session.expires_at - app.clock.now()).num_seconds());
    let mut response = see_other(local_target(next));
    for cookie in [(SESSION_COOKIE, session.cookie), (CSRF_COOKIE, session.csrf_token)] {
        if let Some(value) = http_only_cookie(app, cookie, SameSite::Strict, "/", max_age) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `POST /logga-ut`: ends the session and forgets both cookies.
pub async fn log_out(State(app): AppState, request: Request) -> Response {
    let origin: Origin = crate::http::auth::origin_of(&app, &request);
    if let Some(cookie) = cookie_value(request.headers(), SESSION_COOKIE) {
        if let Err(e) = app.auth.logout(&cookie, &origin).await {
            tracing::error!(error = %e, "a logout could not be recorded");
            return PageError::unavailable().into_response();
        }
    }
    let mut response = see_other("/?utloggad=1");
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let expired = Cookie::build((name, "")).path("/").max_age(cookie::time::Duration::ZERO).build();
        if let Ok(value) = HeaderValue::from_str(&expired.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The page for a single sign-on that did not end in a session, by the status the API
/// would have answered with (its problem document is for programs, not people).
pub fn single_sign_on_refused(status: StatusCode) -> Response {
    let message = match status {
        StatusCode::UNAUTHORIZED => {
            "Kommunens inloggning godkände dig inte, eller så finns du inte som användare i Kurslogg. \
             Kontakta kursadministrationen i ditt kommunalförbund om du behöver ett konto."
        }
        StatusCode::BAD_REQUEST => {
            "Inloggningen påbörjades inte i den här webbläsaren, eller så tog den för lång tid. \
             Gå till inloggningssidan och börja om."
        }
        StatusCode::TOO_MANY_REQUESTS => "För många misslyckade inloggningar. Vänta en stund och försök igen.",
        _ => "Kommunens inloggningstjänst svarade inte som väntat. Försök igen om en stund.",
    };
    let status = if status.is_success() { StatusCode::BAD_GATEWAY } else { status };
    PageError::shown(status, "Inloggningen gick inte igenom", message).into_response()
}
