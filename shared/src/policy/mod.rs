//! Tenant policies: rules that decide, before any reviewer sees it, whether an agent's request
//! is denied, allowed outright, or asked of reviewers, and under what
//! [`Gate`](holdpoint_core::domain::request::Gate).
//!
//! A policy is a YAML (or JSON) document of at most 64 KiB and 200 rules, its brackets nested
//! at most 64 deep:
//!
//! - `default`: `ask` (the agent's own reviewers, as without a policy) or `deny`, for a request
//!   no rule matches; `ask` when left out.
//! - `agents_may_add_reviewers`: whether an ask lets the agent add its own reviewers to the
//!   rule's, unless the rule says otherwise; `true` when left out.
//! - `remind_at`: when reviewers of a pending approval are reminded, once: the share of its
//!   window passed (`0.8`), or `never` (also `0`); left out, `HOLDPOINT_REMIND_AT` (0.8).
//! - `rules`: each with an `id` (a principal-style name, unique, not `default`), an optional
//!   `description`, a `match` and an `outcome` (`deny`, `allow` or `ask`).
//!
//! A rule's `match` holds when every condition it gives holds (none given: every request):
//! `tool` (glob on `tool_call.name`; never matches a request without a tool call), `action`,
//! `agent` (on `agent_id`, the caller's name when the request gives none), `principal` (the
//! caller), `risk: {min, max}` (0 to 100, both inclusive; never matches a request without a
//! `risk_score`), and `when`, a [CEL](https://cel.dev) predicate over `context`, `tool`
//! (`{name, arguments}` or `null`), `action`, `agent_id`, `principal`, `roles` (the caller's)
//! and `risk` (`int` or `null`). Globs: `*` any run of characters, `?` one, `[..]` a class,
//! `{a,b}` alternatives, case-sensitive. `agent_id` is what the agent says it is: a rule about
//! who calls matches `principal`, which the service authenticated.
//!
//! A predicate may read no other name, nest brackets at most 32 deep, its expression at most
//! 20 and macros (`all`, `exists`, `map`, …) at most two, and not call `matches`, `timestamp`
//! or `duration` (this build has no regular expressions or time types); each is refused when
//! the policy is parsed. A predicate that cannot be evaluated (a missing key, a wrong type, a
//! result not a boolean) fails closed: it counts as not matching for an `allow` rule, and as
//! matching for `deny` and `ask` rules. Guard optional keys with `has(context.key)`.
//!
//! An `ask` rule may set `reviewers` (principals and `role:NAME` of roles the tenant's
//! principals hold), `quorum`, `max_expires_in_seconds` (60 to 2,592,000),
//! `execute_within_seconds` (1 to 2,592,000), `escalation` (levels of `after_seconds` and
//! `reviewers`, replacing the agent's) and `agents_may_add_reviewers`; a `deny` rule may set
//! the `reason` shown to the agent. Fields that mean nothing for the outcome are refused.
//!
//! Every matching rule counts: any deny wins, else any ask, else any allow (the first matching
//! rule of the winning kind names the ruling), and
//! [`Governance::rules`](holdpoint_core::domain::approval::Governance::rules) lists every
//! matching rule in document order. Several asks combine by taking the stricter of each
//! setting: every reviewer, the highest quorum, the shortest lifetime and window, agents may add
//! reviewers only if all allow it, and the escalation chain of the first matching ask that has
//! one. The agent may then make the gate stricter, never weaker (see [`CreateRequest::under`]).

mod document;
mod matching;
mod predicate;
mod remind;
mod rules;
mod ruling;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_parse;

use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::CreateRequest;

pub use document::{DOCUMENT_BYTES, PolicyError, RULES};
pub use ruling::{DEFAULT_RULE, Ruling};

/// The worked example of the README (quoted there verbatim; a test keeps the two the same): a
/// deny for production deletes, an auto-allow for read-only tools, two finance approvers for
/// large payments.
pub const EXAMPLE: &str = r#"default: ask
agents_may_add_reviewers: true
rules:
  - id: production-deletes
    description: Nothing is deleted in production on an agent's word.
    match:
      action: "*delete*"
      # A delete that does not say where it runs is denied too (fail closed).
      when: 'context.environment == "production"'
    outcome: deny
    reason: Deleting in production goes through a change request.
  - id: read-only-tools
    match:
      tool: "*.{get,list,read,search}"
    outcome: allow
  - id: finance-payments
    match:
      tool: "payments.*"
      when: 'context.amount > 1000 && context.currency == "EUR"'
    outcome: ask
    reviewers: ["role:finance"]
    quorum: 2
    max_expires_in_seconds: 86400
    execute_within_seconds: 600
    escalation:
      - after_seconds: 3600
        reviewers: ["role:cfo"]
    agents_may_add_reviewers: false
"#;

/// A parsed, compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: rules::Rules,
}

impl Policy {
    /// Parses YAML or JSON text; `known_roles` = roles some principal of the tenant holds.
    pub fn parse(text: &str, known_roles: &[String]) -> Result<Policy, PolicyError> {
        document::parse(text, Some(known_roles)).map(|rules| Policy { rules })
    }

    /// Parses a stored version: every check of [`Policy::parse`] but the known roles, which
    /// held when it was set. A role whose last holder has left leaves its rules with no one
    /// to approve (escalation or an admin's new version answers that), and every process rules
    /// alike, whichever versions it has parsed before.
    pub fn parse_stored(text: &str) -> Result<Policy, PolicyError> {
        document::parse(text, None).map(|rules| Policy { rules })
    }

    /// The rules that match `request` from `caller`, and what follows. `version` is the stored
    /// version of this policy (goes into the Governance).
    pub fn evaluate(&self, caller: &Principal, request: &CreateRequest, version: u64) -> Ruling {
        ruling::evaluate(&self.rules, caller, request, version)
    }

    /// The reviewers each ask rule names, its own and each escalation level's, with the rule's
    /// id: checked against the directory when the policy is set.
    pub fn named_reviewers(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.rules.rules.iter().flat_map(|r| {
            let asked = match &r.outcome {
                rules::Outcome::Ask(ask) => Some(ask),
                _ => None,
            };
            asked.into_iter().flat_map(move |ask| {
                std::iter::once(ask.reviewers.as_slice())
                    .chain(ask.escalation.iter().map(|l| l.reviewers.as_slice()))
                    .map(move |reviewers| (r.id.as_str(), reviewers))
            })
        })
    }

    /// The rules' ids, in document order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.rules.iter().map(|r| r.id.as_str())
    }
}
