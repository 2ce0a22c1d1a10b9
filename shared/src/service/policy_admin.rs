//! What a tenant's admins do with its approval policy — read it, set a new version, trace its
//! versions, try it on a request — and the [`Ruling`] [`Service::create`] asks of it.

use std::sync::Arc;

use super::policy::{Policies, PolicyRefusal};
use super::{Service, ServiceError};
use crate::directory::agents_among;
use crate::directory::policy::{PolicyStore, StoredPolicy};
use crate::policy::{Policy, PolicyError, Ruling};
use crate::store::StoreError;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, Gate};
use holdpoint_core::invalid::Invalid;

/// How often an edit that did not name the version it follows is retried after another.
const EDIT_ATTEMPTS: usize = 4;

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

    /// Sets `text` as the tenant's policy (human admins only: an agent holding the role admin
    /// would otherwise rewrite the rules that gate it), after `expected_version` when given
    /// (else after whatever is in force). A document that does not hold is refused and the
    /// version in force stays. Roles and reviewers are checked against the directory here
    /// only: a stored version is ruled by as it was set.
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
        self.refuse_agent_rule_reviewers(tenant, &parsed).await?;
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

    /// What the policy in force would rule on `request` (admins only) sent by the principal
    /// `sender` of the tenant (by default the admin itself); creates nothing.
    pub async fn test_policy(
        &self,
        caller: &Principal,
        request: &CreateRequest,
        sender: Option<&str>,
    ) -> Result<Ruling, ServiceError> {
        admin(caller)?;
        let Some(name) = sender else {
            return self.ruling(caller, request).await;
        };
        let found = match &self.directory {
            Some(d) => d.get(&caller.tenant, name).await?,
            None => None,
        };
        let sender = found.map(|e| e.principal()).ok_or_else(|| {
            Invalid::new(
                "principal",
                format!("no principal of the tenant is named {name:?}"),
            )
        })?;
        self.ruling(&sender, request).await
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
                let parsed = Policy::parse_stored(&stored.text).map_err(|error| {
                    PolicyRefusal::Unusable {
                        version: stored.version,
                        error,
                    }
                })?;
                let parsed = Arc::new(parsed);
                policies.keep(tenant, stored.version, parsed.clone());
                parsed
            }
        };
        Ok(policy.evaluate(caller, request, stored.version))
    }

    /// Refuses a policy whose asks name an agent principal: an agent can never decide, so the
    /// rule could only stall, or hand approvals to another agent.
    async fn refuse_agent_rule_reviewers(
        &self,
        tenant: &str,
        policy: &Policy,
    ) -> Result<(), ServiceError> {
        let Some(directory) = &self.directory else {
            return Ok(());
        };
        for (rule, reviewers) in policy.named_reviewers() {
            let agents = agents_among(directory.as_ref(), tenant, reviewers).await?;
            if !agents.is_empty() {
                return Err(PolicyRefusal::Invalid(PolicyError {
                    rule: Some(rule.to_owned()),
                    message: format!(
                        "rule {rule}: {} {} an agent principal, and an agent can never decide",
                        agents.join(", "),
                        if agents.len() == 1 { "is" } else { "are" }
                    ),
                })
                .into());
            }
        }
        Ok(())
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

/// The policy is its tenant's human admins' alone: an agent holding the role admin may neither
/// set it nor read or test it to search for what it would allow.
fn admin(caller: &Principal) -> Result<(), ServiceError> {
    if !caller.is_admin() {
        Err(ServiceError::NotAdmin)
    } else if caller.is_agent() {
        Err(PolicyRefusal::AgentCannotSet.into())
    } else {
        Ok(())
    }
}
