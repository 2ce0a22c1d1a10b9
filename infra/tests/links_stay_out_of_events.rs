//! Review links reach only their reviewers (issue 22, item 5): no lifecycle event the local
//! server writes to `events.jsonl` carries one, whether it asks named reviewers or a role's
//! members, escalates, or decides; nothing the agent can read carries one; each reviewer still
//! gets their own by mail and webhook, and it decides; `serve` prints them to its own terminal.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::{Value, json};
use support::free_port;
use support::team::{link_in, team};

/// `holdpoint serve` with its standard output kept in a file, as its terminal would show it.
struct Serve {
    child: Child,
    url: String,
    terminal: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    async fn start(dir: &Path, mail: &Mailbox) -> Serve {
        let terminal = dir.join("terminal.txt");
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_holdpoint"))
            .arg("serve")
            .current_dir(dir)
            .env("HOLDPOINT_ADDR", &addr)
            .env("HOLDPOINT_LOG", "warn")
            .env("HOLDPOINT_SMTP_URL", mail.url())
            .env("HOLDPOINT_EMAIL_FROM", "holdpoint@example.com")
            .env("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1")
            .env("HOLDPOINT_DELIVERY_BACKOFF_MS", "50")
            .env("HOLDPOINT_SWEEP_SECONDS", "1")
            .stdout(std::fs::File::create(&terminal).unwrap())
            .spawn()
            .expect("holdpoint starts");
        let serve = Serve {
            child,
            url: format!("http://{addr}"),
            terminal,
        };
        eventually(
            Duration::from_secs(30),
            async || serve.call("GET", "/health", None, None).await.0,
            |status| *status == 200,
        )
        .await;
        serve
    }

    /// One request; the status and the body as text (0 when the server does not answer).
    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request =
            reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        match request.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    async fn create(&self, key: &str, body: Value) -> String {
        let (status, answer) = self
            .call("POST", "/v1/approvals", Some(key), Some(body))
            .await;
        assert_eq!(status, 201, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        answer["id"].as_str().unwrap().to_owned()
    }

    /// Sends the review form for approval `id` with the token of `link`; the answer's status.
    async fn decide_by_link(&self, link: &str, id: &str) -> u16 {
        let token = link.split("token=").nth(1).expect("a link with a token");
        reqwest::Client::new()
            .post(format!("{}/review/{id}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&decision=approved"))
            .send()
            .await
            .expect("the server answers")
            .status()
            .as_u16()
    }
}

/// The lifecycle events written so far.
fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(".holdpoint/events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The reviewers event `detail_type` of approval `id` asks, sorted.
fn asked(events: &[Value], detail_type: &str, id: &str) -> Vec<String> {
    let event = events
        .iter()
        .find(|e| e["detail_type"] == detail_type && e["detail"]["approval_id"] == id)
        .unwrap_or_else(|| panic!("no {detail_type} of {id}: {events:?}"));
    let mut names: Vec<String> = event["detail"]["reviewers"]
        .as_array()
        .map(|a| a.iter().map(|r| r.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn no_event_carries_a_review_link_yet_each_reviewer_gets_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    // alice (mail, webhook) and bob (mail) hold finance; carol has no contact.
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    let serve = Serve::start(dir.path(), &mail).await;

    // Named reviewers and a role; then one escalated from a name to the role.
    let asked_both = serve
        .create(
            &t.agent.key,
            json!({"action": "Pay invoice 118", "agent_id": "ap", "reviewers": ["carol", "role:finance"]}),
        )
        .await;
    let escalated = serve
        .create(
            &t.agent.key,
            json!({"action": "Wire 5,000 EUR", "agent_id": "pay", "reviewers": ["carol"],
                   "escalation": [{"after_seconds": 1, "reviewers": ["role:finance"]}]}),
        )
        .await;

    // Each member of finance is mailed their own link to each; alice's webhooks carry hers.
    let mails = eventually(
        Duration::from_secs(30),
        async || mail.messages(),
        |m| m.len() >= 4,
    )
    .await;
    let mailed = |to: &str, id: &str| {
        mails
            .iter()
            .filter(|m| m["to"][0] == to)
            .map(link_in)
            .find(|l| l.contains(&format!("/review/{id}?token=")))
            .unwrap_or_else(|| panic!("no link to {id} for {to}: {mails:?}"))
    };
    let bob_link = mailed("bob@example.com", &asked_both);
    assert_ne!(
        bob_link,
        mailed("alice@example.com", &asked_both),
        "a link is its reviewer's"
    );
    let log = eventually(
        Duration::from_secs(30),
        async || hooks.log().await,
        |l| l.len() >= 2,
    )
    .await;
    let hooked = log
        .iter()
        .find(|h| h["body"]["type"] == "approval.escalated")
        .unwrap_or_else(|| panic!("no escalation hook: {log:?}"));
    assert_eq!(hooked["verified"], true);
    let alice_link = hooked["body"]["data"]["review_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(alice_link, mailed("alice@example.com", &escalated));

    // The links decide: bob's mailed one, alice's posted one.
    assert_eq!(serve.decide_by_link(&bob_link, &asked_both).await, 200);
    assert_eq!(serve.decide_by_link(&alice_link, &escalated).await, 200);

    // Every event published: requested, escalated, decided. None carries a link.
    let all = eventually(
        Duration::from_secs(20),
        async || events(dir.path()),
        |e| {
            e.iter()
                .filter(|x| x["detail_type"] == "Approval Decided")
                .count()
                == 2
        },
    )
    .await;
    let text = std::fs::read_to_string(dir.path().join(".holdpoint/events.jsonl")).unwrap();
    assert!(
        !text.contains("/review/") && !text.contains("token="),
        "{text}"
    );
    assert_eq!(
        asked(&all, "Approval Requested", &asked_both),
        ["alice", "bob", "carol"]
    );
    assert_eq!(asked(&all, "Approval Requested", &escalated), ["carol"]);
    assert_eq!(
        asked(&all, "Approval Escalated", &escalated),
        ["alice", "bob"]
    );
    assert!(asked(&all, "Approval Decided", &asked_both).is_empty());

    // Nothing the agent reads carries one: the approvals, their trails, their deliveries.
    for id in [&asked_both, &escalated] {
        for path in ["", "/audit", "/deliveries"] {
            let (status, body) = serve
                .call(
                    "GET",
                    &format!("/v1/approvals/{id}{path}"),
                    Some(&t.agent.key),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{path}: {body}");
            assert!(
                !body.contains("token=") && !body.contains("/review/"),
                "{path}: {body}"
            );
        }
    }

    // serve's own terminal shows them, for local development: carol, who has no contact, too.
    let terminal = std::fs::read_to_string(&serve.terminal).unwrap();
    let printed = format!(
        "Approval Requested {asked_both}: review link for carol: {}/review/{asked_both}?token=",
        serve.url
    );
    assert!(terminal.contains(&printed), "{terminal}");
    assert!(
        terminal.contains(&format!(
            "Approval Escalated {escalated}: review link for alice: {alice_link}\n"
        )),
        "{terminal}"
    );
    let _ = (t.bob, t.carol);
}
