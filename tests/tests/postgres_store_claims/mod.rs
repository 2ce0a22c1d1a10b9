//! Claims between instances sharing one database: two instances sweeping at once are each
//! given a due approval only if the other was not, and the claims of an instance that stopped
//! (crashed) are taken over once their lease ends, not before.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use holdpoint::postgres::store::PgStore;
use holdpoint::service::Service;
use holdpoint::store::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use holdpoint_core::audit::{AuditEvent, AuditRecord};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;
use uuid::Uuid;

use super::{own_database, stored};

/// An instance's store that notes every approval `due` gives it.
#[derive(Clone)]
struct Recording {
    inner: PgStore,
    given: Arc<Mutex<Vec<Uuid>>>,
}

impl Recording {
    fn given(&self) -> BTreeSet<Uuid> {
        self.given.lock().unwrap().iter().copied().collect()
    }
}

#[async_trait]
impl Store for Recording {
    async fn create(
        &self,
        a: &Approval,
        r: &AuditRecord,
        k: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        self.inner.create(a, r, k).await
    }
    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        self.inner.get(tenant, id).await
    }
    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        self.inner.list(tenant, filter, limit, after, now).await
    }
    async fn transition(&self, v: u64, next: &Approval, r: &AuditRecord) -> Result<(), StoreError> {
        self.inner.transition(v, next, r).await
    }
    async fn mark_published(&self, a: &Approval) -> Result<bool, StoreError> {
        self.inner.mark_published(a).await
    }
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError> {
        let due = self.inner.due(now, limit).await?;
        self.given.lock().unwrap().extend(due.iter().map(|a| a.id));
        Ok(due)
    }
    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(tenant, id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sweeping_at_once_are_each_given_a_due_approval_only_once() {
    const DUE: usize = 600;
    let pg = own_database(16).await;
    let seeder = PgStore::new(pg.clone());
    let created = Utc::now() - TimeDelta::hours(2);
    let mut seeding = Vec::new();
    for _ in 0..8 {
        let seeder = seeder.clone();
        seeding.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..DUE / 8 {
                ids.push(stored(&seeder, "swept", created).await.id);
            }
            ids
        }));
    }
    let mut all = BTreeSet::new();
    for s in seeding {
        all.extend(s.await.unwrap());
    }

    let instance = || Recording {
        inner: PgStore::new(pg.as_instance(Uuid::new_v4())),
        given: Arc::default(),
    };
    let (a, b) = (instance(), instance());
    let service = |store: &Recording| {
        Service::new(
            Arc::new(store.clone()),
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        )
    };
    let (sa, sb) = (service(&a), service(&b));
    let started = Instant::now();
    let (ra, rb) = tokio::join!(sa.sweep(), sb.sweep());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let (ga, gb) = (a.given(), b.given());
    println!(
        "{DUE} due approvals swept by two instances in {:.1?}: {} given to one, {} to the \
         other; reports {ra:?} {rb:?}",
        started.elapsed(),
        ga.len(),
        gb.len()
    );
    assert!(ga.is_disjoint(&gb), "no approval given to both instances");
    let union: BTreeSet<Uuid> = ga.union(&gb).copied().collect();
    assert_eq!(union, all, "every due approval given to one of them");
    assert!(
        !ga.is_empty() && !gb.is_empty(),
        "both instances took a share"
    );
    assert_eq!(ra.expired + rb.expired, DUE, "each expired once");
    assert_eq!(ra.failed + rb.failed, 0);
    for id in &all {
        let chain = seeder.audit("swept", *id).await.unwrap();
        let expired = chain
            .iter()
            .filter(|r| matches!(r.event, AuditEvent::Expired))
            .count();
        assert_eq!((chain.len(), expired), (2, 1), "{id}: one expiry recorded");
    }
    assert!(
        seeder.due(Utc::now(), 10).await.unwrap().is_empty(),
        "none left"
    );
}

fn ids(due: &[Approval]) -> BTreeSet<Uuid> {
    due.iter().map(|a| a.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_instances_claims_are_taken_over_after_its_lease_not_before() {
    const LEASE: Duration = Duration::from_secs(2);
    let pg = own_database(4).await;
    let seeder = PgStore::new(pg.clone());
    let mut due = BTreeSet::new();
    for _ in 0..5 {
        due.insert(
            stored(&seeder, "crash", Utc::now() - TimeDelta::hours(2))
                .await
                .id,
        );
    }
    let lease = TimeDelta::from_std(LEASE).unwrap();
    let crashed = PgStore::new(pg.as_instance(Uuid::new_v4()).with_lease(lease));
    let survivor = PgStore::new(pg.as_instance(Uuid::new_v4()));

    assert_eq!(ids(&crashed.due(Utc::now(), 100).await.unwrap()), due);
    assert_eq!(
        ids(&crashed.due(Utc::now(), 100).await.unwrap()),
        due,
        "an instance's own claims never hide rows from it"
    );
    let claimed = Instant::now();
    assert!(
        survivor.due(Utc::now(), 100).await.unwrap().is_empty(),
        "another instance's live claims hide the rows"
    );
    // The lease runs on the wall clock, whatever clock the caller sweeps by.
    let later = Utc::now() + TimeDelta::days(1);
    assert!(
        survivor.due(later, 100).await.unwrap().is_empty(),
        "not before the lease ends"
    );
    assert!(
        seeder.due(Utc::now(), 100).await.unwrap().is_empty(),
        "nor to the writer"
    );

    // The crashed instance never comes back: its lease ends.
    tokio::time::sleep(
        (claimed + LEASE + Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    )
    .await;
    assert_eq!(
        ids(&survivor.due(Utc::now(), 100).await.unwrap()),
        due,
        "taken over after the lease"
    );
    assert!(
        crashed.due(Utc::now(), 100).await.unwrap().is_empty(),
        "and now held by the survivor"
    );
}

/// An instance alive but failing to move its due approvals on (it sweeps them again and again)
/// does not keep them: its own claim is taken again but not lengthened, so another instance
/// gets them one lease after the first take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeping_again_does_not_lengthen_an_instances_own_claim() {
    const LEASE: Duration = Duration::from_millis(1500);
    let pg = own_database(4).await;
    let seeder = PgStore::new(pg.clone());
    let a = stored(&seeder, "stuck", Utc::now() - TimeDelta::hours(2))
        .await
        .id;
    let stuck = PgStore::new(
        pg.as_instance(Uuid::new_v4())
            .with_lease(TimeDelta::from_std(LEASE).unwrap()),
    );
    let healthy = PgStore::new(pg.as_instance(Uuid::new_v4()));
    let taken = Instant::now();
    assert!(ids(&stuck.due(Utc::now(), 10).await.unwrap()).contains(&a));
    // It sweeps again and again within its lease, getting nowhere.
    while taken.elapsed() < LEASE - Duration::from_millis(300) {
        assert!(ids(&stuck.due(Utc::now(), 10).await.unwrap()).contains(&a));
        assert!(!ids(&healthy.due(Utc::now(), 10).await.unwrap()).contains(&a));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(
        (taken + LEASE + Duration::from_millis(200)).saturating_duration_since(Instant::now()),
    )
    .await;
    assert!(
        ids(&healthy.due(Utc::now(), 10).await.unwrap()).contains(&a),
        "the healthy instance takes it once the first lease ends"
    );
}
