//! The tenant's approval policy as the service keeps it: its admins read, set, trace and try
//! it; [`Service::create`] asks it for a [`Ruling`] on every request.
//!
//! A policy is parsed when set (refused whole, naming the rule at fault, while the version in
//! force stays) and again when a process first rules by that version; parsed versions are kept
//! per `(tenant, version)`, since a stored version never changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{Service, ServiceError};
use crate::directory::policy::{PolicyStore, StoredPolicy};
use crate::policy::{Policy, PolicyError, Ruling};
use crate::store::StoreError;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, Gate};

/// How many parsed versions a process keeps before it starts over.
const PARSED: usize = 256;
/// How often an edit that did not name the version it follows is retried after another.
const EDIT_ATTEMPTS: usize = 4;

/// Where policies are kept, and the versions this process has parsed.
pub struct Policies {
    store: Arc<dyn PolicyStore>,
    parsed: Mutex<HashMap<(String, u64), Arc<Policy>>>,
}

impl Policies {
    pub fn new(store: Arc<dyn PolicyStore>) -> Policies {
        Policies {
            store,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, tenant: &str, version: u64) -> Option<Arc<Policy>> {
        let parsed = self.parsed.lock().ok()?;
        parsed.get(&(tenant.to_owned(), version)).cloned()
    }

    fn keep(&self, tenant: &str, version: u64, policy: Arc<Policy>) {
        if let Ok(mut parsed) = self.parsed.lock() {
            if parsed.len() >= PARSED {
                parsed.clear();
            }
            parsed.insert((tenant.to_owned(), version), policy);
        }
    }
}

/// Why a policy route or a create was refused by, or for, the policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyRefusal {
    /// The tenant has no policy (`GET /v1/policy`).
    #[error("no policy is set for this tenant")]
    NotSet,
    /// The document does not parse, names an unknown role, or has a predicate that does not
    /// compile; nothing was stored.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// `If-Match` named a version other than the one in force.
    #[error("the policy in force is version {current}, not {expected}")]
    VersionMismatch { expected: u64, current: u64 },
    /// A rule denied the request; the approval is stored, rejected by `policy:<rule>`.
    #[error("denied by policy rule {rule}")]
    Denied {
        approval: Uuid,
        rule: String,
        reason: Option<String>,
    },
    /// The stored policy no longer parses (a role it names is held by no one any more):
    /// nothing is created until an admin sets it again.
    #[error("the tenant's policy (version {version}) no longer holds: {error}")]
    Unusable { version: u64, error: PolicyError },
}

impl Service {
    /// Keeps and applies tenant policies from `store`.
    pub fn with_policies(mut self, store: Arc<dyn PolicyStore>) -> Service {
        self.policies = Some(Arc::new(Policies::new(store)));
        self
    }

    fn policy_store(&self) -> Result<&Policies, ServiceError> {
        self.policies
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("no policy store".into()))
    }

    /// The policy in force (admins only).
    pub async fn policy(&self, caller: &Principal) -> Result<StoredPolicy, ServiceError> {
        admin(caller)?;
        let current = match &self.policies {
            Some(p) => p.store.current(&caller.tenant).await?,
            None => None,
        };
        Ok(current.ok_or(PolicyRefusal::NotSet)?)
    }

    /// The newest versions, newest first (admins only).
    pub async fn policy_history(
        &self,
        caller: &Principal,
    ) -> Result<Vec<StoredPolicy>, ServiceError> {
        admin(caller)?;
        match &self.policies {
            Some(p) => Ok(p.store.history(&caller.tenant).await?),
            None => Ok(Vec::new()),
        }
    }

    /// Sets `text` as the tenant's policy (admins only), after `expected_version` when given
    /// (else after whatever is in force). A document that does not hold is refused and the
    /// version in force stays.
    pub async fn set_policy(
        &self,
        caller: &Principal,
        text: &str,
        expected_version: Option<u64>,
    ) -> Result<StoredPolicy, ServiceError> {
        admin(caller)?;
        let policies = self.policy_store()?;
        let tenant = &caller.tenant;
        let parsed = Policy::parse(text, &self.known_roles(tenant).await?)
            .map_err(PolicyRefusal::Invalid)?;
        for _ in 0..EDIT_ATTEMPTS {
            let now = self.clock.now();
            let current = policies
                .store
                .current(tenant)
                .await?
                .map_or(0, |p| p.version);
            let after = expected_version.unwrap_or(current);
            if after != current {
                return Err(PolicyRefusal::VersionMismatch {
                    expected: after,
                    current,
                }
                .into());
            }
            match policies
                .store
                .put(tenant, text, &caller.principal, now, after)
                .await
            {
                Ok(version) => {
                    policies.keep(tenant, version, Arc::new(parsed));
                    return Ok(StoredPolicy {
                        version,
                        text: text.to_owned(),
                        set_by: caller.principal.clone(),
                        set_at: now,
                    });
                }
                // Another admin's edit came first: told when this one named its version.
                Err(StoreError::AlreadyExists) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "too many concurrent policy edits; retry".into(),
        ))
    }

    /// What the policy in force would rule on `request` (admins only); creates nothing.
    pub async fn test_policy(
        &self,
        caller: &Principal,
        request: &CreateRequest,
    ) -> Result<Ruling, ServiceError> {
        admin(caller)?;
        self.ruling(caller, request).await
    }

    /// What the tenant's policy rules on `request` from `caller`: without a policy, an ask
    /// through the open gate (the agent's own reviewers).
    pub(super) async fn ruling(
        &self,
        caller: &Principal,
        request: &CreateRequest,
    ) -> Result<Ruling, ServiceError> {
        let Some(policies) = &self.policies else {
            return Ok(Ruling::Ask { gate: Gate::open() });
        };
        let tenant = &caller.tenant;
        let Some(stored) = policies.store.current(tenant).await? else {
            return Ok(Ruling::Ask { gate: Gate::open() });
        };
        let policy = match policies.cached(tenant, stored.version) {
            Some(p) => p,
            None => {
                let parsed = Policy::parse(&stored.text, &self.known_roles(tenant).await?)
                    .map_err(|error| PolicyRefusal::Unusable {
                        version: stored.version,
                        error,
                    })?;
                let parsed = Arc::new(parsed);
                policies.keep(tenant, stored.version, parsed.clone());
                parsed
            }
        };
        Ok(policy.evaluate(caller, request, stored.version))
    }

    /// The roles some principal of `tenant` holds: the only ones a rule may ask.
    async fn known_roles(&self, tenant: &str) -> Result<Vec<String>, ServiceError> {
        let Some(directory) = &self.directory else {
            return Ok(Vec::new());
        };
        let mut roles: Vec<String> = directory
            .list(Some(tenant))
            .await?
            .into_iter()
            .flat_map(|e| e.roles)
            .collect();
        roles.sort_unstable();
        roles.dedup();
        Ok(roles)
    }
}

fn admin(caller: &Principal) -> Result<(), ServiceError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::NotAdmin)
    }
}
