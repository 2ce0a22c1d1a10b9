//! Authentication: who the caller is, from credentials, never from the request body.
//!
//! Locally a bearer API key maps to a principal. On AWS the API Gateway IAM authorizer has already
//! verified the caller's signature; the caller's ARN maps to a principal. An unknown credential is
//! refused: nobody is anybody by default.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::request::Parts;
use http::{StatusCode, header};
use lambda_http::request::RequestContext;

use super::problem::Problem;
use crate::config::{API_KEYS, ConfigError};
use crate::directory::{self, Directory, Lookup, StaticDirectory};
use holdpoint_core::domain::identity::{Principal, check_not_reserved};

/// How a caller proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <API key>`, looked up by its SHA-256.
    ApiKey,
    /// The ARN API Gateway's IAM authorizer verified. An assumed-role session ARN also matches
    /// its role's `arn:aws:sts::ACCOUNT:assumed-role/NAME` entry.
    Iam,
}

/// Lookups remembered at most; past it the cache starts afresh (a flood of unknown keys
/// cannot grow it without bound).
const CACHE_ENTRIES: usize = 10_000;

/// Finds callers in the directory, remembering each answer (found or not) for `ttl`: a removed
/// principal or key is refused at most `ttl` after the change.
pub struct Authenticator {
    scheme: Scheme,
    directory: Arc<dyn Directory>,
    ttl: Duration,
    cache: Mutex<HashMap<Lookup, (Instant, Option<Principal>)>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("scheme", &self.scheme)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(scheme: Scheme, directory: Arc<dyn Directory>, ttl: Duration) -> Authenticator {
        Authenticator {
            scheme,
            directory,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// API keys from a fixed map `{"<key>": {"tenant": "…", "principal": "…", "roles": […]}}`
    /// (`HOLDPOINT_API_KEYS`, for tests and CI).
    pub fn api_keys_from_json(json: &str) -> Result<Authenticator, ConfigError> {
        let entries = directory::entries_from_key_map(json)
            .map_err(|e| ConfigError(format!("{API_KEYS}: {e}")))?;
        Ok(Authenticator::new(
            Scheme::ApiKey,
            Arc::new(StaticDirectory::new(entries)),
            Duration::ZERO,
        ))
    }

    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    /// The principal of `lookup`, from the cache while it is fresh.
    async fn find(&self, lookup: Lookup) -> Result<Option<Principal>, Problem> {
        if let Ok(cache) = self.cache.lock()
            && let Some((at, found)) = cache.get(&lookup)
            && at.elapsed() < self.ttl
        {
            return Ok(found.clone());
        }
        let found = self
            .directory
            .find(&lookup)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the directory could not be read");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the directory of principals cannot be read now; try again",
                )
            })?
            .map(|e| e.principal())
            // Stored before these names were kept for the service: such a principal could pass
            // for the system in the audit trail, so it is nobody.
            .filter(|p| {
                let ok = check_not_reserved("principal", &p.principal).is_ok();
                if !ok {
                    tracing::warn!(principal = %p.principal, tenant = %p.tenant,
                        "a principal under a name the service keeps for itself is refused");
                }
                ok
            });
        if !self.ttl.is_zero()
            && let Ok(mut cache) = self.cache.lock()
        {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(lookup, (Instant::now(), found.clone()));
        }
        Ok(found)
    }

    /// The caller of `parts`. No or an unknown API key is 401 with a `Bearer` challenge; an IAM
    /// caller that API Gateway authenticated but Holdpoint does not know is 403 (the credential
    /// is valid; the principal may not use Holdpoint).
    pub async fn authenticate(&self, parts: &Parts) -> Result<Principal, Problem> {
        match self.scheme {
            Scheme::ApiKey => {
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
                self.find(Lookup::Key(directory::key_hash(key)))
                    .await?
                    .ok_or_else(|| {
                        challenge("invalid_credential", "this API key is not known", true)
                    })
            }
            Scheme::Iam => {
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
                // A session of an assumed role is looked up with its role at once (a cold
                // start pays one round trip, not two); the session's own entry wins.
                let found = match assumed_role(&arn) {
                    None => self.find(Lookup::Arn(arn.clone())).await?,
                    Some(role) => {
                        let (session, role) = tokio::join!(
                            self.find(Lookup::Arn(arn.clone())),
                            self.find(Lookup::Arn(role.to_owned()))
                        );
                        session?.or(role?)
                    }
                };
                found.ok_or_else(|| {
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
        assert!(
            Authenticator::api_keys_from_json(
                r#"{"0123456789abcdef": {"tenant": "t", "principal": "p"}}"#
            )
            .is_ok()
        );
        assert!(Authenticator::api_keys_from_json("{}").is_err());
        assert!(
            Authenticator::api_keys_from_json(r#"{"short": {"tenant": "t", "principal": "p"}}"#)
                .is_err()
        );
        assert!(Authenticator::api_keys_from_json("not json").is_err());
    }

    #[tokio::test]
    async fn principals_under_names_the_service_keeps_are_nobody() {
        // Stored by a version that did not keep these names (nothing today adds them).
        let entry = |name: &str, key: &str| -> directory::Entry {
            serde_json::from_value(serde_json::json!({
                "tenant": "t", "name": name, "key_hash": directory::key_hash(key),
            }))
            .unwrap()
        };
        let stored = StaticDirectory::new(vec![
            entry("HoldPoint", "0123456789abcdef"),
            entry("holdpoint-ops", "fedcba9876543210"),
        ]);
        let auth = Authenticator::new(Scheme::ApiKey, Arc::new(stored), Duration::ZERO);
        let parts = |key: &str| {
            http::Request::builder()
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        let refused = auth.authenticate(&parts("0123456789abcdef")).await;
        assert_eq!(refused.unwrap_err().status, StatusCode::UNAUTHORIZED);
        let other = auth.authenticate(&parts("fedcba9876543210")).await.unwrap();
        assert_eq!(other.principal, "holdpoint-ops");
    }
}
