//! Deadlines on every store: an approval not executed within its window lapses (seen at once,
//! recorded by the sweep found through the due index, once); a pending one's deadline moves
//! when extended, and the due index follows it.

use std::time::Duration;

use super::fixture::*;

fn admin(tenant: &str) -> Principal {
    Principal {
        roles: vec!["admin".into()],
        ..principal(tenant, "root")
    }
}

/// The sweep as `tenant`'s admin asks for it: its report counts that tenant alone, so scenarios
/// sharing a database do not count each other's approvals.
async fn sweep(service: &Service, tenant: &str) -> holdpoint_core::domain::sweep::SweepReport {
    service
        .sweep_for(&admin(tenant), Duration::from_secs(60))
        .await
        .expect("sweep")
}

pub async fn approvals_lapse_past_their_window(store: Arc<dyn Store>) {
    let t = tenant();
    let time = ManualClock::default();
    let service = service_on(&store, time.clock());
    let (agent, alice) = (principal(&t, "agent"), principal(&t, "alice"));
    let asked = request(&["alice".into()], json!({"execute_within_seconds": 5}));
    let (a, _) = service.create(&agent, asked, None).await.unwrap();
    let approved = service.apply(&t, a.id, approve(&alice)).await.unwrap();
    let decided_at = approved.decision.as_ref().unwrap().at;
    assert_eq!(
        approved.execute_by(),
        Some(decided_at + TimeDelta::seconds(5))
    );
    time.advance(TimeDelta::seconds(6));

    // Lapsed when read, before any sweep, and listed as such.
    let seen = service.get(&agent, a.id).await.unwrap();
    assert_eq!(seen.status, Status::Lapsed);
    let listed = |status| ListFilter {
        status: Some(status),
        ..ListFilter::default()
    };
    let ids = |page: crate::store::Page| page.items.iter().map(|a| a.id).collect::<Vec<_>>();
    let lapsed = service
        .list(&agent, &listed(Status::Lapsed), 10, None)
        .await;
    assert_eq!(ids(lapsed.unwrap()), [a.id]);
    let approved_now = service
        .list(&agent, &listed(Status::Approved), 10, None)
        .await;
    assert!(ids(approved_now.unwrap()).is_empty());

    // Executing it is refused, and writes nothing.
    let exec = Command::Execute {
        by: &agent,
        context_hash: Some(a.context_hash.clone()),
    };
    let closed = Refusal::ExecutionWindowClosed {
        execute_by: decided_at + TimeDelta::seconds(5),
    };
    match service.apply(&t, a.id, exec.clone()).await {
        Err(ServiceError::Refused(r)) => assert_eq!(r, closed),
        other => panic!("expected execution_window_closed, got {other:?}"),
    }
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.version),
        (Status::Approved, approved.version)
    );

    // The sweep finds it by its due time and records the lapse, once.
    let first = sweep(&service, &t).await;
    assert_eq!((first.lapsed, first.failed), (1, 0), "{first:?}");
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Lapsed);
    let records = store.audit(&t, a.id).await.unwrap();
    let events: Vec<_> = records.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            AuditEvent::Created,
            AuditEvent::Approved,
            AuditEvent::Lapsed
        ]
    );
    assert_eq!(records[2].actor, "holdpoint");
    let (_, verification) = service.audit(&agent, a.id).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    let second = sweep(&service, &t).await;
    assert_eq!(
        second.lapsed + second.expired + second.skipped,
        0,
        "{second:?}"
    );
    assert_eq!(
        store.get(&t, a.id).await.unwrap().unwrap().version,
        stored.version,
        "the second sweep changed nothing"
    );
    // Stored lapsed, executing it is refused the same way.
    match service.apply(&t, a.id, exec).await {
        Err(ServiceError::Refused(r)) => assert_eq!(r, closed),
        other => panic!("expected execution_window_closed, got {other:?}"),
    }
}

pub async fn extend_moves_the_deadline_within_the_latest_expiry(store: Arc<dyn Store>) {
    let t = tenant();
    let time = ManualClock::default();
    let service = service_on(&store, time.clock());
    let (agent, alice) = (principal(&t, "agent"), principal(&t, "alice"));
    let asked = request(&["alice".into()], json!({"expires_in_seconds": 60}));
    let (a, _) = service.create(&agent, asked, None).await.unwrap();

    // Past the latest expiry (creation plus the longest lifetime): refused, nothing written.
    let max = ExpiryBounds::default().max_seconds;
    match service.extend(&alice, a.id, max, None).await {
        Err(ServiceError::Refused(Refusal::PastLatestExpiry { latest_expiry })) => {
            assert_eq!(latest_expiry, a.created_at + TimeDelta::seconds(max.into()));
        }
        other => panic!("expected past the latest expiry, got {other:?}"),
    }
    // The requester may not keep its own request open.
    assert!(matches!(
        service.extend(&agent, a.id, 60, None).await,
        Err(ServiceError::Refused(Refusal::NotAReviewer))
    ));
    assert_eq!(store.get(&t, a.id).await.unwrap().unwrap().version, 1);

    let extended = service
        .extend(&alice, a.id, 120, Some("owner is away".into()))
        .await
        .unwrap();
    assert_eq!(extended.expires_at, a.expires_at + TimeDelta::seconds(120));
    assert_eq!(extended.status, Status::Pending);

    // Past the old deadline it still waits: the due index follows the new one.
    time.advance(TimeDelta::seconds(61));
    let report = sweep(&service, &t).await;
    assert_eq!(report.expired, 0, "{report:?}");
    assert_eq!(
        service.get(&agent, a.id).await.unwrap().status,
        Status::Pending
    );
    time.advance(TimeDelta::seconds(120));
    let report = sweep(&service, &t).await;
    assert_eq!(report.expired, 1, "{report:?}");

    let records = store.audit(&t, a.id).await.unwrap();
    let extension = records
        .iter()
        .find(|r| r.event == AuditEvent::Extended)
        .expect("an extension record");
    assert_eq!(extension.actor, "alice");
    let events: Vec<_> = records.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            AuditEvent::Created,
            AuditEvent::Extended,
            AuditEvent::Expired
        ]
    );
    let (_, verification) = service.audit(&agent, a.id).await.unwrap();
    assert!(verification.valid, "{verification:?}");
}
