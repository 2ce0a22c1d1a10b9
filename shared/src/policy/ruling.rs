//! From the rules that matched to a ruling: deny beats ask beats allow, asks combine by taking
//! the stricter of each setting, no match falls to the policy's default.

use holdpoint_core::domain::approval::{Governance, Requirement};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, Gate};

use super::matching::{Facts, Verdict};
use super::rules::{Ask, DefaultOutcome, Outcome, Rule, Rules};

/// The id [`Ruling::Deny`] names when no rule matched and the default is deny.
pub const DEFAULT_RULE: &str = "default";

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

pub(super) fn evaluate(
    policy: &Rules,
    caller: &Principal,
    request: &CreateRequest,
    version: u64,
) -> Ruling {
    let facts = Facts::new(caller, request);
    let matched: Vec<&Rule> = policy
        .rules
        .iter()
        .filter(|rule| match rule.matches.test(&facts) {
            Verdict::Holds => true,
            Verdict::Fails => false,
            // Fail closed: a predicate that cannot be evaluated never opens the way (allow),
            // and never lets a request slip past a deny or an ask.
            Verdict::Errs(error) => {
                let closed = !matches!(rule.outcome, Outcome::Allow);
                tracing::warn!(rule = %rule.id, %error, counted_as_match = closed,
                    "a policy predicate could not be evaluated");
                closed
            }
        })
        .collect();
    let governance = Governance {
        policy_version: version,
        rules: matched.iter().map(|r| r.id.clone()).collect(),
    };
    if let Some((rule, reason)) = matched.iter().find_map(|r| match &r.outcome {
        Outcome::Deny { reason } => Some((r, reason)),
        _ => None,
    }) {
        return Ruling::Deny {
            rule: rule.id.clone(),
            reason: reason.clone(),
            governance,
        };
    }
    let asks: Vec<(&str, &Ask)> = matched
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Ask(ask) => Some((r.id.as_str(), ask)),
            _ => None,
        })
        .collect();
    if !asks.is_empty() {
        return Ruling::Ask {
            gate: Gate {
                remind_at: policy.remind_at,
                ..combine(&asks, governance)
            },
        };
    }
    if let Some(rule) = matched.first() {
        // Only allows are left.
        return Ruling::Allow {
            rule: rule.id.clone(),
            governance,
        };
    }
    match policy.default {
        DefaultOutcome::Ask => Ruling::Ask {
            gate: Gate {
                governance: Some(governance),
                remind_at: policy.remind_at,
                ..Gate::open()
            },
        },
        DefaultOutcome::Deny => Ruling::Deny {
            rule: DEFAULT_RULE.into(),
            reason: Some("no rule of the policy matches, and its default is deny".into()),
            governance,
        },
    }
}

/// Several asks at once: every reviewer of each, each rule's own quorum among its own reviewers
/// (a [`Requirement`], so no rule is met by another's reviewers or the agent's), the highest
/// quorum overall, the shortest lifetime and window, agents may add reviewers only if every ask
/// lets them, and the first chain given.
fn combine(asks: &[(&str, &Ask)], governance: Governance) -> Gate {
    let mut gate = Gate {
        governance: Some(governance),
        ..Gate::open()
    };
    for (rule, ask) in asks {
        if !ask.reviewers.is_empty() {
            gate.requirements.push(Requirement {
                rule: (*rule).to_owned(),
                reviewers: ask.reviewers.clone(),
                quorum: ask.quorum,
            });
        }
        for r in &ask.reviewers {
            if !gate.reviewers.contains(r) {
                gate.reviewers.push(r.clone());
            }
        }
        gate.agent_may_add_reviewers &= ask.agents_may_add;
        gate.min_quorum = gate.min_quorum.max(ask.quorum);
        gate.max_expires_in = stricter(gate.max_expires_in, ask.max_expires_in);
        gate.max_execute_within = stricter(gate.max_execute_within, ask.max_execute_within);
        if gate.escalation.is_empty() {
            gate.escalation = ask.escalation.clone();
        }
    }
    gate
}

fn stricter(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
