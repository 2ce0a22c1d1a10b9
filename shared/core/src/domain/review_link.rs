//! Signed review links: a capability for one named reviewer on one approval until a deadline.
//!
//! Token: `{payload}.{signature}` where `payload` is the base64url (no padding) of the JSON
//! `{"a": approval id, "t": tenant, "r": reviewer, "e": deadline (Unix ms), "k": key id}` (and
//! `"v": "role:NAME"` when the link went to a member of a reviewer role, `"i"`: the directory
//! instance of the reviewer when it has one) and
//! `signature` the hex HMAC-SHA256, with key `k`, of `holdpoint-review-v1\n{payload}`. A link dies
//! at its deadline (never later than the approval's), when the approval leaves `pending`, or when
//! an escalation takes the approval away from its reviewer, or when its reviewer is removed from
//! the directory (a principal added again under the name is another instance).

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::approval::Approval;
use crate::domain::identity::{Principal, ROLE_PREFIX};
use crate::keys::{Key, KeyError, KeyProvider};

const DOMAIN: &str = "holdpoint-review-v1\n";
/// Longest token accepted (a real one is about 250 characters).
pub const MAX_TOKEN_LEN: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    #[serde(rename = "a")]
    pub approval: Uuid,
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "r")]
    pub reviewer: String,
    #[serde(rename = "e")]
    pub expires_ms: i64,
    #[serde(rename = "k")]
    pub key_id: String,
    /// The reviewer entry (`role:NAME`) this link's principal was reached through, when it was
    /// not named itself.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The directory instance of the reviewer the link was minted for; absent for a principal
    /// stored before instances existed (and without a directory).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Uuid>,
}

impl Claims {
    /// The principal the link stands for, holding no role but the one it was reached through.
    /// Its kind is the directory's to say: the service sets it when it verifies the link.
    pub fn principal(&self) -> Principal {
        Principal {
            tenant: self.tenant.clone(),
            principal: self.reviewer.clone(),
            roles: self
                .via
                .as_deref()
                .and_then(|v| v.strip_prefix(ROLE_PREFIX))
                .map(|r| vec![r.to_owned()])
                .unwrap_or_default(),
            kind: Default::default(),
        }
    }

    /// The reviewer entry of the approval this link answers to.
    pub fn entry(&self) -> &str {
        self.via.as_deref().unwrap_or(&self.reviewer)
    }
}

/// Who a link goes to: a principal, and the role entry it was reached through (if not named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub via: Option<String>,
    /// Its directory instance, which the link is bound to.
    pub instance: Option<Uuid>,
}

/// Why a link was refused. Only `Expired` and `Reassigned` may be told to its holder; everything else looks the
/// same from outside (403) and reveals nothing about the approval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
    /// The approval was escalated away from the link's reviewer.
    #[error("the approval was reassigned; this link no longer decides it")]
    Reassigned,
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn signed(key: &Key, payload: &str) -> String {
    key.sign(format!("{DOMAIN}{payload}").as_bytes())
}

/// A token for `to` on `approval`, valid until the approval's deadline.
pub fn token(key: &Key, approval: &Approval, to: &Recipient) -> String {
    let claims = Claims {
        approval: approval.id,
        tenant: approval.tenant.clone(),
        reviewer: to.name.clone(),
        expires_ms: approval.expires_at.timestamp_millis(),
        key_id: key.id.clone(),
        via: to.via.clone(),
        instance: to.instance,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let signature = signed(key, &payload);
    format!("{payload}.{signature}")
}

/// Where review links start: configured (a custom domain, the local server's address), or
/// learned from the first request API Gateway hands a function (the domain the API was called
/// on), so a first deploy needs no URL it cannot know yet.
#[derive(Debug, Clone, Default)]
pub struct BaseUrl(Arc<OnceLock<String>>);

impl BaseUrl {
    pub fn fixed(url: impl Into<String>) -> BaseUrl {
        let base = BaseUrl::default();
        let _ = base.0.set(url.into().trim_end_matches('/').to_owned());
        base
    }

    /// None yet: set by [`BaseUrl::learn`].
    pub fn learned() -> BaseUrl {
        BaseUrl::default()
    }

    /// Takes `https://{domain}` as the base, once, if `domain` is a host name (API Gateway's
    /// `requestContext.domainName`); a set base never changes.
    pub fn learn(&self, domain: &str) {
        let host = !domain.is_empty()
            && domain.len() <= 253
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if host && self.0.get().is_none() {
            let _ = self
                .0
                .set(format!("https://{}", domain.to_ascii_lowercase()));
        }
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

impl From<&str> for BaseUrl {
    fn from(url: &str) -> BaseUrl {
        BaseUrl::fixed(url)
    }
}

impl From<String> for BaseUrl {
    fn from(url: String) -> BaseUrl {
        BaseUrl::fixed(url)
    }
}

/// The named reviewers of `approval` (never its requester), then `members` (role entry →
/// the principals holding it) not already among them: each principal once, its instance for the
/// caller to set from the directory.
pub fn recipients(approval: &Approval, members: &[(String, Vec<String>)]) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = approval
        .reviewers
        .iter()
        .filter(|r| !r.starts_with(ROLE_PREFIX) && **r != approval.requested_by)
        .map(|r| Recipient {
            name: r.clone(),
            via: None,
            instance: None,
        })
        .collect();
    for (entry, names) in members {
        for name in names {
            if *name != approval.requested_by && !out.iter().any(|r| r.name == *name) {
                out.push(Recipient {
                    name: name.clone(),
                    via: Some(entry.clone()),
                    instance: None,
                });
            }
        }
    }
    out
}

/// The review link of each of `to` on `approval`, as `(principal, url)`.
pub fn links(
    key: &Key,
    approval: &Approval,
    base_url: &str,
    to: &[Recipient],
) -> Vec<(String, String)> {
    to.iter()
        .map(|r| {
            let url = format!(
                "{}/review/{}?token={}",
                base_url.trim_end_matches('/'),
                approval.id,
                token(key, approval, r)
            );
            (r.name.clone(), url)
        })
        .collect()
}

/// Checks `token` for approval `id` at `now`: signature (constant time, any known key), the
/// approval it names and its deadline. Whether the approval still accepts this reviewer is the
/// caller's next check ([`still_addressed`]).
pub async fn verify(
    keys: &dyn KeyProvider,
    token: &str,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Claims, LinkRefusal> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(LinkRefusal::Invalid);
    }
    let (payload, signature) = token.split_once('.').ok_or(LinkRefusal::Invalid)?;
    // One spelling per token: lowercase hex only (hex decoding would also take uppercase).
    let canonical = signature.len() == 64
        && signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !canonical {
        return Err(LinkRefusal::Invalid);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| LinkRefusal::Invalid)?;
    let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| LinkRefusal::Invalid)?;
    let key = keys
        .by_id(&claims.key_id)
        .await?
        .ok_or(LinkRefusal::Invalid)?;
    if !key.verify(format!("{DOMAIN}{payload}").as_bytes(), signature) {
        return Err(LinkRefusal::Invalid);
    }
    if claims.approval != id {
        return Err(LinkRefusal::Invalid);
    }
    if now.timestamp_millis() >= claims.expires_ms {
        return Err(LinkRefusal::Expired);
    }
    Ok(claims)
}

/// Whether `approval` still addresses the link's reviewer, or the role it was reached through
/// (an escalation may have moved it on).
pub fn still_addressed(approval: &Approval, claims: &Claims) -> bool {
    approval.tenant == claims.tenant && approval.reviewers.iter().any(|r| r == claims.entry())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{CreateRequest, ExpiryBounds};
    use crate::keys::KeyRing;
    use chrono::TimeDelta;

    fn approval(reviewers: &[&str]) -> Approval {
        let req: CreateRequest = serde_json::from_value(serde_json::json!({
            "action": "a", "agent_id": "b", "reviewers": reviewers, "expires_in_seconds": 600
        }))
        .unwrap();
        let agent = Principal {
            tenant: "acme".into(),
            principal: "agent".into(),
            roles: vec![],
            kind: Default::default(),
        };
        req.into_approval(
            &agent,
            &crate::domain::request::Gate::open(),
            ExpiryBounds::default(),
            Utc::now(),
        )
        .unwrap()
        .0
    }

    fn key(id: &str, byte: u8) -> Key {
        Key::new(id, vec![byte; 32]).unwrap()
    }

    fn named(name: &str) -> Recipient {
        Recipient {
            name: name.into(),
            via: None,
            instance: None,
        }
    }

    #[tokio::test]
    async fn a_valid_token_names_its_reviewer() {
        let a = approval(&["alice"]);
        let ring = KeyRing::new(key("k1", 1), vec![]);
        let t = token(&key("k1", 1), &a, &named("alice"));
        let claims = verify(&ring, &t, a.id, Utc::now()).await.unwrap();
        assert_eq!(
            (claims.reviewer.as_str(), claims.tenant.as_str()),
            ("alice", "acme")
        );
        assert!(still_addressed(&a, &claims));
        assert_eq!(claims.instance, None);
        let instance = Some(Uuid::new_v4());
        let bound = token(
            &key("k1", 1),
            &a,
            &Recipient {
                instance,
                ..named("alice")
            },
        );
        let claims = verify(&ring, &bound, a.id, Utc::now()).await.unwrap();
        assert_eq!(
            claims.instance, instance,
            "the link carries its reviewer's instance"
        );
    }

    #[tokio::test]
    async fn every_single_byte_change_is_refused() {
        let a = approval(&["alice"]);
        let ring = KeyRing::new(key("k1", 1), vec![]);
        let t = token(&key("k1", 1), &a, &named("alice"));
        let bytes = t.as_bytes();
        for i in 0..bytes.len() {
            for replacement in [b'A', b'F', b'0', b'-', b'.', b'z', b'_'] {
                if bytes[i] == replacement {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                assert!(
                    verify(&ring, &changed, a.id, Utc::now()).await.is_err(),
                    "byte {i} changed to {} was accepted",
                    replacement as char
                );
            }
        }
        let mut truncated = t.clone();
        truncated.pop();
        assert!(verify(&ring, &truncated, a.id, Utc::now()).await.is_err());
    }

    #[tokio::test]
    async fn another_approval_reviewer_tenant_or_key_is_refused() {
        let a = approval(&["alice", "bob"]);
        let b = approval(&["alice"]);
        let ring = KeyRing::new(key("k1", 1), vec![]);
        let t = token(&key("k1", 1), &a, &named("alice"));
        assert_eq!(
            verify(&ring, &t, b.id, Utc::now()).await,
            Err(LinkRefusal::Invalid),
            "another approval"
        );
        let claims = verify(&ring, &t, a.id, Utc::now()).await.unwrap();
        let mut moved = a.clone();
        moved.reviewers = vec!["bob".into()];
        assert!(!still_addressed(&moved, &claims), "escalated away");
        let mut other_tenant = a.clone();
        other_tenant.tenant = "globex".into();
        assert!(!still_addressed(&other_tenant, &claims), "another tenant");
        let forged = token(&key("k1", 2), &a, &named("alice"));
        assert_eq!(
            verify(&ring, &forged, a.id, Utc::now()).await,
            Err(LinkRefusal::Invalid),
            "signed with another secret under the same key id"
        );
    }

    #[tokio::test]
    async fn expiry_and_rotation() {
        let a = approval(&["alice"]);
        let old = key("k1", 1);
        let t = token(&old, &a, &named("alice"));
        let rotated = KeyRing::new(key("k2", 2), vec![old]);
        assert!(
            verify(&rotated, &t, a.id, Utc::now()).await.is_ok(),
            "a link signed before a rotation still works"
        );
        let late = a.expires_at + TimeDelta::milliseconds(1);
        assert_eq!(
            verify(&rotated, &t, a.id, late).await,
            Err(LinkRefusal::Expired)
        );
        let forgotten = KeyRing::new(key("k3", 3), vec![]);
        assert_eq!(
            verify(&forgotten, &t, a.id, Utc::now()).await,
            Err(LinkRefusal::Invalid)
        );
    }

    #[tokio::test]
    async fn links_go_to_named_reviewers_then_role_members_once_never_the_requester() {
        let a = approval(&["alice", "role:sre", "bob"]);
        let members = vec![(
            "role:sre".to_owned(),
            vec!["bob".into(), "agent".into(), "carol".into()],
        )];
        let to = recipients(&a, &members);
        let l = links(&key("k1", 1), &a, "https://hp.example/", &to);
        let who: Vec<_> = l.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(who, ["alice", "bob", "carol"]);
        assert!(
            l[0].1
                .starts_with(&format!("https://hp.example/review/{}?token=", a.id))
        );
        // Carol's link stands for her, holding the role it reached her through, and dies
        // with that role's place among the reviewers.
        let ring = KeyRing::new(key("k1", 1), vec![]);
        let carol = token(&key("k1", 1), &a, &to[2]);
        let claims = verify(&ring, &carol, a.id, Utc::now()).await.unwrap();
        assert_eq!(claims.principal().roles, ["sre"]);
        assert!(still_addressed(&a, &claims));
        let mut moved = a.clone();
        moved.reviewers = vec!["alice".into(), "carol".into()];
        assert!(
            !still_addressed(&moved, &claims),
            "the role was escalated away"
        );
    }
}

#[cfg(test)]
mod base_url_tests;
