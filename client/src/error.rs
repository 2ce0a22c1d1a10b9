//! What can go wrong: the server refused (a problem with a stable `code`), the server could not
//! be reached, or its answer was not understood.

use serde_json::Value;

/// Every problem `code` the API documents (openapi.yaml, `Problem.code`), and `Other` for a
/// code newer than this client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemCode {
    InvalidBody,
    InvalidField,
    InvalidId,
    InvalidQuery,
    InvalidCursor,
    InvalidIdempotencyKey,
    UnsupportedMediaType,
    BodyTooLarge,
    Unauthenticated,
    InvalidCredential,
    UnknownPrincipal,
    NotAdmin,
    RequestTimeout,
    MalformedRequest,
    HeadersTooLarge,
    UriTooLong,
    NotAReviewer,
    AgentsCannotDecide,
    SelfApproval,
    NotRequester,
    CommentRequired,
    ModifiedOutputRequired,
    UnexpectedModifiedOutput,
    ContextMismatch,
    ExecutionWindowClosed,
    IdempotencyKeyReused,
    Conflict,
    NotFound,
    NoRoute,
    MethodNotAllowed,
    Unavailable,
    KeyUnavailable,
    IntegrityViolation,
    InvalidLink,
    Internal,
    DeniedByPolicy,
    InvalidPolicy,
    NoPolicy,
    PolicyVersionMismatch,
    InvalidIfMatch,
    PolicyUnusable,
    Other(String),
}

impl ProblemCode {
    const KNOWN: &'static [(&'static str, ProblemCode)] = &[
        ("invalid_body", ProblemCode::InvalidBody),
        ("invalid_field", ProblemCode::InvalidField),
        ("invalid_id", ProblemCode::InvalidId),
        ("invalid_query", ProblemCode::InvalidQuery),
        ("invalid_cursor", ProblemCode::InvalidCursor),
        (
            "invalid_idempotency_key",
            ProblemCode::InvalidIdempotencyKey,
        ),
        ("unsupported_media_type", ProblemCode::UnsupportedMediaType),
        ("body_too_large", ProblemCode::BodyTooLarge),
        ("unauthenticated", ProblemCode::Unauthenticated),
        ("invalid_credential", ProblemCode::InvalidCredential),
        ("unknown_principal", ProblemCode::UnknownPrincipal),
        ("not_admin", ProblemCode::NotAdmin),
        ("request_timeout", ProblemCode::RequestTimeout),
        ("malformed_request", ProblemCode::MalformedRequest),
        ("headers_too_large", ProblemCode::HeadersTooLarge),
        ("uri_too_long", ProblemCode::UriTooLong),
        ("not_a_reviewer", ProblemCode::NotAReviewer),
        ("agents_cannot_decide", ProblemCode::AgentsCannotDecide),
        ("self_approval", ProblemCode::SelfApproval),
        ("not_requester", ProblemCode::NotRequester),
        ("comment_required", ProblemCode::CommentRequired),
        (
            "modified_output_required",
            ProblemCode::ModifiedOutputRequired,
        ),
        (
            "unexpected_modified_output",
            ProblemCode::UnexpectedModifiedOutput,
        ),
        ("context_mismatch", ProblemCode::ContextMismatch),
        (
            "execution_window_closed",
            ProblemCode::ExecutionWindowClosed,
        ),
        ("idempotency_key_reused", ProblemCode::IdempotencyKeyReused),
        ("conflict", ProblemCode::Conflict),
        ("not_found", ProblemCode::NotFound),
        ("no_route", ProblemCode::NoRoute),
        ("method_not_allowed", ProblemCode::MethodNotAllowed),
        ("unavailable", ProblemCode::Unavailable),
        ("key_unavailable", ProblemCode::KeyUnavailable),
        ("integrity_violation", ProblemCode::IntegrityViolation),
        ("invalid_link", ProblemCode::InvalidLink),
        ("internal", ProblemCode::Internal),
        ("denied_by_policy", ProblemCode::DeniedByPolicy),
        ("invalid_policy", ProblemCode::InvalidPolicy),
        ("no_policy", ProblemCode::NoPolicy),
        (
            "policy_version_mismatch",
            ProblemCode::PolicyVersionMismatch,
        ),
        ("invalid_if_match", ProblemCode::InvalidIfMatch),
        ("policy_unusable", ProblemCode::PolicyUnusable),
    ];

    pub fn parse(code: &str) -> ProblemCode {
        Self::KNOWN
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| ProblemCode::Other(code.to_owned()), |(_, k)| k.clone())
    }

    pub fn as_str(&self) -> &str {
        match self {
            ProblemCode::Other(c) => c,
            known => Self::KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map_or("other", |(c, _)| c),
        }
    }
}

/// A refusal from the server: its HTTP status and its `application/problem+json` body.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: ProblemCode,
    pub detail: String,
    /// The whole body, for the fields some codes add (`field`, `current_status`, …).
    pub body: Value,
    /// The answer's `Retry-After`, when it had one (429, 503).
    pub retry_after: Option<std::time::Duration>,
}

impl Problem {
    pub(crate) fn from_answer(status: u16, body: &[u8]) -> Problem {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = value["code"].as_str().unwrap_or("");
        let code = if code.is_empty() {
            ProblemCode::Other(format!("http_{status}"))
        } else {
            ProblemCode::parse(code)
        };
        let detail = value["detail"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        Problem {
            status,
            code,
            detail,
            body: value,
            retry_after: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered, and refused.
    #[error("{} ({}): {}", .0.code.as_str(), .0.status, .0.detail)]
    Refused(Problem),
    /// No answer: the server could not be reached, or the connection failed.
    #[error("cannot reach Holdpoint: {0}")]
    Unreachable(String),
    /// An answer this client does not understand.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// The credentials could not be used.
    #[error("credentials: {0}")]
    Credentials(String),
    /// Not something the server was asked: a wrong argument to the client.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The problem code, when the server refused.
    pub fn code(&self) -> Option<&ProblemCode> {
        match self {
            Error::Refused(p) => Some(&p.code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code openapi.yaml documents has its own variant, and reads back as itself.
    #[test]
    fn every_documented_code_is_typed() {
        let spec = include_str!("../../openapi.yaml");
        let line = spec
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with("code: {type: string, description: \"Stable:")
            })
            .expect("openapi.yaml documents the problem codes");
        let list = line.split("Stable:").nth(1).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for word in list.split([',', ' ', '.', '"', '(', ')']) {
            let snake = !word.is_empty()
                && word.contains('_')
                && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            let single = ["conflict", "unavailable", "internal", "unauthenticated"].contains(&word);
            if snake || single {
                let code = ProblemCode::parse(word);
                assert!(
                    !matches!(code, ProblemCode::Other(_)),
                    "{word} is not typed"
                );
                assert_eq!(code.as_str(), word);
                seen.insert(word);
            }
        }
        assert_eq!(
            seen.len(),
            ProblemCode::KNOWN.len(),
            "openapi.yaml and the client agree"
        );
    }
}
