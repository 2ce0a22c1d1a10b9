//! The gate a request passes: what the tenant's policy requires of it (reviewers, quorum,
//! lifetime, escalation, execution window), laid over what the agent asked. The agent may make
//! its gate stricter, never weaker: the rule's reviewers stay, its quorum is a floor, its
//! lifetime and window are ceilings, its escalation chain replaces the agent's.

use serde::Serialize;

use crate::domain::approval::{EscalationLevel, Governance};
use crate::domain::request::CreateRequest;

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
    /// The longest lifetime in seconds, for asking and for any extension.
    pub max_expires_in: Option<u32>,
    /// The rules' escalation chain; when set it replaces whatever the agent named.
    pub escalation: Vec<EscalationLevel>,
    /// The longest execution window in seconds.
    pub max_execute_within: Option<u32>,
    /// The policy version and the rules behind this gate (`None`: no policy was set).
    pub governance: Option<Governance>,
}

impl Gate {
    /// No policy: the agent's request as sent, within the service's bounds.
    pub fn open() -> Gate {
        Gate {
            reviewers: Vec::new(),
            agent_may_add_reviewers: true,
            min_quorum: 1,
            max_expires_in: None,
            escalation: Vec::new(),
            max_execute_within: None,
            governance: None,
        }
    }

    /// `request` with this gate laid over it: what the approval is built from.
    pub fn apply(&self, mut request: CreateRequest) -> CreateRequest {
        let own = std::mem::take(&mut request.reviewers);
        let mut reviewers = self.reviewers.clone();
        if self.agent_may_add_reviewers || self.reviewers.is_empty() {
            for r in own {
                if !reviewers.contains(&r) {
                    reviewers.push(r);
                }
            }
        }
        request.reviewers = reviewers;
        request.quorum = Some(request.quorum.unwrap_or(1).max(self.min_quorum));
        if let Some(max) = self.max_expires_in {
            request.expires_in_seconds =
                Some(request.expires_in_seconds.map_or(max, |s| s.min(max)));
        }
        if let Some(max) = self.max_execute_within {
            request.execute_within_seconds =
                Some(request.execute_within_seconds.map_or(max, |s| s.min(max)));
        }
        if !self.escalation.is_empty() {
            request.escalation = self.escalation.clone();
        } else if !self.agent_may_add_reviewers && !self.reviewers.is_empty() {
            // An escalation level replaces the reviewers: the agent may not name the next ones.
            request.escalation.clear();
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> CreateRequest {
        let mut r = CreateRequest::new("pay", "bot", ["lenient"]);
        r.quorum = Some(1);
        r.expires_in_seconds = Some(7 * 86_400);
        r.escalation = vec![EscalationLevel {
            after_seconds: 1,
            reviewers: vec!["lenient2".into()],
        }];
        r
    }

    fn strict() -> Gate {
        Gate {
            reviewers: vec!["role:finance".into()],
            agent_may_add_reviewers: false,
            min_quorum: 2,
            max_expires_in: Some(3_600),
            escalation: Vec::new(),
            max_execute_within: Some(600),
            governance: None,
        }
    }

    #[test]
    fn the_open_gate_keeps_the_request() {
        let r = asked();
        let applied = Gate::open().apply(r.clone());
        assert_eq!(applied.reviewers, r.reviewers);
        assert_eq!(applied.escalation, r.escalation);
        assert_eq!(applied.expires_in_seconds, r.expires_in_seconds);
        assert_eq!(applied.execute_within_seconds, None);
    }

    #[test]
    fn an_agent_cannot_weaken_a_rule() {
        let applied = strict().apply(asked());
        assert_eq!(applied.reviewers, ["role:finance"]);
        assert_eq!(applied.quorum, Some(2));
        assert_eq!(applied.expires_in_seconds, Some(3_600));
        assert_eq!(applied.execute_within_seconds, Some(600));
        assert!(
            applied.escalation.is_empty(),
            "the agent's chain would swap reviewers"
        );
    }

    #[test]
    fn an_agent_may_be_stricter_and_add_reviewers_when_allowed() {
        let mut r = asked();
        r.quorum = Some(3);
        r.expires_in_seconds = Some(120);
        r.execute_within_seconds = Some(60);
        let gate = Gate {
            agent_may_add_reviewers: true,
            ..strict()
        };
        let applied = gate.apply(r);
        assert_eq!(applied.reviewers, ["role:finance", "lenient"]);
        assert_eq!(applied.quorum, Some(3));
        assert_eq!(applied.expires_in_seconds, Some(120));
        assert_eq!(applied.execute_within_seconds, Some(60));
    }
}
