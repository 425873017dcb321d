//! One API error type, mapped to RFC 9457 problem documents in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::auth::AuthError;

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Stable machine-readable code, e.g. `deadline_passed`, `offering_full`, `validation`.
    pub code: String,
}

/// Everything an API handler can fail with.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    detail: String,
    /// Seconds to send as `Retry-After` (a rate limit's; a conflict always says 1).
    retry_after: Option<i64>,
}

impl ApiError {
    /// A problem with the given status, code and detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self { status, code: code.to_string(), detail: detail.into(), retry_after: None }
    }

    /// 422 validation.
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Refused { code, message, kind } => {
                Self::new(StatusCode::from_u16(kind.status()).expect("valid status"), &code, message)
            }
            AppError::Validation(detail) => Self::validation(detail),
            AppError::Forbidden(detail) => Self::new(StatusCode::FORBIDDEN, "forbidden", detail),
            e @ AppError::IdempotencyKeyReused => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", e.to_string())
            }
            e @ AppError::IdempotencyKeyInFlight => {
                Self::new(StatusCode::CONFLICT, "idempotency_key_in_flight", e.to_string())
            }
            e @ AppError::Contention => Self::new(StatusCode::CONFLICT, "contention", e.to_string()),
            e @ AppError::ViewsBehind(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "views_behind", e.to_string()),
            AppError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "lagringen svarar inte just nu; försök igen om en stund",
                )
            }
        }
    }
}

/// Authentication failures keep their own statuses wherever they surface: a missing or
/// bad credential is 401, too many failed attempts 429 with `Retry-After` (from a login as
/// much as from a change of one's own password); the rest as the application maps them.
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated(detail) => Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail),
            e @ AuthError::RateLimited { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
            },
            other => AppError::from(other).into(),
        }
    }
}

impl From<kurslogg_domain::values::InvalidValue> for ApiError {
    fn from(e: kurslogg_domain::values::InvalidValue) -> Self {
        Self::validation(e.0)
    }
}

impl From<kurslogg_domain::ids::InvalidId> for ApiError {
    fn from(e: kurslogg_domain::ids::InvalidId) -> Self {
        Self::validation(e.0)
    }
}

fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            problem_type: format!("https://kurslogg.se/problems/{}", self.code),
            title: title(self.status),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
        };
        let mut response = (self.status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        } else if self.status == StatusCode::CONFLICT {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 names the scheme that would be accepted.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
