//! How many requests each path sends to DynamoDB, counted on the wire by an SDK interceptor.

use std::collections::BTreeMap;
use std::sync::Arc;

use holdpoint::service::Service;
use holdpoint::store::{ListFilter, Store, StoreError};
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::lifecycle::{self, Command, Outcome};
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::time::Clock;
use holdpoint_tests::RequestCounter;
use holdpoint_tests::acme as who;

fn request() -> CreateRequest {
    serde_json::from_value(serde_json::json!({
        "action": "Refund order 1234",
        "agent_id": "billing-agent",
        "reviewers": ["alice", "bob"],
        "context": {"order": 1234, "amount": "49.90"},
    }))
    .unwrap()
}

fn counted(counter: &RequestCounter) -> BTreeMap<String, usize> {
    let counts = counter.counts();
    counter.reset();
    counts
}

fn once(op: &str) -> BTreeMap<String, usize> {
    BTreeMap::from([(op.to_owned(), 1)])
}

#[tokio::test]
async fn each_path_makes_the_fewest_round_trips() {
    let (store, counter) = holdpoint_tests::fresh_store().await;
    let store = Arc::new(store);
    let service = Service::new(
        store.clone(),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let (agent, alice) = (who("agent"), who("alice"));

    let (a, _) = service.create(&agent, request(), None).await.unwrap();
    assert_eq!(counted(&counter), once("TransactWriteItems"), "create");
    service
        .create(&agent, request(), Some(("k1", b"body")))
        .await
        .unwrap();
    assert_eq!(
        counted(&counter),
        once("TransactWriteItems"),
        "create with a key"
    );
    let (replayed, created) = service
        .create(&agent, request(), Some(("k1", b"body")))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(
        counted(&counter),
        BTreeMap::from([
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]),
        "a replayed key answers the approval as it is now: one more read"
    );
    assert_ne!(replayed.id, a.id);

    service.get(&agent, a.id).await.unwrap();
    assert_eq!(counted(&counter), once("GetItem"), "get");

    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = service
            .list(&agent, &ListFilter::default(), 1, cursor.as_ref())
            .await
            .unwrap();
        pages += 1;
        assert_eq!(
            counted(&counter),
            BTreeMap::from([("BatchGetItem".to_owned(), 1), ("Query".to_owned(), 1)]),
            "list: a query of the keys-only index, then the page's approvals by key"
        );
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(pages >= 2);

    let decide = |by| Command::Decide {
        by,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    service.apply("acme", a.id, decide(&alice)).await.unwrap();
    assert_eq!(
        counted(&counter),
        BTreeMap::from([
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]),
        "decide: read the rules' inputs and the chain head, then one transaction"
    );
    let bob = who("bob");
    assert!(service.apply("acme", a.id, decide(&bob)).await.is_err());
    assert_eq!(
        counted(&counter),
        once("GetItem"),
        "deciding a decided approval writes nothing"
    );

    // A lost race: the cancellation reason carries the winner's item, so no extra read.
    let (b, _) = service.create(&agent, request(), None).await.unwrap();
    counter.reset();
    let stale = store.get("acme", b.id).await.unwrap().unwrap();
    service.apply("acme", b.id, decide(&alice)).await.unwrap();
    counter.reset();
    let Ok(Outcome::Changed(next, record)) =
        lifecycle::apply(&stale, decide(&bob), Clock::system().now())
    else {
        panic!("bob could decide the stale copy");
    };
    match store.transition(stale.version, &next, &record).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current.decided_by(), Some("alice")),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(counted(&counter), once("TransactWriteItems"), "conflict");
}

#[tokio::test]
async fn the_sweep_reads_the_due_approvals_not_the_table() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let now = chrono::Utc::now();
    let approvals = holdpoint_tests::pending_approvals(5_000, 50, now);
    holdpoint_tests::seed(&store, &approvals).await;
    let (due, read) = store.due_with_items_read(now, 1_000).await.unwrap();
    println!(
        "sweep over 5000 pending approvals, 50 due: found {}, items read {read}",
        due.len()
    );
    assert_eq!(due.len(), 50);
    assert!(read <= 60, "read {read} items to find 50");
    let mut ids: Vec<_> = due.iter().map(|a| a.id).collect();
    ids.sort();
    let mut expected: Vec<_> = approvals[..50].iter().map(|a| a.id).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn with_events_each_change_adds_one_conditional_update_to_mark_them_published() {
    let (store, counter) = holdpoint_tests::fresh_store().await;
    let sink = Arc::new(holdpoint::conformance::RecordingSink::default());
    let service = Service::new(
        Arc::new(store),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_events(sink.clone(), "https://holdpoint.example");
    let (agent, alice) = (who("agent"), who("alice"));
    let (a, _) = service.create(&agent, request(), None).await.unwrap();
    assert_eq!(
        counted(&counter),
        BTreeMap::from([
            ("TransactWriteItems".to_owned(), 1),
            ("UpdateItem".to_owned(), 1)
        ]),
        "create: the transaction, then the published mark"
    );
    let decide = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    service.apply("acme", a.id, decide).await.unwrap();
    assert_eq!(
        counted(&counter),
        BTreeMap::from([
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1),
            ("UpdateItem".to_owned(), 1)
        ]),
        "decide: read, transaction, published mark"
    );
    assert_eq!(sink.arrived(a.id).len(), 2);
}

#[tokio::test]
async fn a_review_link_opens_in_one_read_and_decides_in_one_read_and_one_write() {
    let (store, counter) = holdpoint_tests::fresh_store().await;
    let service = Service::new(
        Arc::new(store),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let (a, _) = service
        .create(&who("agent"), request(), None)
        .await
        .unwrap();
    let links = service.review_links(&a, "https://hp.test").await.unwrap();
    let token = |reviewer: &str| {
        let url = &links.iter().find(|(r, _)| r == reviewer).unwrap().1;
        url.split("token=").nth(1).unwrap().to_owned()
    };
    counter.reset();

    let opened = service.open_review(a.id, &token("alice")).await.unwrap();
    assert_eq!(opened.claims.reviewer, "alice");
    assert_eq!(counted(&counter), once("GetItem"), "a page view");

    let done = service
        .decide_by_link(a.id, &token("alice"), Verdict::Approved, None, None)
        .await
        .unwrap();
    assert_eq!(done.decided_by(), Some("alice"));
    assert_eq!(
        counted(&counter),
        BTreeMap::from([
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]),
        "a decision by link, as on the API path"
    );

    // Bob comes too late: the refusal says who decided and when, with no further read.
    let late = service
        .decide_by_link(a.id, &token("bob"), Verdict::Approved, None, None)
        .await;
    match late {
        Err(holdpoint::service::ServiceError::Refused(lifecycle::Refusal::Conflict {
            decided_by,
            decided_at,
            ..
        })) => {
            assert_eq!(decided_by.as_deref(), Some("alice"));
            assert!(decided_at.is_some());
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        counted(&counter),
        once("GetItem"),
        "a late decision by link"
    );
}
