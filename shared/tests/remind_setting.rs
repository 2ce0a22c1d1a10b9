//! HOLDPOINT_REMIND_AT and the policy's remind_at: the reminder share, read as documented; a bad
//! value stops the service at start, or is refused with the policy, rather than silently
//! reminding at some other time.

use holdpoint::config::{REMIND_AT, Settings};
use holdpoint::policy::{Policy, Ruling};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::reminder::RemindAt;
use holdpoint_core::domain::request::CreateRequest;

fn with(value: Option<&str>) -> Result<Settings, String> {
    Settings::from_lookup(|name| match name {
        REMIND_AT => value.map(str::to_owned),
        _ => None,
    })
    .map_err(|e| e.to_string())
}

#[test]
fn the_reminder_share_reads_as_documented() {
    let share = |v| with(v).unwrap().expiry.remind_at;
    assert_eq!(share(None), RemindAt::default());
    assert_eq!(share(None).share(), Some(0.8));
    assert_eq!(share(Some("  ")), RemindAt::default(), "blank is unset");
    assert_eq!(share(Some("0.5")).share(), Some(0.5));
    assert_eq!(share(Some("never")), RemindAt::NEVER);
    assert_eq!(share(Some("0")), RemindAt::NEVER);
    for bad in ["1", "0.8x", "-1", "80%", "NaN"] {
        let e = with(Some(bad)).unwrap_err();
        assert!(e.contains("HOLDPOINT_REMIND_AT"), "{bad}: {e}");
    }
}

#[test]
fn the_tenant_setting_reaches_every_ask_and_a_bad_one_is_refused() {
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
    assert_eq!(
        gate(&format!("remind_at: 0.5\n{rules}"), "other"),
        half,
        "the default's ask too"
    );
    assert_eq!(
        gate(&format!("remind_at: never\n{rules}"), "pay"),
        Some(RemindAt::NEVER)
    );
    assert_eq!(gate(rules, "pay"), None, "the service's setting");
    for bad in [
        "remind_at: 1.5",
        "remind_at: soon",
        "remind_at: [0.8]",
        "remind_at: -1",
    ] {
        let e = Policy::parse(bad, &[]).unwrap_err();
        assert!(e.message.starts_with("remind_at must be"), "{bad}: {e:?}");
        assert_eq!(e.rule, None);
    }
}
