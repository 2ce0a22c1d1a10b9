//! Calling agents back, end to end on the local server: retries against receivers that fail,
//! exactly one delivery of each event, failures recorded, and the SSRF check at create and at
//! delivery.

mod support;

use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::{Value, json};
use support::team::{deliveries, serve, team};
use support::{create, holdpoint};

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
    let hash = holdpoint_core::domain::request::CreateRequest::new("Rotate keys", "ops", ["carol"])
        .context_hash(None);
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
