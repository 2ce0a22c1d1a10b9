//! Reviewers in the browser (issue 25): a sign-in link by the principal's own channels, then a
//! session cookie. Secrets are 256 random bits shown once (in the message, in the cookie) and
//! kept only as their SHA-256, so what is stored signs nobody in; looking one up by its hash is
//! the constant-time comparison.
//!
//! Limits: at most [`NAME_LIMIT`] sign-in requests per name per [`LINK_MINUTES`] minutes,
//! counted in the session store (across Lambda instances, and of any name asked for, so the
//! limit tells nothing either); at most [`PEER_LIMIT`] per minute per peer address (an IPv6
//! address by its /64), counted in the process.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Service, ServiceError};
use crate::delivery::sign_in::{self, may_sign_in, new_secret};
use crate::directory::Entry;
use crate::sessions::peers::Sessions;
use crate::sessions::{self as store, Counted, LINK_MINUTES, Session, SessionStore};
use holdpoint_core::domain::identity::{Principal, check_principal_name, folded_name};
use holdpoint_core::domain::review_link::LinkRefusal;

pub use crate::sessions::peers::PEER_LIMIT;

/// Sign-in requests of one name (per tenant) let through per window.
pub const NAME_LIMIT: u32 = 3;
/// A session's length when `HOLDPOINT_SESSION_HOURS` is not set.
pub const DEFAULT_SESSION_HOURS: u32 = 12;
/// Characters of a secret as shown: base64url of 32 bytes.
const SECRET_CHARS: usize = 43;
/// Separates tenant, name and secret in the cookie (no name holds it).
const COOKIE_SEP: char = '~';

/// What a sign-in link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInOffer {
    pub tenant: String,
    pub name: String,
}

/// A session, as every inbox request sees it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub tenant: String,
    /// Kind and roles as the directory holds them now.
    pub principal: Principal,
    /// The session's CSRF token for forms, derived from its secret.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl SignedIn {
    /// Whether `given` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, given: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes()))
    }
}

/// Whether `s` has the shape of a secret (before any store is asked).
fn secret_shaped(s: &str) -> bool {
    s.len() == SECRET_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The CSRF token of the session with `secret`: its HMAC, so it is fixed for the session and
/// tells nothing of the secret.
fn csrf_of(secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"holdpoint inbox csrf v1");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// `tenant~name~secret` split, or `None` when it is not that shape.
fn parse_cookie(value: &str) -> Option<(&str, &str, &str)> {
    let mut parts = value.splitn(3, COOKIE_SEP);
    let (tenant, name, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = check_principal_name("tenant", tenant).is_ok()
        && check_principal_name("name", name).is_ok()
        && secret_shaped(secret);
    ok.then_some((tenant, name, secret))
}

/// What every refused link or session is told: nothing of unknown, used or expired.
fn expired() -> ServiceError {
    ServiceError::Link(LinkRefusal::Expired)
}

impl Service {
    /// Keeps sign-in links and sessions in `store`; sessions last `hours`.
    pub fn with_sessions(mut self, store: Arc<dyn SessionStore>, hours: u32) -> Service {
        self.sessions = Some(Arc::new(Sessions::new(store, hours)));
        self
    }

    fn sessions(&self) -> Result<&Sessions, ServiceError> {
        self.sessions
            .as_deref()
            .ok_or_else(|| ServiceError::Unavailable("no session store: sign-in is off".into()))
    }

    /// Sends `tenant`/`name` a sign-in link, if it is a human principal with a channel; the
    /// same `Ok(())` otherwise, after the same work: the request is counted (of any name) and
    /// handed on; whether the name is a principal's is looked at only after the answer (by the
    /// notify function on AWS, by a task of this process locally), so neither the answer's
    /// time nor a failure tells. Refused when malformed (Invalid), too frequent (RateLimited),
    /// or when the request could not be counted or handed on (Unavailable).
    pub async fn request_sign_in(
        &self,
        tenant: &str,
        name: &str,
        peer: Option<IpAddr>,
    ) -> Result<(), ServiceError> {
        check_principal_name("tenant", tenant)?;
        check_principal_name("name", name)?;
        let sessions = self.sessions()?;
        let (Some(log), Some((sink, base)), Some(directory)) =
            (&self.deliveries, &self.events, &self.directory)
        else {
            return Err(ServiceError::Unavailable(
                "sign-in needs a directory, a delivery log and events".into(),
            ));
        };
        let Some(base) = base.get().map(str::to_owned) else {
            return Err(ServiceError::Unavailable("no public base URL yet".into()));
        };
        if let Some(peer) = peer {
            sessions
                .count_peer(peer)
                .map_err(|retry_after_seconds| ServiceError::RateLimited {
                    retry_after_seconds,
                })?;
        }
        let now = self.clock.now();
        let window = TimeDelta::minutes(LINK_MINUTES);
        let counted = sessions
            .store
            .count_request(tenant, &folded_name(name), now, window, NAME_LIMIT)
            .await?;
        if let Counted::Limited {
            retry_after_seconds,
        } = counted
        {
            return Err(ServiceError::RateLimited {
                retry_after_seconds,
            });
        }
        let handed_on = sink
            .sign_in_requested(tenant, name)
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        if !handed_on {
            let (store, directory, log) = (sessions.store.clone(), directory.clone(), log.clone());
            let who = (tenant.to_owned(), name.to_owned());
            tokio::spawn(async move {
                let who = (who.0.as_str(), who.1.as_str());
                let request = uuid::Uuid::new_v4();
                let kept = match sign_in::mint(&*store, &*directory, &base, who, request, now).await
                {
                    Ok(planned) => log.enqueue(&planned).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = kept {
                    tracing::warn!(error = %e, "a sign-in message was not kept");
                }
            });
        }
        Ok(())
    }

    /// What a sign-in link is for, consuming nothing (mail scanners open links).
    pub async fn open_sign_in(&self, token: &str) -> Result<SignInOffer, ServiceError> {
        if !secret_shaped(token) {
            return Err(expired());
        }
        let link = self
            .sessions()?
            .store
            .link(&store::hash(token), self.clock.now())
            .await?
            .ok_or_else(expired)?;
        Ok(SignInOffer {
            tenant: link.tenant,
            name: link.name,
        })
    }

    /// Consumes a sign-in link, once, and starts a session for its principal if it is still
    /// the very one the link was sent to and may sign in. Answers the cookie's value.
    pub async fn sign_in(&self, token: &str) -> Result<(String, SignedIn), ServiceError> {
        if !secret_shaped(token) {
            return Err(expired());
        }
        let sessions = self.sessions()?;
        let now = self.clock.now();
        let link = sessions
            .store
            .take_link(&store::hash(token), now)
            .await?
            .ok_or_else(expired)?;
        let entry = self
            .current(&link.tenant, &link.name, link.instance)
            .await?;
        let secret = new_secret();
        let session = Session {
            hash: store::hash(&secret),
            tenant: entry.tenant.clone(),
            name: entry.name.clone(),
            instance: entry.instance,
            created_at: now,
            expires_at: now + TimeDelta::hours(i64::from(sessions.hours())),
        };
        sessions.store.put_session(&session).await?;
        let cookie = format!(
            "{}{COOKIE_SEP}{}{COOKIE_SEP}{secret}",
            entry.tenant, entry.name
        );
        let signed = SignedIn {
            tenant: entry.tenant.clone(),
            principal: entry.principal(),
            csrf: csrf_of(&secret),
            expires_at: session.expires_at,
        };
        Ok((cookie, signed))
    }

    /// The session of a cookie: refused when malformed, unknown, expired, signed out, or when
    /// its principal was removed, added again, or may no longer sign in (its session ends).
    pub async fn session(&self, cookie_value: &str) -> Result<SignedIn, ServiceError> {
        let (tenant, name, secret) = parse_cookie(cookie_value).ok_or_else(expired)?;
        let sessions = self.sessions()?;
        let hash = store::hash(secret);
        let session = sessions
            .store
            .session(tenant, name, &hash, self.clock.now())
            .await?
            .ok_or_else(expired)?;
        let entry = match self.current(tenant, name, session.instance).await {
            Ok(e) => e,
            Err(e) => {
                if matches!(e, ServiceError::Link(_)) {
                    sessions.store.remove_session(tenant, name, &hash).await?;
                }
                return Err(e);
            }
        };
        Ok(SignedIn {
            tenant: entry.tenant.clone(),
            principal: entry.principal(),
            csrf: csrf_of(secret),
            expires_at: session.expires_at,
        })
    }

    /// Ends the session of a cookie (nothing to end is no error).
    pub async fn sign_out(&self, cookie_value: &str) -> Result<(), ServiceError> {
        let Some((tenant, name, secret)) = parse_cookie(cookie_value) else {
            return Ok(());
        };
        self.sessions()?
            .store
            .remove_session(tenant, name, &store::hash(secret))
            .await?;
        Ok(())
    }

    /// Ends every session of `tenant`/`name` (`holdpoint principals sign-out NAME`); answers
    /// how many there were.
    pub async fn sign_out_all(&self, tenant: &str, name: &str) -> Result<usize, ServiceError> {
        check_principal_name("tenant", tenant)?;
        check_principal_name("name", name)?;
        Ok(self
            .sessions()?
            .store
            .remove_sessions_of(tenant, name, self.clock.now())
            .await?)
    }

    /// The directory's `tenant`/`name` if it is still `instance` and may sign in, else refused
    /// as expired.
    async fn current(
        &self,
        tenant: &str,
        name: &str,
        instance: Option<uuid::Uuid>,
    ) -> Result<Entry, ServiceError> {
        let directory = self.directory.as_ref().ok_or_else(expired)?;
        match directory.get(tenant, name).await? {
            Some(e) if e.instance == instance && may_sign_in(&e) => Ok(e),
            _ => Err(expired()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_parse_only_in_their_shape() {
        let secret = new_secret();
        assert_eq!(secret.len(), SECRET_CHARS);
        let cookie = format!("t~ann~{secret}");
        assert_eq!(parse_cookie(&cookie), Some(("t", "ann", secret.as_str())));
        for bad in [
            "",
            "t~ann",
            &format!("t~ann~{secret}x"),
            &format!("t~a n~{secret}"),
            &format!("~ann~{secret}"),
            &format!("t~ann~{}", "=".repeat(43)),
            &format!("{}~ann~{secret}", "x".repeat(65)),
        ] {
            assert_eq!(parse_cookie(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_are_fixed_per_session_and_differ_between_them() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(csrf_of(&a), csrf_of(&a));
        assert_ne!(csrf_of(&a), csrf_of(&b));
        assert!(!csrf_of(&a).contains(&a));
    }
}
