//! The policy store's contract, the same for every backend ([`crate::policy_suite!`]).

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};

use crate::directory::policy::{PolicyStore, StoredPolicy};
use crate::store::StoreError;

/// Expands to one `#[tokio::test]` per policy scenario; `$make` is an async expression giving
/// an `Arc<dyn PolicyStore>`.
#[macro_export]
macro_rules! policy_suite {
    ($make:expr) => {
        $crate::policy_suite!(@tests $make;
            policy_versions_grow_and_are_kept, a_stale_policy_version_is_refused,
            policies_stay_in_their_tenant, racing_policy_edits_one_wins);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let policies: ::std::sync::Arc<dyn $crate::directory::policy::PolicyStore> =
                    $make.await;
                $crate::conformance::policies::$name(policies).await;
            }
        )*
    };
}

fn tenant() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

fn at(minute: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("a time")
        + TimeDelta::minutes(minute)
}

pub async fn policy_versions_grow_and_are_kept(p: Arc<dyn PolicyStore>) {
    let t = tenant();
    assert_eq!(p.current(&t).await.unwrap(), None);
    assert!(p.history(&t).await.unwrap().is_empty());
    assert_eq!(p.put(&t, "rules: []", "alice", at(0), 0).await.unwrap(), 1);
    assert_eq!(p.put(&t, "rules: [x]", "bob", at(1), 1).await.unwrap(), 2);
    let current = p.current(&t).await.unwrap().expect("a policy");
    assert_eq!(
        current,
        StoredPolicy {
            version: 2,
            text: "rules: [x]".into(),
            set_by: "bob".into(),
            set_at: at(1),
        }
    );
    let history = p.history(&t).await.unwrap();
    let seen: Vec<_> = history
        .iter()
        .map(|s| (s.version, s.set_by.as_str(), s.set_at))
        .collect();
    assert_eq!(seen, [(2, "bob", at(1)), (1, "alice", at(0))]);
    assert_eq!(history[1].text, "rules: []");
}

pub async fn a_stale_policy_version_is_refused(p: Arc<dyn PolicyStore>) {
    let t = tenant();
    p.put(&t, "one", "alice", at(0), 0).await.unwrap();
    p.put(&t, "two", "alice", at(1), 1).await.unwrap();
    for stale in [0, 1, 5] {
        assert!(
            matches!(
                p.put(&t, "lost", "bob", at(2), stale).await,
                Err(StoreError::AlreadyExists)
            ),
            "after version {stale}"
        );
    }
    let current = p.current(&t).await.unwrap().expect("a policy");
    assert_eq!((current.version, current.text.as_str()), (2, "two"));
    assert_eq!(p.history(&t).await.unwrap().len(), 2);
}

pub async fn policies_stay_in_their_tenant(p: Arc<dyn PolicyStore>) {
    let (a, b) = (tenant(), tenant());
    p.put(&a, "a's", "alice", at(0), 0).await.unwrap();
    assert_eq!(p.current(&b).await.unwrap(), None);
    assert!(p.history(&b).await.unwrap().is_empty());
    // Each tenant counts its own versions.
    assert_eq!(p.put(&b, "b's", "bob", at(1), 0).await.unwrap(), 1);
    assert_eq!(p.current(&a).await.unwrap().expect("a's").text, "a's");
    assert_eq!(p.current(&b).await.unwrap().expect("b's").text, "b's");
}

pub async fn racing_policy_edits_one_wins(p: Arc<dyn PolicyStore>) {
    let t = tenant();
    p.put(&t, "base", "alice", at(0), 0).await.unwrap();
    let edits = (0..8).map(|i| {
        let (p, t) = (p.clone(), t.clone());
        tokio::spawn(async move { p.put(&t, &format!("edit {i}"), "admin", at(1), 1).await })
    });
    let mut won = 0;
    for edit in edits {
        match edit.await.unwrap() {
            Ok(2) => won += 1,
            Err(StoreError::AlreadyExists) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(p.history(&t).await.unwrap().len(), 2);
}
