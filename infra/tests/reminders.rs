//! Reminders end to end on the local server: an approval left unanswered reminds its reviewer
//! once, before it expires, by mail (a real SMTP server) and by webhook (verified by the
//! Standard Webhooks reference library), with the time left; kept and shown as deliveries.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::json;
use support::create;
use support::team::{approval, deliveries, link_in, team};
use support::{Server, free_port};

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str().and_then(|s| s.parse().ok()).expect("a time")
}

#[tokio::test]
async fn a_reminder_arrives_once_before_expiry_by_mail_and_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    let smtp = mail.url();
    // 0.05 of a two-minute window: reminded 6 s in, 114 s before the deadline.
    let env = [
        ("HOLDPOINT_SMTP_URL", smtp.as_str()),
        ("HOLDPOINT_EMAIL_FROM", "holdpoint@example.com"),
        ("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1"),
        ("HOLDPOINT_DELIVERY_BACKOFF_MS", "50"),
        ("HOLDPOINT_SWEEP_SECONDS", "1"),
        ("HOLDPOINT_REMIND_AT", "0.05"),
    ];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "Pay <b>invoice</b> 9", "agent_id": "billing",
               "reviewers": ["alice"], "expires_in_seconds": 120}),
    )
    .await;
    let a = approval(&server, &t.agent.key, &id).await;
    let (created, expires) = (time(&a["created_at"]), time(&a["expires_at"]));
    assert_eq!(
        time(&a["reminds_at"]) - created,
        chrono::TimeDelta::seconds(6)
    );

    let log = eventually(
        Duration::from_secs(30),
        async || hooks.log().await,
        |l| l.len() >= 2,
    )
    .await;
    assert_eq!(log[0]["body"]["type"], "approval.review_requested");
    let reminder = &log[1];
    assert_eq!(reminder["verified"], true, "{reminder}");
    assert_eq!(reminder["path"], "/alice");
    assert_eq!(reminder["body"]["type"], "approval.reminder");
    let data = &reminder["body"]["data"];
    assert_eq!(data["approval_id"], id.as_str());
    let left = data["seconds_left"].as_i64().expect("seconds_left");
    assert!((60..=114).contains(&left), "{data}");
    let sent_at = time(&reminder["body"]["timestamp"]);
    assert!(sent_at < expires, "before expiry: {sent_at} {expires}");
    assert!(
        data["review_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/review/{id}?token=", server.url())),
        "{data}"
    );

    let mails = eventually(
        Duration::from_secs(20),
        async || mail.messages(),
        |m| m.len() >= 2,
    )
    .await;
    let (asked, reminded) = (&mails[0], &mails[1]);
    assert_eq!(reminded["to"][0], "alice@example.com");
    let subject = reminded["subject"].as_str().unwrap();
    assert!(subject.starts_with("Reminder, "), "{subject}");
    assert!(
        subject.ends_with("left: approval needed: Pay <b>invoice</b> 9"),
        "{subject}"
    );
    let text = reminded["text"].as_str().unwrap();
    assert!(
        text.contains("A reminder: an approval waiting for you expires in"),
        "{text}"
    );
    let html = reminded["html"].as_str().unwrap();
    assert!(html.contains("Pay &lt;b&gt;invoice&lt;/b&gt; 9") && !html.contains("<b>invoice"));
    assert!(!asked["subject"].as_str().unwrap().starts_with("Reminder"));
    // A link of its own that still opens the review page.
    let page = reqwest::get(link_in(reminded)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        approval(&server, &t.agent.key, &id).await["status"],
        "pending"
    );

    // Once: several more sweeps send nothing more.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(hooks.log().await.len(), 2, "one reminder by webhook");
    assert_eq!(mail.messages().len(), 2, "one reminder by mail");
    let a = approval(&server, &t.agent.key, &id).await;
    assert!(a.get("reminds_at").is_none(), "spent: {a}");
    let (status, audit) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}/audit"),
            Some(&t.agent.key),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{audit}");
    let reminded_records = audit.to_string().matches("\"reminded\"").count();
    assert_eq!(reminded_records, 1, "{audit}");

    // Kept and shown like every other delivery.
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
                d["event_type"].as_str().unwrap()
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "email:approval.reminder",
            "email:approval.review_requested",
            "webhook:approval.reminder",
            "webhook:approval.review_requested"
        ]
    );
    let _ = (t.bob, t.carol);
}
