//! Reading a policy document: YAML (or JSON, which YAML reads) into rules whose every part was
//! checked and compiled, or a [`PolicyError`] naming the rule at fault.

use holdpoint_core::domain::approval::EscalationLevel;
use holdpoint_core::domain::identity::{ROLE_PREFIX, check_not_reserved, check_principal_name};
use holdpoint_core::domain::request::limits::{
    ESCALATION_LEVELS, EXECUTE_WITHIN_SECONDS, ExpiryBounds, QUORUM, REVIEWERS, TEXT_CHARS,
};
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use super::matching::{Match, Pattern, RiskRange};
use super::predicate::{Predicate, bracket_depth};
use super::rules::{Ask, DefaultOutcome, Outcome, Rule, Rules};
use super::ruling::DEFAULT_RULE;

/// The largest policy document, in bytes.
pub const DOCUMENT_BYTES: usize = 64 * 1024;
/// The most rules a policy may hold.
pub const RULES: usize = 200;

/// Why a policy document was refused, and the rule at fault when one is (its id as written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub rule: Option<String>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default)]
    default: DefaultOutcome,
    #[serde(default = "yes")]
    agents_may_add_reviewers: bool,
    /// When reviewers are reminded (see [`super::remind`]).
    #[serde(default)]
    remind_at: Option<Yaml>,
    /// Read one by one, so that an error inside a rule can name it.
    #[serde(default)]
    rules: Vec<Yaml>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    /// For people reading the policy; not used.
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "match")]
    matches: RawMatch,
    outcome: OutcomeKind,
    reviewers: Option<Vec<String>>,
    quorum: Option<u32>,
    max_expires_in_seconds: Option<u32>,
    execute_within_seconds: Option<u32>,
    escalation: Option<Vec<RawLevel>>,
    agents_may_add_reviewers: Option<bool>,
    reason: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    tool: Option<String>,
    action: Option<String>,
    agent: Option<String>,
    principal: Option<String>,
    risk: Option<RawRisk>,
    when: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRisk {
    #[serde(default)]
    min: u32,
    #[serde(default = "hundred")]
    max: u32,
}

fn hundred() -> u32 {
    100
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    after_seconds: u32,
    reviewers: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeKind {
    Deny,
    Allow,
    Ask,
}

/// How deeply brackets may nest in the whole text, predicates' included.
const DOCUMENT_BRACKETS: usize = 64;

/// The stack the document is read on. The YAML reader and the CEL parser recurse on nesting
/// (brackets cost the parser some 170 KiB a level unoptimised), far past what a runtime worker's
/// stack holds; the stack is reserved, and only the part used is ever committed.
const READING_STACK: usize = 32 * 1024 * 1024;

/// `known_roles`: the roles a rule's reviewers may name; `None` reads a stored version, whose
/// roles were checked when it was set (a role's last holder may have left since, and every
/// process must rule on it alike, whatever it has parsed before).
pub(super) fn parse(text: &str, known_roles: Option<&[String]>) -> Result<Rules, PolicyError> {
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("policy-reader".into())
            .stack_size(READING_STACK)
            .spawn_scoped(scope, || read(text, known_roles))
        {
            Ok(reader) => reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: read here; the limits on nesting still hold.
            Err(_) => read(text, known_roles),
        }
    })
}

fn read(text: &str, known_roles: Option<&[String]>) -> Result<Rules, PolicyError> {
    if text.len() > DOCUMENT_BYTES {
        return Err(whole(format!(
            "the policy must be at most {DOCUMENT_BYTES} bytes"
        )));
    }
    // Deeply nested flow YAML costs the reader time out of all proportion to its size.
    if bracket_depth(text) > DOCUMENT_BRACKETS {
        return Err(whole(format!(
            "the policy nests brackets deeper than {DOCUMENT_BRACKETS}"
        )));
    }
    let raw: RawDocument = serde_yaml_ng::from_str(text).map_err(|e| {
        whole(format!(
            "the policy is not a valid document: {}",
            readable(e)
        ))
    })?;
    if raw.rules.len() > RULES {
        return Err(whole(format!("a policy holds at most {RULES} rules")));
    }
    let agents_may_add = raw.agents_may_add_reviewers;
    let remind_at = super::remind::read(raw.remind_at.as_ref()).map_err(whole)?;
    let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
    for (i, value) in raw.rules.into_iter().enumerate() {
        // The id as written, to name the rule even when the rest does not read.
        let named = value.get("id").and_then(Yaml::as_str).map(str::to_owned);
        let at_fault = |message: String| PolicyError {
            message: match &named {
                Some(id) => format!("rule {id}: {message}"),
                None => format!("rule #{} (no id): {message}", i + 1),
            },
            rule: named.clone(),
        };
        let raw: RawRule = serde_yaml_ng::from_value(value).map_err(|e| at_fault(readable(e)))?;
        if rules.iter().any(|r| r.id == raw.id) {
            return Err(at_fault("the id is used by an earlier rule".into()));
        }
        let rule = compile(raw, agents_may_add, known_roles).map_err(at_fault)?;
        rules.push(rule);
    }
    Ok(Rules {
        default: raw.default,
        rules,
        remind_at,
    })
}

/// A reading error in the document's words rather than this module's type names.
fn readable(e: serde_yaml_ng::Error) -> String {
    [
        ("struct RawDocument", "a policy (a mapping)"),
        ("struct RawRule", "a rule (a mapping)"),
        ("struct RawMatch", "a match (a mapping)"),
        ("struct RawRisk", "a risk range (a mapping)"),
        ("struct RawLevel", "an escalation level (a mapping)"),
    ]
    .into_iter()
    .fold(e.to_string(), |m, (from, to)| m.replace(from, to))
}

fn whole(message: String) -> PolicyError {
    PolicyError {
        rule: None,
        message,
    }
}

/// One rule, checked: its id, its match compiled, its outcome's fields meaningful and in bounds.
fn compile(
    mut raw: RawRule,
    agents_may_add: bool,
    known_roles: Option<&[String]>,
) -> Result<Rule, String> {
    check_principal_name("id", &raw.id).map_err(|e| format!("id {}", e.message))?;
    if raw.id == DEFAULT_RULE {
        return Err(format!(
            "the id `{DEFAULT_RULE}` names the policy's default"
        ));
    }
    if let Some(d) = &raw.description
        && d.chars().count() > TEXT_CHARS
    {
        return Err(format!(
            "description must be at most {TEXT_CHARS} characters"
        ));
    }
    let matches = compile_match(std::mem::take(&mut raw.matches))?;
    let outcome = match raw.outcome {
        OutcomeKind::Deny => {
            refuse_fields(&raw_ask_fields(&raw), "deny")?;
            if let Some(r) = &raw.reason
                && r.chars().count() > TEXT_CHARS
            {
                return Err(format!("reason must be at most {TEXT_CHARS} characters"));
            }
            Outcome::Deny {
                reason: raw.reason.clone(),
            }
        }
        OutcomeKind::Allow => {
            let mut present = raw_ask_fields(&raw);
            if raw.reason.is_some() {
                present.push("reason");
            }
            refuse_fields(&present, "allow")?;
            Outcome::Allow
        }
        OutcomeKind::Ask => {
            if raw.reason.is_some() {
                return Err("reason is shown on a deny; it has no meaning on an ask".into());
            }
            Outcome::Ask(compile_ask(&raw, agents_may_add, known_roles)?)
        }
    };
    Ok(Rule {
        id: raw.id,
        matches,
        outcome,
    })
}

/// The fields only an ask gives meaning to, as present in `raw`.
fn raw_ask_fields(raw: &RawRule) -> Vec<&'static str> {
    [
        ("reviewers", raw.reviewers.is_some()),
        ("quorum", raw.quorum.is_some()),
        (
            "max_expires_in_seconds",
            raw.max_expires_in_seconds.is_some(),
        ),
        (
            "execute_within_seconds",
            raw.execute_within_seconds.is_some(),
        ),
        ("escalation", raw.escalation.is_some()),
        (
            "agents_may_add_reviewers",
            raw.agents_may_add_reviewers.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect()
}

fn refuse_fields(present: &[&str], outcome: &str) -> Result<(), String> {
    match present {
        [] => Ok(()),
        _ => Err(format!(
            "{} {} no meaning when the outcome is {outcome}",
            present.join(", "),
            if present.len() == 1 { "has" } else { "have" }
        )),
    }
}

fn compile_match(raw: RawMatch) -> Result<Match, String> {
    let glob = |field: &str, source: Option<String>| {
        source
            .map(|s| Pattern::compile(&s).map_err(|e| format!("match.{field} {e}")))
            .transpose()
    };
    let risk = match raw.risk {
        None => None,
        Some(r) if r.min > r.max => {
            return Err(format!("match.risk: min {} is above max {}", r.min, r.max));
        }
        Some(r) if r.max > 100 => {
            return Err("match.risk: a risk score is 0 to 100".into());
        }
        Some(r) => Some(RiskRange {
            min: r.min as u8,
            max: r.max as u8,
        }),
    };
    Ok(Match {
        tool: glob("tool", raw.tool)?,
        action: glob("action", raw.action)?,
        agent: glob("agent", raw.agent)?,
        principal: glob("principal", raw.principal)?,
        risk,
        when: raw
            .when
            .map(|w| Predicate::compile(&w).map_err(|e| format!("match.when {e}")))
            .transpose()?,
    })
}

fn compile_ask(
    raw: &RawRule,
    default_may_add: bool,
    known_roles: Option<&[String]>,
) -> Result<Ask, String> {
    let agents_may_add = raw.agents_may_add_reviewers.unwrap_or(default_may_add);
    let reviewers = raw.reviewers.clone().unwrap_or_default();
    check_reviewers("reviewers", &reviewers, known_roles)?;
    if reviewers.is_empty() && !agents_may_add {
        return Err("an ask whose agents may not add reviewers must name its reviewers".into());
    }
    // Reviewers the agent adds may raise what the rule's own can give, up to the service's cap.
    let possible = if agents_may_add {
        QUORUM
    } else {
        possible_approvers(&reviewers)
    };
    let quorum = raw.quorum.unwrap_or(1);
    if quorum == 0 || quorum > possible {
        return Err(format!(
            "quorum must be between 1 and {possible} (the approvers its reviewers can give)"
        ));
    }
    let bounds = ExpiryBounds::default();
    if let Some(s) = raw.max_expires_in_seconds
        && !(bounds.min_seconds..=bounds.max_seconds).contains(&s)
    {
        return Err(format!(
            "max_expires_in_seconds must be between {} and {}",
            bounds.min_seconds, bounds.max_seconds
        ));
    }
    if let Some(s) = raw.execute_within_seconds
        && !(1..=EXECUTE_WITHIN_SECONDS).contains(&s)
    {
        return Err(format!(
            "execute_within_seconds must be between 1 and {EXECUTE_WITHIN_SECONDS}"
        ));
    }
    let levels = raw.escalation.as_deref().unwrap_or_default();
    if levels.len() > ESCALATION_LEVELS {
        return Err(format!("escalation: at most {ESCALATION_LEVELS} levels"));
    }
    let mut escalation = Vec::with_capacity(levels.len());
    for (i, level) in levels.iter().enumerate() {
        let field = format!("escalation[{i}]");
        if level.after_seconds < 1 {
            return Err(format!("{field}.after_seconds must be at least 1"));
        }
        check_reviewers(&format!("{field}.reviewers"), &level.reviewers, known_roles)?;
        if level.reviewers.is_empty() {
            return Err(format!(
                "{field}.reviewers: at least one reviewer is required"
            ));
        }
        if possible_approvers(&level.reviewers) < quorum {
            return Err(format!("{field}.reviewers cannot reach the quorum"));
        }
        escalation.push(EscalationLevel {
            after_seconds: level.after_seconds,
            reviewers: level.reviewers.clone(),
        });
    }
    Ok(Ask {
        reviewers,
        quorum,
        max_expires_in: raw.max_expires_in_seconds,
        max_execute_within: raw.execute_within_seconds,
        escalation,
        agents_may_add,
    })
}

/// Each reviewer a principal name or `role:NAME` (of a role some principal holds, when
/// `known_roles` are given), none twice.
fn check_reviewers(
    field: &str,
    reviewers: &[String],
    known_roles: Option<&[String]>,
) -> Result<(), String> {
    if reviewers.len() > REVIEWERS {
        return Err(format!("{field}: at most {REVIEWERS} reviewers"));
    }
    for (i, r) in reviewers.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match r.strip_prefix(ROLE_PREFIX) {
            Some(role) => {
                check_principal_name(&f, role).map_err(|e| format!("{f} {}", e.message))?;
                if known_roles.is_some_and(|known| !known.iter().any(|k| k == role)) {
                    return Err(format!(
                        "{f}: no principal of the tenant holds the role {role}"
                    ));
                }
            }
            None => check_principal_name(&f, r)
                .and_then(|()| check_not_reserved(&f, r))
                .map_err(|e| format!("{f} {}", e.message))?,
        }
        // Names are unique in a tenant whatever their case, so `Alice` is `alice` listed twice.
        if reviewers[..i].iter().any(|p| p.eq_ignore_ascii_case(r)) {
            return Err(format!("{f}: {r} is listed twice"));
        }
    }
    Ok(())
}

/// The most distinct approvers `reviewers` can give: a role's size is not known here, so a role
/// counts as the service's largest quorum (as a request's reviewers do).
fn possible_approvers(reviewers: &[String]) -> u32 {
    if reviewers.iter().any(|r| r.starts_with(ROLE_PREFIX)) {
        return QUORUM;
    }
    reviewers.len() as u32
}
