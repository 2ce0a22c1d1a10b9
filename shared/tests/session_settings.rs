//! HOLDPOINT_SESSION_HOURS: 12 by default, 1 to 720, anything else refused at start.

use holdpoint::config::{SESSION_HOURS, Settings};

fn with(value: Option<&str>) -> Result<Settings, holdpoint::config::ConfigError> {
    Settings::from_lookup(|name| (name == SESSION_HOURS).then(|| value.map(str::to_owned))?)
}

#[test]
fn sessions_last_twelve_hours_unless_set_within_bounds() {
    assert_eq!(with(None).unwrap().session_hours, 12);
    assert_eq!(with(Some(" ")).unwrap().session_hours, 12, "left empty");
    assert_eq!(with(Some("1")).unwrap().session_hours, 1);
    assert_eq!(with(Some("720")).unwrap().session_hours, 720);
    for bad in ["0", "721", "-1", "12h", "1e3"] {
        let e = with(Some(bad)).unwrap_err();
        assert!(e.to_string().contains(SESSION_HOURS), "{bad}: {e}");
    }
}
