//! The directory's contract, the same for every backend ([`crate::directory_suite!`]).

use std::sync::Arc;

use crate::directory::{Directory, Entry, Lookup, agents_among, key_hash};
use crate::store::StoreError;
use holdpoint_core::domain::identity::PrincipalKind;

/// Expands to one `#[tokio::test]` per directory scenario; `$make` is an async expression
/// giving an `Arc<dyn Directory>`.
#[macro_export]
macro_rules! directory_suite {
    ($make:expr) => {
        $crate::directory_suite!(@tests $make;
            directory_round_trip, a_credential_belongs_to_one_principal,
            replacing_moves_credentials, role_members, kinds_round_trip,
            names_are_unique_ignoring_case, an_instance_lasts_one_life_of_a_principal,
            a_slack_user_is_one_principal_of_a_tenant);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let directory: ::std::sync::Arc<dyn $crate::directory::Directory> = $make.await;
                $crate::conformance::directory::$name(directory).await;
            }
        )*
    };
}

fn tenant() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

fn entry(tenant: &str, name: &str, key: &str) -> Entry {
    Entry {
        tenant: tenant.into(),
        name: name.into(),
        roles: vec!["reviewer".into()],
        email: Some(format!("{name}@example.com")),
        webhook: None,
        iam_arns: vec![format!("arn:aws:iam::123456789012:role/{tenant}-{name}")],
        key_hash: Some(key_hash(key)),
        slack: None,
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        instance: None,
        kind: PrincipalKind::Human,
    }
}

pub async fn directory_round_trip(d: Arc<dyn Directory>) {
    let t = tenant();
    let alice = entry(&t, "alice", &format!("{t}-alice-key"));
    d.put(&alice, true).await.unwrap();
    let stored = d.get(&t, "alice").await.unwrap().unwrap();
    assert!(stored.instance.is_some(), "a create draws an instance");
    let alice = Entry {
        instance: stored.instance,
        ..alice
    };
    assert_eq!(stored, alice);
    let by_key = Lookup::Key(key_hash(&format!("{t}-alice-key")));
    assert_eq!(d.find(&by_key).await.unwrap().as_ref(), Some(&alice));
    let by_arn = Lookup::Arn(alice.iam_arns[0].clone());
    assert_eq!(d.find(&by_arn).await.unwrap().as_ref(), Some(&alice));
    assert_eq!(
        d.find(&Lookup::Key(key_hash("nobody's key")))
            .await
            .unwrap(),
        None
    );
    let bob = entry(&t, "bob", &format!("{t}-bob-key"));
    d.put(&bob, true).await.unwrap();
    let other = tenant();
    d.put(&entry(&other, "alice", &format!("{other}-key")), true)
        .await
        .unwrap();
    let names: Vec<_> = d
        .list(Some(&t))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["alice", "bob"], "one tenant's, by name");
    let everyone = d.list(None).await.unwrap();
    assert!(everyone.iter().any(|e| e.tenant == other));
    assert!(matches!(
        d.put(&alice, true).await,
        Err(StoreError::AlreadyExists)
    ));

    assert!(d.remove(&t, "alice").await.unwrap());
    assert_eq!(d.get(&t, "alice").await.unwrap(), None);
    assert_eq!(d.find(&by_key).await.unwrap(), None, "its key is gone");
    assert_eq!(d.find(&by_arn).await.unwrap(), None, "its ARN is gone");
    assert!(!d.remove(&t, "alice").await.unwrap());
    assert!(d.get(&t, "bob").await.unwrap().is_some(), "others stay");
}

pub async fn a_credential_belongs_to_one_principal(d: Arc<dyn Directory>) {
    let t = tenant();
    let key = format!("{t}-shared-key");
    d.put(&entry(&t, "alice", &key), true).await.unwrap();
    let mut mallory = entry(&t, "mallory", &key);
    mallory.iam_arns.clear();
    assert!(matches!(
        d.put(&mallory, true).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(d.get(&t, "mallory").await.unwrap(), None, "nothing written");
    let mut arn_thief = entry(&t, "eve", &format!("{t}-eve-key"));
    arn_thief.iam_arns = vec![format!("arn:aws:iam::123456789012:role/{t}-alice")];
    assert!(matches!(
        d.put(&arn_thief, true).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(d.get(&t, "eve").await.unwrap(), None, "nothing written");
    assert_eq!(
        d.find(&Lookup::Key(key_hash(&format!("{t}-eve-key"))))
            .await
            .unwrap(),
        None,
        "not even the credential that was free"
    );
    let found = d.find(&Lookup::Key(key_hash(&key))).await.unwrap().unwrap();
    assert_eq!(found.name, "alice");
}

pub async fn replacing_moves_credentials(d: Arc<dyn Directory>) {
    let t = tenant();
    let old_key = format!("{t}-old");
    let mut alice = entry(&t, "alice", &old_key);
    d.put(&alice, true).await.unwrap();
    alice.key_hash = Some(key_hash(&format!("{t}-new")));
    alice.roles = vec!["finance".into()];
    alice.iam_arns.clear();
    d.put(&alice, false).await.unwrap();
    assert_eq!(
        d.find(&Lookup::Key(key_hash(&old_key))).await.unwrap(),
        None
    );
    assert_eq!(
        d.find(&Lookup::Key(key_hash(&format!("{t}-new"))))
            .await
            .unwrap()
            .map(|e| e.roles),
        Some(vec!["finance".to_owned()])
    );
    assert_eq!(
        d.find(&Lookup::Arn(format!(
            "arn:aws:iam::123456789012:role/{t}-alice"
        )))
        .await
        .unwrap(),
        None
    );
    let ghost = entry(&t, "ghost", &format!("{t}-ghost"));
    assert!(matches!(
        d.put(&ghost, false).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn role_members(d: Arc<dyn Directory>) {
    let t = tenant();
    let mut a = entry(&t, "a", &format!("{t}-a"));
    a.roles = vec!["sre".into(), "finance".into()];
    let mut b = entry(&t, "b", &format!("{t}-b"));
    b.roles = vec!["finance".into()];
    let mut c = entry(&t, "c", &format!("{t}-c"));
    c.roles = vec![];
    for e in [&a, &b, &c] {
        d.put(e, true).await.unwrap();
    }
    let names = |v: Vec<Entry>| v.into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(names(d.members(&t, "finance").await.unwrap()), ["a", "b"]);
    assert_eq!(names(d.members(&t, "sre").await.unwrap()), ["a"]);
    assert!(d.members(&t, "nobody").await.unwrap().is_empty());
}

/// A kind is kept, and changed, by every store; a human's entry is stored without one, as
/// entries were before kinds existed, and reads back human (and decides, carried into its
/// principal).
pub async fn kinds_round_trip(d: Arc<dyn Directory>) {
    let t = tenant();
    let mut bot = entry(&t, "bot", &format!("{t}-bot"));
    bot.kind = PrincipalKind::Agent;
    let alice = entry(&t, "alice", &format!("{t}-alice"));
    assert!(
        !serde_json::to_string(&alice).unwrap().contains("kind"),
        "a human's entry is stored as before kinds"
    );
    for e in [&bot, &alice] {
        d.put(e, true).await.unwrap();
    }
    let read = d.get(&t, "bot").await.unwrap().unwrap();
    assert_eq!(read.kind, PrincipalKind::Agent);
    assert!(
        read.principal().is_agent(),
        "the kind reaches the principal"
    );
    let by_key = Lookup::Key(key_hash(&format!("{t}-bot")));
    assert_eq!(
        d.find(&by_key).await.unwrap().unwrap().kind,
        PrincipalKind::Agent
    );
    let read = d.get(&t, "alice").await.unwrap().unwrap();
    assert_eq!(read.kind, PrincipalKind::Human);
    assert!(!read.principal().is_agent());
    let kinds: Vec<_> = d
        .members(&t, "reviewer")
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("alice".into(), PrincipalKind::Human),
            ("bot".into(), PrincipalKind::Agent)
        ]
    );
    let named = ["bot", "alice", "role:reviewer", "ghost", "bot"].map(String::from);
    assert_eq!(agents_among(&*d, &t, &named).await.unwrap(), ["bot"]);
    assert!(
        agents_among(&*d, &tenant(), &named)
            .await
            .unwrap()
            .is_empty(),
        "per tenant"
    );

    // An operator turns an agent into a human, and back.
    bot.kind = PrincipalKind::Human;
    d.put(&bot, false).await.unwrap();
    assert_eq!(
        d.get(&t, "bot").await.unwrap().unwrap().kind,
        PrincipalKind::Human
    );
    assert!(agents_among(&*d, &t, &named).await.unwrap().is_empty());
    bot.kind = PrincipalKind::Agent;
    d.put(&bot, false).await.unwrap();
    assert_eq!(
        d.get(&t, "bot").await.unwrap().unwrap().kind,
        PrincipalKind::Agent
    );
}

/// `Alice` is `alice`: a create under a name another principal of the tenant has in another
/// case is refused, and writes nothing; changing the one there still works, and removing it
/// frees the name in every case.
pub async fn names_are_unique_ignoring_case(d: Arc<dyn Directory>) {
    let t = tenant();
    let mut alice = entry(&t, "alice", &format!("{t}-alice"));
    d.put(&alice, true).await.unwrap();
    for twin in ["Alice", "ALICE", "aLiCe"] {
        let other = entry(&t, twin, &format!("{t}-{twin}"));
        assert!(
            matches!(d.put(&other, true).await, Err(StoreError::AlreadyExists)),
            "{twin}"
        );
        assert_eq!(d.get(&t, twin).await.unwrap(), None, "nothing written");
        let by_key = Lookup::Key(key_hash(&format!("{t}-{twin}")));
        assert_eq!(d.find(&by_key).await.unwrap(), None, "not its key either");
    }
    alice.roles = vec!["finance".into()];
    d.put(&alice, false).await.unwrap();
    let elsewhere = tenant();
    d.put(&entry(&elsewhere, "Alice", &format!("{elsewhere}-a")), true)
        .await
        .unwrap();
    assert!(d.remove(&t, "alice").await.unwrap());
    d.put(&entry(&t, "Alice", &format!("{t}-Alice")), true)
        .await
        .unwrap();
    let names: Vec<_> = d.list(Some(&t)).await.unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].name, "Alice");
    assert!(matches!(
        d.put(&entry(&t, "alice", &format!("{t}-again")), true)
            .await,
        Err(StoreError::AlreadyExists)
    ));
}

/// An instance is drawn when a principal is added, kept through every change (whatever the
/// change says), and never comes back: a principal removed and added again under its name is
/// another instance, so links bound to the first stay dead.
pub async fn an_instance_lasts_one_life_of_a_principal(d: Arc<dyn Directory>) {
    let t = tenant();
    let instance = |d: Arc<dyn Directory>, t: String| async move {
        d.get(&t, "alice").await.unwrap().unwrap().instance
    };
    let mut alice = entry(&t, "alice", &format!("{t}-alice"));
    d.put(&alice, true).await.unwrap();
    let first = instance(d.clone(), t.clone()).await;
    assert!(first.is_some());
    for claimed in [None, Some(uuid::Uuid::new_v4())] {
        alice.instance = claimed;
        alice.key_hash = Some(key_hash(&format!("{t}-rotated")));
        d.put(&alice, false).await.unwrap();
        assert_eq!(instance(d.clone(), t.clone()).await, first, "kept");
    }
    let by_key = Lookup::Key(key_hash(&format!("{t}-rotated")));
    assert_eq!(d.find(&by_key).await.unwrap().unwrap().instance, first);
    assert!(d.remove(&t, "alice").await.unwrap());
    alice.instance = first;
    d.put(&alice, true).await.unwrap();
    let second = instance(d.clone(), t.clone()).await;
    assert!(second.is_some());
    assert_ne!(second, first, "a new life, whatever the create said");
}

pub async fn a_slack_user_is_one_principal_of_a_tenant(d: Arc<dyn Directory>) {
    let (t, other) = (tenant(), tenant());
    let alice = Entry {
        slack: Some("U0ALICE".into()),
        ..entry(&t, "alice", &format!("{t}-alice"))
    };
    d.put(&alice, true).await.unwrap();
    let found = d.find_slack(&t, "U0ALICE").await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), &found.slack), ("alice", &alice.slack));
    assert_eq!(d.find_slack(&other, "U0ALICE").await.unwrap(), None);
    assert_eq!(d.find_slack(&t, "U0NOBODY").await.unwrap(), None);
    // Another principal of the tenant cannot take the id; one of another tenant can.
    let bob = Entry {
        slack: Some("U0ALICE".into()),
        ..entry(&t, "bob", &format!("{t}-bob"))
    };
    assert!(matches!(
        d.put(&bob, true).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(d.get(&t, "bob").await.unwrap(), None);
    let elsewhere = Entry {
        slack: Some("U0ALICE".into()),
        ..entry(&other, "bob", &format!("{other}-bob"))
    };
    d.put(&elsewhere, true).await.unwrap();
    assert_eq!(
        d.find_slack(&other, "U0ALICE").await.unwrap().unwrap().name,
        "bob"
    );
    // A change of id frees the old one and keeps the rest (key, instance).
    let moved = Entry {
        slack: Some("U0ALICE2".into()),
        ..found.clone()
    };
    d.put(&moved, false).await.unwrap();
    assert_eq!(d.find_slack(&t, "U0ALICE").await.unwrap(), None);
    let now = d.find_slack(&t, "U0ALICE2").await.unwrap().unwrap();
    assert_eq!(now.instance, found.instance);
    let by_key = Lookup::Key(key_hash(&format!("{t}-alice")));
    assert_eq!(d.find(&by_key).await.unwrap(), Some(now.clone()));
    d.put(&bob, true).await.unwrap();
    assert_eq!(
        d.find_slack(&t, "U0ALICE").await.unwrap().unwrap().name,
        "bob"
    );
    // Cleared, then removed: found by nobody.
    let cleared = Entry { slack: None, ..now };
    d.put(&cleared, false).await.unwrap();
    assert_eq!(d.find_slack(&t, "U0ALICE2").await.unwrap(), None);
    assert!(d.remove(&t, "bob").await.unwrap());
    assert_eq!(d.find_slack(&t, "U0ALICE").await.unwrap(), None);
}
