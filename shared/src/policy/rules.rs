//! A policy as compiled: its default and its checked rules, in document order.

use holdpoint_core::domain::approval::EscalationLevel;
use serde::Deserialize;

use super::matching::Match;

/// The checked rules of one policy and what applies when none matches.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub(super) default: DefaultOutcome,
    pub(super) rules: Vec<Rule>,
    /// When the tenant's reviewers are reminded (`None`: the service's setting).
    pub(super) remind_at: Option<holdpoint_core::domain::reminder::RemindAt>,
}

/// What happens to a request no rule matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum DefaultOutcome {
    #[default]
    Ask,
    Deny,
}

#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) id: String,
    pub(super) matches: Match,
    pub(super) outcome: Outcome,
}

#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Deny { reason: Option<String> },
    Allow,
    Ask(Ask),
}

/// What an ask rule requires, checked.
#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub(super) reviewers: Vec<String>,
    pub(super) quorum: u32,
    pub(super) max_expires_in: Option<u32>,
    pub(super) max_execute_within: Option<u32>,
    pub(super) escalation: Vec<EscalationLevel>,
    pub(super) agents_may_add: bool,
}
