//! The checkpoint log's contract, the same for every backend ([`crate::checkpoint_suite!`]):
//! what moved, appending without ever overwriting, and reading back what was kept.

use super::fixture::*;
use crate::store::checkpoints::{CheckpointLog, MAX_HEADS};
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead, LocalSigner};

/// Expands to one `#[tokio::test]` per checkpoint scenario; `$make` is an async expression
/// giving an `Arc` of a store that is both a [`Store`] and a [`CheckpointLog`].
#[macro_export]
macro_rules! checkpoint_suite {
    ($make:expr) => {
        $crate::checkpoint_suite!(@tests $make;
            creates_and_transitions_make_approvals_moved, append_clears_what_it_recorded,
            an_approval_moved_again_stays_moved, a_taken_checkpoint_is_refused_with_nothing_written,
            a_checkpoint_off_the_chain_is_refused, since_latest_and_covering_answer_in_order,
            checkpoints_stay_in_their_tenant, a_checkpoint_of_many_heads_covers_each);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = $make.await;
                $crate::conformance::checkpoints::$name(store.clone(), store).await;
            }
        )*
    };
}

/// Heads of `tenant`'s moved approvals, in approval id order; each listed once.
async fn moved_in(log: &dyn CheckpointLog, tenant: &str) -> Vec<CheckpointHead> {
    let mut heads: Vec<_> = log
        .moved(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.tenant == tenant)
        .map(|m| m.head)
        .collect();
    heads.sort_by_key(|h| h.approval_id);
    let mut once = heads.clone();
    once.dedup_by_key(|h| h.approval_id);
    assert_eq!(once, heads, "each moved approval is listed once");
    heads
}

fn head(a: &Approval) -> CheckpointHead {
    CheckpointHead::of(a.id, &a.audit_head)
}

fn sorted(mut heads: Vec<CheckpointHead>) -> Vec<CheckpointHead> {
    heads.sort_by_key(|h| h.approval_id);
    heads
}

/// The signed checkpoint after `prev`, recording `heads`.
async fn next(prev: Option<&Checkpoint>, tenant: &str, heads: Vec<CheckpointHead>) -> Checkpoint {
    Checkpoint::signed(prev, tenant, now(), heads, &LocalSigner::generate())
        .await
        .unwrap()
}

async fn created(store: &dyn Store, tenant: &str) -> Approval {
    let (a, r) = new_approval(tenant, now());
    create_new(store, &a, &r).await;
    a
}

async fn approved(store: &dyn Store, a: &Approval) -> Approval {
    let (next, record) = approve_next(a, "alice", now());
    store.transition(a.version, &next, &record).await.unwrap();
    next
}

pub async fn creates_and_transitions_make_approvals_moved(
    store: Arc<dyn Store>,
    log: Arc<dyn CheckpointLog>,
) {
    let t = tenant();
    assert!(moved_in(&*log, &t).await.is_empty());
    let a = created(&*store, &t).await;
    let b = created(&*store, &t).await;
    assert_eq!(moved_in(&*log, &t).await, sorted(vec![head(&a), head(&b)]));
    let a2 = approved(&*store, &a).await;
    assert_eq!(a2.audit_head.sequence, 2);
    assert_eq!(
        moved_in(&*log, &t).await,
        sorted(vec![head(&a2), head(&b)]),
        "the current head, once"
    );
    // `limit` bounds the answer.
    assert_eq!(log.moved(1).await.unwrap().len(), 1);
}

pub async fn append_clears_what_it_recorded(store: Arc<dyn Store>, log: Arc<dyn CheckpointLog>) {
    let t = tenant();
    let a = created(&*store, &t).await;
    let b = created(&*store, &t).await;
    assert_eq!(log.latest(&t).await.unwrap(), None);
    let first = next(None, &t, moved_in(&*log, &t).await).await;
    log.append(&first).await.unwrap();
    assert!(moved_in(&*log, &t).await.is_empty());
    assert_eq!(log.latest(&t).await.unwrap(), Some(first.clone()));
    assert_eq!(log.covering(&t, a.id).await.unwrap(), [(1, head(&a))]);
    assert_eq!(log.covering(&t, b.id).await.unwrap(), [(1, head(&b))]);
    // A change after it makes the approval moved again, and the next checkpoint covers it.
    let b2 = approved(&*store, &b).await;
    assert_eq!(moved_in(&*log, &t).await, [head(&b2)]);
    let second = next(Some(&first), &t, vec![head(&b2)]).await;
    log.append(&second).await.unwrap();
    assert!(moved_in(&*log, &t).await.is_empty());
    assert_eq!(
        log.covering(&t, b.id).await.unwrap(),
        [(1, head(&b)), (2, head(&b2))]
    );
}

pub async fn an_approval_moved_again_stays_moved(
    store: Arc<dyn Store>,
    log: Arc<dyn CheckpointLog>,
) {
    let t = tenant();
    let a = created(&*store, &t).await;
    let read = moved_in(&*log, &t).await;
    assert_eq!(read, [head(&a)]);
    // Between the writer's read and its append, the approval moves on.
    let a2 = approved(&*store, &a).await;
    let first = next(None, &t, read).await;
    log.append(&first).await.unwrap();
    assert_eq!(moved_in(&*log, &t).await, [head(&a2)], "not lost");
    assert_eq!(log.covering(&t, a.id).await.unwrap(), [(1, head(&a))]);
}

pub async fn a_taken_checkpoint_is_refused_with_nothing_written(
    store: Arc<dyn Store>,
    log: Arc<dyn CheckpointLog>,
) {
    let t = tenant();
    let a = created(&*store, &t).await;
    let first = next(None, &t, vec![head(&a)]).await;
    log.append(&first).await.unwrap();
    // A second writer, racing the first from the same (empty) chain, records another approval.
    let b = created(&*store, &t).await;
    let rival = next(None, &t, vec![head(&b)]).await;
    match log.append(&rival).await {
        Err(StoreError::CheckpointTaken { tenant, sequence }) => {
            assert_eq!((tenant.as_str(), sequence), (t.as_str(), 1));
        }
        other => panic!("expected CheckpointTaken, got {other:?}"),
    }
    // The same checkpoint again (a retry) is refused too: never written over.
    assert!(matches!(
        log.append(&first).await,
        Err(StoreError::CheckpointTaken { .. })
    ));
    assert_eq!(log.latest(&t).await.unwrap(), Some(first.clone()));
    assert_eq!(log.since(&t, 1, 10).await.unwrap(), [first]);
    assert!(log.covering(&t, b.id).await.unwrap().is_empty());
    assert_eq!(moved_in(&*log, &t).await, [head(&b)], "still moved");
}

pub async fn a_checkpoint_off_the_chain_is_refused(
    store: Arc<dyn Store>,
    log: Arc<dyn CheckpointLog>,
) {
    let t = tenant();
    let a = created(&*store, &t).await;
    let first = next(None, &t, vec![head(&a)]).await;
    let refused = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Internal(_)));
    // Not the first of the chain, with no chain stored.
    let second = next(Some(&first), &t, vec![head(&a)]).await;
    assert!(refused(log.append(&second).await), "a gap");
    log.append(&first).await.unwrap();
    // Linked to another checkpoint than the stored one.
    let elsewhere = next(None, &t, vec![]).await;
    let mut forked = next(Some(&elsewhere), &t, vec![head(&a)]).await;
    assert_eq!(forked.sequence, 2);
    assert!(refused(log.append(&forked).await), "a fork");
    // Content that is not what its hash says.
    let mut edited = next(Some(&first), &t, vec![head(&a)]).await;
    edited.heads[0].sequence += 1;
    assert!(refused(log.append(&edited).await), "an edit");
    // More heads than one checkpoint may hold.
    let many = (0..=MAX_HEADS)
        .map(|i| CheckpointHead {
            approval_id: Uuid::from_u128(i as u128 + 1),
            sequence: 1,
            hash: "0".repeat(64),
        })
        .collect();
    assert!(refused(
        log.append(&next(Some(&first), &t, many).await).await
    ));
    forked.prev_hash = first.hash.clone();
    assert!(
        refused(log.append(&forked).await),
        "its hash still names the fork"
    );
    assert_eq!(log.since(&t, 1, 10).await.unwrap(), [first]);
    assert!(moved_in(&*log, &t).await.is_empty());
}

pub async fn since_latest_and_covering_answer_in_order(
    store: Arc<dyn Store>,
    log: Arc<dyn CheckpointLog>,
) {
    let t = tenant();
    let a = created(&*store, &t).await;
    let mut chain: Vec<Checkpoint> = Vec::new();
    let mut heads = vec![head(&a)];
    for _ in 0..3 {
        let c = next(chain.last(), &t, heads.clone()).await;
        log.append(&c).await.unwrap();
        chain.push(c);
        heads = vec![];
    }
    assert_eq!(log.since(&t, 1, 10).await.unwrap(), chain);
    assert_eq!(log.since(&t, 0, 10).await.unwrap(), chain);
    assert_eq!(log.since(&t, 2, 1).await.unwrap(), chain[1..2]);
    assert_eq!(log.since(&t, 2, 10).await.unwrap(), chain[1..]);
    assert!(log.since(&t, 4, 10).await.unwrap().is_empty());
    assert!(log.since(&t, 1, 0).await.unwrap().is_empty());
    assert_eq!(log.latest(&t).await.unwrap().as_ref(), chain.last());
    assert_eq!(log.covering(&t, a.id).await.unwrap(), [(1, head(&a))]);
    assert!(log.covering(&t, Uuid::new_v4()).await.unwrap().is_empty());
}

pub async fn checkpoints_stay_in_their_tenant(store: Arc<dyn Store>, log: Arc<dyn CheckpointLog>) {
    let (t1, t2) = (tenant(), tenant());
    let a1 = created(&*store, &t1).await;
    let a2 = created(&*store, &t2).await;
    let c1 = next(None, &t1, moved_in(&*log, &t1).await).await;
    log.append(&c1).await.unwrap();
    assert_eq!(
        moved_in(&*log, &t2).await,
        [head(&a2)],
        "another tenant's stays moved"
    );
    assert_eq!(log.latest(&t2).await.unwrap(), None);
    assert!(log.since(&t2, 1, 10).await.unwrap().is_empty());
    assert!(log.covering(&t2, a1.id).await.unwrap().is_empty());
    // Its own first checkpoint is its own sequence 1, not taken by the other tenant's.
    let c2 = next(None, &t2, vec![head(&a2)]).await;
    log.append(&c2).await.unwrap();
    assert_eq!(log.latest(&t1).await.unwrap(), Some(c1));
    assert_eq!(log.latest(&t2).await.unwrap(), Some(c2));
    // A head recorded under the wrong tenant clears nothing of the right one's.
    let a1b = created(&*store, &t1).await;
    let c3 = next(
        log.latest(&t2).await.unwrap().as_ref(),
        &t2,
        vec![head(&a1b)],
    )
    .await;
    log.append(&c3).await.unwrap();
    assert_eq!(moved_in(&*log, &t1).await, [head(&a1b)]);
}

/// More heads than one write of the backend holds (DynamoDB: 100 items a transaction).
pub async fn a_checkpoint_of_many_heads_covers_each(
    store: Arc<dyn Store>,
    log: Arc<dyn CheckpointLog>,
) {
    let t = tenant();
    let creates = (0..230).map(|_| created(&*store, &t));
    let all = futures_util::future::join_all(creates).await;
    let heads = moved_in(&*log, &t).await;
    assert_eq!(heads, sorted(all.iter().map(head).collect()));
    let c = next(None, &t, heads).await;
    log.append(&c).await.unwrap();
    assert!(moved_in(&*log, &t).await.is_empty());
    assert_eq!(log.latest(&t).await.unwrap(), Some(c));
    for a in &all {
        assert_eq!(log.covering(&t, a.id).await.unwrap(), [(1, head(a))]);
    }
}
