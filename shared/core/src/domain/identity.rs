//! Who is calling: a principal in a tenant with roles, always taken from authentication.

use serde::{Deserialize, Serialize};

use crate::invalid::Invalid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub tenant: String,
    pub principal: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Absent is human: principals stored before kinds existed keep deciding as they did.
    #[serde(default, skip_serializing_if = "PrincipalKind::is_human")]
    pub kind: PrincipalKind,
}

/// What a principal is: a person, or an agent acting on its own. Agents ask; only humans decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    #[default]
    Human,
    Agent,
}

impl PrincipalKind {
    pub fn is_human(&self) -> bool {
        *self == PrincipalKind::Human
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            PrincipalKind::Human => "human",
            PrincipalKind::Agent => "agent",
        }
    }
}

impl std::str::FromStr for PrincipalKind {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<PrincipalKind, Invalid> {
        match s {
            "human" => Ok(PrincipalKind::Human),
            "agent" => Ok(PrincipalKind::Agent),
            _ => Err(Invalid::new("kind", "must be human or agent")),
        }
    }
}

/// The actor name the service itself uses in the audit trail (expiry, escalation).
pub const SYSTEM_ACTOR: &str = "holdpoint";

/// The principal names the service keeps for itself: [`SYSTEM_ACTOR`] (the audit trail's actor of
/// expiry and escalation) and `system`, in any case. Policy actors (`policy:NAME`) need no entry:
/// the name rule already refuses ':'.
pub const RESERVED_NAMES: [&str; 2] = [SYSTEM_ACTOR, "system"];

/// The role that may run the sweep on request (`POST /v1/escalations/sweep`) and read any
/// approval's deliveries.
pub const ADMIN_ROLE: &str = "admin";

/// The prefix that makes a reviewer entry a role rather than a principal.
pub const ROLE_PREFIX: &str = "role:";

/// The longest tenant, principal or role name, in characters.
pub const NAME_CHARS: usize = 64;

/// The rule for tenant, principal and role names, wherever one is given (the directory, every
/// reviewer and `role:NAME` a request names): 1 to [`NAME_CHARS`] of `A-Z a-z 0-9 . _ @ -`, so a
/// name is the same in keys, links, headers and logs as it was written.
pub fn check_principal_name(field: &str, name: &str) -> Result<(), Invalid> {
    let ok = (1..=NAME_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            "must be 1 to 64 letters, digits, '.', '_', '@' or '-'",
        ))
    }
}

/// The form principal names are compared in for uniqueness within a tenant: ASCII lowercase,
/// which is enough because [`check_principal_name`] admits ASCII only (`Alice` is `alice`).
pub fn folded_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Refuses a principal name the service keeps for itself ([`RESERVED_NAMES`], any case): a
/// principal so named could pass for the system in the audit trail, and a reviewer so named
/// could never decide.
pub fn check_not_reserved(field: &str, name: &str) -> Result<(), Invalid> {
    if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(Invalid::new(
            field,
            format!("{name:?} is a name the service keeps for itself"),
        ));
    }
    Ok(())
}

impl Principal {
    /// Whether this principal is an agent, which may ask but never decide.
    pub fn is_agent(&self) -> bool {
        self.kind == PrincipalKind::Agent
    }

    /// Whether this principal holds the tenant's [`ADMIN_ROLE`].
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }

    /// Whether this principal is one of `reviewers` (by name, or by a `role:NAME` it holds).
    pub fn is_reviewer(&self, reviewers: &[String]) -> bool {
        reviewers.iter().any(|r| match r.strip_prefix(ROLE_PREFIX) {
            Some(role) => self.roles.iter().any(|mine| mine == role),
            None => *r == self.principal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_bounded() {
        let x64 = "x".repeat(NAME_CHARS);
        for good in ["ops-bot_1.a@x", "a", x64.as_str()] {
            assert_eq!(check_principal_name("n", good), Ok(()), "{good:?}");
        }
        let x65 = "x".repeat(NAME_CHARS + 1);
        for bad in [
            "",
            "a/b",
            "a#b",
            "a b",
            "a:b",
            "é",
            " a",
            "a\u{200b}",
            x65.as_str(),
        ] {
            assert_eq!(
                check_principal_name("n", bad).unwrap_err().field,
                "n",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_system_names_are_reserved_in_any_case() {
        for reserved in ["holdpoint", "HoldPoint", "system", "SYSTEM"] {
            assert_eq!(
                check_not_reserved("n", reserved).unwrap_err().field,
                "n",
                "{reserved:?}"
            );
        }
        for free in ["holdpoint-ops", "systems", "alice"] {
            assert_eq!(check_not_reserved("n", free), Ok(()), "{free:?}");
        }
        assert_eq!(folded_name("Alice.B@X"), "alice.b@x");
        assert_eq!(folded_name("Alice"), folded_name("aLICE"));
    }

    #[test]
    fn reviewer_by_name_or_role_never_by_prefix() {
        let p = Principal {
            tenant: "t".into(),
            principal: "alice".into(),
            roles: vec!["finance".into()],
            kind: PrincipalKind::Human,
        };
        assert!(p.is_reviewer(&["alice".into()]));
        assert!(p.is_reviewer(&["bob".into(), "role:finance".into()]));
        assert!(!p.is_reviewer(&["role:alice".into(), "finance".into(), "alic".into()]));
        assert!(!p.is_reviewer(&[]));
        assert!(!p.is_admin());
        let admin = Principal {
            roles: vec!["finance".into(), ADMIN_ROLE.into()],
            ..p
        };
        assert!(admin.is_admin());
    }

    #[test]
    fn a_principal_without_a_kind_is_human() {
        let old: Principal =
            serde_json::from_value(serde_json::json!({"tenant": "t", "principal": "p"})).unwrap();
        assert_eq!(old.kind, PrincipalKind::Human);
        assert!(serde_json::to_value(&old).unwrap().get("kind").is_none());
        let agent: Principal = serde_json::from_value(
            serde_json::json!({"tenant": "t", "principal": "p", "kind": "agent"}),
        )
        .unwrap();
        assert_eq!(agent.kind, PrincipalKind::Agent);
        assert_eq!(serde_json::to_value(&agent).unwrap()["kind"], "agent");
        let unknown = serde_json::json!({"tenant": "t", "principal": "p", "kind": "robot"});
        assert!(serde_json::from_value::<Principal>(unknown).is_err());
        assert_eq!("agent".parse::<PrincipalKind>(), Ok(PrincipalKind::Agent));
        assert!("Agent".parse::<PrincipalKind>().is_err());
    }
}
