//! The policy's `remind_at`: when the tenant's reviewers are reminded of a pending approval,
//! once: a share of its window (`0.8`: when 80 % has passed), or `never` (also `0`). Left out,
//! the service's `HOLDPOINT_REMIND_AT` applies.

use holdpoint_core::domain::reminder::RemindAt;
use serde_yaml_ng::Value as Yaml;

/// `remind_at` as written, read; the message names the field.
pub(super) fn read(value: Option<&Yaml>) -> Result<Option<RemindAt>, String> {
    let read = match value {
        None => return Ok(None),
        Some(Yaml::Number(n)) => match n.as_f64() {
            Some(share) => RemindAt::from_share(share),
            None => Err(format!("must be `never` or a share such as 0.8, not {n}")),
        },
        Some(Yaml::String(s)) if s.trim().eq_ignore_ascii_case("never") => Ok(RemindAt::NEVER),
        Some(_) => Err("must be `never` or a share of the window such as 0.8".to_owned()),
    };
    read.map(Some).map_err(|e| format!("remind_at {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Result<Option<RemindAt>, String> {
        read(Some(&serde_yaml_ng::from_str(text).unwrap()))
    }

    #[test]
    fn a_share_or_never_and_nothing_else() {
        assert_eq!(read(None), Ok(None));
        assert_eq!(of("0.8"), Ok(Some(RemindAt::default())));
        assert_eq!(of("never"), Ok(Some(RemindAt::NEVER)));
        assert_eq!(of("0"), Ok(Some(RemindAt::NEVER)));
        for bad in [
            "1", "2", "-0.5", ".nan", ".inf", "\"0.8\"", "soon", "[0.8]", "true", "~",
        ] {
            let e = of(bad).unwrap_err();
            assert!(e.starts_with("remind_at "), "{bad}: {e}");
        }
    }

    #[test]
    fn the_tenant_setting_reaches_every_ask_and_a_bad_one_is_refused() {
        use super::super::{Policy, Ruling};
        use holdpoint_core::domain::identity::Principal;
        use holdpoint_core::domain::request::CreateRequest;
        let caller = Principal {
            tenant: "acme".into(),
            principal: "bot".into(),
            roles: Vec::new(),
            kind: Default::default(),
        };
        let gate = |text: &str, action: &str| {
            let p = Policy::parse(text, &[]).unwrap();
            match p.evaluate(&caller, &CreateRequest::new(action, "", ["alice"]), 1) {
                Ruling::Ask { gate } => gate.remind_at,
                other => panic!("{other:?}"),
            }
        };
        let rules = "rules: [{id: pay, match: {action: pay}, outcome: ask, reviewers: [alice]}]";
        let half = Some(RemindAt::from_share(0.5).unwrap());
        assert_eq!(gate(&format!("remind_at: 0.5\n{rules}"), "pay"), half);
        assert_eq!(gate(&format!("remind_at: 0.5\n{rules}"), "other"), half);
        assert_eq!(
            gate(&format!("remind_at: never\n{rules}"), "pay"),
            Some(RemindAt::NEVER)
        );
        assert_eq!(gate(rules, "pay"), None, "the service's setting");
        let e = Policy::parse("remind_at: 1.5", &[]).unwrap_err();
        assert!(e.message.starts_with("remind_at must be"), "{e:?}");
        assert_eq!(e.rule, None);
    }
}
