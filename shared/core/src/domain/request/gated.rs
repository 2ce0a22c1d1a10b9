//! A request under its gate: what a policy's rules require laid over what the agent asked, or
//! a request a rule settles at once, which asks nobody.

use chrono::{DateTime, Utc};

use super::{CreateRequest, Gate};
use crate::audit::AuditRecord;
use crate::domain::approval::{Approval, DEFAULT_EXECUTE_WITHIN_SECONDS, Governance};
use crate::domain::identity::Principal;
use crate::domain::request::ExpiryBounds;
use crate::invalid::Invalid;

impl CreateRequest {
    /// `request` with this gate laid over it: what the approval is built from.
    pub fn under(self, gate: &Gate) -> CreateRequest {
        let mut request = self;
        let own = std::mem::take(&mut request.reviewers);
        let mut reviewers = gate.reviewers.clone();
        if gate.agent_may_add_reviewers || gate.reviewers.is_empty() {
            // A reviewer the agent lists twice is left for the checks to refuse.
            reviewers.extend(own.into_iter().filter(|r| !gate.reviewers.contains(r)));
        }
        request.reviewers = reviewers;
        // A quorum of 0 is left for the checks to refuse, not raised into a valid one.
        if request.quorum != Some(0) && request.quorum.unwrap_or(1) < gate.min_quorum {
            request.quorum = Some(gate.min_quorum);
        }
        // Ceilings, not defaults: what the agent left out gets the service's default, which
        // `build` then holds under the same ceilings.
        if let (Some(max), Some(asked)) = (gate.max_expires_in, request.expires_in_seconds) {
            request.expires_in_seconds = Some(asked.min(max));
        }
        if let (Some(max), Some(asked)) = (gate.max_execute_within, request.execute_within_seconds)
        {
            request.execute_within_seconds = Some(asked.min(max));
        }
        if !gate.escalation.is_empty() {
            request.escalation = gate.escalation.clone();
        } else if !gate.reviewers.is_empty() {
            // An escalation level replaces the reviewers: an agent's level would put its own
            // choice in place of the rules' reviewers.
            request.escalation.clear();
        }
        request
    }

    /// As [`CreateRequest::into_approval`] for a request a rule settles at once (allowed or
    /// denied by the policy `governance` names): it asks nobody, so whatever reviewers, quorum
    /// or chain the agent named are dropped and nobody can ever decide it. Should the settling
    /// write never happen, it waits for nobody until it expires: it fails closed.
    pub fn into_settled_approval(
        mut self,
        caller: &Principal,
        governance: Governance,
        bounds: ExpiryBounds,
        now: DateTime<Utc>,
    ) -> Result<(Approval, AuditRecord), Invalid> {
        self.reviewers.clear();
        self.escalation.clear();
        self.quorum = None;
        // No rule bounds an allow's window: the default is its ceiling, not 30 days.
        let window = self
            .execute_within_seconds
            .map_or(DEFAULT_EXECUTE_WITHIN_SECONDS, |w| {
                w.min(DEFAULT_EXECUTE_WITHIN_SECONDS)
            });
        self.execute_within_seconds = Some(window);
        if self.agent_id.is_empty() {
            self.agent_id = caller.principal.clone();
        }
        let gate = Gate {
            governance: Some(governance),
            ..Gate::open()
        };
        self.build(caller, &gate, bounds, now, false)
    }
}
