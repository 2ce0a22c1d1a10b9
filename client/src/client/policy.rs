//! The tenant's approval policy, for its admins: read it, set a new version, trace its
//! versions, and ask what it would rule on a request without creating anything.

use holdpoint_core::domain::approval::Governance;
use holdpoint_core::domain::request::CreateRequest as ApprovalRequest;
use reqwest::Method;
use serde_json::Value;

use super::{Client, parse};
use crate::error::Error;

/// One stored version of the policy (`GET /v1/policy`, `PUT /v1/policy`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PolicyVersion {
    pub version: u64,
    /// The document as its admin sent it.
    pub text: String,
    pub set_by: String,
    pub set_at: String,
}

/// What the policy rules on a request (`POST /v1/policy/test`): `outcome` is `deny`, `allow`
/// or `ask`; a deny or allow names its `rule`, an ask carries the `gate` the rules require.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Ruling {
    pub outcome: String,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub governance: Option<Governance>,
    #[serde(default)]
    pub gate: Option<Value>,
}

impl Ruling {
    /// The policy version and every rule that matched (for an ask, from its gate).
    pub fn governance(&self) -> Option<Governance> {
        self.governance.clone().or_else(|| {
            let g = self.gate.as_ref()?.get("governance")?;
            serde_json::from_value(g.clone()).ok()
        })
    }
}

#[derive(serde::Deserialize)]
struct History {
    items: Vec<PolicyVersion>,
}

impl Client {
    /// The policy in force; `Refused` with `no_policy` when none was set.
    pub async fn policy(&self) -> Result<PolicyVersion, Error> {
        parse(self.send(Method::GET, "v1/policy", None, None).await?)
    }

    /// Sets `text` (YAML, or JSON) as the new version; with `after`, only if that version is
    /// the one in force (else `Refused` with `policy_version_mismatch`).
    pub async fn set_policy(&self, text: &str, after: Option<u64>) -> Result<PolicyVersion, Error> {
        let media = if text.trim_start().starts_with('{') {
            "application/json"
        } else {
            "application/yaml"
        };
        let tag = after.map(|v| format!("\"{v}\""));
        let header = tag.as_deref().map(|t| ("if-match", t));
        let body = Some((text.as_bytes().to_vec(), media));
        parse(self.send_as(Method::PUT, "v1/policy", body, header).await?)
    }

    /// The newest versions, newest first.
    pub async fn policy_history(&self) -> Result<Vec<PolicyVersion>, Error> {
        let history: History = parse(
            self.send(Method::GET, "v1/policy/history", None, None)
                .await?,
        )?;
        Ok(history.items)
    }

    /// What the policy in force would rule on `request` sent by the principal `sender` of the
    /// tenant (by default the caller); creates nothing.
    pub async fn test_policy(
        &self,
        request: &ApprovalRequest,
        sender: Option<&str>,
    ) -> Result<Ruling, Error> {
        let path = match sender {
            Some(name) => {
                let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                format!("v1/policy/test?principal={name}")
            }
            None => "v1/policy/test".to_owned(),
        };
        self.post(&path, request).await
    }
}
