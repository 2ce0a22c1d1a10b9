//! Deliveries on PostgreSQL: the delivery log's contract, and the queue several instances share.
//! Reading the queue claims what it answers: two instances never get one delivery at once, a
//! thousand due deliveries read by three instances are each taken once, a crashed instance's
//! claims are taken over once their lease ends (not before), and saving releases a claim. Run
//! under `infra/with-postgres.sh`.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use holdpoint::delivery::{Channel, Delivery, DeliveryLog, DeliveryStatus, Message, Outcome};
use holdpoint::postgres::deliveries::{DUE, DUE_MESSAGES, PgDeliveries};
use holdpoint::postgres::{Migrate, Pg};
use holdpoint::store::StoreError;
use holdpoint_core::retry::RetryPolicy;
use holdpoint_core::time::truncate_millis;
use holdpoint_tests::postgres::{database, fresh_database, pg};
use uuid::Uuid;

#[path = "postgres_deliveries/notifiers.rs"]
mod notifiers;

async fn fresh() -> Arc<dyn DeliveryLog> {
    Arc::new(PgDeliveries::new(pg().await))
}

holdpoint::deliveries_suite!(fresh());

/// A database of its own: the queue is every tenant's, so claims are counted on a queue no
/// other test fills.
async fn own_database() -> Pg {
    Pg::connect(&database(&fresh_database().await, 8), Migrate::Apply)
        .await
        .expect("connect to a fresh database")
}

/// Pending delivery `n` on `channel`, due at `due`.
fn pending(tenant: &str, n: usize, channel: Channel, due: DateTime<Utc>) -> Delivery {
    let due = truncate_millis(due);
    Delivery {
        id: format!("e{n}.{}.agent", channel.as_str()),
        tenant: tenant.into(),
        approval_id: Uuid::new_v4(),
        event_id: format!("e{n}"),
        event_type: "approval.approved".into(),
        channel,
        recipient: "agent".into(),
        target: "https://agent.example/cb".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: due,
        next_attempt_at: due,
        last_attempt_at: None,
        delivered_at: None,
        last_error: None,
        last_status: None,
        message: Some(Message::Webhook { body: "{}".into() }),
        receipt: None,
    }
}

fn due_now(n: usize) -> Vec<Delivery> {
    let at = Utc::now() - TimeDelta::seconds(5);
    (0..n)
        .map(|i| {
            pending(
                "t",
                i,
                Channel::Callback,
                at + TimeDelta::milliseconds(i as i64),
            )
        })
        .collect()
}

fn ids(ds: &[Delivery]) -> HashSet<String> {
    ds.iter().map(|d| d.id.clone()).collect()
}

/// Another process on the same database.
fn instance(pg: &Pg) -> PgDeliveries {
    PgDeliveries::new(pg.as_instance(Uuid::new_v4()))
}

/// Who holds the claim on `id`, and until when (Unix ms).
async fn claim_of(pg: &Pg, id: &str) -> (Option<String>, Option<i64>) {
    let row = pg
        .conn()
        .await
        .unwrap()
        .query_one(
            "SELECT claimed_by::text, claimed_until FROM deliveries WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_reading_at_once_never_get_the_same_delivery() {
    let pg = own_database().await;
    let log = PgDeliveries::new(pg.clone());
    for round in 0..20 {
        let batch: Vec<Delivery> = due_now(100)
            .into_iter()
            .map(|mut d| {
                d.id = format!("r{round}.{}", d.id);
                d
            })
            .collect();
        log.enqueue(&batch).await.unwrap();
        // New processes each round: the rounds before are claimed by others, live.
        let (a, b) = (instance(&pg), instance(&pg));
        let now = Utc::now();
        let (got_a, got_b) = tokio::join!(a.due(now, 80), b.due(now, 80));
        let (got_a, got_b) = (ids(&got_a.unwrap()), ids(&got_b.unwrap()));
        assert!(
            got_a.is_disjoint(&got_b),
            "round {round}: both got {:?}",
            got_a.intersection(&got_b).collect::<Vec<_>>()
        );
        let both: HashSet<_> = got_a.union(&got_b).cloned().collect();
        assert_eq!(both, ids(&batch), "round {round}: every due delivery taken");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_due_deliveries_read_by_three_instances_are_each_taken_once() {
    let pg = own_database().await;
    let all = due_now(1000);
    PgDeliveries::new(pg.clone()).enqueue(&all).await.unwrap();
    let workers = (0..3).map(|_| {
        let log = instance(&pg);
        tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let due = log.due(Utc::now(), 64).await.unwrap();
                if due.is_empty() {
                    return taken;
                }
                for mut d in due {
                    taken.push(d.id.clone());
                    let delivered = Outcome::Delivered {
                        status: Some(200),
                        receipt: None,
                    };
                    d.record(delivered, Utc::now(), &RetryPolicy::default());
                    log.save(&d).await.unwrap();
                }
            }
        })
    });
    let mut seen = HashSet::new();
    let mut split = Vec::new();
    for w in workers.collect::<Vec<_>>() {
        let taken = w.await.unwrap();
        split.push(taken.len());
        for id in taken {
            assert!(seen.insert(id.clone()), "{id} taken twice");
        }
    }
    println!("taken by each instance: {split:?}");
    assert_eq!(seen, ids(&all), "each taken");
}

#[tokio::test]
async fn a_crashed_instances_claim_is_taken_over_after_its_lease_and_not_before() {
    let pg = own_database().await;
    let d = due_now(1);
    PgDeliveries::new(pg.clone()).enqueue(&d).await.unwrap();
    let lease = TimeDelta::milliseconds(1500);
    let crashed = PgDeliveries::new(pg.as_instance(Uuid::new_v4()).with_lease(lease));
    let claimed_at = Utc::now();
    assert_eq!(ids(&crashed.due(Utc::now(), 10).await.unwrap()), ids(&d));
    // The crashed instance never saves: its claim is all that is left of it.
    let other = instance(&pg);
    assert!(other.due(Utc::now(), 10).await.unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        other.due(Utc::now(), 10).await.unwrap().is_empty(),
        "taken while the claim lives"
    );
    let lapsed = claimed_at + lease + TimeDelta::milliseconds(100);
    tokio::time::sleep((lapsed - Utc::now()).to_std().unwrap_or_default()).await;
    assert_eq!(
        ids(&other.due(Utc::now(), 10).await.unwrap()),
        ids(&d),
        "taken over once the lease ended"
    );
    assert!(
        crashed.due(Utc::now(), 10).await.unwrap().is_empty(),
        "now another's, live"
    );
}

#[tokio::test]
async fn saving_releases_the_claim() {
    let pg = own_database().await;
    let mut d = due_now(1).remove(0);
    PgDeliveries::new(pg.clone())
        .enqueue(std::slice::from_ref(&d))
        .await
        .unwrap();
    let (a, b) = (instance(&pg), instance(&pg));
    // Claimed by the wall clock, not by the `now` asked about (a test's clock, an hour on).
    let wall = Utc::now();
    assert_eq!(
        a.due(wall + TimeDelta::hours(1), 10).await.unwrap(),
        [d.clone()]
    );
    let (by, until) = claim_of(&pg, &d.id).await;
    assert!(by.is_some());
    let until = until.unwrap();
    let expected = (wall + pg.lease()).timestamp_millis();
    assert!((until - expected).abs() < 5_000, "{until} vs {expected}");
    assert!(b.due(Utc::now(), 10).await.unwrap().is_empty());
    assert_eq!(
        a.due(Utc::now(), 10).await.unwrap(),
        [d.clone()],
        "its own stay its own"
    );
    let failed_once = Outcome::Retry {
        error: "answered 503".into(),
        status: Some(503),
        retry_after: None,
    };
    d.record(failed_once, Utc::now(), &RetryPolicy::default());
    a.save(&d).await.unwrap();
    assert_eq!(claim_of(&pg, &d.id).await, (None, None));
    let later = d.next_attempt_at + TimeDelta::milliseconds(1);
    assert!(
        b.due(Utc::now() - TimeDelta::seconds(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    assert_eq!(ids(&b.due(later, 10).await.unwrap()), ids(&[d]), "released");
}

/// What a worker read but does not start now (its slots are full) is let go at once, so
/// another instance sends it; a claim another instance holds is not let go by this one.
#[tokio::test]
async fn letting_go_of_unstarted_deliveries_hands_them_to_another_instance() {
    let pg = own_database().await;
    let queued = due_now(3);
    PgDeliveries::new(pg.clone())
        .enqueue(&queued)
        .await
        .unwrap();
    let (a, b) = (instance(&pg), instance(&pg));
    assert_eq!(a.due(Utc::now(), 10).await.unwrap().len(), 3);
    assert!(
        b.due(Utc::now(), 10).await.unwrap().is_empty(),
        "a holds all three"
    );
    let unstarted = vec![queued[1].id.clone(), queued[2].id.clone()];
    // b cannot let go of a's claims.
    b.release(&unstarted).await.unwrap();
    assert!(b.due(Utc::now(), 10).await.unwrap().is_empty());
    a.release(&unstarted).await.unwrap();
    assert_eq!(
        ids(&b.due(Utc::now(), 10).await.unwrap()),
        ids(&queued[1..]),
        "b takes what a let go"
    );
    assert!(
        claim_of(&pg, &queued[0].id).await.0.is_some(),
        "a keeps the one it started"
    );
    a.release(&[]).await.unwrap();
}

#[tokio::test]
async fn reading_reviewers_messages_neither_answers_nor_claims_callbacks() {
    let pg = own_database().await;
    let at = Utc::now() - TimeDelta::seconds(5);
    let callbacks: Vec<_> = (0..300)
        .map(|n| pending("t", n, Channel::Callback, at))
        .collect();
    let webhook = pending("t", 999, Channel::Webhook, at + TimeDelta::seconds(1));
    let log = PgDeliveries::new(pg.clone());
    log.enqueue(&callbacks).await.unwrap();
    log.enqueue(std::slice::from_ref(&webhook)).await.unwrap();
    let me = instance(&pg);
    assert_eq!(
        me.due_messages(Utc::now(), 64).await.unwrap(),
        std::slice::from_ref(&webhook)
    );
    let all = instance(&pg).due(Utc::now(), 1000).await.unwrap();
    assert_eq!(
        ids(&all),
        ids(&callbacks),
        "the callbacks are still anyone's"
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].next_attempt_at <= w[1].next_attempt_at),
        "oldest first"
    );
}

#[tokio::test]
async fn enqueue_keeps_what_is_kept_and_one_of_twins() {
    let pg = own_database().await;
    let log = PgDeliveries::new(pg.clone());
    let d = due_now(1).remove(0);
    let mut twin = d.clone();
    twin.target = "https://elsewhere.example/cb".into();
    log.enqueue(&[d.clone(), twin.clone()]).await.unwrap();
    log.enqueue(std::slice::from_ref(&twin)).await.unwrap();
    log.enqueue(&[]).await.unwrap();
    assert_eq!(log.get("t", d.approval_id, &d.id).await.unwrap(), Some(d));
}

/// An attacker with the database who moves a delivery's body under another row (to send one
/// tenant's message as another's) is refused on reading, not obeyed.
#[tokio::test]
async fn a_row_holding_another_deliverys_body_is_refused() {
    let pg = own_database().await;
    let log = PgDeliveries::new(pg.clone());
    let mut theirs = due_now(2);
    theirs[1].tenant = "victim".into();
    log.enqueue(&theirs).await.unwrap();
    pg.conn()
        .await
        .unwrap()
        .execute(
            "UPDATE deliveries SET body = (SELECT body FROM deliveries WHERE id = $2) \
             WHERE id = $1",
            &[&theirs[1].id, &theirs[0].id],
        )
        .await
        .unwrap();
    let got = log
        .get("victim", theirs[1].approval_id, &theirs[1].id)
        .await;
    assert!(matches!(got, Err(StoreError::Integrity { .. })), "{got:?}");
    // The queue goes on without it: the sound delivery is sent, the altered one never.
    let due = log.due(Utc::now(), 10).await.unwrap();
    assert_eq!(ids(&due), ids(&theirs[..1]), "{due:?}");
}

/// An attempt that outlived its lease must not undo what the instance that took the delivery
/// over recorded: its save lands only on a pending delivery no other instance holds.
#[tokio::test]
async fn a_save_after_the_lease_does_not_undo_the_instance_that_took_over() {
    let pg = own_database().await;
    let queued = due_now(1);
    PgDeliveries::new(pg.clone())
        .enqueue(&queued)
        .await
        .unwrap();
    let slow = PgDeliveries::new(
        pg.as_instance(Uuid::new_v4())
            .with_lease(TimeDelta::milliseconds(300)),
    );
    let other = instance(&pg);
    let mut mine = slow.due(Utc::now(), 10).await.unwrap().remove(0);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut theirs = other.due(Utc::now(), 10).await.unwrap().remove(0);
    // While the other holds it, the slow instance's late result is not recorded.
    mine.record(
        Outcome::Retry {
            error: "timed out".into(),
            status: None,
            retry_after: None,
        },
        Utc::now(),
        &RetryPolicy::default(),
    );
    slow.save(&mine).await.unwrap();
    assert!(
        claim_of(&pg, &queued[0].id).await.0.is_some(),
        "the other's claim stands"
    );
    theirs.record(
        Outcome::Delivered {
            status: Some(200),
            receipt: None,
        },
        Utc::now(),
        &RetryPolicy::default(),
    );
    other.save(&theirs).await.unwrap();
    // Nor once it is delivered: a late failure does not make it pending (sent again).
    slow.save(&mine).await.unwrap();
    let kept = other
        .get("t", queued[0].approval_id, &queued[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, DeliveryStatus::Delivered);
}

/// The queue is read by its partial indexes, not by a walk of every delivery ever kept.
#[tokio::test]
async fn the_queue_is_read_by_its_partial_indexes() {
    let pg = own_database().await;
    let log = PgDeliveries::new(pg.clone());
    let at = Utc::now() - TimeDelta::days(1);
    let over: Vec<_> = (0..5000)
        .map(|n| {
            let mut d = pending("t", n, Channel::Webhook, at);
            d.skip("over", at);
            d
        })
        .collect();
    log.enqueue(&over).await.unwrap();
    let mut due = due_now(50);
    for d in due.iter_mut().step_by(2) {
        d.channel = Channel::Email;
        d.id = format!("{}.mail", d.id);
    }
    log.enqueue(&due).await.unwrap();
    let conn = pg.conn().await.unwrap();
    conn.batch_execute("ANALYZE deliveries").await.unwrap();
    for (sql, index) in [
        (DUE, "deliveries_due"),
        (DUE_MESSAGES, "deliveries_due_messages"),
    ] {
        let me = Uuid::new_v4().to_string();
        let plan: Vec<String> = conn
            .query(
                &format!("EXPLAIN (COSTS OFF) {sql}"),
                &[&Utc::now().timestamp_millis(), &64i64, &me, &0i64, &0i64],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        println!("{index}:\n{plan}\n");
        assert!(
            plan.contains(&format!("Index Scan using {index} on deliveries")),
            "{plan}"
        );
    }
}
