//! Request extractors that answer every client mistake with a problem, never a bare rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::Problem;
use super::state::AppState;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::limits;

/// The authenticated caller.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        if let Some(super::limits::Authenticated(p)) = parts.extensions.get() {
            return Ok(Caller(p.clone()));
        }
        state.auth.authenticate(parts).await.map(Caller)
    }
}

/// Reads a body of at most `limit` bytes: a declared `Content-Length` above it is refused before
/// anything is read, and reading stops at the limit (a chunked body is cut off there too).
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, usize> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(limit);
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| limit)
}

/// A JSON body of at most `LIMIT` bytes (the route's own limit), with its raw bytes. An empty
/// body is read as `{}` where `T` allows it (cancel, execute).
pub struct JsonBody<T, const LIMIT: usize = { limits::BODY_BYTES }> {
    pub value: T,
    pub raw: Bytes,
}

impl<T: DeserializeOwned, S: Send + Sync, const LIMIT: usize> FromRequest<S>
    for JsonBody<T, LIMIT>
{
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        let raw = read_body(req, LIMIT).await.map_err(|limit| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body must be at most {limit} bytes"),
            )
        })?;
        let text: &[u8] = if raw.is_empty() {
            b"{}"
        } else if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        } else {
            &raw
        };
        holdpoint_core::json::strict::check(text)
            .map_err(|i| Problem::from(crate::service::ServiceError::Invalid(i)))?;
        let value = serde_json::from_slice(text)
            .map_err(|e| Problem::bad_request("invalid_body", format!("invalid JSON body: {e}")))?;
        Ok(JsonBody { value, raw })
    }
}
