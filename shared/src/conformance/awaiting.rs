//! `awaiting=me` on every store: exactly what waits for one reviewer's decision now, named or
//! through a role it holds, never another tenant's, a decided, an expired or an already-voted one,
//! nor its own request (an attacker found those listed, where nobody may decide them).

use super::fixture::*;
use crate::store::Awaiting;

pub async fn list_awaiting_expands_roles(store: Arc<dyn Store>) {
    let t = tenant();
    let agent = principal(&t, "agent");
    let make = |tenant_agent: &Principal, reviewers: &[&str], extra| {
        let reviewers: Vec<String> = reviewers.iter().map(|s| s.to_string()).collect();
        let (mut a, r) = request(&reviewers, extra)
            .into_approval(
                tenant_agent,
                &holdpoint_core::domain::request::Gate::open(),
                ExpiryBounds::default(),
                now(),
            )
            .unwrap();
        a.published_seq = 1;
        (a, r)
    };
    let named = make(&agent, &["alice"], json!({}));
    let by_role = make(&agent, &["bob", "role:sre"], json!({}));
    let others = make(&agent, &["bob", "role:finance"], json!({}));
    let decided = make(&agent, &["alice"], json!({}));
    let soon = make(&agent, &["alice"], json!({"expires_in_seconds": 60}));
    let voted = make(&agent, &["alice", "bob"], json!({"quorum": 2}));
    let elsewhere = make(&principal(&tenant(), "agent"), &["alice"], json!({}));
    let own = make(&principal(&t, "alice"), &["alice", "role:sre"], json!({}));
    for (a, r) in [
        &named, &by_role, &others, &decided, &soon, &voted, &elsewhere, &own,
    ] {
        create_new(&*store, a, r).await;
    }
    let (d2, rd) = approve_next(&decided.0, "alice", now());
    store.transition(1, &d2, &rd).await.unwrap();
    let (v2, rv) = approve_next(&voted.0, "alice", now());
    store.transition(1, &v2, &rv).await.unwrap();

    let waiting = |name: &str, roles: &[&str], at| {
        let store = store.clone();
        let t = t.clone();
        let filter = ListFilter {
            awaiting: Some(Awaiting {
                name: name.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            }),
            ..Default::default()
        };
        async move {
            let mut ids: Vec<Uuid> = Vec::new();
            let mut after = None;
            // A store may answer short pages (DynamoDB filters after its limit): follow them.
            loop {
                let page = store
                    .list(&t, &filter, 2, after.as_ref(), at)
                    .await
                    .unwrap();
                ids.extend(page.items.iter().map(|x| x.id));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    assert_eq!(
        waiting("alice", &["sre"], now()).await,
        sorted(vec![named.0.id, by_role.0.id, soon.0.id])
    );
    assert_eq!(
        waiting("alice", &[], now()).await,
        sorted(vec![named.0.id, soon.0.id]),
        "a role alice does not hold finds nothing"
    );
    assert_eq!(
        waiting("bob", &[], now()).await,
        sorted(vec![by_role.0.id, others.0.id, voted.0.id])
    );
    // Two minutes on, the short one expired: it waits for no one.
    let later = now() + TimeDelta::seconds(120);
    assert_eq!(
        waiting("alice", &["sre"], later).await,
        sorted(vec![named.0.id, by_role.0.id])
    );
    assert!(waiting("carol", &["admin"], now()).await.is_empty());
}
