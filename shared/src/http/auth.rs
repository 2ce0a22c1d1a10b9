//! Authentication: who the caller is, from credentials, never from the request body.
//!
//! Locally a bearer API key maps to a principal. On AWS the API Gateway IAM authorizer has already
//! verified the caller's signature; the caller's ARN maps to a principal. An unknown credential is
//! refused: nobody is anybody by default.

use std::collections::HashMap;

use http::request::Parts;
use http::{StatusCode, header};
use lambda_http::request::RequestContext;
use sha2::{Digest, Sha256};

use super::problem::Problem;
use crate::config::{API_KEYS, ConfigError, IAM_PRINCIPALS};
use crate::identity::Principal;

#[derive(Debug, Clone)]
pub enum Authenticator {
    /// SHA-256 (hex) of each API key → its principal. Keys themselves are not kept.
    ApiKeys(HashMap<String, Principal>),
    /// IAM ARN → principal. An assumed-role session ARN also matches its role's
    /// `arn:aws:sts::ACCOUNT:assumed-role/NAME` entry.
    Iam(HashMap<String, Principal>),
}

impl Authenticator {
    /// From `{"<key>": {"tenant": "…", "principal": "…", "roles": […]}}`.
    pub fn api_keys_from_json(json: &str) -> Result<Authenticator, ConfigError> {
        let keys: HashMap<String, Principal> = serde_json::from_str(json)
            .map_err(|e| ConfigError(format!("{API_KEYS} is not valid: {e}")))?;
        if keys.is_empty() {
            return Err(ConfigError(format!("{API_KEYS} names no key")));
        }
        let mut hashed = HashMap::new();
        for (key, principal) in keys {
            if key.len() < 16 {
                return Err(ConfigError(format!(
                    "API key of {} is shorter than 16 characters",
                    principal.principal
                )));
            }
            hashed.insert(key_hash(&key), principal);
        }
        Ok(Authenticator::ApiKeys(hashed))
    }

    /// From `{"<arn>": {"tenant": "…", "principal": "…", "roles": […]}}`.
    pub fn iam_from_json(json: &str) -> Result<Authenticator, ConfigError> {
        serde_json::from_str(json)
            .map(Authenticator::Iam)
            .map_err(|e| ConfigError(format!("{IAM_PRINCIPALS} is not valid: {e}")))
    }

    /// The caller of `parts`. No or an unknown API key is 401 with a `Bearer` challenge; an IAM
    /// caller that API Gateway authenticated but Holdpoint does not know is 403 (the credential
    /// is valid; the principal may not use Holdpoint).
    pub fn authenticate(&self, parts: &Parts) -> Result<Principal, Problem> {
        match self {
            Authenticator::ApiKeys(keys) => {
                let challenge = |code: &'static str, detail: &str, error: bool| {
                    let mut p = Problem::new(StatusCode::UNAUTHORIZED, code, detail);
                    p.challenge = Some(if error {
                        "Bearer realm=\"holdpoint\", error=\"invalid_token\""
                    } else {
                        "Bearer realm=\"holdpoint\""
                    });
                    p
                };
                let header = parts.headers.get(header::AUTHORIZATION);
                let Some(header) = header else {
                    return Err(challenge(
                        "unauthenticated",
                        "authentication is required: Authorization: Bearer <API key>",
                        false,
                    ));
                };
                let key = header
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| {
                        challenge(
                            "invalid_credential",
                            "the Authorization header must be Bearer <API key>",
                            true,
                        )
                    })?;
                // Looking up a SHA-256 of the key reveals nothing about the key through timing.
                keys.get(&key_hash(key)).cloned().ok_or_else(|| {
                    challenge("invalid_credential", "this API key is not known", true)
                })
            }
            Authenticator::Iam(arns) => {
                let arn = match parts.extensions.get::<RequestContext>() {
                    Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                        .authorizer
                        .as_ref()
                        .and_then(|a| a.iam.as_ref())
                        .and_then(|iam| iam.user_arn.clone()),
                    _ => None,
                }
                .ok_or_else(|| {
                    let mut p = Problem::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "authentication is required: sign the request with AWS SigV4",
                    );
                    p.challenge = Some("AWS4-HMAC-SHA256");
                    p
                })?;
                arns.get(&arn)
                    .or_else(|| arns.get(assumed_role(&arn)?))
                    .cloned()
                    .ok_or_else(|| {
                        Problem::new(
                            StatusCode::FORBIDDEN,
                            "unknown_principal",
                            "these credentials are not allowed to use Holdpoint",
                        )
                    })
            }
        }
    }
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `arn:aws:sts::1:assumed-role/NAME/SESSION` → `arn:aws:sts::1:assumed-role/NAME`.
fn assumed_role(arn: &str) -> Option<&str> {
    if !arn.contains(":assumed-role/") {
        return None;
    }
    arn.rsplit_once('/').map(|(role, _session)| role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_role_sessions_match_their_role() {
        assert_eq!(
            assumed_role("arn:aws:sts::123:assumed-role/agent/i-0abc"),
            Some("arn:aws:sts::123:assumed-role/agent")
        );
        assert_eq!(assumed_role("arn:aws:iam::123:user/alice"), None);
    }

    #[test]
    fn short_or_empty_key_sets_are_refused() {
        assert!(Authenticator::api_keys_from_json("{}").is_err());
        assert!(
            Authenticator::api_keys_from_json(r#"{"short": {"tenant": "t", "principal": "p"}}"#)
                .is_err()
        );
        assert!(Authenticator::api_keys_from_json("not json").is_err());
    }
}
