//! The directory of principals: per tenant, who each principal is (roles), how it authenticates
//! (a hashed API key locally, IAM ARNs on AWS) and how it is reached (an email address, a webhook
//! URL). Operators change it without a redeploy (`holdpoint principals …`); authentication reads
//! it through a short cache ([`crate::http::auth`]).
//!
//! Secrets are made here and shown once: an API key is stored only as its SHA-256; a webhook
//! secret (Standard Webhooks' `whsec_…`) is stored as given, since signing needs it.

use std::collections::HashMap;

use async_trait::async_trait;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoreError;
use holdpoint_core::domain::identity::{
    Principal, PrincipalKind, ROLE_PREFIX, check_not_reserved, check_principal_name, folded_name,
};

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod policy;

/// The most IAM ARNs one principal may have (each is one lookup item, written in the same
/// transaction as the principal).
pub const MAX_ARNS: usize = 10;
/// The most roles one principal may hold.
pub const MAX_ROLES: usize = 20;

/// One principal of the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub tenant: String,
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Human or agent; absent is human, so principals stored before kinds existed still decide.
    #[serde(default, skip_serializing_if = "PrincipalKind::is_human")]
    pub kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam_arns: Vec<String>,
    /// Its Slack user id (`U…`/`W…`) in the tenant's Slack workspace: a click on a Slack
    /// button by that user is this principal's ([`check_slack_user`]). At most one principal of
    /// a tenant has a given id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    /// SHA-256 (hex) of its API key; the key itself is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<String>,
    /// The secret its webhooks and its callbacks are signed with (`whsec_` + base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Which principal of this name it is: the directory draws a new one when the principal is
    /// added and keeps it through every change, so a principal removed and added again is
    /// another instance, and review links bound to the one removed stay dead. Absent on
    /// principals stored before instances existed, which keep their links (`None` is an
    /// instance of its own that no principal added since can have). Whatever a caller puts
    /// here is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<uuid::Uuid>,
}

impl Entry {
    pub fn principal(&self) -> Principal {
        Principal {
            tenant: self.tenant.clone(),
            principal: self.name.clone(),
            roles: self.roles.clone(),
            kind: self.kind,
        }
    }

    /// The lookup names it is found by: its credentials (`key#{hash}`, `arn#{arn}`) and its
    /// Slack user (`slack#{tenant}/{id}`).
    pub fn lookups(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .key_hash
            .iter()
            .map(|h| Lookup::Key(h.clone()).id())
            .collect();
        out.extend(self.iam_arns.iter().map(|a| Lookup::Arn(a.clone()).id()));
        out.extend(self.slack.iter().map(|user| {
            Lookup::Slack {
                tenant: self.tenant.clone(),
                user: user.clone(),
            }
            .id()
        }));
        out
    }

    /// What may be shown of it (no secret, no hash).
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({
            "tenant": self.tenant,
            "name": self.name,
            "roles": self.roles,
            "kind": self.kind.as_str(),
            "email": self.email,
            "webhook": self.webhook,
            "iam_arns": self.iam_arns,
            "slack": self.slack,
            "api_key": self.key_hash.is_some(),
        })
    }

    /// The form of its name that is unique within its tenant ([`folded_name`]).
    pub fn folded_name(&self) -> String {
        folded_name(&self.name)
    }

    /// Checks every field an operator gave.
    pub fn check(&self) -> Result<(), String> {
        check_name("tenant", &self.tenant)?;
        check_name("name", &self.name)?;
        check_not_reserved("name", &self.name)
            .map_err(|e| format!("name {:?} {}", self.name, e.message))?;
        if self.roles.len() > MAX_ROLES {
            return Err(format!("at most {MAX_ROLES} roles"));
        }
        for r in &self.roles {
            check_name("role", r)?;
        }
        if let Some(email) = &self.email {
            check_email(email)?;
        }
        if self.iam_arns.len() > MAX_ARNS {
            return Err(format!("at most {MAX_ARNS} IAM ARNs"));
        }
        for arn in &self.iam_arns {
            let ok = arn.starts_with("arn:")
                && arn.len() <= 2048
                && arn.split(':').count() >= 6
                && arn.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(format!("{arn:?} is not an IAM ARN"));
            }
        }
        if let Some(user) = &self.slack {
            check_slack_user(user)?;
        }
        Ok(())
    }
}

/// Tenant, principal and role names, by the one rule of
/// [`check_principal_name`](holdpoint_core::domain::identity::check_principal_name), told as an
/// operator's command tells it.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    check_principal_name(what, name).map_err(|e| format!("{what} {name:?} {}", e.message))
}

/// The longest Slack user id taken (Slack's are 9 to 11 characters today).
pub const MAX_SLACK_USER_LEN: usize = 21;

/// A Slack user id as Slack writes it: `U` (or `W`, an Enterprise Grid user) and 2 to 20
/// upper-case letters and digits. Nothing else (no `<@…>` mention, no `<!channel>`, no
/// lower case, which Slack never sends) can name a principal's Slack user.
pub fn check_slack_user(id: &str) -> Result<(), String> {
    let b = id.as_bytes();
    let ok = (3..=MAX_SLACK_USER_LEN).contains(&b.len())
        && matches!(b[0], b'U' | b'W')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a Slack user id (U or W and 2 to 20 capital letters and digits, e.g. U0123ABCD)"
        ))
    }
}

fn check_email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|p| !p.is_empty())
        && email
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b',' | b'"'));
    if ok {
        Ok(())
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

/// How a principal is found: by a credential, or by its Slack user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// SHA-256 (hex) of an API key.
    Key(String),
    /// An IAM ARN as API Gateway reports the caller.
    Arn(String),
    /// A Slack user of a tenant's workspace: not a credential (a click is trusted only once
    /// its request's signature is), but kept to one principal as credentials are.
    Slack { tenant: String, user: String },
}

impl Lookup {
    pub fn id(&self) -> String {
        match self {
            Lookup::Key(h) => format!("key#{h}"),
            Lookup::Arn(a) => format!("arn#{a}"),
            Lookup::Slack { tenant, user } => format!("slack#{tenant}/{user}"),
        }
    }
}

/// SHA-256 (hex) of an API key.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new API key: `hp_` and 48 hex digits (192 random bits).
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("hp_{}", hex::encode(bytes))
}

/// A new Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Stores `entry`: only if absent when `create`, else in place of the one stored (which
    /// must exist). Its name must be no other principal's of the tenant ignoring case
    /// ([`Entry::folded_name`]), its credentials no other principal's. A create draws a new
    /// [`Entry::instance`], a change keeps the stored one. All or nothing: `AlreadyExists` (the
    /// principal, its name in another case, or a credential of another), `NotFound`.
    async fn put(&self, entry: &Entry, create: bool) -> Result<(), StoreError>;

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError>;

    /// The principal a credential belongs to.
    async fn find(&self, lookup: &Lookup) -> Result<Option<Entry>, StoreError>;

    /// Every principal of `tenant` (of every tenant when `None`), by tenant and name.
    async fn list(&self, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError>;

    /// The principal of `tenant` whose [`Entry::slack`] is `user`. Through its lookup (kept to
    /// one principal by `put`); a store without lookups may list the tenant and filter, fine
    /// for directories of hundreds.
    async fn find_slack(&self, tenant: &str, user: &str) -> Result<Option<Entry>, StoreError> {
        let lookup = Lookup::Slack {
            tenant: tenant.to_owned(),
            user: user.to_owned(),
        };
        Ok(self
            .find(&lookup)
            .await?
            .filter(|e| e.tenant == tenant && e.slack.as_deref() == Some(user)))
    }

    /// Removes a principal and its credentials; answers whether there was one.
    async fn remove(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;

    /// The principals of `tenant` holding `role`.
    async fn members(&self, tenant: &str, role: &str) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .list(Some(tenant))
            .await?
            .into_iter()
            .filter(|e| e.roles.iter().any(|r| r == role))
            .collect())
    }
}

/// The reviewers named in `reviewers` (not `role:` entries) that are agent principals of
/// `tenant` in `directory`: an agent can never decide, so naming one is refused at create.
pub async fn agents_among(
    directory: &dyn Directory,
    tenant: &str,
    reviewers: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut agents = Vec::new();
    for name in reviewers.iter().filter(|r| !r.starts_with(ROLE_PREFIX)) {
        let found = directory.get(tenant, name).await?;
        if found.is_some_and(|e| e.kind == PrincipalKind::Agent) && !agents.contains(name) {
            agents.push(name.clone());
        }
    }
    Ok(agents)
}

/// A fixed directory held in memory: what `HOLDPOINT_API_KEYS` gives tests and CI. It cannot
/// be changed while the process runs.
#[derive(Debug, Clone, Default)]
pub struct StaticDirectory {
    entries: Vec<Entry>,
    /// Lookup id → index in `entries`: authentication asks on every request.
    by_lookup: HashMap<String, usize>,
}

impl StaticDirectory {
    pub fn new(entries: Vec<Entry>) -> StaticDirectory {
        let by_lookup = entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.lookups().into_iter().map(move |l| (l, i)))
            .collect();
        StaticDirectory { entries, by_lookup }
    }
}

#[async_trait]
impl Directory for StaticDirectory {
    async fn put(&self, _: &Entry, _: bool) -> Result<(), StoreError> {
        Err(StoreError::Internal(
            "this directory is fixed by HOLDPOINT_API_KEYS".into(),
        ))
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .entries
            .iter()
            .find(|e| e.tenant == tenant && e.name == name)
            .cloned())
    }

    async fn find(&self, lookup: &Lookup) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .by_lookup
            .get(&lookup.id())
            .map(|&i| self.entries[i].clone()))
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        let mut out: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| tenant.is_none_or(|t| e.tenant == t))
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
        Ok(out)
    }

    async fn remove(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::Internal(
            "this directory is fixed by HOLDPOINT_API_KEYS".into(),
        ))
    }
}

/// The entries of an API key map `{"<key>": {"tenant", "principal", "roles", "kind"}}` (the
/// format of `HOLDPOINT_API_KEYS` and of the `api-keys.json` of earlier versions; `kind` is
/// `human` when absent). Several keys of one principal are refused: the directory holds one
/// key per principal.
pub fn entries_from_key_map(json: &str) -> Result<Vec<Entry>, String> {
    let keys: HashMap<String, Principal> =
        serde_json::from_str(json).map_err(|e| format!("not valid: {e}"))?;
    if keys.is_empty() {
        return Err("names no key".into());
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (key, p) in keys {
        if key.len() < 16 {
            return Err(format!(
                "API key of {} is shorter than 16 characters",
                p.principal
            ));
        }
        let entry = Entry {
            tenant: p.tenant,
            name: p.principal,
            roles: p.roles,
            kind: p.kind,
            email: None,
            webhook: None,
            iam_arns: Vec::new(),
            key_hash: Some(key_hash(&key)),
            slack: None,
            webhook_secret: None,
            instance: None,
        };
        entry.check()?;
        let twin = |e: &Entry| e.tenant == entry.tenant && e.folded_name() == entry.folded_name();
        if let Some(other) = entries.iter().find(|e| twin(e)) {
            return Err(format!(
                "principals {:?} and {:?} of tenant {} differ only in case",
                other.name, entry.name, entry.tenant
            ));
        }
        entries.push(entry);
    }
    entries.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
    Ok(entries)
}

#[cfg(test)]
mod tests;
