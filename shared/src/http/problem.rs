//! Errors as `application/problem+json` (RFC 9457), each with a stable `code`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::service::ServiceError;
use crate::service::policy::PolicyRefusal;
use holdpoint_core::domain::lifecycle::Refusal;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub extra: Map<String, Value>,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 9110): how to authenticate.
    pub challenge: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
            extra: Map::new(),
            challenge: None,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "no such approval")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://holdpoint.dev/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        let retry_after = self
            .extra
            .get("retry_after_seconds")
            .and_then(Value::as_u64);
        if let Value::Object(m) = &mut body {
            m.extend(self.extra);
        }
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(c) = self.challenge {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(after) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(after));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Problem {
        use StatusCode as S;
        match e {
            ServiceError::NotFound => Problem::not_found(),
            ServiceError::Invalid(i) => {
                Problem::new(S::UNPROCESSABLE_ENTITY, "invalid_field", i.to_string())
                    .with("field", i.field)
            }
            ServiceError::NotAdmin => Problem::new(
                S::FORBIDDEN,
                "not_admin",
                "only a principal holding the role admin in its tenant may do this",
            ),
            ServiceError::IdempotencyKeyReused => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            ),
            ServiceError::Refused(r) => refusal(r),
            ServiceError::Policy(p) => policy(p),
            // Links are served by the review routes, which render their own pages; an API caller
            // never holds one, but the answer stays as reticent as the page's.
            ServiceError::Link(r) => Problem::new(S::FORBIDDEN, "invalid_link", r.to_string()),
            ServiceError::Unavailable(m) => {
                tracing::warn!(error = %m, "unavailable");
                Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is briefly unavailable; retry",
                )
            }
            ServiceError::KeyUnavailable(m) => {
                tracing::error!(error = %m, "signing key unavailable");
                Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "key_unavailable",
                    "the audit signing key is unavailable, so nothing can be changed; retry later",
                )
            }
            ServiceError::IntegrityViolation(b) => {
                tracing::error!(approval = %b.approval, fields = ?b.fields, reason = %b.reason, "integrity violation");
                Problem::new(
                    S::INTERNAL_SERVER_ERROR,
                    "integrity_violation",
                    "this approval's stored state does not match its signed audit trail; nothing was changed",
                )
            }
            ServiceError::RateLimited {
                retry_after_seconds,
            } => Problem::new(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many sign-in requests; retry later",
            )
            .with("retry_after_seconds", retry_after_seconds),
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Problem::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

fn policy(p: PolicyRefusal) -> Problem {
    use StatusCode as S;
    let detail = p.to_string();
    match p {
        PolicyRefusal::NotSet => Problem::new(S::NOT_FOUND, "no_policy", detail),
        PolicyRefusal::AgentCannotSet => Problem::new(S::FORBIDDEN, "not_admin", detail),
        PolicyRefusal::Invalid(e) => {
            Problem::new(S::UNPROCESSABLE_ENTITY, "invalid_policy", detail).with("rule", e.rule)
        }
        PolicyRefusal::VersionMismatch { current, .. } => {
            Problem::new(S::PRECONDITION_FAILED, "policy_version_mismatch", detail)
                .with("current_version", current)
        }
        PolicyRefusal::Denied {
            approval,
            rule,
            reason,
        } => Problem::new(S::FORBIDDEN, "denied_by_policy", detail)
            .with("rule", rule)
            .with("reason", reason)
            .with("approval_id", approval.to_string()),
        PolicyRefusal::Unusable { version, error } => {
            tracing::warn!(version, rule = ?error.rule, error = %error.message, "stored policy does not parse");
            Problem::new(S::CONFLICT, "policy_unusable", detail)
                .with("rule", error.rule)
                .with("policy_version", version)
        }
    }
}

fn refusal(r: Refusal) -> Problem {
    use StatusCode as S;
    let detail = r.to_string();
    match r {
        Refusal::AgentCannotDecide => Problem::new(S::FORBIDDEN, "agents_cannot_decide", detail),
        Refusal::NotAReviewer => Problem::new(S::FORBIDDEN, "not_a_reviewer", detail),
        Refusal::SelfApproval => Problem::new(S::FORBIDDEN, "self_approval", detail),
        Refusal::NotRequester => Problem::new(S::FORBIDDEN, "not_requester", detail),
        Refusal::CommentRequired => {
            Problem::new(S::UNPROCESSABLE_ENTITY, "comment_required", detail)
        }
        Refusal::ModifiedOutputRequired => {
            Problem::new(S::UNPROCESSABLE_ENTITY, "modified_output_required", detail)
        }
        Refusal::UnexpectedModifiedOutput => Problem::new(
            S::UNPROCESSABLE_ENTITY,
            "unexpected_modified_output",
            detail,
        ),
        Refusal::ContextMismatch => {
            Problem::new(S::UNPROCESSABLE_ENTITY, "context_mismatch", detail)
        }
        Refusal::ExecutionWindowClosed { execute_by } => {
            Problem::new(S::CONFLICT, "execution_window_closed", detail)
                .with("current_status", "lapsed")
                .with("execute_by", holdpoint_core::time::format(&execute_by))
        }
        // Named like any field out of bounds, with the latest deadline allowed.
        Refusal::PastLatestExpiry { latest_expiry } => {
            Problem::new(S::UNPROCESSABLE_ENTITY, "invalid_field", detail)
                .with("field", "seconds")
                .with(
                    "latest_expiry",
                    holdpoint_core::time::format(&latest_expiry),
                )
        }
        Refusal::Conflict {
            current_status,
            decided_by,
            decided_at: _,
        } => Problem::new(
            S::CONFLICT,
            "conflict",
            format!("the approval is {}", current_status.as_str()),
        )
        .with("current_status", current_status.as_str())
        .with("decided_by", decided_by),
        Refusal::NotDue => Problem::new(S::CONFLICT, "not_due", detail),
    }
}
