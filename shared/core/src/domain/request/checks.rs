//! The checks of what a caller sent, one field at a time: its shape and size, and for reviewers
//! whether they can approve at all. Each failure names its field (422).

use crate::domain::approval::{EscalationLevel, Requirement};
use crate::domain::identity::{ROLE_PREFIX, check_not_reserved, check_principal_name};
use crate::domain::request::limits;
use crate::invalid::Invalid;
use crate::text;

pub fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<(), Invalid> {
    if required && text::is_blank(value) {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(Invalid::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// An identifier that names no principal (agent id, checkpoint type, execution and session ids):
/// 1 to 200 characters, no leading or trailing space, none of the characters [`text::is_hidden`]
/// finds. Reviewers are principals and follow [`check_principal_name`] instead.
pub fn check_name(field: &str, value: &str) -> Result<(), Invalid> {
    check_text(field, value, limits::NAME_CHARS, true)?;
    if value.trim() != value {
        return Err(Invalid::new(
            field,
            "must not start or end with white space",
        ));
    }
    if value.chars().any(text::is_hidden) {
        return Err(Invalid::new(
            field,
            "must not hold control characters, line breaks or invisible formatting characters",
        ));
    }
    Ok(())
}

pub fn check_optional(
    field: &str,
    value: &Option<String>,
    max_chars: usize,
) -> Result<(), Invalid> {
    value
        .as_deref()
        .map_or(Ok(()), |v| check_text(field, v, max_chars, false))
}

pub fn check_document(field: &str, value: &impl serde::Serialize) -> Result<(), Invalid> {
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > limits::DOCUMENT_BYTES {
        return Err(Invalid::new(
            field,
            format!("must be at most {} bytes of JSON", limits::DOCUMENT_BYTES),
        ));
    }
    Ok(())
}

fn check_reviewers(field: &str, reviewers: &[String]) -> Result<(), Invalid> {
    if reviewers.is_empty() {
        return Err(Invalid::new(field, "at least one reviewer is required"));
    }
    if reviewers.len() > limits::REVIEWERS {
        return Err(Invalid::new(
            field,
            format!("at most {} reviewers", limits::REVIEWERS),
        ));
    }
    for (i, r) in reviewers.iter().enumerate() {
        let f = format!("{field}[{i}]");
        // A principal, or `role:NAME` naming a role of the directory. A principal the service
        // keeps for itself could never decide: such a request could only wait out its deadline.
        match r.strip_prefix(ROLE_PREFIX) {
            Some(role) => check_principal_name(&f, role)?,
            None => {
                check_principal_name(&f, r)?;
                check_not_reserved(&f, r)?;
            }
        }
        // Names are unique in a tenant whatever their case, so `Alice` is `alice` listed twice.
        if reviewers[..i].iter().any(|p| p.eq_ignore_ascii_case(r)) {
            return Err(Invalid::new(&f, "listed twice"));
        }
    }
    Ok(())
}

/// The most distinct approvers `reviewers` can supply, leaving out the requester.
fn possible_approvers(reviewers: &[String], requester: &str) -> u32 {
    if reviewers.iter().any(|r| r.starts_with(ROLE_PREFIX)) {
        return limits::QUORUM;
    }
    reviewers.iter().filter(|r| *r != requester).count() as u32
}

/// The reviewers, quorum and escalation chain of a request that asks: who can approve, and how
/// many of them must. Answers the quorum.
pub(super) fn check_gate(
    reviewers: &[String],
    quorum_asked: Option<u32>,
    escalation: &[EscalationLevel],
    requester: &str,
) -> Result<u32, Invalid> {
    check_reviewers("reviewers", reviewers)?;
    let possible = possible_approvers(reviewers, requester);
    if possible == 0 {
        return Err(Invalid::new(
            "reviewers",
            "the requester cannot review its own request; name someone else",
        ));
    }
    let quorum = quorum_asked.unwrap_or(1);
    if quorum == 0 || quorum > possible {
        return Err(Invalid::new(
            "quorum",
            format!("must be between 1 and {possible} (the reviewers who can approve)"),
        ));
    }
    if escalation.len() > limits::ESCALATION_LEVELS {
        return Err(Invalid::new(
            "escalation",
            format!("at most {} levels", limits::ESCALATION_LEVELS),
        ));
    }
    for (i, level) in escalation.iter().enumerate() {
        if level.after_seconds < 1 {
            return Err(Invalid::new(
                &format!("escalation[{i}].after_seconds"),
                "must be at least 1",
            ));
        }
        check_reviewers(&format!("escalation[{i}].reviewers"), &level.reviewers)?;
        if possible_approvers(&level.reviewers, requester) < quorum {
            return Err(Invalid::new(
                &format!("escalation[{i}].reviewers"),
                "cannot reach the quorum",
            ));
        }
    }
    Ok(quorum)
}

/// A rule's own quorum must be reachable among its reviewers without the requester, who never
/// decides its own request.
pub(super) fn check_requirement(r: &Requirement, requester: &str) -> Result<(), Invalid> {
    if possible_approvers(&r.reviewers, requester) < r.quorum {
        return Err(Invalid::new(
            "reviewers",
            format!(
                "the policy rule {} needs {} approvals from its reviewers, and the requester cannot approve its own request",
                r.rule, r.quorum
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_reviewer_named_as_the_system_is_refused_naming_its_field() {
        for reserved in ["holdpoint", "Holdpoint", "system", "SYSTEM"] {
            let err = check_gate(&names(&["alice", reserved]), None, &[], "agent").unwrap_err();
            assert_eq!(err.field, "reviewers[1]", "{reserved:?}");
        }
        let level = EscalationLevel {
            after_seconds: 60,
            reviewers: names(&["holdpoint"]),
        };
        let err = check_gate(&names(&["alice"]), None, &[level], "agent").unwrap_err();
        assert_eq!(err.field, "escalation[0].reviewers[0]");
        // A role is no principal: `role:system` names the directory's role of that name.
        assert_eq!(
            check_gate(&names(&["role:system"]), None, &[], "agent"),
            Ok(1)
        );
    }
}
