//! The gate a request passes: what the tenant's policy requires of it (reviewers, quorum,
//! lifetime, escalation, execution window), laid over what the agent asked. The agent may make
//! its gate stricter, never weaker: the rule's reviewers stay, its quorum is a floor, its
//! lifetime and window are ceilings, its escalation chain replaces the agent's.

use serde::Serialize;

use crate::domain::approval::{EscalationLevel, Governance, Requirement};
use crate::domain::reminder::RemindAt;

/// What the rules that matched a request require of the approval it becomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// Reviewers the rules require: principals and `role:NAME` entries.
    pub reviewers: Vec<String>,
    /// Whether the agent's own reviewers (and, with no chain from the rules, its escalation)
    /// are added to the rules' reviewers. Without any reviewers from the rules, the agent's are
    /// the only ones, as before policies.
    pub agent_may_add_reviewers: bool,
    /// The least quorum.
    pub min_quorum: u32,
    /// Each asking rule's own quorum among its own reviewers, kept on the approval.
    pub requirements: Vec<Requirement>,
    /// The longest lifetime in seconds, for asking and for any extension.
    pub max_expires_in: Option<u32>,
    /// The rules' escalation chain; when set it replaces whatever the agent named.
    pub escalation: Vec<EscalationLevel>,
    /// The longest execution window in seconds.
    pub max_execute_within: Option<u32>,
    /// The policy version and the rules behind this gate (`None`: no policy was set).
    pub governance: Option<Governance>,
    /// The tenant's reminder setting (`None`: the service's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remind_at: Option<RemindAt>,
}

impl Gate {
    /// No policy: the agent's request as sent, within the service's bounds.
    pub fn open() -> Gate {
        Gate {
            reviewers: Vec::new(),
            agent_may_add_reviewers: true,
            min_quorum: 1,
            requirements: Vec::new(),
            max_expires_in: None,
            escalation: Vec::new(),
            max_execute_within: None,
            governance: None,
            remind_at: None,
        }
    }
}
