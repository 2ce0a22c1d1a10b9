//! Reminders on every store: the due index finds an approval at its reminder, the sweep records
//! it once (the reminder spent, the row's due time back at the deadline), and the expiry follows.

use std::time::Duration;

use super::fixture::*;

fn admin(tenant: &str) -> Principal {
    Principal {
        roles: vec!["admin".into()],
        ..principal(tenant, "root")
    }
}

async fn due_ids(store: &Arc<dyn Store>, at: DateTime<Utc>) -> Vec<Uuid> {
    let due = store.due(at, 10_000).await.expect("due");
    due.iter().map(|a| a.id).collect()
}

pub async fn a_reminder_is_found_due_and_recorded_once(store: Arc<dyn Store>) {
    let t = tenant();
    let time = ManualClock::default();
    let service = service_on(&store, time.clock());
    let agent = principal(&t, "agent");
    let asked = request(&["alice".into()], json!({"expires_in_seconds": 600}));
    let (a, _) = service.create(&agent, asked, None).await.unwrap();
    let reminds_at = a.created_at + TimeDelta::seconds(480);
    assert_eq!(a.reminds_at, Some(reminds_at));
    // Published at creation: the due index holds its reminder, not its deadline.
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert!(stored.row_mismatch.is_empty(), "{:?}", stored.row_mismatch);
    assert_eq!(stored.next_deadline(), Some(reminds_at));
    assert!(
        !due_ids(&store, reminds_at - TimeDelta::seconds(1))
            .await
            .contains(&a.id)
    );
    assert!(due_ids(&store, reminds_at).await.contains(&a.id));

    time.advance(TimeDelta::seconds(481));
    let root = admin(&t);
    let sweep = || service.sweep_for(&root, Duration::from_secs(60));
    let first = sweep().await.expect("sweep");
    assert_eq!(
        (first.reminded, first.expired, first.failed),
        (1, 0, 0),
        "{first:?}"
    );
    let reminded = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(reminded.status, Status::Pending);
    assert_eq!(reminded.reminds_at, None, "spent");
    assert!(
        reminded.row_mismatch.is_empty(),
        "{:?}",
        reminded.row_mismatch
    );
    assert_eq!(reminded.next_deadline(), Some(a.expires_at));
    let now = a.created_at + TimeDelta::seconds(482);
    assert!(
        !due_ids(&store, now).await.contains(&a.id),
        "not due again before expiry"
    );
    let second = sweep().await.expect("sweep");
    assert_eq!(second.reminded, 0, "once: {second:?}");

    time.advance(TimeDelta::seconds(120));
    let third = sweep().await.expect("sweep");
    assert_eq!((third.expired, third.reminded), (1, 0), "{third:?}");
    let records = store.audit(&t, a.id).await.unwrap();
    let events: Vec<_> = records.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            AuditEvent::Created,
            AuditEvent::Reminded,
            AuditEvent::Expired
        ]
    );
    assert_eq!(records[1].actor, "holdpoint");
    let (_, verification) = service.audit(&agent, a.id).await.unwrap();
    assert!(verification.valid, "{verification:?}");
}

/// A reminder asks those still to answer: a reviewer who approved towards a quorum of two is
/// not reminded, the other is (a reviewer of this work found both reminded).
pub async fn a_reminder_asks_only_those_still_to_answer(store: Arc<dyn Store>) {
    let t = tenant();
    let time = ManualClock::default();
    let sink = Arc::new(super::events::RecordingSink::default());
    let service = service_on(&store, time.clock()).with_events(sink.clone(), "https://hp.example");
    let agent = principal(&t, "agent");
    let asked = request(
        &["alice".into(), "bob".into()],
        json!({"expires_in_seconds": 600, "quorum": 2}),
    );
    let (a, _) = service.create(&agent, asked, None).await.unwrap();
    let alice = principal(&t, "alice");
    let vote = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    let voted = service.apply(&t, a.id, vote).await.unwrap();
    assert_eq!((voted.status, voted.approvals.len()), (Status::Pending, 1));

    time.advance(TimeDelta::seconds(481));
    let report = service
        .sweep_for(&admin(&t), Duration::from_secs(60))
        .await
        .expect("sweep");
    assert_eq!(report.reminded, 1, "{report:?}");
    let reminders: Vec<Vec<String>> = sink
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.detail.approval_id == a.id && e.detail.event == AuditEvent::Reminded)
        .map(|e| e.detail.reviewers.clone())
        .collect();
    assert!(!reminders.is_empty(), "the reminder was published");
    for reviewers in reminders {
        assert_eq!(reviewers, ["bob"], "alice has answered");
    }
}
