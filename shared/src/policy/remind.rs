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
}
