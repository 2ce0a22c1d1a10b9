//! Reviewers signing in (issue 25): a link by their own channels, single-use, 15 minutes, then
//! a session that ends when signed out, expired, or when the principal is removed, added again
//! or no longer a human. Every attack tried on it is kept here.

mod sign_in_support;

use chrono::TimeDelta;
use holdpoint::directory::Entry;
use holdpoint::service::ServiceError;
use holdpoint_core::domain::identity::PrincipalKind;
use holdpoint_core::domain::review_link::LinkRefusal;
use sign_in_support::{BASE, entry, world};

fn is_expired<T: std::fmt::Debug>(r: Result<T, ServiceError>) -> bool {
    matches!(r, Err(ServiceError::Link(LinkRefusal::Expired)))
}

#[tokio::test]
async fn a_link_by_mail_starts_a_session_with_the_roles_the_directory_holds() {
    let w = world().await;
    w.service
        .request_sign_in("acme", "ann", None)
        .await
        .unwrap();
    let sent = w.sent("acme", "ann", 1).await;
    assert_eq!(sent.len(), 1, "one mail: ann has no webhook");
    assert_eq!(sent[0].0, "email");
    assert!(
        sent[0].1.contains(&format!("{BASE}/inbox/sign-in?token=")),
        "{}",
        sent[0].1
    );
    let token = w.token("acme", "ann").await;
    // Opening reads only (mail scanners open links): twice, and it still signs in.
    for _ in 0..2 {
        let offer = w.service.open_sign_in(&token).await.unwrap();
        assert_eq!(
            (offer.tenant.as_str(), offer.name.as_str()),
            ("acme", "ann")
        );
    }
    let (cookie, signed) = w.service.sign_in(&token).await.unwrap();
    assert!(
        !cookie.contains(&token),
        "the session secret is not the link's"
    );
    assert_eq!(signed.principal.principal, "ann");
    assert_eq!(signed.principal.roles, ["sre"]);
    let session = w.service.session(&cookie).await.unwrap();
    assert_eq!(session.tenant, "acme");
    assert_eq!(session.csrf, signed.csrf, "one CSRF token per session");
    assert!(session.csrf_matches(&signed.csrf) && !session.csrf_matches("forged"));
    let hours = (session.expires_at - w.clock.clock().now()).num_minutes();
    assert!(
        (12 * 60 - 1..=12 * 60).contains(&hours),
        "12 hours: {hours} min"
    );
    // Roles are read at each call: a role taken away is gone from the next request.
    let fewer = Entry {
        roles: Vec::new(),
        ..w.directory.get("acme", "ann").await.unwrap().unwrap()
    };
    w.directory.put(&fewer, false).await.unwrap();
    assert!(
        w.service
            .session(&cookie)
            .await
            .unwrap()
            .principal
            .roles
            .is_empty()
    );
}

#[tokio::test]
async fn a_webhook_principal_gets_its_link_by_webhook() {
    let w = world().await;
    w.service
        .request_sign_in("acme", "wes", None)
        .await
        .unwrap();
    let sent = w.sent("acme", "wes", 1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "webhook");
    let body: serde_json::Value = serde_json::from_str(&sent[0].1).unwrap();
    assert_eq!(body["type"], "inbox.sign_in");
    assert_eq!(body["data"]["principal"], "wes");
    let token = w.token("acme", "wes").await;
    assert!(w.service.sign_in(&token).await.is_ok());
}

#[tokio::test]
async fn attack_a_replayed_link_signs_in_once() {
    let w = world().await;
    w.service
        .request_sign_in("acme", "ann", None)
        .await
        .unwrap();
    let token = w.token("acme", "ann").await;
    assert!(w.service.sign_in(&token).await.is_ok());
    assert!(is_expired(w.service.sign_in(&token).await), "replayed");
    assert!(is_expired(w.service.open_sign_in(&token).await));
}

#[tokio::test]
async fn attack_concurrent_replays_of_one_link_start_one_session() {
    let w = world().await;
    w.service
        .request_sign_in("acme", "ann", None)
        .await
        .unwrap();
    let token = w.token("acme", "ann").await;
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (s, t) = (w.service.clone(), token.clone());
        tries.spawn(async move { s.sign_in(&t).await.is_ok() });
    }
    let won = tries.join_all().await.into_iter().filter(|ok| *ok).count();
    assert_eq!(won, 1);
}

#[tokio::test]
async fn attack_an_expired_link_is_refused() {
    let w = world().await;
    w.service
        .request_sign_in("acme", "ann", None)
        .await
        .unwrap();
    let token = w.token("acme", "ann").await;
    w.clock.advance(TimeDelta::minutes(14));
    assert!(
        w.service.open_sign_in(&token).await.is_ok(),
        "still within 15 minutes"
    );
    w.clock
        .advance(TimeDelta::minutes(1) + TimeDelta::seconds(1));
    assert!(is_expired(w.service.open_sign_in(&token).await));
    assert!(is_expired(w.service.sign_in(&token).await));
}

#[tokio::test]
async fn attack_the_link_of_a_removed_principal_signs_nobody_in_even_once_added_again() {
    let w = world().await;
    w.service
        .request_sign_in("acme", "ann", None)
        .await
        .unwrap();
    let token = w.token("acme", "ann").await;
    assert!(w.directory.remove("acme", "ann").await.unwrap());
    w.directory.put(&entry("acme", "ann"), true).await.unwrap();
    assert!(
        is_expired(w.service.sign_in(&token).await),
        "another instance"
    );
}

#[tokio::test]
async fn attack_forged_and_odd_tokens_and_cookies_are_refused_as_expired() {
    let w = world().await;
    let cookie = w.signed_in("acme", "ann").await;
    let secret = cookie.rsplit('~').next().unwrap().to_owned();
    let forged_secret = format!("acme~ann~{}", "A".repeat(43));
    let long = "x".repeat(100_000);
    let odd = [
        "",
        "acme~ann",
        forged_secret.as_str(),
        long.as_str(),
        "acme~ann~../../etc/passwd",
        "acme~a\u{202e}nn~AAAA",
        &secret,
    ];
    for bad in odd {
        assert!(is_expired(w.service.session(bad).await), "{bad:.60}");
        assert!(is_expired(w.service.open_sign_in(bad).await), "{bad:.60}");
        assert!(is_expired(w.service.sign_in(bad).await), "{bad:.60}");
        assert!(
            w.service.sign_out(bad).await.is_ok(),
            "nothing to end is no error"
        );
    }
    // Ann's own secret under another of her tenant's names, or another tenant's ann.
    for moved in [format!("acme~wes~{secret}"), format!("globex~ann~{secret}")] {
        assert!(is_expired(w.service.session(&moved).await), "{moved}");
    }
    assert!(
        w.service.session(&cookie).await.is_ok(),
        "ann's own still works"
    );
}

#[tokio::test]
async fn attack_a_session_of_tenant_a_after_its_principal_is_removed_is_refused() {
    let w = world().await;
    let acme = w.signed_in("acme", "ann").await;
    let globex = w.signed_in("globex", "ann").await;
    assert!(w.directory.remove("acme", "ann").await.unwrap());
    assert!(is_expired(w.service.session(&acme).await));
    w.directory.put(&entry("acme", "ann"), true).await.unwrap();
    assert!(
        is_expired(w.service.session(&acme).await),
        "added again: another principal"
    );
    assert!(
        w.service.session(&globex).await.is_ok(),
        "globex's ann is another"
    );
}

#[tokio::test]
async fn a_principal_made_an_agent_loses_its_session() {
    let w = world().await;
    let cookie = w.signed_in("acme", "ann").await;
    let ann = w.directory.get("acme", "ann").await.unwrap().unwrap();
    let agent = Entry {
        kind: PrincipalKind::Agent,
        ..ann.clone()
    };
    w.directory.put(&agent, false).await.unwrap();
    assert!(is_expired(w.service.session(&cookie).await));
    w.directory.put(&ann, false).await.unwrap();
    assert!(
        is_expired(w.service.session(&cookie).await),
        "ended, not paused"
    );
}

#[tokio::test]
async fn sessions_end_after_their_hours_by_sign_out_and_by_sign_out_all() {
    let w = world().await;
    let first = w.signed_in("acme", "ann").await;
    w.clock
        .advance(TimeDelta::hours(12) + TimeDelta::seconds(1));
    assert!(is_expired(w.service.session(&first).await), "12 hours");
    let one = w.signed_in("acme", "ann").await;
    w.service.sign_out(&one).await.unwrap();
    assert!(is_expired(w.service.session(&one).await));
    let all = [
        w.signed_in("acme", "ann").await,
        w.signed_in("acme", "ann").await,
    ];
    let wes = w.signed_in("acme", "wes").await;
    assert_eq!(w.service.sign_out_all("acme", "ann").await.unwrap(), 2);
    for c in &all {
        assert!(is_expired(w.service.session(c).await));
    }
    assert!(w.service.session(&wes).await.is_ok(), "wes stays signed in");
    assert!(matches!(
        w.service.sign_out_all("acme", "a/b").await,
        Err(ServiceError::Invalid(_))
    ));
}
