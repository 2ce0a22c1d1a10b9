//! Reaching reviewers, end to end on the local server: principals added with `holdpoint
//! principals`, mail to a real SMTP server (aiosmtpd), webhooks verified by the Standard Webhooks
//! reference library (PyPI), a mailed link that decides, an escalation telling the next level.

mod support;

use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::json;
use support::create;
use support::team::{approval, decide_by_link, deliveries, link_in, serve, team};
use support::{Server, free_port};

#[tokio::test]
async fn reviewers_get_their_own_links_by_mail_and_webhook_and_a_link_decides() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    hooks.trust("agent", &t.agent.secret).await;
    let server = serve(dir.path(), &mail, true).await;

    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "Pay <b>invoice</b> 7", "agent_id": "billing",
               "reviewers": ["role:finance"], "risk_score": 70,
               "callback_url": hooks.url("/agent")}),
    )
    .await;

    // One mail each to the members of role:finance, each with a link of their own.
    let mails = eventually(
        Duration::from_secs(20),
        async || mail.messages(),
        |m| m.len() >= 2,
    )
    .await;
    let mut to: Vec<_> = mails.iter().map(|m| m["to"][0].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["alice@example.com", "bob@example.com"]);
    for m in &mails {
        assert_eq!(m["from"], "holdpoint@example.com");
        assert!(
            m["subject"]
                .as_str()
                .unwrap()
                .contains("Pay <b>invoice</b> 7")
        );
        assert!(m["text"].as_str().unwrap().contains("70 / 100"));
        let html = m["html"].as_str().unwrap();
        assert!(html.contains("Pay &lt;b&gt;invoice&lt;/b&gt; 7"), "{html}");
        assert!(
            !html.contains("<b>invoice"),
            "agent text is data in HTML too"
        );
    }
    let link_of = |who: &str| {
        link_in(
            mails
                .iter()
                .find(|m| m["to"][0].as_str().unwrap().starts_with(who))
                .unwrap(),
        )
    };
    let (alice_link, bob_link) = (link_of("alice"), link_of("bob"));
    assert_ne!(alice_link, bob_link, "a link is bound to its principal");
    assert!(bob_link.starts_with(&format!("{}/review/{id}?token=", server.url())));

    // Alice's webhook, verified by the reference library, carries her link.
    let log = eventually(
        Duration::from_secs(20),
        async || hooks.log().await,
        |l| !l.is_empty(),
    )
    .await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["verified"], true);
    assert_eq!(log[0]["body"]["type"], "approval.review_requested");
    assert_eq!(log[0]["body"]["data"]["review_url"], alice_link.as_str());

    // Bob opens his link and approves with the form.
    let http = reqwest::Client::new();
    let page = http.get(&bob_link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Pay &lt;b&gt;invoice"));
    assert_eq!(
        decide_by_link(&server, &bob_link, &id, "decision=approved&comment=ok").await,
        200
    );
    let a = approval(&server, &t.agent.key, &id).await;
    assert_eq!(
        (a["status"].as_str(), a["decision"]["by"].as_str()),
        (Some("approved"), Some("bob"))
    );

    // The agent is called back once, signed with its own secret, without a link.
    let log = eventually(
        Duration::from_secs(20),
        async || hooks.log().await,
        |l| l.len() >= 2,
    )
    .await;
    let callback = &log[1];
    assert_eq!(callback["path"], "/agent");
    assert_eq!(callback["verified"], true);
    assert_eq!(callback["body"]["type"], "approval.approved");
    assert_eq!(callback["body"]["data"]["approval_id"], id.as_str());
    assert!(
        !callback["body"].to_string().contains("/review/"),
        "{callback}"
    );

    // What was sent, for the requester and reviewers; nobody else.
    let sent = eventually(
        Duration::from_secs(10),
        async || deliveries(&server, &t.agent.key, &id).await,
        |d| d.len() == 4 && d.iter().all(|x| x["status"] == "delivered"),
    )
    .await;
    let mut kinds: Vec<_> = sent
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["channel"].as_str().unwrap(),
                d["recipient"].as_str().unwrap()
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "callback:agent",
            "email:alice",
            "email:bob",
            "webhook:alice"
        ]
    );
    assert!(
        !serde_json::to_string(&sent).unwrap().contains("token="),
        "no link shown"
    );
    assert_eq!(deliveries(&server, &t.alice.key, &id).await.len(), 4);
    let (status, _) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}/deliveries"),
            Some(&t.carol.key),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "carol is neither requester nor reviewer");
    let _ = t.bob;
}

#[tokio::test]
async fn an_escalation_tells_the_next_level_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    let smtp = mail.url();
    let env = [
        ("HOLDPOINT_SMTP_URL", smtp.as_str()),
        ("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1"),
        ("HOLDPOINT_SWEEP_SECONDS", "1"),
    ];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "Wire 5,000 EUR", "agent_id": "pay", "reviewers": ["bob"],
               "escalation": [{"after_seconds": 1, "reviewers": ["alice"]}]}),
    )
    .await;
    let log = eventually(
        Duration::from_secs(30),
        async || hooks.log().await,
        |l| !l.is_empty(),
    )
    .await;
    assert_eq!(log[0]["body"]["type"], "approval.escalated");
    assert_eq!(log[0]["verified"], true);
    let mails = eventually(
        Duration::from_secs(20),
        async || mail.messages(),
        |m| m.len() >= 2,
    )
    .await;
    assert_eq!(
        mails[0]["to"][0], "bob@example.com",
        "the first level first"
    );
    assert_eq!(mails[1]["to"][0], "alice@example.com");
    assert!(
        mails[1]["text"]
            .as_str()
            .unwrap()
            .contains("escalated to you")
    );
    let (_, a) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}"),
            Some(&t.agent.key),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a["reviewers"], json!(["alice"]));
    let _ = (t.bob, t.carol);
}
