//! A team in the directory, added with `holdpoint principals add`, and a server that reaches
//! them: what the tests of reviewers' messages, callbacks and principals share.

use std::path::Path;

use holdpoint_tests::receivers::{Mailbox, Webhooks};
use serde_json::Value;

use super::{Server, free_port, holdpoint};

/// A principal as `holdpoint principals add` printed it.
pub struct Added {
    pub key: String,
    pub secret: String,
}

pub fn add(dir: &Path, args: &[&str]) -> Added {
    let mut all = vec!["principals", "add"];
    all.extend_from_slice(args);
    let out = holdpoint(dir, &all, &[("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1")]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    Added {
        key: field("api key:"),
        secret: field("webhook secret:"),
    }
}

/// The team: an agent, alice and bob holding `finance` (alice reached by mail and webhook, bob
/// by mail), carol with no contact.
pub struct Team {
    pub agent: Added,
    pub alice: Added,
    pub bob: Added,
    pub carol: Added,
}

pub fn team(dir: &Path, hooks: &Webhooks) -> Team {
    let alice_hook = hooks.url("/alice");
    Team {
        agent: add(dir, &["local/agent"]),
        alice: add(
            dir,
            &[
                "local/alice",
                "--role",
                "finance",
                "--email",
                "alice@example.com",
                "--webhook",
                &alice_hook,
            ],
        ),
        bob: add(
            dir,
            &[
                "local/bob",
                "--role",
                "finance",
                "--email",
                "bob@example.com",
            ],
        ),
        carol: add(dir, &["local/carol"]),
    }
}

pub async fn serve(dir: &Path, mail: &Mailbox, private: bool) -> Server {
    let smtp = mail.url();
    let mut env = vec![
        ("HOLDPOINT_SMTP_URL", smtp.as_str()),
        ("HOLDPOINT_EMAIL_FROM", "holdpoint@example.com"),
        ("HOLDPOINT_DELIVERY_ATTEMPTS", "4"),
        ("HOLDPOINT_DELIVERY_BACKOFF_MS", "50"),
        ("HOLDPOINT_AUTH_CACHE_SECONDS", "1"),
    ];
    if private {
        env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1"));
    }
    Server::start(dir, &env, free_port()).await
}

pub async fn deliveries(server: &Server, key: &str, id: &str) -> Vec<Value> {
    let (status, d) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}/deliveries"),
            Some(key),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{d}");
    d["items"].as_array().unwrap().clone()
}

/// The review link in a mail's text.
pub fn link_in(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    text.lines()
        .find(|l| l.contains("/review/"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Sends the review form of approval `id` with the token of `link`; the answer's status.
pub async fn decide_by_link(server: &Server, link: &str, id: &str, form: &str) -> u16 {
    let token = link.split("token=").nth(1).expect("a link with a token");
    reqwest::Client::new()
        .post(format!("{}/review/{id}", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&{form}"))
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

/// Approval `id` as `key` reads it.
pub async fn approval(server: &Server, key: &str, id: &str) -> Value {
    let (status, a) = server
        .call("GET", &format!("/v1/approvals/{id}"), Some(key), None)
        .await
        .expect("the server answers");
    assert_eq!(status, 200, "{a}");
    a
}
