//! Reminders: owed at a share of the window, recorded once, never after the approval left
//! pending; an extension keeps the share of the longer window; older approvals are as they were.

use super::*;
use crate::domain::reminder::RemindAt;
use crate::domain::request::Gate;

fn extend(by: &Principal, seconds: u32) -> Command<'_> {
    Command::Extend {
        by,
        seconds,
        reason: None,
        max_lifetime_seconds: ExpiryBounds::default().max_seconds,
    }
}

#[test]
fn a_reminder_is_owed_at_its_share_of_the_window_and_recorded_once() {
    // 600 s, the default share 0.8: at 480 s, 120 s before the deadline.
    let a = new_approval(&["alice"], None);
    assert_eq!(a.reminds_at, Some(at(480)));
    assert_eq!(
        a.next_deadline(),
        Some(at(480)),
        "the stores' due index finds it"
    );
    assert!(due(&a, at(479)).is_none());
    assert_eq!(refused(&a, Command::Remind, at(479)), Refusal::NotDue);
    assert!(matches!(due(&a, at(480)), Some(Command::Remind)));
    let (reminded, record) = changed(&a, Command::Remind, at(481));
    assert_eq!(record.event, AuditEvent::Reminded);
    assert_eq!(record.actor, "holdpoint");
    let payload: serde_json::Value = serde_json::from_str(record.payload.text()).unwrap();
    assert_eq!(payload["seconds_left"], 119);
    assert_eq!(payload["reviewers"], json!(["alice"]));
    assert_eq!(reminded.status, Status::Pending);
    assert_eq!(reminded.reminds_at, None, "spent");
    assert_eq!(reminded.next_deadline(), Some(a.expires_at));
    // Once: nothing more is owed until the expiry.
    assert!(due(&reminded, at(599)).is_none());
    assert_eq!(
        refused(&reminded, Command::Remind, at(590)),
        Refusal::NotDue
    );
    assert!(matches!(due(&reminded, at(600)), Some(Command::Expire)));
}

#[test]
fn no_reminder_once_decided_expired_or_cancelled() {
    let a = new_approval(&["alice"], None);
    let (decided, _) = changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(100));
    assert!(!matches!(due(&decided, at(500)), Some(Command::Remind)));
    assert_eq!(refused(&decided, Command::Remind, at(500)), Refusal::NotDue);
    let agent = who("agent", &[]);
    let cancel = Command::Cancel {
        by: &agent,
        reason: None,
    };
    let (cancelled, _) = changed(&a, cancel, at(100));
    assert!(due(&cancelled, at(500)).is_none());
    // A sweep that comes only after the deadline expires it; the reminder is never sent late.
    assert!(matches!(due(&a, at(600)), Some(Command::Expire)));
    assert_eq!(refused(&a, Command::Remind, at(600)), Refusal::NotDue);
}

#[test]
fn an_extension_moves_an_owed_reminder_and_leaves_a_spent_one_spent() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    let (longer, _) = changed(&a, extend(&alice, 600), at(100));
    assert_eq!(longer.reminds_at, Some(at(960)), "0.8 of the 1200 s window");
    assert_eq!(longer.next_deadline(), Some(at(960)));
    let (reminded, _) = changed(&a, Command::Remind, at(480));
    let (extended, _) = changed(&reminded, extend(&alice, 600), at(500));
    assert_eq!(
        extended.reminds_at, None,
        "reminded once, whatever comes later"
    );
    assert!(due(&extended, at(1199)).is_none());
}

#[test]
fn the_tenant_setting_or_a_short_window_means_no_reminder() {
    let agent = who("agent", &[]);
    let make = |gate: &Gate, seconds: u32| {
        let mut r = request(&["alice"], None);
        r.expires_in_seconds = Some(seconds);
        r.into_approval(&agent, gate, ExpiryBounds::default(), t0())
            .unwrap()
            .0
    };
    let never = Gate {
        remind_at: Some(RemindAt::NEVER),
        ..Gate::open()
    };
    assert_eq!(make(&never, 3600).reminds_at, None);
    let half = Gate {
        remind_at: Some(RemindAt::from_share(0.5).unwrap()),
        ..Gate::open()
    };
    assert_eq!(make(&half, 3600).reminds_at, Some(at(1800)));
    // Under two minutes: none; the service's own setting applies where the tenant says nothing.
    assert_eq!(make(&Gate::open(), 119).reminds_at, None);
    let off = ExpiryBounds {
        remind_at: RemindAt::NEVER,
        ..ExpiryBounds::default()
    };
    let a = request(&["alice"], None)
        .into_approval(&agent, &Gate::open(), off, t0())
        .unwrap()
        .0;
    assert_eq!(a.reminds_at, None);
}

#[test]
fn an_approval_stored_before_reminders_reads_and_seals_as_it_was() {
    let mut a = new_approval(&["alice"], None);
    a.reminds_at = None;
    let stored = serde_json::to_value(&a).unwrap();
    assert!(
        stored.get("reminds_at").is_none(),
        "left out, as before reminders"
    );
    let read: Approval = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(read.reminds_at, None);
    assert_eq!(read.next_deadline(), Some(a.expires_at));
    assert!(due(&read, at(599)).is_none(), "never reminded");
    // Its state digest is the one it had: the new field adds nothing when absent.
    let digest = crate::domain::integrity::state::digest(&read);
    let mut with = read.clone();
    with.reminds_at = Some(at(480));
    assert_ne!(
        crate::domain::integrity::state::digest(&with),
        digest,
        "covered when set"
    );
    assert_eq!(serde_json::to_value(&read).unwrap(), stored);
}
