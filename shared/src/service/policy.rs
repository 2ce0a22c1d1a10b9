//! The tenants' approval policies as the service holds them: where they are kept, the versions
//! this process has parsed, and why a policy refuses (the admins' routes and the ruling at every
//! create are in `policy_admin`).
//!
//! A policy is checked whole when set (refused, naming the rule at fault, while the version in
//! force stays): its roles must be held and its named reviewers must not be agents. A process
//! parses a stored version again when it first rules by it, without looking at the directory
//! (so every process rules alike); parsed versions are kept per `(tenant, version)`, since a
//! stored version never changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::directory::policy::PolicyStore;
use crate::policy::{Policy, PolicyError};

/// How many parsed versions a process keeps before it starts over.
const PARSED: usize = 256;

/// Where policies are kept, and the versions this process has parsed.
pub struct Policies {
    pub(super) store: Arc<dyn PolicyStore>,
    parsed: Mutex<HashMap<(String, u64), Arc<Policy>>>,
}

impl Policies {
    pub fn new(store: Arc<dyn PolicyStore>) -> Policies {
        Policies {
            store,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn cached(&self, tenant: &str, version: u64) -> Option<Arc<Policy>> {
        let parsed = self.parsed.lock().ok()?;
        parsed.get(&(tenant.to_owned(), version)).cloned()
    }

    pub(super) fn keep(&self, tenant: &str, version: u64, policy: Arc<Policy>) {
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
    /// An agent principal may not set the policy, whatever its roles: it would rewrite the
    /// rules that gate it.
    #[error("an agent principal cannot read, set or test the policy, even holding the role admin")]
    AgentCannotSet,
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
    /// The stored policy no longer parses (it was stored by a build with other limits):
    /// nothing is created until an admin sets it again.
    #[error("the tenant's policy (version {version}) no longer holds: {error}")]
    Unusable { version: u64, error: PolicyError },
}
