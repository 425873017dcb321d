//! The HTTP JSON API (axum): routes, middleware, the OpenAPI document, serving.

pub mod auth;
// Certificates as PDF and their public check (decision 0019).
pub mod certificates;
pub mod charts;
pub mod competence;
pub mod dto;
pub mod error;
pub mod export;
pub mod exports;
pub mod extract;
pub mod lists;
pub mod oidc;
pub mod outbox;
pub mod personal;
pub mod reports;
pub mod routes;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::app::Kurslogg;
use error::ApiError;

/// The OpenAPI document, served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Kurslogg", description = "Course packages, registrations and attendance for regional federations of municipalities."),
    paths(
        routes::add_course, routes::get_course, routes::revise_course,
        routes::add_municipality, routes::get_municipality, routes::assign_role, routes::revoke_role, routes::add_staff,
        routes::register_collectively,
        routes::get_staff, routes::update_staff, routes::pause_staff, routes::resume_staff, routes::remove_staff,
        routes::staff_registrations,
        routes::create_package, routes::get_package, routes::change_deadline, routes::publish_package,
        routes::close_registration, routes::archive_package, routes::plan_offering,
        routes::get_offering, routes::revise_offering, routes::change_seat_limit, routes::cancel_offering,
        routes::complete_offering, routes::register, routes::cancel_registration, routes::transfer_seat,
        routes::record_attendance, routes::withdraw_certificate,
        views::get_roster, views::get_participant_record, views::get_supervisor_overview, views::get_audit_trail,
        exports::export_roster, exports::export_audit_trail, exports::offering_calendar, exports::staff_calendar,
        reports::get_deadline_overview, reports::get_statistics, reports::get_chart, reports::get_costs,
        reports::get_municipality_costs, reports::export_statistics, reports::export_costs,
        outbox::list_outbox, outbox::get_notice, outbox::resend_notice, outbox::staff_letters,
        routes::assign_trainer, routes::unassign_trainer,
        auth::login, auth::logout, oidc::begin, oidc::callback, auth::me, auth::change_own_password, auth::my_tokens, auth::issue_my_token, auth::revoke_token,
        auth::create_user, auth::list_users, auth::get_user, auth::user_tokens, auth::issue_user_token,
        auth::disable_user, auth::set_password, auth::security_log,
        personal::erase_staff,
        lists::packages, lists::package_offerings, lists::courses, lists::municipality_staff,
        lists::supervised_staff, lists::registrations,
        competence::put_plan, competence::get_plan, competence::list_plans, competence::staff_competence,
        // Certificates (decision 0019).
        certificates::certificate, certificates::record, certificates::check,
    ),
    modifiers(&BearerSecurity),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "catalogue", description = "Courses in the catalogue"),
        (name = "packages", description = "A term's course package and its deadline"),
        (name = "offerings", description = "Runs of courses within a package"),
        (name = "registrations", description = "Registrations, cancellations and transfers"),
        (name = "attendance", description = "Attendance, completion and certificates"),
        (name = "municipalities", description = "Municipalities and their staff"),
        (name = "views", description = "Read models built from the log; any of them as of an earlier moment"),
        (name = "notices", description = "Letters by e-mail: the outbox, a person's own letters, and sending a letter again"),
        (name = "exports", description = "Rosters and audit extracts as CSV or Excel; calendar feeds (iCalendar)"),
        (name = "auth", description = "Logging in, personal API tokens, user accounts and the security log"),
        (name = "competence", description = "The federations' competence plans, and a staff member against their band's plan"),
        (name = "certificates", description = "Certificates as PDF, a person's completed courses as PDF, and the public check of a certificate"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate in the OpenAPI document.
struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("kl_<id>_<secret>").build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

/// Settings the router and the server loop need.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Abandon a request after this long.
    pub request_timeout: Duration,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Close a connection whose request headers have not all arrived after this long
    /// (also an idle kept-alive connection waiting for its next request).
    pub header_read_timeout: Duration,
    /// Most connections open at once; more wait in the listen queue until one closes.
    pub max_connections: usize,
}

/// The whole API.
pub fn router(app: Arc<Kurslogg>, settings: &HttpSettings) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/oidc/login", get(oidc::begin))
        .route("/auth/oidc/callback", get(oidc::callback))
        .route("/auth/me", get(auth::me))
        .route("/auth/password", post(auth::change_own_password))
        .route("/auth/tokens", get(auth::my_tokens).post(auth::issue_my_token))
        .route("/auth/tokens/{id}/revoke", post(auth::revoke_token))
        .route("/users", get(auth::list_users).post(auth::create_user))
        .route("/users/{id}", get(auth::get_user))
        .route("/users/{id}/tokens", get(auth::user_tokens).post(auth::issue_user_token))
        .route("/users/{id}/disable", post(auth::disable_user))
        .route("/users/{id}/password", post(auth::set_password))
        .route("/security-log", get(auth::security_log))
        .route("/offerings/{id}/trainers", post(routes::assign_trainer))
        .route("/offerings/{id}/trainers/remove", post(routes::unassign_trainer))
        .route("/courses", get(lists::courses).post(routes::add_course))
        .route("/courses/{code}", get(routes::get_course).put(routes::revise_course))
        .route("/municipalities", post(routes::add_municipality))
        .route("/municipalities/{id}", get(routes::get_municipality))
        .route("/municipalities/{id}/roles", post(routes::assign_role))
        .route("/municipalities/{id}/roles/revoke", post(routes::revoke_role))
        .route("/municipalities/{id}/staff", get(lists::municipality_staff).post(routes::add_staff))
        .route("/municipalities/{id}/registrations", get(lists::registrations).post(routes::register_collectively))
        .route("/staff/{id}", get(routes::get_staff).put(routes::update_staff))
        .route("/staff/{id}/pause", post(routes::pause_staff))
        .route("/staff/{id}/resume", post(routes::resume_staff))
        .route("/staff/{id}/remove", post(routes::remove_staff))
        .route("/staff/{id}/erase", post(personal::erase_staff))
        .route("/staff/{id}/registrations", get(routes::staff_registrations))
        .route("/packages", get(lists::packages).post(routes::create_package))
        .route("/packages/{id}", get(routes::get_package))
        .route("/packages/{id}/deadline", post(routes::change_deadline))
        .route("/packages/{id}/publish", post(routes::publish_package))
        .route("/packages/{id}/close-registration", post(routes::close_registration))
        .route("/packages/{id}/archive", post(routes::archive_package))
        .route("/packages/{id}/offerings", get(lists::package_offerings).post(routes::plan_offering))
        .route("/offerings/{id}", get(routes::get_offering).put(routes::revise_offering))
        .route("/offerings/{id}/roster", get(views::get_roster))
        .route("/staff/{id}/record", get(views::get_participant_record))
        .route("/staff/{id}/supervised", get(views::get_supervisor_overview))
        .route("/staff/{id}/supervised-staff", get(lists::supervised_staff))
        .route("/staff/{id}/competence", get(competence::staff_competence))
        .route("/competence-plans", get(competence::list_plans))
        .route("/competence-plans/{id}", get(competence::get_plan).put(competence::put_plan))
        .route("/audit", get(views::get_audit_trail))
        .route("/offerings/{id}/roster/export", get(exports::export_roster))
        .route("/audit/export", get(exports::export_audit_trail))
        .route("/offerings/{id}/calendar.ics", get(exports::offering_calendar))
        .route("/staff/{id}/calendar.ics", get(exports::staff_calendar))
        .route("/packages/{id}/deadline-overview", get(reports::get_deadline_overview))
        .route("/statistics", get(reports::get_statistics))
        .route("/statistics/charts/{chart}", get(reports::get_chart))
        .route("/statistics/export", get(reports::export_statistics))
        .route("/costs", get(reports::get_costs))
        .route("/costs/export", get(reports::export_costs))
        .route("/municipalities/{id}/costs", get(reports::get_municipality_costs))
        .route("/outbox", get(outbox::list_outbox))
        .route("/outbox/{id}", get(outbox::get_notice))
        .route("/outbox/{id}/resend", post(outbox::resend_notice))
        .route("/staff/{id}/letters", get(outbox::staff_letters))
        .route("/offerings/{id}/seat-limit", post(routes::change_seat_limit))
        .route("/offerings/{id}/cancel", post(routes::cancel_offering))
        .route("/offerings/{id}/complete", post(routes::complete_offering))
        .route("/offerings/{id}/registrations", post(routes::register))
        .route("/offerings/{id}/registrations/{staff_id}/cancel", post(routes::cancel_registration))
        .route("/offerings/{id}/registrations/{staff_id}/transfer", post(routes::transfer_seat))
        .route("/offerings/{id}/attendance", post(routes::record_attendance))
        .route("/offerings/{id}/certificates/{staff_id}/withdraw", post(routes::withdraw_certificate))
        // Certificates as PDF and their public check (decision 0019).
        .route("/certificates/{number}/pdf", get(certificates::certificate))
        .route("/staff/{id}/certificates.pdf", get(certificates::record))
        .route("/certificates/check", post(certificates::check))
        .fallback(|headers: axum::http::HeaderMap| async move {
            // A person who typed a wrong address gets a page; a program, a problem document.
            if crate::web::wants_page(&headers) {
                crate::web::not_found_page()
            } else {
                ApiError::not_found("no such endpoint").into_response()
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn(extract::path_is_text))
        .with_state(app.clone())
        .merge(crate::web::router(app))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the request took too long and was abandoned")
                }))
                .timeout(settings.request_timeout),
        )
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let path = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path, request_id = id)
        }));
    with_security_headers(api)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Headers every answer carries: it is an API of personal data, so nothing may be kept
/// by a shared cache, framed, sniffed, or fetched over plain HTTP once a browser saw HTTPS.
fn with_security_headers(router: Router) -> Router {
    [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ]
    .into_iter()
    .fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
    })
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready while the database answers. The answer also says how the background work
/// stands (docs/decisions/0010): each projection's position, lag and the events it could
/// not apply and passed over (then `status` is `degraded`, still 200: the instance serves
/// everything else, and taking it out of rotation would stop it for everyone), and the
/// outbox's pending and failed letters.
async fn readyz(State(app): State<Arc<Kurslogg>>) -> impl IntoResponse {
    match app.log.ping().await {
        Ok(()) => {
            let db = app.log.views();
            let projections = crate::views::status(&db).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "projection status could not be read");
                Vec::new()
            });
            let letters = kurslogg_projections::outbox::counts(&db).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "outbox counts could not be read");
                Default::default()
            });
            let degraded = projections.iter().any(|p| p.failed_events > 0);
            (
                StatusCode::OK,
                Json(serde_json::json!({
                    "status": if degraded { "degraded" } else { "ready" },
                    "database": "ok",
                    "projections": projections,
                    "letters": letters,
                })),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}

/// What `/readyz` says, for a monitoring system (Prometheus' text format): each
/// projection's position, lag and the events it could not apply, and the letters pending
/// and failed. Counts only; no personal data.
async fn metrics(State(app): State<Arc<Kurslogg>>) -> impl IntoResponse {
    use std::fmt::Write;
    let db = app.log.views();
    let up = app.log.ping().await.is_ok();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, values: Vec<(String, i64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in values {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge("kurslogg_database_up", "Whether the database answers (1) or not (0).", vec![(String::new(), i64::from(up))]);
    if up {
        if let Ok(projections) = crate::views::status(&db).await {
            let each = |f: fn(&crate::views::ProjectionStatus) -> i64| {
                projections.iter().map(|p| (format!("{{projection=\"{}\"}}", p.name), f(p))).collect::<Vec<_>>()
            };
            gauge("kurslogg_projection_position", "The last log position a projection applied.", each(|p| p.position));
            gauge(
                "kurslogg_projection_lag_events",
                "Events in the log a projection has not applied yet.",
                each(|p| p.lag),
            );
            gauge(
                "kurslogg_projection_failed_events",
                "Events a projection could not apply and passed over (see /readyz).",
                each(|p| p.failed_events),
            );
        }
        if let Ok(letters) = kurslogg_projections::outbox::counts(&db).await {
            gauge("kurslogg_letters_pending", "Letters waiting to be sent.", vec![(String::new(), letters.pending)]);
            gauge("kurslogg_letters_failed", "Letters that could not be sent.", vec![(String::new(), letters.failed)]);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out)
}

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// Serves until SIGTERM or Ctrl-C, then finishes requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, router: Router, settings: &HttpSettings) -> std::io::Result<()> {
    serve_until(listener, router, settings, shutdown_signal()).await
}

/// How long the accept loop waits after the operating system refused a connection (out
/// of file descriptors, typically) before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves until `signal` resolves, then finishes requests in flight.
///
/// axum's own `serve` sets no limit on how long a client may take to send its request
/// headers, nor on how many connections are open: a few hundred sockets that never finish
/// their headers hold as many file descriptors for good, and once the process runs out of
/// them every new connection (health checks included) is refused. Here every connection
/// holds one of `max_connections` permits (the next is accepted only when one is free, so
/// the rest wait in the kernel's listen queue instead of failing), and hyper closes a
/// connection whose headers take longer than `header_read_timeout`.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: Router,
    settings: &HttpSettings,
    signal: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    // HTTP/1.1 only: TLS (and with it HTTP/2) ends at the reverse proxy in front. hyper's
    // automatic HTTP/2 detection would also wait, without any timeout, for the first
    // bytes of a connection that sends none.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);

    let permits = Arc::new(tokio::sync::Semaphore::new(settings.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut signal => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
            // What `into_make_service_with_connect_info` would put there: the peer's address.
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            router.clone().oneshot(request)
        });
        let connection = http1.serve_connection(TokioIo::new(stream), service);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// `configured` connections, or fewer when the process may not open that many files:
/// each connection is a file descriptor, and the database pool, SQLite and the outbox's
/// files need some of their own (`reserve`).
pub fn connection_limit(configured: usize, reserve: usize) -> usize {
    #[cfg(target_os = "linux")]
    if let Some(files) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        let room = usize::try_from(files).unwrap_or(usize::MAX).saturating_sub(reserve).max(1);
        if room < configured {
            tracing::warn!(
                max_connections = configured,
                open_files_limit = files,
                used = room,
                "max_connections is more than the open-files limit allows; using fewer (raise LimitNOFILE)"
            );
            return room;
        }
    }
    let _ = reserve;
    configured
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
