//! Extractors that turn a request into a `CommandContext` and a typed body, with our
//! problem documents for every way a request can be malformed. Who is asking comes from
//! the authentication middleware (`auth.rs`), never from what the client claims.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use kurslogg_domain::text::{check_chars, one_line, Shape};
use serde::de::DeserializeOwned;

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
        let idempotency = key.map(|key| Idempotency::of_request(key, parts.method.as_str(), parts.uri.path(), &bytes));
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
    let value: serde_json::Value = serde_json::from_slice(&without_lone_surrogates(bytes)).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    // Every body is an object: serde would otherwise take an array for a struct, field by
    // field in order (and `[]` for a command that takes no body).
    if !value.is_object() {
        return Err(ApiError::validation(
            "the body must be a JSON object: {…}, or {} (or nothing) for a command that takes no body",
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::validation(format!("the body does not fit: {e}")))
}

/// `json` with every lone UTF-16 surrogate in a string escape (`"\ud800"`, which JSON
/// allows and no Rust string can hold) written as `\ufffd` instead. The body then parses,
/// and the text field it is in is refused by the text rules, by name, like any other
/// character that is not text (docs/decisions/0010), instead of the whole body being
/// called malformed.
fn without_lone_surrogates(json: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let escape = |at: usize| -> Option<u32> {
        let hex = json.get(at..at + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let high = |n: u32| (0xD800..0xDC00).contains(&n);
    let low = |n: u32| (0xDC00..0xE000).contains(&n);
    if !json.windows(3).any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D')) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    let (mut i, mut in_string) = (0, false);
    while i < json.len() {
        let byte = json[i];
        if !in_string || byte != b'\\' {
            if byte == b'"' {
                in_string = !in_string;
            }
            out.push(byte);
            i += 1;
            continue;
        }
        match escape(i) {
            Some(n) if high(n) && escape(i + 6).is_some_and(low) => {
                out.extend_from_slice(&json[i..i + 12]);
                i += 12;
            }
            Some(n) if high(n) || low(n) => {
                out.extend_from_slice(b"\\ufffd");
                i += 6;
            }
            // Any other escape, `\"` and `\\` included, as it is.
            _ => {
                out.extend_from_slice(&json[i..(i + 2).min(json.len())]);
                i += 2;
            }
        }
    }
    std::borrow::Cow::Owned(out)
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
        // A filter is one line of text: a NUL or a line break in one (or a byte that is not
        // UTF-8, decoded as U+FFFD) is refused by name, never handed to the database.
        let pairs =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
        for (name, value) in &pairs {
            check_chars(name, Shape::Line)
                .and_then(|()| check_chars(value, Shape::Line))
                .map_err(|e| ApiError::validation(format!("{}: {}", one_line(name), e.0)))?;
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// Answers a request whose path is not text with a problem document, before any route
/// sees it: a segment that is not UTF-8 once percent-decoded is a 400 (axum's own answer
/// would be plain text), and one holding a control character (`%00`, `%0A`) a 404, since
/// no id or code can hold one (and a NUL must never reach the database).
pub async fn path_is_text(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    if path.contains('%') {
        match percent_encoding::percent_decode_str(path).decode_utf8() {
            Err(_) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "the path is not UTF-8 text once percent-decoded",
                )
                .into_response()
            }
            Ok(decoded) if check_chars(&decoded, Shape::Line).is_err() => {
                return ApiError::not_found("no such resource: the path holds a character no id or code can hold")
                    .into_response()
            }
            Ok(_) => {}
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::without_lone_surrogates;

    fn fixed(json: &str) -> String {
        String::from_utf8(without_lone_surrogates(json.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        assert_eq!(fixed(r#"{"a":"x\ud800y"}"#), r#"{"a":"x\ufffdy"}"#);
        assert_eq!(fixed(r#"{"a":"\uDC00"}"#), r#"{"a":"\ufffd"}"#);
        assert_eq!(fixed(r#"{"a":"\ud83d\ude00"}"#), r#"{"a":"\ud83d\ude00"}"#);
        assert_eq!(fixed(r#"{"a":"\\ud800"}"#), r#"{"a":"\\ud800"}"#, "an escaped backslash, not an escape");
        assert_eq!(fixed(r#"{"a":"\ud800\ud800\udc00"}"#), r#"{"a":"\ufffd\ud800\udc00"}"#);
        let value: serde_json::Value = serde_json::from_str(&fixed(r#"{"name":"Eve\ud800"}"#)).unwrap();
        assert_eq!(value["name"], "Eve\u{FFFD}");
    }
}
