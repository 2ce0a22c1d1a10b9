//! Signing in to the inbox on the local server, end to end: the sign-in link by mail (a real
//! SMTP server) and by webhook (verified by the Standard Webhooks reference library), the same
//! answer for a name nobody has, the link signing in once, and `holdpoint principals sign-out`
//! ending the session while the server runs.

mod support;

use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use support::team::{serve, team};
use support::{holdpoint, printed};

async fn ask(client: &reqwest::Client, base: &str, tenant: &str, name: &str) -> (u16, String) {
    let res = client
        .post(format!("{base}/inbox"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("tenant={tenant}&name={name}"))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_reviewer_signs_in_by_the_link_it_is_sent_and_is_signed_out_by_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    let server = serve(dir.path(), &mail, true).await;
    let base = server.url();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let known = ask(&client, &base, "local", "alice").await;
    let unknown = ask(&client, &base, "local", "nobody").await;
    assert_eq!(known.0, 200, "{}", known.1);
    assert_eq!(
        known, unknown,
        "the same answer whether or not the name exists"
    );

    let mails = eventually(
        Duration::from_secs(20),
        async || mail.messages(),
        |m| !m.is_empty(),
    )
    .await;
    assert_eq!(mails.len(), 1, "nobody gets nothing: {mails:?}");
    assert_eq!(mails[0]["to"][0], "alice@example.com");
    assert_eq!(mails[0]["subject"], "Sign in to the Holdpoint inbox");
    let text = mails[0]["text"].as_str().unwrap();
    let prefix = format!("{base}/inbox/sign-in?token=");
    let at = text.find(&prefix).expect("the link") + prefix.len();
    let token = &text[at..at + 43];
    // The webhook, sent by the same worker (not skipped as an approval no longer waiting).
    let log = eventually(
        Duration::from_secs(20),
        async || hooks.log().await,
        |l| !l.is_empty(),
    )
    .await;
    assert_eq!(log[0]["verified"], true);
    assert_eq!(log[0]["body"]["type"], "inbox.sign_in");
    assert_eq!(log[0]["body"]["data"]["principal"], "alice");

    let sign_in = |token: String| {
        client
            .post(format!("{base}/inbox/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let res = sign_in(token.to_owned()).await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert!(!cookie.contains(token), "{cookie}");
    let replayed = sign_in(token.to_owned()).await.unwrap();
    assert_eq!(replayed.status().as_u16(), 403, "a replayed link");

    let inbox = |cookie: String| {
        client
            .get(format!("{base}/inbox"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(inbox(cookie.clone()).await.unwrap().status().as_u16(), 200);
    let out = holdpoint(
        dir.path(),
        &["principals", "sign-out", "alice", "--tenant", "local"],
        &[],
    );
    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("1 session(s) ended"),
        "{}",
        printed(&out)
    );
    assert_eq!(
        inbox(cookie).await.unwrap().status().as_u16(),
        401,
        "signed out"
    );
    let odd = holdpoint(dir.path(), &["principals", "sign-out", "alice"], &[]);
    assert!(
        !odd.status.success(),
        "a name without its tenant is refused"
    );
}

#[tokio::test]
async fn attack_many_sign_in_requests_are_refused_429_alike_for_every_name() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let _team = team(dir.path(), &hooks);
    let server = serve(dir.path(), &mail, true).await;
    let (base, client) = (server.url(), reqwest::Client::new());
    let mut refused = Vec::new();
    for name in ["alice", "ghost"] {
        for _ in 0..3 {
            assert_eq!(ask(&client, &base, "local", name).await.0, 200);
        }
        let res = client
            .post(format!("{base}/inbox"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("tenant=local&name={name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 429, "{name}: per name");
        let after: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&after), "{after}");
        refused.push(res.text().await.unwrap().replace(&after.to_string(), "N"));
    }
    assert_eq!(
        refused[0], refused[1],
        "the same refusal for a name nobody has"
    );
    // Ten a minute from one address, whatever the names: two more, then refused.
    for name in ["n1", "n2"] {
        assert_eq!(ask(&client, &base, "local", name).await.0, 200);
    }
    assert_eq!(
        ask(&client, &base, "local", "n3").await.0,
        429,
        "per address"
    );
    // Odd names: refused as invalid (before any limit is counted), never a 500.
    for name in ["a%2Fb", "%C3%A9", "a%0Ab", &"x".repeat(65)] {
        let (status, _) = ask(&client, &base, "local", name).await;
        assert_eq!(status, 422, "{name}: checked before any limit");
    }
}
