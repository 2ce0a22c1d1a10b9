//! The value of an Approve or Reject button in a Slack message: a token bound to one tenant, one
//! approval, one principal, one choice and a deadline, signed with the service's key.
//!
//! Token: `{payload}.{signature}`, `payload` the base64url (no padding) of the JSON
//! `{"t": tenant, "a": approval id, "p": principal, "i": its directory instance (absent for a
//! principal stored before instances), "c": "approve"|"reject", "e": deadline (Unix ms), "k": key
//! id, "n": nonce}` and `signature` the hex HMAC-SHA256, with key `k`, of
//! `holdpoint-slack-button-v1\n{payload}` (review links sign under another domain string, so
//! neither token passes for the other). A value copied into another message, onto the other
//! button or into another approval's message names what it was minted for, and the click
//! ([`Click`]) says what it is on: they must agree.
//!
//! Not enforced here: single use. Each token carries a fresh nonce `n`; the interaction handler
//! (next) must record it when a click decides, conditionally, and refuse a nonce it has seen, so
//! a replayed value decides nothing. Nor whether the principal is still a reviewer at the click:
//! that is the directory's and the approval's to say then.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use holdpoint_core::keys::{Key, KeyError, KeyProvider};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const DOMAIN: &str = "holdpoint-slack-button-v1\n";
/// Slack's limit on a button's `value`; nothing longer is minted or read.
pub const MAX_VALUE_LEN: usize = 2_000;

/// What a button decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Approve,
    Reject,
}

impl Choice {
    /// The button's `action_id` (what Slack reports was clicked).
    pub fn action_id(self) -> &'static str {
        match self {
            Choice::Approve => "holdpoint_approve",
            Choice::Reject => "holdpoint_reject",
        }
    }

    pub fn from_action_id(id: &str) -> Option<Choice> {
        [Choice::Approve, Choice::Reject]
            .into_iter()
            .find(|c| c.action_id() == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonClaims {
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "a")]
    pub approval: Uuid,
    #[serde(rename = "p")]
    pub principal: String,
    /// Which principal of that name (the directory's instance): one removed and added again is
    /// another, and the values minted for the one removed stay dead, as its review links do.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Uuid>,
    #[serde(rename = "c")]
    pub choice: Choice,
    #[serde(rename = "e")]
    pub expires_ms: i64,
    #[serde(rename = "k")]
    pub key_id: String,
    /// Unique to this token: what single use is recorded against.
    #[serde(rename = "n")]
    pub nonce: Uuid,
}

/// What a click is on, as the interaction handler learned it from elsewhere than the value:
/// the tenant and principal the clicking Slack user maps to, the approval the message was sent
/// for and the button (`action_id`) clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click<'a> {
    pub tenant: &'a str,
    pub approval: Uuid,
    pub principal: &'a str,
    /// The clicker's instance in the directory now.
    pub instance: Option<Uuid>,
    pub choice: Choice,
}

/// Why a button's value decides nothing. Only `Expired` may be told to the clicker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ButtonRefusal {
    #[error("the button is not valid")]
    Invalid,
    /// Minted for another tenant, approval, principal or choice than the click's.
    #[error("the button is not for this click")]
    Mismatch,
    #[error("the button has expired")]
    Expired,
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The value of the `choice` button for `principal` (its directory `instance`) on `approval` of
/// `tenant`, valid until `expires_at` (the approval's deadline).
pub fn mint(
    key: &Key,
    tenant: &str,
    approval: Uuid,
    principal: &str,
    instance: Option<Uuid>,
    choice: Choice,
    expires_at: DateTime<Utc>,
) -> String {
    let claims = ButtonClaims {
        tenant: tenant.to_owned(),
        approval,
        principal: principal.to_owned(),
        instance,
        choice,
        expires_ms: expires_at.timestamp_millis(),
        key_id: key.id.clone(),
        nonce: Uuid::new_v4(),
    };
    seal(key, &claims)
}

fn seal(key: &Key, claims: &ButtonClaims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signature = key.sign(format!("{DOMAIN}{payload}").as_bytes());
    format!("{payload}.{signature}")
}

/// Checks a clicked button's `value` against the `click` at `now`: signature (constant time,
/// any known key), then that it was minted for exactly this click, then its deadline.
pub async fn verify(
    keys: &dyn KeyProvider,
    value: &str,
    click: &Click<'_>,
    now: DateTime<Utc>,
) -> Result<ButtonClaims, ButtonRefusal> {
    if value.len() > MAX_VALUE_LEN {
        return Err(ButtonRefusal::Invalid);
    }
    let (payload, signature) = value.split_once('.').ok_or(ButtonRefusal::Invalid)?;
    // One spelling per token: lowercase hex only.
    let canonical = signature.len() == 64
        && signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !canonical {
        return Err(ButtonRefusal::Invalid);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ButtonRefusal::Invalid)?;
    let claims: ButtonClaims =
        serde_json::from_slice(&bytes).map_err(|_| ButtonRefusal::Invalid)?;
    let key = keys
        .by_id(&claims.key_id)
        .await?
        .ok_or(ButtonRefusal::Invalid)?;
    if !key.verify(format!("{DOMAIN}{payload}").as_bytes(), signature) {
        return Err(ButtonRefusal::Invalid);
    }
    let meant = claims.tenant == click.tenant
        && claims.approval == click.approval
        && claims.principal == click.principal
        && claims.instance == click.instance
        && claims.choice == click.choice;
    if !meant {
        return Err(ButtonRefusal::Mismatch);
    }
    if now.timestamp_millis() >= claims.expires_ms {
        return Err(ButtonRefusal::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
