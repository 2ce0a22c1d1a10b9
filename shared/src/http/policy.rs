//! `/v1/policy`: the tenant's approval policy, for its admins — read it, set it (YAML or JSON,
//! optionally after the version read, `If-Match`), trace its versions, try it on a request.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::extract::{Caller, JsonBody, read_body};
use super::problem::Problem;
use super::state::AppState;
use crate::directory::policy::StoredPolicy;
use crate::policy::{DOCUMENT_BYTES, Ruling};
use holdpoint_core::domain::request::CreateRequest;
use holdpoint_core::time::rfc3339;

/// A stored version as it is shown.
#[derive(Serialize)]
struct Shown<'a> {
    version: u64,
    text: &'a str,
    set_by: &'a str,
    #[serde(with = "rfc3339")]
    set_at: chrono::DateTime<chrono::Utc>,
}

fn shown(p: &StoredPolicy) -> Shown<'_> {
    Shown {
        version: p.version,
        text: &p.text,
        set_by: &p.set_by,
        set_at: p.set_at,
    }
}

/// The policy with its version as the `ETag` an edit may name in `If-Match`.
fn with_etag(status: StatusCode, p: &StoredPolicy) -> Response {
    let mut res = (status, Json(shown(p))).into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", p.version)) {
        res.headers_mut().insert(header::ETAG, tag);
    }
    res
}

pub(super) async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, Problem> {
    let policy = state.service.policy(&caller).await?;
    Ok(with_etag(StatusCode::OK, &policy))
}

pub(super) async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, Problem> {
    let versions = state.service.policy_history(&caller).await?;
    let items: Vec<Shown> = versions.iter().map(shown).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// `POST /v1/policy/test?principal=NAME`: as sent by that principal of the tenant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TestParams {
    principal: Option<String>,
}

pub(super) async fn test(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: Result<Query<TestParams>, QueryRejection>,
    body: JsonBody<CreateRequest>,
) -> Result<Response, Problem> {
    let Query(p) = params.map_err(|e| Problem::bad_request("invalid_query", e.body_text()))?;
    let sender = p.principal.as_deref();
    let ruling = state
        .service
        .test_policy(&caller, &body.value, sender)
        .await?;
    /// The ruling, and for an ask what the agent's request becomes under its gate: the
    /// reviewers, quorum, lifetime, window and chain it would be asked with (the service's
    /// defaults fill what neither names).
    #[derive(Serialize)]
    struct Tested<'a> {
        #[serde(flatten)]
        ruling: &'a Ruling,
        #[serde(skip_serializing_if = "Option::is_none")]
        asked: Option<CreateRequest>,
    }
    let asked = match &ruling {
        Ruling::Ask { gate } => Some(body.value.clone().under(gate)),
        _ => None,
    };
    let answer = Tested {
        ruling: &ruling,
        asked,
    };
    Ok(Json(answer).into_response())
}

pub(super) async fn put(
    State(state): State<AppState>,
    Caller(caller): Caller,
    req: Request,
) -> Result<Response, Problem> {
    let expected = if_match(req.headers())?;
    check_media_type(req.headers())?;
    let raw = read_body(req, DOCUMENT_BYTES).await.map_err(|limit| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("a policy must be at most {limit} bytes"),
        )
    })?;
    let text = std::str::from_utf8(&raw)
        .map_err(|_| Problem::bad_request("invalid_body", "the policy must be UTF-8 text"))?;
    let stored = state.service.set_policy(&caller, text, expected).await?;
    Ok(with_etag(StatusCode::OK, &stored))
}

/// The version an edit follows: `If-Match: "<version>"`, the quotes optional (absent or `*`:
/// whatever is in force).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(None);
    }
    let quoted = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
    quoted
        .unwrap_or(value)
        .parse::<u64>()
        .ok()
        .filter(|_| value.bytes().all(|b| b.is_ascii_digit() || b == b'"'))
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_request(
                "invalid_if_match",
                "If-Match must be the policy's ETag, a version in quotes such as \"3\"",
            )
        })
}

/// YAML, JSON (which YAML reads) or plain text.
fn check_media_type(headers: &HeaderMap) -> Result<(), Problem> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let accepted = media.as_deref().is_some_and(|m| {
        matches!(
            m,
            "application/yaml"
                | "application/x-yaml"
                | "text/yaml"
                | "application/json"
                | "text/plain"
        )
    });
    if accepted {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the policy as Content-Type: application/yaml, application/json or text/plain",
        ))
    }
}
