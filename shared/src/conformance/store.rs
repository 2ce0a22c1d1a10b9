//! Scenarios of the store contract itself: create, get, list, compare-and-set, due, expiry
//! and a whole lifecycle (writers racing are in [`super::races`]).

use super::fixture::*;

pub async fn create_then_get(store: Arc<dyn Store>) {
    let t = tenant();
    let (a, r) = new_approval(&t, now());
    create_new(&*store, &a, &r).await;
    assert_eq!(store.get(&t, a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.get(&tenant(), a.id).await.unwrap(),
        None,
        "another tenant sees nothing"
    );
    assert!(store.audit(&tenant(), a.id).await.unwrap().is_empty());
    assert_eq!(store.get(&t, Uuid::new_v4()).await.unwrap(), None);
}

pub async fn create_is_create_if_absent(store: Arc<dyn Store>) {
    let t = tenant();
    let (a, r) = new_approval(&t, now());
    create_new(&*store, &a, &r).await;
    let mut again = a.clone();
    again.action = "something else".into();
    assert!(matches!(
        store.create(&again, &r, None).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(&t, a.id).await.unwrap().unwrap().action, a.action);
}

pub async fn idempotency_keys(store: Arc<dyn Store>) {
    let t = tenant();
    let key = |hash: &str| IdempotencyKey {
        key: "retry-1".into(),
        request_hash: hash.into(),
    };
    let (a, r) = new_approval(&t, now());
    assert!(matches!(
        store.create(&a, &r, Some(&key("h1"))).await,
        Ok(Created::New(_))
    ));
    let (b, rb) = new_approval(&t, now());
    match store.create(&b, &rb, Some(&key("h1"))).await {
        Ok(Created::Existing(existing)) => assert_eq!(existing.id, a.id),
        other => panic!("expected the first approval, got {other:?}"),
    }
    assert_eq!(
        store.get(&t, b.id).await.unwrap(),
        None,
        "the retry created nothing"
    );
    assert!(matches!(
        store.create(&b, &rb, Some(&key("h2"))).await,
        Err(StoreError::IdempotencyKeyReused)
    ));
    // Keys belong to a tenant: the same key elsewhere is a new request.
    let other = tenant();
    let (c, rc) = new_approval(&other, now());
    assert!(matches!(
        store.create(&c, &rc, Some(&key("h1"))).await,
        Ok(Created::New(_))
    ));
}

pub async fn transition_is_compare_and_set(store: Arc<dyn Store>) {
    let t = tenant();
    let (a, r) = new_approval(&t, now());
    create_new(&*store, &a, &r).await;
    let (next, record) = approve_next(&a, "alice", now());
    store.transition(1, &next, &record).await.unwrap();
    match store.transition(1, &next, &record).await {
        Err(StoreError::Conflict { current }) => {
            assert_eq!(current.version, 2);
            assert_eq!(current.status, Status::Approved);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A transition naming another tenant finds nothing to change.
    let mut foreign = next.clone();
    foreign.tenant = tenant();
    foreign.version = 3;
    assert!(store.transition(2, &foreign, &record).await.is_err());
    assert_eq!(store.get(&t, a.id).await.unwrap(), Some(next));
}

/// Both stores answer a stale version with `Conflict` and the stored approval, and refuse a
/// malformed transition (a skipped version, a record out of sequence or not the head the state
/// names) with `Internal`, before anything is written.
pub async fn transition_versions_and_sequences(store: Arc<dyn Store>) {
    let t = tenant();
    let (a, r) = new_approval(&t, now());
    create_new(&*store, &a, &r).await;
    let (next, record) = approve_next(&a, "alice", now());
    let mut skipped = next.clone();
    skipped.version = 3;
    let mut ahead = record.clone();
    ahead.sequence = 3;
    let mut headless = next.clone();
    headless.audit_head.hash = "0".repeat(64);
    for (what, n, rec) in [
        ("a skipped version", &skipped, &record),
        ("a record ahead of the chain", &next, &ahead),
        ("a record that is not the state's head", &headless, &record),
    ] {
        match store.transition(1, n, rec).await {
            Err(StoreError::Internal(_)) => {}
            other => panic!("{what}: expected Internal, got {other:?}"),
        }
    }
    assert_eq!(store.get(&t, a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.audit(&t, a.id).await.unwrap(), vec![r.clone()]);

    store.transition(1, &next, &record).await.unwrap();
    // Well-formed, but from version 1, which is no longer stored.
    let (stale, stale_record) = approve_next(&a, "alice", now());
    match store.transition(1, &stale, &stale_record).await {
        Err(StoreError::Conflict { current }) => assert_eq!(*current, next),
        other => panic!("a stale version: expected Conflict, got {other:?}"),
    }
    assert_eq!(store.audit(&t, a.id).await.unwrap(), vec![r, record]);
}

pub async fn transition_stores_the_audit_record_with_the_state(store: Arc<dyn Store>) {
    let t = tenant();
    let (a, r) = new_approval(&t, now());
    create_new(&*store, &a, &r).await;
    let (next, record) = approve_next(&a, "alice", now());
    store.transition(1, &next, &record).await.unwrap();
    let records = store.audit(&t, a.id).await.unwrap();
    assert_eq!(records, vec![r, record]);
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert!(audit::verify(&records, &stored.audit_head, test_key_by_id).valid);
}

pub async fn list_pages_newest_first(store: Arc<dyn Store>) {
    let t = tenant();
    let base = now() - TimeDelta::seconds(100);
    let mut ids = Vec::new();
    for i in 0..7 {
        let (a, r) = new_approval(&t, base + TimeDelta::seconds(i));
        create_new(&*store, &a, &r).await;
        ids.push(a.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list(&t, &ListFilter::default(), 3, cursor.as_ref(), now())
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|a| a.id));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ids, "every approval once, newest first");
    // A cursor from this tenant shows another tenant only its own (here: nothing).
    let first_cursor = store
        .list(&t, &ListFilter::default(), 3, None, now())
        .await
        .unwrap()
        .next;
    let other = store
        .list(
            &tenant(),
            &ListFilter::default(),
            3,
            first_cursor.as_ref(),
            now(),
        )
        .await
        .unwrap();
    assert!(other.items.is_empty() && other.next.is_none());
}

pub async fn list_filters(store: Arc<dyn Store>) {
    let t = tenant();
    let agent = principal(&t, "agent");
    let make = |reviewers: &[&str], extra| {
        let reviewers: Vec<String> = reviewers.iter().map(|s| s.to_string()).collect();
        let (mut a, r) = request(&reviewers, extra)
            .into_approval(
                &agent,
                &holdpoint_core::domain::request::Gate::open(),
                ExpiryBounds::default(),
                now(),
            )
            .unwrap();
        a.published_seq = 1;
        (a, r)
    };
    let (a, ra) = make(
        &["alice"],
        json!({"agent_id": "a1", "checkpoint_type": "pre_filing"}),
    );
    let (b, rb) = make(&["bob", "role:sre"], json!({"agent_id": "a2"}));
    let (c, rc) = make(
        &["alice"],
        json!({"agent_id": "a2", "expires_in_seconds": 60}),
    );
    for (x, r) in [(&a, &ra), (&b, &rb), (&c, &rc)] {
        create_new(&*store, x, r).await;
    }
    let (a2, r2) = approve_next(&a, "alice", now());
    store.transition(1, &a2, &r2).await.unwrap();

    let ids = |f: ListFilter, at: DateTime<Utc>| {
        let store = store.clone();
        let t = t.clone();
        async move {
            let mut ids: Vec<Uuid> = store
                .list(&t, &f, 100, None, at)
                .await
                .unwrap()
                .items
                .iter()
                .map(|x| x.id)
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    let status = |s| ListFilter {
        status: Some(s),
        ..Default::default()
    };
    assert_eq!(ids(status(Status::Approved), now()).await, vec![a.id]);
    assert_eq!(
        ids(status(Status::Pending), now()).await,
        sorted(vec![b.id, c.id])
    );
    let agent_a2 = ListFilter {
        agent_id: Some("a2".into()),
        ..Default::default()
    };
    assert_eq!(ids(agent_a2, now()).await, sorted(vec![b.id, c.id]));
    let reviewer = ListFilter {
        reviewer: Some("role:sre".into()),
        ..Default::default()
    };
    assert_eq!(ids(reviewer, now()).await, vec![b.id]);
    let checkpoint = ListFilter {
        checkpoint_type: Some("pre_filing".into()),
        ..Default::default()
    };
    assert_eq!(ids(checkpoint, now()).await, vec![a.id]);
    // Lazy expiry: seen two minutes later, c is expired, not pending.
    let later = now() + TimeDelta::seconds(120);
    assert_eq!(ids(status(Status::Pending), later).await, vec![b.id]);
    assert_eq!(ids(status(Status::Expired), later).await, vec![c.id]);
}

pub async fn due_holds_only_pending_past_deadline(store: Arc<dyn Store>) {
    let t = tenant();
    let past = now() - TimeDelta::seconds(3_600);
    let (due, r1) = new_approval(&t, past);
    let (decided, r2) = new_approval(&t, past);
    let (future, r3) = new_approval(&t, now());
    for (a, r) in [(&due, &r1), (&decided, &r2), (&future, &r3)] {
        create_new(&*store, a, r).await;
    }
    let (d2, rd) = approve_next(&decided, "alice", past + TimeDelta::seconds(1));
    store.transition(1, &d2, &rd).await.unwrap();
    let found: Vec<Uuid> = store
        .due(now(), 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.tenant == t)
        .map(|a| a.id)
        .collect();
    assert_eq!(found, vec![due.id]);
}

pub async fn lifecycle_end_to_end(store: Arc<dyn Store>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let agent = principal(&t, "agent");
    let (a, created) = service
        .create(
            &agent,
            request(&["alice".into()], json!({})),
            Some(("k", b"body")),
        )
        .await
        .unwrap();
    assert!(created);
    let (again, created) = service
        .create(
            &agent,
            request(&["alice".into()], json!({})),
            Some(("k", b"body")),
        )
        .await
        .unwrap();
    assert_eq!((again.id, created), (a.id, false));
    let alice = principal(&t, "alice");
    let decide = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: Some("ok".into()),
        modified_output: None,
    };
    let approved = service.apply(&t, a.id, decide.clone()).await.unwrap();
    assert_eq!(approved.status, Status::Approved);
    let repeat = service.apply(&t, a.id, decide).await.unwrap();
    assert_eq!(repeat.version, approved.version, "a repeat changes nothing");
    let exec = Command::Execute {
        by: &agent,
        context_hash: Some(a.context_hash.clone()),
    };
    let done = service.apply(&t, a.id, exec.clone()).await.unwrap();
    assert_eq!(done.status, Status::Executed);
    assert!(matches!(
        service.apply(&t, a.id, exec).await,
        Err(ServiceError::Refused(Refusal::Conflict {
            current_status: Status::Executed,
            ..
        }))
    ));
    let (records, verification) = service.audit(&agent, a.id).await.unwrap();
    let events: Vec<_> = records.iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            AuditEvent::Created,
            AuditEvent::Approved,
            AuditEvent::Executed
        ]
    );
    assert!(verification.valid);
    // Another tenant cannot see, decide or audit it.
    let stranger = principal(&tenant(), "alice");
    assert!(matches!(
        service.get(&stranger, a.id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        service.audit(&stranger, a.id).await,
        Err(ServiceError::NotFound)
    ));
}

pub async fn sweep_expires_due_approvals(store: Arc<dyn Store>) {
    let t = tenant();
    let time = ManualClock::default();
    let service = service_on(&store, time.clock());
    let agent = principal(&t, "agent");
    let short = request(&["alice".into()], json!({"expires_in_seconds": 60}));
    let (a, _) = service.create(&agent, short, None).await.unwrap();
    let long = request(&["alice".into()], json!({"expires_in_seconds": 3_600}));
    let (b, _) = service.create(&agent, long, None).await.unwrap();
    time.advance(TimeDelta::seconds(61));
    let report = service.sweep().await.unwrap();
    assert!(report.expired >= 1);
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Expired);
    assert_eq!(
        store.get(&t, b.id).await.unwrap().unwrap().status,
        Status::Pending
    );
    let records = store.audit(&t, a.id).await.unwrap();
    assert_eq!(records.last().map(|r| r.event), Some(AuditEvent::Expired));
    assert!(audit::verify(&records, &stored.audit_head, test_key_by_id).valid);
}

pub async fn lazy_expiry_is_stored_on_write(store: Arc<dyn Store>) {
    let t = tenant();
    let time = ManualClock::default();
    let service = service_on(&store, time.clock());
    let short = request(&["alice".into()], json!({"expires_in_seconds": 60}));
    let (a, _) = service
        .create(&principal(&t, "agent"), short, None)
        .await
        .unwrap();
    time.advance(TimeDelta::seconds(60));
    // Read: expired at once, before any sweep.
    let seen = service.get(&principal(&t, "alice"), a.id).await.unwrap();
    assert_eq!(seen.status, Status::Expired);
    let alice = principal(&t, "alice");
    let cmd = approve(&alice);
    assert!(matches!(
        service.apply(&t, a.id, cmd).await,
        Err(ServiceError::Refused(Refusal::Conflict {
            current_status: Status::Expired,
            ..
        }))
    ));
    assert_eq!(
        store.get(&t, a.id).await.unwrap().unwrap().status,
        Status::Expired
    );
}
