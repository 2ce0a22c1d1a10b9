//! Scenarios of writers racing: many decisions, many raw writes, many votes at once.

use super::fixture::*;

fn reviewers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("reviewer-{i}")).collect()
}

pub async fn fifty_concurrent_decisions_one_winner(store: Arc<dyn Store>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let agent = principal(&t, "agent");
    let (a, _) = service
        .create(&agent, request(&reviewers(50), json!({})), None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (i, name) in reviewers(50).into_iter().enumerate() {
        let (service, t) = (service.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let p = principal(&t, &name);
            let (verdict, comment) = if i % 2 == 0 {
                (Verdict::Approved, None)
            } else {
                (Verdict::Rejected, Some("no".to_string()))
            };
            let cmd = Command::Decide {
                by: &p,
                verdict,
                comment,
                modified_output: None,
            };
            service.apply(&t, a.id, cmd).await
        }));
    }
    let (mut wins, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(ServiceError::Refused(Refusal::Conflict { decided_by, .. })) => {
                assert!(decided_by.is_some());
                conflicts += 1;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 49));
    let records = store.audit(&t, a.id).await.unwrap();
    let decisions = records
        .iter()
        .filter(|r| matches!(r.event, AuditEvent::Approved | AuditEvent::Rejected))
        .count();
    assert_eq!((records.len(), decisions), (2, 1));
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert!(audit::verify(&records, &stored.audit_head, test_key_by_id).valid);
}

pub async fn fifty_concurrent_store_writes_one_winner(store: Arc<dyn Store>) {
    let t = tenant();
    let (a, r) = new_approval(&t, now());
    create_new(&*store, &a, &r).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (store, a) = (store.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            let (next, record) = approve_next(&a, "alice", now() + TimeDelta::milliseconds(i));
            store.transition(1, &next, &record).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict { current }) => assert_eq!(current.version, 2),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.audit(&t, a.id).await.unwrap().len(), 2);
}

pub async fn concurrent_quorum_approvals_all_count(store: Arc<dyn Store>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let (a, _) = service
        .create(
            &principal(&t, "agent"),
            request(&reviewers(5), json!({"quorum": 5})),
            None,
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for name in reviewers(5) {
        let (service, t) = (service.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let p = principal(&t, &name);
            let cmd = approve(&p);
            service.apply(&t, a.id, cmd).await
        }));
    }
    for task in tasks {
        task.await.unwrap().expect("every approval counts");
    }
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.approvals.len()),
        (Status::Approved, 5)
    );
    assert_eq!(store.audit(&t, a.id).await.unwrap().len(), 6);
}

/// Forty reviewers approve at once an approval needing twenty: no vote is refused for being
/// concurrent (no `Unavailable`); the first twenty count, the rest find it approved (409).
pub async fn forty_concurrent_votes_on_quorum_twenty_all_answer(store: Arc<dyn Store>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let (a, _) = service
        .create(
            &principal(&t, "agent"),
            request(&reviewers(40), json!({"quorum": 20})),
            None,
        )
        .await
        .unwrap();
    let votes = reviewers(40).into_iter().map(|name| {
        let (service, t) = (service.clone(), t.clone());
        tokio::spawn(async move {
            let p = principal(&t, &name);
            service.apply(&t, a.id, approve(&p)).await
        })
    });
    let (mut counted, mut too_late) = (0, 0);
    for answer in futures_util::future::join_all(votes).await {
        match answer.unwrap() {
            Ok(_) => counted += 1,
            Err(ServiceError::Refused(Refusal::Conflict { current_status, .. })) => {
                assert_eq!(
                    current_status,
                    Status::Approved,
                    "only a decided approval refuses a vote"
                );
                too_late += 1;
            }
            Err(e) => panic!("a concurrent vote was refused: {e}"),
        }
    }
    assert!(counted >= 20, "{counted} votes answered Ok");
    assert_eq!(counted + too_late, 40);
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.approvals.len()),
        (Status::Approved, 20)
    );
    assert_eq!(store.audit(&t, a.id).await.unwrap().len(), 21);
}
