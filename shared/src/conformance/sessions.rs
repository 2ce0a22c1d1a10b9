//! The session store's contract, the same for every backend ([`crate::session_suite!`]).

use std::sync::Arc;

use chrono::{TimeDelta, Utc};

use crate::sessions::{Counted, Session, SessionStore, SignInLink, hash};

/// Expands to one `#[tokio::test]` per session-store scenario; `$make` is an async expression
/// giving an `Arc<dyn SessionStore>`.
#[macro_export]
macro_rules! session_suite {
    ($make:expr) => {
        $crate::session_suite!(@tests $make;
            a_link_is_taken_once, an_expired_link_is_neither_read_nor_taken,
            of_concurrent_takes_one_gets_the_link, requests_are_counted_per_name_in_a_window,
            concurrent_requests_never_pass_the_limit, sessions_are_found_by_principal_and_hash,
            sign_out_all_ends_the_principals_sessions_only, a_button_is_spent_once,
            of_concurrent_spends_one_wins);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: ::std::sync::Arc<dyn $crate::sessions::SessionStore> = $make.await;
                $crate::conformance::sessions::$name(store).await;
            }
        )*
    };
}

fn tenant() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

fn link(tenant: &str, minutes: i64) -> (String, SignInLink) {
    let token = uuid::Uuid::new_v4().to_string();
    let l = SignInLink {
        hash: hash(&token),
        tenant: tenant.into(),
        name: "ann".into(),
        instance: Some(uuid::Uuid::new_v4()),
        expires_at: Utc::now() + TimeDelta::minutes(minutes),
    };
    (token, l)
}

fn session(tenant: &str, name: &str, hours: i64) -> Session {
    let now = Utc::now();
    Session {
        hash: hash(&uuid::Uuid::new_v4().to_string()),
        tenant: tenant.into(),
        name: name.into(),
        instance: Some(uuid::Uuid::new_v4()),
        created_at: now,
        expires_at: now + TimeDelta::hours(hours),
    }
}

/// Millisecond-rounded, as every store keeps times.
fn rounded<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_value(serde_json::to_value(v).unwrap()).unwrap()
}

pub async fn a_link_is_taken_once(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let (token, l) = link(&t, 15);
    s.put_link(&l).await.unwrap();
    let now = Utc::now();
    assert_eq!(s.link(&hash(&token), now).await.unwrap(), Some(rounded(&l)));
    assert_eq!(
        s.link(&l.hash, now).await.unwrap(),
        Some(rounded(&l)),
        "read twice"
    );
    assert_eq!(s.take_link(&l.hash, now).await.unwrap(), Some(rounded(&l)));
    assert_eq!(s.take_link(&l.hash, now).await.unwrap(), None, "replayed");
    assert_eq!(s.link(&l.hash, now).await.unwrap(), None);
    assert_eq!(s.link(&hash("never issued"), now).await.unwrap(), None);
}

pub async fn an_expired_link_is_neither_read_nor_taken(s: Arc<dyn SessionStore>) {
    let (_, l) = link(&tenant(), 15);
    s.put_link(&l).await.unwrap();
    let later = Utc::now() + TimeDelta::minutes(15) + TimeDelta::seconds(1);
    assert_eq!(s.link(&l.hash, later).await.unwrap(), None);
    assert_eq!(s.take_link(&l.hash, later).await.unwrap(), None);
}

pub async fn of_concurrent_takes_one_gets_the_link(s: Arc<dyn SessionStore>) {
    let (_, l) = link(&tenant(), 15);
    s.put_link(&l).await.unwrap();
    let mut takes = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (s, h) = (s.clone(), l.hash.clone());
        takes.spawn(async move { s.take_link(&h, Utc::now()).await.unwrap() });
    }
    let won = takes.join_all().await.into_iter().flatten().count();
    assert_eq!(won, 1);
}

pub async fn requests_are_counted_per_name_in_a_window(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let now = Utc::now();
    let window = TimeDelta::minutes(15);
    for _ in 0..3 {
        let c = s.count_request(&t, "ann", now, window, 3).await.unwrap();
        assert_eq!(c, Counted::Admitted);
    }
    let later = now + TimeDelta::minutes(5);
    match s.count_request(&t, "ann", later, window, 3).await.unwrap() {
        Counted::Limited {
            retry_after_seconds,
        } => assert!(
            (599..=600).contains(&retry_after_seconds),
            "{retry_after_seconds}"
        ),
        other => panic!("the fourth is let through: {other:?}"),
    }
    let other = s.count_request(&t, "bob", later, window, 3).await.unwrap();
    assert_eq!(other, Counted::Admitted, "another name counts apart");
    let other_tenant = s.count_request(&tenant(), "ann", later, window, 3).await;
    assert_eq!(other_tenant.unwrap(), Counted::Admitted);
    let next = now + window + TimeDelta::seconds(1);
    let again = s.count_request(&t, "ann", next, window, 3).await.unwrap();
    assert_eq!(again, Counted::Admitted, "a new window");
}

pub async fn concurrent_requests_never_pass_the_limit(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let now = Utc::now();
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (s, t) = (s.clone(), t.clone());
        asks.spawn(async move {
            s.count_request(&t, "ann", now, TimeDelta::minutes(15), 3)
                .await
                .unwrap()
        });
    }
    let passed = asks
        .join_all()
        .await
        .into_iter()
        .filter(|c| *c == Counted::Admitted)
        .count();
    assert_eq!(passed, 3);
}

pub async fn sessions_are_found_by_principal_and_hash(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let ann = session(&t, "ann", 12);
    s.put_session(&ann).await.unwrap();
    let now = Utc::now();
    let found = s.session(&t, "ann", &ann.hash, now).await.unwrap();
    assert_eq!(found, Some(rounded(&ann)));
    assert_eq!(
        s.session(&tenant(), "ann", &ann.hash, now).await.unwrap(),
        None,
        "another tenant"
    );
    assert_eq!(
        s.session(&t, "bob", &ann.hash, now).await.unwrap(),
        None,
        "another name"
    );
    assert_eq!(
        s.session(&t, "ann", &hash("forged"), now).await.unwrap(),
        None
    );
    let later = now + TimeDelta::hours(12) + TimeDelta::seconds(1);
    assert_eq!(
        s.session(&t, "ann", &ann.hash, later).await.unwrap(),
        None,
        "expired"
    );
    assert!(s.remove_session(&t, "ann", &ann.hash).await.unwrap());
    assert!(!s.remove_session(&t, "ann", &ann.hash).await.unwrap());
    assert_eq!(
        s.session(&t, "ann", &ann.hash, now).await.unwrap(),
        None,
        "signed out"
    );
}

pub async fn sign_out_all_ends_the_principals_sessions_only(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let anns: Vec<Session> = (0..3).map(|_| session(&t, "ann", 12)).collect();
    for a in &anns {
        s.put_session(a).await.unwrap();
    }
    let bob = session(&t, "bob", 12);
    s.put_session(&bob).await.unwrap();
    let elsewhere = session(&tenant(), "ann", 12);
    s.put_session(&elsewhere).await.unwrap();
    assert_eq!(
        s.remove_sessions_of(&t, "ann", Utc::now()).await.unwrap(),
        3
    );
    let now = Utc::now();
    for a in &anns {
        assert_eq!(s.session(&t, "ann", &a.hash, now).await.unwrap(), None);
    }
    assert!(
        s.session(&t, "bob", &bob.hash, now)
            .await
            .unwrap()
            .is_some()
    );
    let other = s
        .session(&elsewhere.tenant, "ann", &elsewhere.hash, now)
        .await;
    assert!(
        other.unwrap().is_some(),
        "another tenant's ann stays signed in"
    );
    assert_eq!(
        s.remove_sessions_of(&t, "ann", Utc::now()).await.unwrap(),
        0
    );
}

pub async fn a_button_is_spent_once(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let nonce = uuid::Uuid::new_v4();
    let until = Utc::now() + TimeDelta::hours(1);
    assert!(s.spend(&t, nonce, until).await.unwrap(), "first spend");
    assert!(!s.spend(&t, nonce, until).await.unwrap(), "replayed");
    assert!(
        !s.spend(&tenant(), nonce, until).await.unwrap(),
        "the same nonce under another tenant"
    );
    let other = uuid::Uuid::new_v4();
    assert!(s.spend(&t, other, until).await.unwrap(), "another button");
}

pub async fn of_concurrent_spends_one_wins(s: Arc<dyn SessionStore>) {
    let t = tenant();
    let nonce = uuid::Uuid::new_v4();
    let until = Utc::now() + TimeDelta::hours(1);
    let mut spends = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (s, t) = (s.clone(), t.clone());
        spends.spawn(async move { s.spend(&t, nonce, until).await.unwrap() });
    }
    let won = spends.join_all().await.into_iter().filter(|w| *w).count();
    assert_eq!(won, 1);
}
