//! Who is asking: the middleware that turns a bearer token or a session cookie into the
//! request's [`Actor`], and the endpoints for logging in, tokens, users and the security
//! log (docs/decisions/0008).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cookie::{Cookie, SameSite};
use kurslogg_domain::MunicipalityId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::dto::Empty;
use super::error::{ApiError, Problem};
use super::extract::{path_id, Body, Cmd, Reader, Seen, Q};
use crate::app::{Actor, Kurslogg, Role};
use crate::auth::{IssuedToken, NewSession, NewUser, Origin, SecurityEntry, SecurityFilter, TokenInfo, User};

type AppState = State<Arc<Kurslogg>>;
type Answer<T> = Result<Json<T>, ApiError>;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kurslogg_session";

/// The authenticated caller, put on the request by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

pub(super) fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    ApiError::new(status, code, detail).into_response()
}

/// The client's address and the request id, for the security log and the limits on
/// failed logins: the connection's peer, or what a trusted proxy says in X-Forwarded-For
/// (`trusted_proxies`).
pub(crate) fn origin_of(app: &Kurslogg, request: &Request) -> Origin {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| {
            let forwarded = request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
            let forwarded: Vec<&str> = forwarded.collect();
            app.auth.settings().client_address(address.ip(), forwarded.into_iter()).to_string()
        })
        .unwrap_or_default();
    Origin { client, request_id: super::extract::request_id(request.headers()) }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the request's cookie `name`.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value for an HttpOnly cookie (Secure unless `secure_cookies` is off).
pub(crate) fn http_only_cookie(
    app: &Kurslogg,
    (name, value): (&'static str, String),
    same_site: SameSite,
    path: &'static str,
    max_age: cookie::time::Duration,
) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, value))
        .http_only(true)
        .secure(app.auth.settings().secure_cookies)
        .same_site(same_site)
        .path(path)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// A calendar application cannot send headers, so a `.ics` feed also takes its token as
/// `?access_token=` (a token the user made for the purpose, revocable like any other).
fn calendar_token(request: &Request) -> Option<String> {
    if request.method() != Method::GET || !request.uri().path().ends_with(".ics") {
        return None;
    }
    let query = axum::extract::Query::<HashMap<String, String>>::try_from_uri(request.uri()).ok()?;
    query.0.get("access_token").cloned()
}

/// Authenticates every request that carries credentials; a request without any goes on
/// without an actor, and every endpoint but the public few then answers 401. Bad
/// credentials are refused here (401, or 429 while the client is locked out).
pub async fn authenticate(State(app): AppState, mut request: Request, next: Next) -> Response {
    let origin = origin_of(&app, &request);
    let what = format!("{} {}", request.method(), request.uri().path());
    let token = bearer(request.headers()).map(str::to_string).or_else(|| calendar_token(&request));
    let user = if let Some(token) = token {
        match app.auth.authenticate_token(&token, &origin, &what).await {
            Ok(user) => Some(user),
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else if let Some(cookie) = session_cookie(request.headers()) {
        let csrf = request.headers().get("x-csrf-token").and_then(|v| v.to_str().ok());
        match app.auth.authenticate_session(&cookie, csrf).await {
            Ok((user, csrf_ok)) => {
                let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
                // Logging out needs no CSRF token: the worst a forged request can do is end a session.
                let logout = request.uri().path() == "/auth/logout";
                if !safe && !csrf_ok && !logout {
                    return problem(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "a change made through a browser session needs the session's X-CSRF-Token header",
                    );
                }
                Some(user)
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        None
    };
    if let Some(user) = user {
        request.extensions_mut().insert(Authenticated(user.actor()));
    }
    request.extensions_mut().insert(origin);
    next.run(request).await
}

// ----- logging in and out -----

/// A login with a password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// The login name.
    pub login: String,
    /// The password.
    pub password: String,
}

/// A session begun: the cookie is set; changes need the CSRF token as `X-CSRF-Token`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct LoginAnswer {
    /// Who logged in.
    pub user: User,
    /// Send as `X-CSRF-Token` with every change made through this session.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: String,
}

/// Log in with a password; begins a browser session (an HttpOnly cookie). Repeated
/// failures lock the login name, and the client, for a while (429).
#[utoipa::path(post, path = "/auth/login", request_body = LoginBody, tag = "auth",
    responses((status = 200, body = LoginAnswer), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn login(State(app): AppState, Seen(origin): Seen, Body(body): Body<LoginBody>) -> Response {
    match app.auth.login(&body.login, &body.password, &origin).await {
        Ok((user, session)) => session_begun(&app, user, session),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The answer to a successful login, by password or through the identity provider: the
/// session cookie, and the CSRF token in the body.
pub(super) fn session_begun(app: &Kurslogg, user: User, session: NewSession) -> Response {
    let max_age = cookie::time::Duration::seconds((session.expires_at - app.clock.now()).num_seconds());
    let cookie = http_only_cookie(app, (SESSION_COOKIE, session.cookie), SameSite::Strict, "/", max_age);
    let answer =
        LoginAnswer { user, csrf_token: session.csrf_token, expires_at: crate::auth::stamp(session.expires_at) };
    let mut response = Json(answer).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// End the browser session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(State(app): AppState, Seen(origin): Seen, headers: HeaderMap) -> Response {
    if let Some(cookie) = session_cookie(&headers) {
        if let Err(e) = app.auth.logout(&cookie, &origin).await {
            return ApiError::from(e).into_response();
        }
    }
    let expired = Cookie::build((SESSION_COOKIE, "")).path("/").max_age(cookie::time::Duration::ZERO).build();
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&expired.to_string()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Who the caller is.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(State(app): AppState, Reader(actor): Reader) -> Answer<User> {
    Ok(Json(
        app.auth.user(&actor.id).await.map_err(ApiError::from)?.ok_or_else(|| ApiError::not_found("no such user"))?,
    ))
}

// ----- tokens -----

/// A token to issue.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenBody {
    /// What it is for ("kalender", "integration").
    pub label: String,
    /// Days until it stops working; absent: until revoked.
    pub valid_days: Option<i64>,
}

/// The caller's own tokens.
#[utoipa::path(get, path = "/auth/tokens", tag = "auth", responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn my_tokens(State(app): AppState, Reader(actor): Reader) -> Answer<Vec<TokenInfo>> {
    Ok(Json(app.auth.tokens_of(&actor.id).await.map_err(ApiError::from)?))
}

/// Issue a personal API token for oneself; the token is in this answer only.
#[utoipa::path(post, path = "/auth/tokens", request_body = TokenBody, tag = "auth",
    responses((status = 201, body = IssuedToken), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn issue_my_token(State(app): AppState, Seen(origin): Seen, cmd: Cmd<TokenBody>) -> Response {
    let Cmd { ctx, body } = cmd;
    match app.auth.issue_token(&ctx.actor, &origin, &ctx.actor.id, &body.label, body.valid_days).await {
        Ok(issued) => (StatusCode::CREATED, Json(issued)).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Revoke a token: one's own, or anyone's by the course office.
#[utoipa::path(post, path = "/auth/tokens/{id}/revoke", tag = "auth",
    responses((status = 200, body = TokenInfo), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_token(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<TokenInfo> {
    let token = app.auth.token(&id).await.map_err(ApiError::from)?;
    match token {
        Some(token) if token.user_id == ctx.actor.id || ctx.actor.is_course_office() => {
            Ok(Json(app.auth.revoke_token(&ctx.actor, &origin, &id).await.map_err(ApiError::from)?))
        }
        _ => Err(ApiError::not_found(format!("no such token: {id}"))),
    }
}

// ----- users (the course office) -----

/// A user account to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserBody {
    /// What they log in with (e.g. their work e-mail).
    pub login: String,
    /// Their name as shown.
    pub display_name: String,
    /// course_office, coordinator, supervisor, trainer, auditor or participant.
    pub role: String,
    /// A coordinator's municipality.
    pub municipality: Option<String>,
    /// The staff member a supervisor or participant is.
    pub staff_id: Option<String>,
    /// A first password (at least 12 characters); absent: tokens only.
    pub password: Option<String>,
}

/// Create a user account (the course office).
#[utoipa::path(post, path = "/users", request_body = NewUserBody, tag = "auth",
    responses((status = 201, body = User), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(app): AppState,
    Seen(origin): Seen,
    Cmd { ctx, body }: Cmd<NewUserBody>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let role = Role::of_user(&body.role).ok_or_else(|| {
        let names: Vec<&str> = Role::OF_USERS.iter().map(|r| r.as_str()).collect();
        ApiError::validation(format!("role: one of {}", names.join(", ")))
    })?;
    let municipality = body
        .municipality
        .as_deref()
        .map(|m| MunicipalityId::parse(m).map_err(|e| ApiError::validation(format!("municipality: {}", e.0))))
        .transpose()?;
    let staff = body.staff_id.as_deref().map(|s| super::dto::staff_id("staff_id", s)).transpose()?;
    let request = NewUser {
        login: body.login,
        display_name: body.display_name,
        role,
        municipality,
        staff,
        password: body.password,
    };
    Ok((StatusCode::CREATED, Json(app.create_user(&ctx.actor, &origin, request).await?)))
}

/// Every user account (the course office and auditors).
#[utoipa::path(get, path = "/users", tag = "auth", responses((status = 200, body = Vec<User>)))]
pub async fn list_users(State(app): AppState, Reader(actor): Reader) -> Answer<Vec<User>> {
    Ok(Json(app.users_seen(&actor).await?))
}

async fn visible_user(app: &Kurslogg, actor: &Actor, id: &str) -> Result<User, ApiError> {
    let user = app.auth.user(id).await.map_err(ApiError::from)?;
    match user {
        Some(user) if actor.sees_everything() || user.user_id == actor.id => Ok(user),
        _ => Err(ApiError::not_found(format!("no such user: {id}"))),
    }
}

/// A user account: the course office, auditors, or the user.
#[utoipa::path(get, path = "/users/{id}", tag = "auth",
    responses((status = 200, body = User), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_user(State(app): AppState, Reader(actor): Reader, Path(id): Path<String>) -> Answer<User> {
    Ok(Json(visible_user(&app, &actor, &id).await?))
}

/// A user's tokens (never their secrets): the course office, auditors, or the user.
#[utoipa::path(get, path = "/users/{id}/tokens", tag = "auth", responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn user_tokens(
    State(app): AppState,
    Reader(actor): Reader,
    Path(id): Path<String>,
) -> Answer<Vec<TokenInfo>> {
    let user = visible_user(&app, &actor, &id).await?;
    Ok(Json(app.auth.tokens_of(&user.user_id).await.map_err(ApiError::from)?))
}

/// Issue a token for a user (the course office), e.g. for a trainer without a login.
#[utoipa::path(post, path = "/users/{id}/tokens", request_body = TokenBody, tag = "auth",
    responses((status = 201, body = IssuedToken), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn issue_user_token(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<TokenBody>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    app.ensure_role(&ctx.actor, &[Role::CourseOffice], "utfärda token åt andra")?;
    let issued =
        app.auth.issue_token(&ctx.actor, &origin, &id, &body.label, body.valid_days).await.map_err(ApiError::from)?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Disable a user (the course office): their tokens and sessions stop working at once.
#[utoipa::path(post, path = "/users/{id}/disable", tag = "auth",
    responses((status = 200, body = User), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn disable_user(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<User> {
    Ok(Json(app.disable_user(&ctx.actor, &origin, &id).await?))
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    /// At least 12 characters.
    pub password: String,
}

/// Set a user's password (the course office).
#[utoipa::path(post, path = "/users/{id}/password", request_body = PasswordBody, tag = "auth",
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn set_password(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    app.set_user_password(&ctx.actor, &origin, &id, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change of one's own password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OwnPasswordBody {
    /// The password now.
    pub current_password: String,
    /// The new one (at least 12 characters).
    pub new_password: String,
}

/// Change one's own password. The current one must be given (wrong ones count towards
/// the lock on failed logins); the user's other browser sessions end.
#[utoipa::path(post, path = "/auth/password", request_body = OwnPasswordBody, tag = "auth",
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn change_own_password(
    State(app): AppState,
    Seen(origin): Seen,
    headers: HeaderMap,
    Cmd { ctx, body }: Cmd<OwnPasswordBody>,
) -> Result<StatusCode, ApiError> {
    let session = session_cookie(&headers);
    app.auth
        .change_own_password(&ctx.actor, &origin, body.current_password, body.new_password, session.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- the security log -----

/// Which lines of the security log to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SecurityQuery {
    /// Only this kind (login, login_failed, token_used, person_read, ...).
    pub kind: Option<String>,
    /// Only about or by this user.
    pub user_id: Option<String>,
    /// Only reads of this staff member's record.
    pub staff_id: Option<String>,
    /// Only after this entry id (paging).
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

/// The security log, oldest first: logins, failed logins, token uses, user and token
/// changes, and who read whose record (the course office and auditors).
#[utoipa::path(get, path = "/security-log", params(SecurityQuery), tag = "auth",
    responses((status = 200, body = Vec<SecurityEntry>), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn security_log(
    State(app): AppState,
    Reader(actor): Reader,
    Q(q): Q<SecurityQuery>,
) -> Answer<Vec<SecurityEntry>> {
    app.ensure_sees_everything(&actor, "läsa säkerhetsloggen")?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "limit must be between 1 and 1000"));
    }
    let staff_id = q.staff_id.as_deref().map(|s| path_id::<kurslogg_domain::StaffId>(s, "staff member")).transpose()?;
    let filter = SecurityFilter {
        kind: q.kind,
        user_id: q.user_id,
        staff_id: staff_id.map(|s| s.to_string()),
        after: q.after,
        limit,
    };
    Ok(Json(app.security_log_seen(&actor, &filter).await?))
}
