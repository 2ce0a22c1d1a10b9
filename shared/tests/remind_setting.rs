//! HOLDPOINT_REMIND_AT: the service's reminder share, read as documented; a bad value stops the
//! service at start rather than silently reminding at some other time.

use holdpoint::config::{REMIND_AT, Settings};
use holdpoint_core::domain::reminder::RemindAt;

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
