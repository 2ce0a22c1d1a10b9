//! Tenant policies: rules that decide, before any human, whether an agent's request is denied,
//! allowed outright, or asked of reviewers (and under what gate).

use holdpoint_core::domain::approval::Governance;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, Gate};

/// A parsed, compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {}

impl Policy {
    /// Parses YAML or JSON text; `known_roles` = roles some principal of the tenant holds.
    pub fn parse(_text: &str, _known_roles: &[String]) -> Result<Policy, PolicyError> {
        todo!()
    }

    /// The rules that match `request` from `caller`, and what follows. `version` is the stored
    /// version of this policy (goes into the Governance).
    pub fn evaluate(&self, _caller: &Principal, _request: &CreateRequest, _version: u64) -> Ruling {
        todo!()
    }
}

/// Why a policy document was refused, and the rule at fault when one is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub rule: Option<String>,
    pub message: String,
}

/// What a policy decides about one request (also the answer of `policy test`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Ruling {
    Deny {
        rule: String,
        reason: Option<String>,
        governance: Governance,
    },
    Allow {
        rule: String,
        governance: Governance,
    },
    /// `gate.governance` is always `Some`.
    Ask { gate: Gate },
}
