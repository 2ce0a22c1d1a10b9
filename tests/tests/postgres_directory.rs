//! The directory, policies, sessions and Slack apps on PostgreSQL (run under
//! infra/with-postgres.sh): the conformance suites every backend passes, a Slack-apps round
//! trip, and attacker tries: another tenant reusing the same names reads and overwrites
//! nothing of the first's, racing creates of one name have one winner, and rows edited by hand
//! are refused rather than answered for another principal.

use std::sync::Arc;

use holdpoint::directory::policy::PolicyStore;
use holdpoint::directory::{Directory, Entry, Lookup, key_hash};
use holdpoint::postgres::directory::PgDirectory;
use holdpoint::postgres::policies::PgPolicies;
use holdpoint::postgres::sessions::PgSessions;
use holdpoint::postgres::slack::PgSlack;
use holdpoint::sessions::{Counted, Session, SessionStore, SignInLink, hash};
use holdpoint::slack::connection::SlackConnections;
use holdpoint::store::StoreError;
use holdpoint_tests::postgres::pg;

use chrono::{TimeDelta, Utc};

async fn directory() -> Arc<dyn Directory> {
    Arc::new(PgDirectory::new(pg().await))
}

async fn policies() -> Arc<dyn PolicyStore> {
    Arc::new(PgPolicies::new(pg().await))
}

async fn sessions() -> Arc<dyn SessionStore> {
    Arc::new(PgSessions::new(pg().await))
}

mod directory_suite {
    holdpoint::directory_suite!(super::directory());
}

mod policy_suite {
    holdpoint::policy_suite!(super::policies());
}

#[path = "postgres_directory/slack.rs"]
mod slack;

mod session_suite {
    holdpoint::session_suite!(super::sessions());
}

fn tenant() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

fn entry(tenant: &str, name: &str, key: &str) -> Entry {
    Entry {
        tenant: tenant.into(),
        name: name.into(),
        roles: vec!["reviewer".into()],
        key_hash: Some(key_hash(key)),
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        ..Entry::default()
    }
}

const TOKEN: &str = "xoxb-1-firsttenanttoken";
const SECRET: &str = "first-tenant-signing-secret";

/// Tenant B names its principal, its policy version, its session and its Slack app as tenant
/// A's are named: B gets its own, and A's are neither shown to B nor changed.
#[tokio::test]
async fn another_tenant_with_the_same_names_reads_and_overwrites_nothing() {
    let pg = pg().await;
    let (d, p, s) = (
        PgDirectory::new(pg.clone()),
        PgPolicies::new(pg.clone()),
        PgSessions::new(pg.clone()),
    );
    let slack = PgSlack::new(pg);
    let (a, b) = (tenant(), tenant());

    // Principals.
    let alice = Entry {
        slack: Some("U0ALICE".into()),
        ..entry(&a, "alice", &format!("{a}-key"))
    };
    d.put(&alice, true).await.unwrap();
    let a_alice = d.get(&a, "alice").await.unwrap().unwrap();
    assert_eq!(d.get(&b, "alice").await.unwrap(), None);
    let b_change = entry(&b, "alice", &format!("{b}-key"));
    assert!(matches!(
        d.put(&b_change, false).await,
        Err(StoreError::NotFound)
    ));
    let thief = entry(&b, "alice", &format!("{a}-key"));
    assert!(
        matches!(d.put(&thief, true).await, Err(StoreError::AlreadyExists)),
        "A's API key is A's in every tenant"
    );
    assert_eq!(d.get(&b, "alice").await.unwrap(), None, "nothing written");
    let b_alice = Entry {
        slack: Some("U0ALICE".into()),
        ..b_change
    };
    d.put(&b_alice, true).await.unwrap();
    assert_eq!(d.get(&a, "alice").await.unwrap(), Some(a_alice.clone()));
    let found = d
        .find(&Lookup::Key(key_hash(&format!("{a}-key"))))
        .await
        .unwrap();
    assert_eq!(found, Some(a_alice.clone()));
    assert_eq!(
        d.find_slack(&a, "U0ALICE").await.unwrap(),
        Some(a_alice.clone())
    );
    assert_eq!(
        d.find_slack(&b, "U0ALICE").await.unwrap().unwrap().tenant,
        b
    );
    assert!(d.remove(&b, "alice").await.unwrap());
    assert_eq!(
        d.get(&a, "alice").await.unwrap(),
        Some(a_alice),
        "A's stays"
    );
    assert_eq!(d.list(Some(&b)).await.unwrap(), []);

    // Policies: B's first version is B's, and A's versions are not B's to follow.
    let at = Utc::now();
    p.put(&a, "a one", "alice", at, 0).await.unwrap();
    p.put(&a, "a two", "alice", at, 1).await.unwrap();
    assert!(matches!(
        p.put(&b, "b after a's", "mallory", at, 2).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(p.current(&b).await.unwrap(), None);
    assert_eq!(p.put(&b, "b one", "mallory", at, 0).await.unwrap(), 1);
    assert_eq!(p.current(&a).await.unwrap().unwrap().text, "a two");
    assert_eq!(p.history(&a).await.unwrap().len(), 2);

    // Sessions and links.
    let now = Utc::now();
    let session = |tenant: &str, secret: &str| Session {
        hash: hash(secret),
        tenant: tenant.into(),
        name: "ann".into(),
        instance: Some(uuid::Uuid::new_v4()),
        created_at: now,
        expires_at: now + TimeDelta::hours(1),
    };
    let a_session = session(&a, "a's secret");
    s.put_session(&a_session).await.unwrap();
    let h = &a_session.hash;
    assert_eq!(s.session(&b, "ann", h, now).await.unwrap(), None);
    s.put_session(&session(&b, "a's secret")).await.unwrap();
    assert!(s.remove_session(&b, "ann", h).await.unwrap());
    assert_eq!(s.remove_sessions_of(&b, "ann", now).await.unwrap(), 0);
    let kept = s.session(&a, "ann", h, now).await.unwrap().unwrap();
    assert_eq!(
        (kept.tenant, kept.instance),
        (a.clone(), a_session.instance)
    );
    let link = |tenant: &str| SignInLink {
        hash: hash(&format!("{a}-link")),
        tenant: tenant.into(),
        name: "ann".into(),
        instance: a_session.instance,
        expires_at: now + TimeDelta::minutes(15),
    };
    s.put_link(&link(&a)).await.unwrap();
    assert!(
        s.put_link(&link(&b)).await.is_err(),
        "a kept link is not replaced"
    );
    let taken = s.take_link(&link(&a).hash, now).await.unwrap().unwrap();
    assert_eq!(taken.tenant, a);

    // Slack apps.
    slack.put(&a, Some("T0A"), TOKEN, SECRET).await.unwrap();
    slack
        .put(&b, Some("T0B"), "xoxb-b", "b secret")
        .await
        .unwrap();
    let a_app = slack.get(&a).await.unwrap().unwrap();
    assert_eq!(
        (a_app.team_id.as_deref(), a_app.bot_token.expose()),
        (Some("T0A"), TOKEN)
    );
    assert!(slack.remove(&b).await.unwrap());
    assert!(slack.get(&a).await.unwrap().is_some());
}

/// Creates of one name in every case, at once: one principal, whose key alone finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_name_have_one_winner() {
    let d = directory().await;
    let t = tenant();
    let names = [
        "alice", "Alice", "ALICE", "aLiCe", "alicE", "ALice", "alice", "aliCE",
    ];
    let mut creates = tokio::task::JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let (d, e) = (d.clone(), entry(&t, name, &format!("{t}-{i}")));
        creates.spawn(async move { (i, d.put(&e, true).await) });
    }
    let mut winners = Vec::new();
    for (i, result) in creates.join_all().await {
        match result {
            Ok(()) => winners.push(i),
            Err(StoreError::AlreadyExists) => {}
            other => panic!("create {i}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = d.list(Some(&t)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, names[winners[0]]);
    for i in 0..names.len() {
        let found = d
            .find(&Lookup::Key(key_hash(&format!("{t}-{i}"))))
            .await
            .unwrap();
        assert_eq!(found.is_some(), i == winners[0], "key {i}");
    }
}

/// Principals of other names racing for one API key and one Slack user: one holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_credential_have_one_winner() {
    let d = directory().await;
    let t = tenant();
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..8 {
        let mut e = entry(&t, &format!("p{i}"), &format!("{t}-shared"));
        if i % 2 == 1 {
            // Odd ones race for the Slack user with a key of their own.
            e.key_hash = Some(key_hash(&format!("{t}-{i}")));
            e.slack = Some("U0SHARED".into());
        }
        let d = d.clone();
        creates.spawn(async move { (i, d.put(&e, true).await) });
    }
    let mut won = [0, 0];
    for (i, result) in creates.join_all().await {
        match result {
            Ok(()) => won[i % 2] += 1,
            Err(StoreError::AlreadyExists) => {}
            other => panic!("create {i}: {other:?}"),
        }
    }
    assert_eq!(won, [1, 1]);
    assert_eq!(
        d.list(Some(&t)).await.unwrap().len(),
        2,
        "losers wrote nothing"
    );
    assert!(
        d.find(&Lookup::Key(key_hash(&format!("{t}-shared"))))
            .await
            .unwrap()
            .is_some()
    );
    assert!(d.find_slack(&t, "U0SHARED").await.unwrap().is_some());
}

/// Changes of one principal at once, each with another key: the stored one's key finds it,
/// and no key of a change that was overwritten is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_changes_leave_only_the_stored_credentials() {
    let pg = pg().await;
    let d: Arc<dyn Directory> = Arc::new(PgDirectory::new(pg.clone()));
    let t = tenant();
    d.put(&entry(&t, "alice", &format!("{t}-first")), true)
        .await
        .unwrap();
    let mut changes = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (d, e) = (d.clone(), entry(&t, "alice", &format!("{t}-{i}")));
        changes.spawn(async move { d.put(&e, false).await });
    }
    // Each locks the principal first: they queue, none fails.
    for result in changes.join_all().await {
        result.unwrap();
    }
    let stored = d.get(&t, "alice").await.unwrap().unwrap();
    let mut finding = 0;
    for i in 0..12 {
        let key = key_hash(&format!("{t}-{i}"));
        if let Some(found) = d.find(&Lookup::Key(key.clone())).await.unwrap() {
            assert_eq!(found.key_hash.as_ref(), Some(&key));
            finding += 1;
        }
    }
    assert_eq!(finding, 1, "only the stored key finds alice");
    let first = Lookup::Key(key_hash(&format!("{t}-first")));
    assert_eq!(d.find(&first).await.unwrap(), None);
    // No lookup row of an overwritten change is left holding its key from everyone else.
    let rows: Vec<String> = pg
        .conn()
        .await
        .unwrap()
        .query("SELECT lookup FROM credentials WHERE tenant = $1", &[&t])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, stored.lookups());
}

/// Rows changed by hand: a lookup pointed at another principal finds nobody, and a body moved
/// under another principal's key is refused, not answered as that principal.
#[tokio::test]
async fn hand_edited_directory_rows_are_not_believed() {
    let pg = pg().await;
    let d = PgDirectory::new(pg.clone());
    let t = tenant();
    d.put(&entry(&t, "alice", &format!("{t}-alice")), true)
        .await
        .unwrap();
    d.put(&entry(&t, "mallory", &format!("{t}-mallory")), true)
        .await
        .unwrap();
    let conn = pg.conn().await.unwrap();
    let mallory_key = Lookup::Key(key_hash(&format!("{t}-mallory"))).id();
    let moved = conn
        .execute(
            "UPDATE credentials SET name = 'alice' WHERE lookup = $1",
            &[&mallory_key],
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let by_mallory_key = Lookup::Key(key_hash(&format!("{t}-mallory")));
    assert_eq!(d.find(&by_mallory_key).await.unwrap(), None);
    conn.execute(
        "UPDATE principals SET body = (SELECT body FROM principals WHERE tenant = $1 AND name = 'mallory')
         WHERE tenant = $1 AND name = 'alice'",
        &[&t],
    )
    .await
    .unwrap();
    assert!(matches!(
        d.get(&t, "alice").await,
        Err(StoreError::Internal(_))
    ));
    assert!(d.list(Some(&t)).await.is_err());
}

/// PostgreSQL text holds no NUL: names with one were never stored, so asking for them finds
/// nothing rather than failing in the database (a 500), and a sign-in request is still counted.
#[tokio::test]
async fn names_with_a_nul_find_nothing_and_fail_nothing() {
    let pg = pg().await;
    let (d, p, s) = (
        PgDirectory::new(pg.clone()),
        PgPolicies::new(pg.clone()),
        PgSessions::new(pg.clone()),
    );
    let t = tenant();
    d.put(&entry(&t, "alice", &format!("{t}-key")), true)
        .await
        .unwrap();
    let nul = format!("{t}\0");
    assert_eq!(d.get(&nul, "alice").await.unwrap(), None);
    assert_eq!(d.get(&t, "alice\0").await.unwrap(), None);
    let arn = Lookup::Arn("arn:aws:iam::1:role/x\0".into());
    assert_eq!(d.find(&arn).await.unwrap(), None);
    assert!(d.list(Some(&nul)).await.unwrap().is_empty());
    assert!(d.members(&t, "reviewer\0").await.unwrap().is_empty());
    assert!(!d.remove(&t, "alice\0").await.unwrap());
    assert!(d.get(&t, "alice").await.unwrap().is_some());
    assert_eq!(p.current(&nul).await.unwrap(), None);
    assert!(p.history(&nul).await.unwrap().is_empty());
    let now = Utc::now();
    assert_eq!(s.link("\0", now).await.unwrap(), None);
    assert_eq!(s.take_link("\0", now).await.unwrap(), None);
    assert_eq!(s.session(&t, "ann\0", "h", now).await.unwrap(), None);
    assert!(!s.remove_session(&t, "ann\0", "h").await.unwrap());
    assert_eq!(s.remove_sessions_of(&nul, "ann", now).await.unwrap(), 0);
    let window = TimeDelta::minutes(15);
    for _ in 0..2 {
        let c = s.count_request(&t, "ann\0", now, window, 2).await.unwrap();
        assert_eq!(c, Counted::Admitted);
    }
    let third = s.count_request(&t, "ann\0", now, window, 2).await.unwrap();
    assert!(matches!(third, Counted::Limited { .. }), "{third:?}");
    let slack = PgSlack::new(pg);
    assert!(slack.get(&nul).await.unwrap().is_none());
    assert!(!slack.remove(&nul).await.unwrap());
}
