//! `POST /slack/interactions` through the decide router, with clicks on messages the Slack
//! stand-in really holds, signed with the tenant's app's signing secret: every attacker try of
//! issue 26 kept as a test, and what a good click and the reject modal come to.

mod slack_interactions_support;

use std::time::{Duration, Instant};

use holdpoint_core::domain::approval::{Status, Verdict};
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::json::document::Document;
use holdpoint_tests::slack::clicks::{TEAM, block_actions, click_on, form, view_submission};
use http::StatusCode;
use serde_json::{Value, json};
use slack_interactions_support::*;

const APPROVE: &str = "holdpoint_approve";
const REJECT: &str = "holdpoint_reject";

#[tokio::test]
async fn unsigned_stale_future_or_foreign_requests_are_401_and_change_nothing() {
    let w = world().await;
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let body = form(&block_actions(ALICE, TEAM, &msg, APPROVE));
    let sig = signed(&body, 0);
    let refused = [
        ("acme", "payload=%7Bgarbage", signed_with("wrong", "x", 0)),
        ("acme", body.as_str(), vec![]),
        ("acme", body.as_str(), vec![sig[0].clone()]),
        ("acme", body.as_str(), vec![sig[1].clone()]),
        ("acme", body.as_str(), signed(&body, 6 * 60)),
        ("acme", body.as_str(), signed(&body, -6 * 60)),
        (
            "acme",
            body.as_str(),
            signed_with("another app's secret", &body, 0),
        ),
        ("acme", &format!("{body}&x=1"), sig.clone()),
        // A valid signature of acme's app, sent for a tenant with no app, or none at all.
        ("globex", body.as_str(), sig.clone()),
        ("nobody", body.as_str(), sig.clone()),
        ("", body.as_str(), sig.clone()),
    ];
    for (tenant, body, headers) in refused {
        let (status, answer) = w.send(tenant, body, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{tenant} {headers:?}");
        assert_eq!(answer["code"], "slack_signature");
    }
    assert_eq!(w.approval(a.id).await.status, Status::Pending);
    assert_eq!(w.slack.calls_to("chat.update").len(), 0);
    assert_eq!(w.slack.calls_to("views.open").len(), 0);
    // The same click, signed: taken.
    assert_eq!(w.send("acme", &body, &sig).await.0, StatusCode::OK);
    assert_eq!(w.approval(a.id).await.status, Status::Approved);
}

#[tokio::test]
async fn a_body_over_128_kib_is_413_and_a_signed_malformed_one_400() {
    let w = world().await;
    // A click repeats the message clicked: an agent's emoji-laden request, as Slack escapes it
    // (`\uXXXX` twice per emoji), comes back as more than a review form's 64 KiB, and decides.
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let mut click = block_actions(ALICE, TEAM, &msg, APPROVE);
    click["message"]["text"] = "\\ud83d\\ude00".repeat(4_500).into();
    assert!(form(&click).len() > 96 * 1024, "{}", form(&click).len());
    assert_eq!(w.click(&click).await.0, StatusCode::OK);
    assert_eq!(w.approval(a.id).await.status, Status::Approved);
    let big = format!("payload={}", "a".repeat(128 * 1024));
    assert_eq!(
        w.send("acme", &big, &signed(&big, 0)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let bad = "payload=%7Bnot+json";
    let (status, answer) = w.send("acme", bad, &signed(bad, 0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["code"], "invalid_payload");
}

#[tokio::test]
async fn approve_decides_as_the_principal_once() {
    let w = world().await;
    let a = w.request(2).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let body = form(&block_actions(ALICE, TEAM, &msg, APPROVE));
    let sig = signed(&body, 0);
    assert_eq!(w.send("acme", &body, &sig).await.0, StatusCode::OK);
    let now = w.approval(a.id).await;
    assert_eq!(now.approvals.len(), 1);
    assert_eq!(now.approvals[0].by, "alice");
    // The same signed request again, and the value in a fresh signed request: nothing more.
    assert_eq!(w.send("acme", &body, &sig).await.0, StatusCode::OK);
    assert_eq!(
        w.click(&block_actions(ALICE, TEAM, &msg, APPROVE)).await.0,
        StatusCode::OK
    );
    let after = w.approval(a.id).await;
    assert_eq!((after.approvals.len(), after.version), (1, now.version));
    assert!(
        w.told(&msg).contains("already recorded"),
        "{}",
        w.told(&msg)
    );
    let (records, _) = w.service.audit_of("acme", a.id).await.unwrap().unwrap();
    assert_eq!(records.last().unwrap().actor, "alice");
}

#[tokio::test]
async fn a_spent_value_decides_nothing_even_where_the_lifecycle_would_take_a_vote() {
    let w = world().await;
    let a = w.request(2).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let click = block_actions(ALICE, TEAM, &msg, APPROVE);
    w.click(&click).await;
    assert_eq!(w.approval(a.id).await.approvals.len(), 1);
    // Bob's edit clears alice's approval (she approved something else): her old click, sent
    // again, must not approve the edit for her.
    let bob = w
        .directory
        .get("acme", "bob")
        .await
        .unwrap()
        .unwrap()
        .principal();
    let edit = Command::Decide {
        by: &bob,
        verdict: Verdict::Modified,
        comment: None,
        modified_output: Some(Document::of(&json!({"amount": 1}))),
    };
    let edited = w.service.apply("acme", a.id, edit).await.unwrap();
    assert_eq!(edited.approvals.len(), 1);
    assert_eq!(w.click(&click).await.0, StatusCode::OK);
    let after = w.approval(a.id).await;
    assert_eq!(
        (after.status, after.version),
        (Status::Pending, edited.version)
    );
    assert!(w.told(&msg).contains("already used"), "{}", w.told(&msg));
}

#[tokio::test]
async fn concurrent_replays_of_one_value_record_one_vote() {
    let w = world().await;
    let a = w.request(2).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let body = form(&block_actions(ALICE, TEAM, &msg, APPROVE));
    let sig = signed(&body, 0);
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (router, body, sig) = (w.router.clone(), body.clone(), sig.clone());
        sends.spawn(async move { send(router, "acme", &body, &sig).await.0 });
    }
    for status in sends.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
    let after = w.approval(a.id).await;
    assert_eq!(after.approvals.len(), 1);
    let (records, _) = w.service.audit_of("acme", a.id).await.unwrap().unwrap();
    assert_eq!(records.len(), 2, "created, one vote");
}

#[tokio::test]
async fn a_value_moved_to_another_approval_button_or_principal_decides_nothing_and_is_not_spent() {
    let w = world().await;
    let (a, b) = (w.request(1).await, w.request(1).await);
    let (alice_a, alice_b) = (
        w.post(&a, "alice", ALICE).await,
        w.post(&b, "alice", ALICE).await,
    );
    let bob_a = w.post(&a, "bob", BOB).await;
    let (block_a, approve_a) = alice_a.button(APPROVE);
    let (_, approve_b) = alice_b.button(APPROVE);
    let (_, reject_a) = alice_a.button(REJECT);
    let mut moved = Vec::new();
    // B's value in A's message.
    moved.push(click_on(ALICE, TEAM, &alice_a, &block_a, &approve_b));
    // Approve's value on the Reject button, and Reject's on Approve.
    let mut on_reject = approve_a.clone();
    on_reject["action_id"] = json!(REJECT);
    moved.push(click_on(ALICE, TEAM, &alice_a, &block_a, &on_reject));
    let mut on_approve = reject_a.clone();
    on_approve["action_id"] = json!(APPROVE);
    moved.push(click_on(ALICE, TEAM, &alice_a, &block_a, &on_approve));
    // Alice's value clicked by bob; a value nobody minted.
    moved.push(click_on(BOB, TEAM, &bob_a, &block_a, &approve_a));
    let mut forged = approve_a.clone();
    forged["value"] = json!(format!("{}x", approve_a["value"].as_str().unwrap()));
    moved.push(click_on(ALICE, TEAM, &alice_a, &block_a, &forged));
    for payload in &moved {
        assert_eq!(w.click(payload).await.0, StatusCode::OK);
        assert_eq!(w.approval(a.id).await.status, Status::Pending);
        assert_eq!(w.approval(b.id).await.status, Status::Pending);
    }
    assert_eq!(w.slack.calls_to("views.open").len(), 0);
    assert!(
        w.told(&alice_a)
            .contains("not yours, or not for this request")
    );
    assert!(
        w.told(&bob_a)
            .contains("not yours, or not for this request")
    );
    // Nothing was spent: each value still decides its own click.
    w.click(&block_actions(ALICE, TEAM, &alice_b, APPROVE))
        .await;
    assert_eq!(w.approval(b.id).await.decided_by(), Some("alice"));
    w.click(&block_actions(ALICE, TEAM, &alice_a, APPROVE))
        .await;
    assert_eq!(w.approval(a.id).await.decided_by(), Some("alice"));
}

#[tokio::test]
async fn clickers_who_may_not_decide_are_told_why_and_nothing_changes() {
    let w = world().await;
    let a = w.request(1).await;
    let erin = w.post(&a, "erin", ERIN).await;
    let robot = w.post(&a, "robot", ROBOT).await;
    let alice = w.post(&a, "alice", ALICE).await;
    // erin's role is taken away after her message was sent.
    w.directory
        .put(&entry("acme", "erin", ERIN, &[]), false)
        .await
        .unwrap();
    let tries = [
        (
            block_actions(ERIN, TEAM, &erin, APPROVE),
            &erin,
            "no longer a reviewer",
        ),
        (
            block_actions(ROBOT, TEAM, &robot, APPROVE),
            &robot,
            "an agent cannot decide",
        ),
        (
            block_actions("U0NOBODY", TEAM, &alice, APPROVE),
            &alice,
            "not (or no longer) a principal",
        ),
        (
            block_actions(DAVE, TEAM, &alice, APPROVE),
            &alice,
            "not (or no longer) a principal",
        ),
        (
            block_actions(ALICE, "T0OTHER", &alice, APPROVE),
            &alice,
            "not the one connected",
        ),
    ];
    for (payload, msg, why) in &tries {
        assert_eq!(w.click(payload).await.0, StatusCode::OK);
        assert_eq!(w.approval(a.id).await.status, Status::Pending);
        let told = w.told(msg);
        assert!(told.contains(why), "{why}: {told}");
        assert!(!told.contains(APPROVE), "buttons left: {told}");
    }
    assert_eq!(w.slack.calls_to("chat.update").len(), tries.len());
    // Alice's own click, untouched by the others' tries, still decides.
    w.click(&block_actions(ALICE, TEAM, &alice, APPROVE)).await;
    assert_eq!(w.approval(a.id).await.status, Status::Approved);
}

#[tokio::test]
async fn an_approval_already_decided_says_by_whom() {
    let w = world().await;
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let bob = w.directory.get("acme", "bob").await.unwrap().unwrap();
    let by = bob.principal();
    let decide = Command::Decide {
        by: &by,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    w.service.apply("acme", a.id, decide).await.unwrap();
    w.click(&block_actions(ALICE, TEAM, &msg, REJECT)).await;
    // Her message becomes what every copy becomes, whichever update lands last.
    assert!(
        w.told(&msg).contains("Approved by bob: "),
        "{}",
        w.told(&msg)
    );
    assert_eq!(w.slack.calls_to("views.open").len(), 0);
    assert_eq!(w.approval(a.id).await.decided_by(), Some("bob"));
}

#[tokio::test]
async fn reject_opens_a_modal_that_requires_a_comment() {
    let w = world().await;
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    let payload = block_actions(ALICE, TEAM, &msg, REJECT);
    assert_eq!(w.click(&payload).await.0, StatusCode::OK);
    let opened = w.slack.calls_to("views.open");
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].body["trigger_id"], payload["trigger_id"]);
    assert_eq!(opened[0].token.as_deref(), Some(TOKEN));
    let view = opened[0].body["view"].clone();
    assert_eq!(w.approval(a.id).await.status, Status::Pending);
    for blank in [None, Some(""), Some("  \n ")] {
        let (status, answer) = w.click(&view_submission(ALICE, TEAM, &view, blank)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["response_action"], "errors", "{blank:?}");
        assert!(answer["errors"]["comment"].is_string());
        assert_eq!(w.approval(a.id).await.status, Status::Pending);
    }
    // Submitted by someone else than the clicker: refused.
    let (_, answer) = w
        .click(&view_submission(BOB, TEAM, &view, Some("no")))
        .await;
    assert_eq!(answer["response_action"], "clear");
    assert_eq!(w.approval(a.id).await.status, Status::Pending);
    let (_, answer) = w
        .click(&view_submission(ALICE, TEAM, &view, Some("too risky")))
        .await;
    assert_eq!(answer, json!({"response_action": "clear"}));
    let done = w.approval(a.id).await;
    assert_eq!(done.status, Status::Rejected);
    let decision = done.decision.unwrap();
    assert_eq!(
        (decision.by.as_str(), decision.comment.as_deref()),
        ("alice", Some("too risky"))
    );
    let (records, _) = w.service.audit_of("acme", a.id).await.unwrap().unwrap();
    assert_eq!(records.last().unwrap().actor, "alice");
    // Submitted again (a replay): nothing more.
    w.click(&view_submission(ALICE, TEAM, &view, Some("again")))
        .await;
    assert_eq!(w.approval(a.id).await.version, done.version);
}

#[tokio::test]
async fn a_passing_failure_leaves_the_buttons_to_click_again() {
    let w = world().await;
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    // Slack refuses to open the modal once (an expired trigger): the message is left as it
    // was, its buttons there, and the next click opens it.
    w.slack.fail_next(
        "views.open",
        1,
        holdpoint_tests::slack::Scripted::Error("expired_trigger_id"),
    );
    assert_eq!(
        w.click(&block_actions(ALICE, TEAM, &msg, REJECT)).await.0,
        StatusCode::OK
    );
    assert_eq!(w.told(&msg), "", "no update: the buttons stay");
    assert_eq!(w.slack.calls_to("views.open").len(), 1);
    assert_eq!(
        w.click(&block_actions(ALICE, TEAM, &msg, REJECT)).await.0,
        StatusCode::OK
    );
    assert_eq!(w.slack.calls_to("views.open").len(), 2);
    assert_eq!(w.approval(a.id).await.status, Status::Pending);
}

#[tokio::test]
async fn open_in_browser_and_other_events_are_taken_and_do_nothing() {
    let w = world().await;
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    for payload in [
        block_actions(ALICE, TEAM, &msg, "holdpoint_open"),
        json!({"type": "view_closed", "user": {"id": ALICE}, "team": {"id": TEAM}}),
    ] {
        assert_eq!(w.click(&payload).await, (StatusCode::OK, Value::Null));
    }
    assert_eq!(w.approval(a.id).await.status, Status::Pending);
    assert_eq!(w.slack.calls().len(), 1, "the post alone");
}

/// Slack's Web API that answers nothing for 10 s.
async fn silent_slack() -> String {
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        "{}"
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn slack_is_answered_within_three_seconds_when_its_api_is_slow() {
    let w = world_at(Some(&silent_slack().await)).await;
    let a = w.request(1).await;
    let msg = w.post(&a, "alice", ALICE).await;
    for payload in [
        block_actions("U0NOBODY", TEAM, &msg, APPROVE),
        block_actions(ALICE, TEAM, &msg, REJECT),
    ] {
        let started = Instant::now();
        assert_eq!(w.click(&payload).await.0, StatusCode::OK);
        let took = started.elapsed();
        assert!(took < Duration::from_millis(2_800), "{took:?}");
    }
}
