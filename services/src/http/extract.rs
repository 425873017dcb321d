//! Extractors that turn a request into a `CommandContext` and a typed body, with our
//! problem documents for every way a request can be malformed. Who is asking comes from
//! the authentication middleware (`auth.rs`), never from what the client claims.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::auth::Authenticated;
use super::error::ApiError;
use crate::app::{Actor, CommandContext, Idempotency};
use crate::auth::Origin;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "validation", format!("header {name} is not text"))),
    }
}

/// The authenticated actor, put on the request by [`super::auth::authenticate`]; 401
/// when the request carried no credentials.
pub fn actor(parts: &Parts) -> Result<Actor, ApiError> {
    parts.extensions.get::<Authenticated>().map(|a| a.0.clone()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in first: send Authorization: Bearer <token>, or a session cookie",
        )
    })
}

/// The request id the client sent, or "unknown".
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("unknown").to_string()
}

/// A command request: who, in which request, with which idempotency key, and its body.
pub struct Cmd<T> {
    /// Who and where.
    pub ctx: CommandContext,
    /// The parsed body.
    pub body: T,
}

impl<S, T> FromRequest<S> for Cmd<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let actor = actor(&parts)?;
        let key = header(&parts.headers, "idempotency-key")?.map(str::to_string);
        if key.as_ref().is_some_and(|k| k.len() > 200) {
            return Err(ApiError::validation("Idempotency-Key is longer than 200 characters"));
        }
        let bytes = read_body(&parts, body, state).await?;
        let body = parse_json(&parts, &bytes)?;
        let idempotency = key.map(|key| {
            let mut hash = Sha256::new();
            hash.update(parts.method.as_str());
            hash.update(b" ");
            hash.update(parts.uri.path());
            hash.update(b"\n");
            hash.update(&bytes);
            Idempotency { key, request_hash: hex::encode(hash.finalize()) }
        });
        let ctx =
            CommandContext { actor, request_id: request_id(&parts.headers), received_at: Utc::now(), idempotency };
        Ok(Cmd { ctx, body })
    }
}

/// The whole body, within the size limit.
async fn read_body<S: Send + Sync>(parts: &Parts, body: axum::body::Body, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(Request::from_parts(parts.clone(), body), state).await.map_err(|e| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("request body not accepted: {e}"))
    })
}

/// A JSON body for a request that needs no actor (logging in), checked like a command's.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts, body, state).await?;
        parse_json(&parts, &bytes).map(Body)
    }
}

fn parse_json<T: DeserializeOwned>(parts: &Parts, bytes: &Bytes) -> Result<T, ApiError> {
    // A body-less command (e.g. publish) may send nothing at all.
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let is_json = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    // Syntax first, then shape: a truncated body is malformed even if a field before the
    // break has the wrong type.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    serde_json::from_value(value).map_err(|e| ApiError::validation(format!("the body does not fit: {e}")))
}

/// The actor of a read request.
pub struct Reader(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        actor(parts).map(Reader)
    }
}

/// Where a request came from (client address, request id), for the security log.
pub struct Seen(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for Seen {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Seen(parts.extensions.get::<Origin>().cloned().unwrap_or_default()))
    }
}

/// Parses a path id, answering 404 for one that cannot exist.
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(format!("no such {what}: {raw:?} is not a valid id")))
}

/// Query parameters, answered with a problem document when they do not parse.
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}
