//! Reaching reviewers and calling agents back, end to end on the local server: principals added
//! with `holdpoint principals`, mail to a real SMTP server (aiosmtpd), webhooks and callbacks
//! verified by the Standard Webhooks reference library (PyPI), retries against receivers that
//! fail, the SSRF check, and a removed principal's keys and links.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::{Value, json};
use support::{Server, free_port};

/// A principal as `holdpoint principals add` printed it.
struct Added {
    key: String,
    secret: String,
}

fn holdpoint(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("holdpoint runs")
}

fn add(dir: &Path, args: &[&str]) -> Added {
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
struct Team {
    agent: Added,
    alice: Added,
    bob: Added,
    carol: Added,
}

fn team(dir: &Path, hooks: &Webhooks) -> Team {
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

async fn serve(dir: &Path, mail: &Mailbox, private: bool) -> Server {
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

async fn create(server: &Server, key: &str, body: Value) -> String {
    let (status, a) = server
        .call("POST", "/v1/approvals", Some(key), Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 201, "{a}");
    a["id"].as_str().unwrap().to_owned()
}

async fn deliveries(server: &Server, key: &str, id: &str) -> Vec<Value> {
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
fn link_in(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    text.lines()
        .find(|l| l.contains("/review/"))
        .unwrap()
        .trim()
        .to_owned()
}

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
    let token = bob_link.split("token=").nth(1).unwrap();
    let form = http
        .post(format!("{}/review/{id}", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&decision=approved&comment=ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let (_, a) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}"),
            Some(&t.agent.key),
            None,
        )
        .await
        .unwrap();
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
async fn callbacks_are_retried_until_delivered_once_and_failures_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    hooks.trust("agent", &t.agent.secret).await;
    hooks.trust("alice", &t.alice.secret).await;
    let server = serve(dir.path(), &mail, true).await;
    let ask = |callback: &str| {
        json!({"action": "Rotate keys", "agent_id": "ops", "reviewers": ["carol"],
               "callback_url": hooks.url(callback)})
    };

    // Fails 3 times (503), then succeeds: approved and executed each delivered exactly once.
    let flaky = create(&server, &t.agent.key, ask("/agent/flaky3")).await;
    let (status, _) = server
        .call(
            "POST",
            &format!("/v1/approvals/{flaky}/decision"),
            Some(&t.carol.key),
            Some(&json!({"decision": "approved"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let hash =
        holdpoint::request::CreateRequest::new("Rotate keys", "ops", ["carol"]).context_hash(None);
    let (status, e) = server
        .call(
            "POST",
            &format!("/v1/approvals/{flaky}/execute"),
            Some(&t.agent.key),
            Some(&json!({"context_hash": hash})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{e}");

    // Always 500: attempts spent, recorded as failed. 410: final at once.
    let failing = create(&server, &t.agent.key, ask("/agent/fail")).await;
    let gone = create(&server, &t.agent.key, ask("/agent/gone")).await;
    for id in [&failing, &gone] {
        let (status, _) = server
            .call(
                "POST",
                &format!("/v1/approvals/{id}/decision"),
                Some(&t.carol.key),
                Some(&json!({"decision": "rejected", "comment": "no"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
    }

    let settled = |d: &Vec<Value>| d.len() == 2 && d.iter().all(|x| x["status"] != "pending");
    let flaky_d = eventually(
        Duration::from_secs(30),
        async || deliveries(&server, &t.agent.key, &flaky).await,
        settled,
    )
    .await;
    for d in &flaky_d {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 4, "{d}");
        assert_eq!(d["last_status"], 200);
    }
    let log = hooks.log().await;
    for event in ["approval.approved", "approval.executed"] {
        let of: Vec<_> = log
            .iter()
            .filter(|r| r["path"] == "/agent/flaky3" && r["body"]["type"] == event)
            .collect();
        assert_eq!(of.len(), 4, "{event}: 3 refusals and a success: {of:?}");
        assert!(of.iter().all(|r| r["verified"] == true));
        assert_eq!(
            of.iter().filter(|r| r["status"] == 200).count(),
            1,
            "{event} delivered once"
        );
        let ids: std::collections::HashSet<_> =
            of.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");
    }

    let one = |d: Vec<Value>| d.into_iter().find(|x| x["channel"] == "callback").unwrap();
    let failed = one(eventually(
        Duration::from_secs(30),
        async || deliveries(&server, &t.agent.key, &failing).await,
        |d| d.iter().any(|x| x["status"] == "failed"),
    )
    .await);
    assert_eq!(failed["attempts"], 4, "{failed}");
    assert_eq!(failed["last_status"], 500);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 4 attempts"),
        "{failed}"
    );
    let final_4xx = one(eventually(
        Duration::from_secs(30),
        async || deliveries(&server, &t.agent.key, &gone).await,
        |d| d.iter().any(|x| x["status"] == "failed"),
    )
    .await);
    assert_eq!(
        (
            final_4xx["attempts"].as_u64(),
            final_4xx["last_status"].as_u64()
        ),
        (Some(1), Some(410))
    );

    // The operator sees both failures.
    let out = holdpoint(dir.path(), &["deliveries", "--failed", "--json"], &[]);
    assert!(out.status.success());
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<_> = listed
        .iter()
        .map(|d| d["approval_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![failing.clone(), gone.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let _ = (t.alice, t.bob);
}

#[tokio::test]
async fn ssrf_targets_are_refused_at_create_and_again_at_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    // Alice's webhook points at loopback, accepted only because the CLI ran with the flag.
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    let server = serve(dir.path(), &mail, false).await;
    for target in [
        hooks.url("/agent"),
        "https://127.0.0.1/x".to_owned(),
        "https://10.0.0.7/x".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::1]/x".to_owned(),
        "https://[fd00::1]/x".to_owned(),
        "https://localhost/x".to_owned(),
        "ftp://example.com/x".to_owned(),
    ] {
        let (status, p) = server
            .call(
                "POST",
                "/v1/approvals",
                Some(&t.agent.key),
                Some(&json!({
                "action": "x", "agent_id": "a", "reviewers": ["alice"], "callback_url": target})),
            )
            .await
            .unwrap();
        assert_eq!(
            (status, p["field"].as_str()),
            (422, Some("callback_url")),
            "{target}: {p}"
        );
    }
    // Stored before, refused when sent: the target is checked again at every delivery.
    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "x", "agent_id": "a", "reviewers": ["alice"]}),
    )
    .await;
    let sent = eventually(
        Duration::from_secs(20),
        async || deliveries(&server, &t.agent.key, &id).await,
        |d| {
            d.iter()
                .any(|x| x["channel"] == "webhook" && x["status"] == "failed")
        },
    )
    .await;
    let hook = sent.iter().find(|x| x["channel"] == "webhook").unwrap();
    assert!(
        hook["last_error"]
            .as_str()
            .unwrap()
            .contains("refused target"),
        "{hook}"
    );
    assert_eq!(hook["attempts"], 1);
    assert!(hooks.log().await.is_empty(), "nothing reached loopback");
    let out = holdpoint(
        dir.path(),
        &[
            "principals",
            "add",
            "local/eve",
            "--webhook",
            "https://192.168.0.1/x",
        ],
        &[],
    );
    assert!(!out.status.success(), "the CLI refuses it too");
}

#[tokio::test]
async fn a_removed_principal_can_no_longer_call_or_decide_and_a_rotated_key_replaces_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    let server = serve(dir.path(), &mail, true).await;
    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "Drop table", "agent_id": "db", "reviewers": ["bob", "alice", "zed"]}),
    )
    .await;
    // Links go to principals of the directory alone: zed is not one, and could not use one.
    let events = std::fs::read_to_string(dir.path().join(".holdpoint/events.jsonl")).unwrap();
    let requested: Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    let linked: Vec<_> = requested["detail"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reviewer"].as_str().unwrap())
        .collect();
    assert_eq!(linked, ["bob", "alice"]);
    let mails = eventually(
        Duration::from_secs(20),
        async || mail.messages(),
        |m| m.len() >= 2,
    )
    .await;
    let bob_link = link_in(
        mails
            .iter()
            .find(|m| m["to"][0] == "bob@example.com")
            .unwrap(),
    );
    let (status, _) = server
        .call("GET", "/v1/me", Some(&t.bob.key), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let http = reqwest::Client::new();
    assert_eq!(http.get(&bob_link).send().await.unwrap().status(), 200);

    let out = holdpoint(dir.path(), &["principals", "remove", "local/bob"], &[]);
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(1_200)).await; // HOLDPOINT_AUTH_CACHE_SECONDS=1
    let (status, _) = server
        .call("GET", "/v1/me", Some(&t.bob.key), None)
        .await
        .unwrap();
    assert_eq!(status, 401, "bob's key no longer works");
    assert_eq!(
        http.get(&bob_link).send().await.unwrap().status(),
        403,
        "nor does his link"
    );
    let token = bob_link.split("token=").nth(1).unwrap();
    let form = http
        .post(format!("{}/review/{id}", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&decision=approved"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    let (_, a) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}"),
            Some(&t.agent.key),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a["status"], "pending", "bob's link decided nothing");

    let out = holdpoint(
        dir.path(),
        &["principals", "rotate-key", "local/agent"],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let new_key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (old, _) = server
        .call("GET", "/v1/me", Some(&t.agent.key), None)
        .await
        .unwrap();
    let (new, me) = server
        .call("GET", "/v1/me", Some(&new_key), None)
        .await
        .unwrap();
    assert_eq!((old, new), (401, 200));
    assert_eq!(me["principal"], "agent");
    let list = holdpoint(dir.path(), &["principals", "list", "--json"], &[]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        !listed.contains("bob") && !listed.contains("whsec_") && !listed.contains(&new_key),
        "{listed}"
    );
    let _ = (t.alice, t.carol);
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

#[tokio::test]
async fn principals_are_managed_on_dynamodb_alike() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "run with infra/test.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let names: Vec<String> = ["approvals", "audit", "directory", "deliveries"]
        .iter()
        .map(|t| format!("cli-{t}-{suffix}"))
        .collect();
    let env = [
        ("HOLDPOINT_APPROVALS_TABLE", names[0].as_str()),
        ("HOLDPOINT_AUDIT_TABLE", names[1].as_str()),
        ("HOLDPOINT_DIRECTORY_TABLE", names[2].as_str()),
        ("HOLDPOINT_DELIVERIES_TABLE", names[3].as_str()),
    ];
    assert!(
        holdpoint(dir.path(), &["tables", "create"], &env)
            .status
            .success()
    );
    let run = |args: &[&str]| {
        let mut all = vec!["principals"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--store", "dynamodb"]);
        holdpoint(dir.path(), &all, &env)
    };
    let added = run(&[
        "add",
        "acme/alice",
        "--role",
        "finance",
        "--iam-arn",
        "arn:aws:iam::123456789012:user/alice",
    ]);
    let out = String::from_utf8_lossy(&added.stdout);
    assert!(added.status.success(), "{out}");
    assert!(
        !out.contains("api key:"),
        "an IAM principal gets no API key: {out}"
    );
    assert!(out.contains("webhook secret: whsec_"));
    assert!(
        run(&[
            "add",
            "acme/ops",
            "--iam-arn",
            "arn:aws:iam::123456789012:user/alice"
        ])
        .status
        .code()
            == Some(2),
        "an ARN belongs to one principal"
    );
    let listed = run(&["list", "--tenant", "acme", "--json"]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["iam_arns"],
        json!(["arn:aws:iam::123456789012:user/alice"])
    );
    assert!(run(&["rotate-key", "acme/alice"]).status.success());
    assert!(run(&["remove", "acme/alice"]).status.success());
    assert!(
        !run(&["remove", "acme/alice"]).status.success(),
        "gone already"
    );
    assert!(nothing_listed(&run(&["list", "--json"])));
}

fn nothing_listed(out: &std::process::Output) -> bool {
    serde_json::from_slice::<Vec<Value>>(&out.stdout).is_ok_and(|l| l.is_empty())
}
