//! Clicks in Slack that must not decide, and the reject modal (part of the `slack` test).

use std::time::Duration;

use holdpoint_tests::receivers::eventually;
use holdpoint_tests::slack::clicks::{TEAM, block_actions, click_on, view_submission};
use serde_json::{Value, json};

use crate::slack_support::{TOKEN, connected, state};
use crate::support::create;
use crate::support::team::approval;

#[tokio::test]
async fn clicks_by_the_wrong_people_are_refused_say_why_and_spend_nothing() {
    let Some(slack) = connected().await else {
        return;
    };
    let agent = slack.add("local/agent", &[]);
    slack.add("local/alice", &["--role", "finance", "--slack", "U0ALICE"]);
    slack.add("local/bob", &["--role", "finance", "--slack", "U0BOB"]);
    slack.add("local/carol", &["--role", "finance", "--slack", "U0CAROL"]);
    slack.add("local/erin", &["--role", "finance", "--slack", "U0ERIN"]);
    slack.add("local/fred", &["--role", "finance", "--slack", "U0FRED"]);
    slack.add(
        "local/robot",
        &["--kind", "agent", "--role", "finance", "--slack", "U0ROBOT"],
    );
    slack.add("other/dave", &["--role", "finance", "--slack", "U0DAVE"]);
    let server = slack.serve().await;
    let id = create(
        &server,
        &agent.key,
        json!({"action": "Wire 5,000 EUR", "agent_id": "pay", "reviewers": ["role:finance"], "quorum": 2}),
    )
    .await;
    let users = ["U0ALICE", "U0BOB", "U0CAROL", "U0ERIN", "U0FRED"];
    let [alice, bob, carol, erin, fred] = <[_; 5]>::try_from(slack.posts_to(&users).await).unwrap();
    assert!(
        slack.api.posts_to("U0DAVE").is_empty(),
        "another tenant's principal"
    );
    // Carol is removed. Erin is removed and added again, role and Slack id as before: another
    // principal of that name, so the buttons sent to the one removed are dead (as her review
    // links are). Fred's role is taken away: no longer a reviewer.
    slack.remove("local/carol");
    slack.remove("local/erin");
    slack.add("local/erin", &["--role", "finance", "--slack", "U0ERIN"]);
    slack.update("local/fred", &["--no-roles"]);
    // The agent's and dave's copies: alice's message, her value in it.
    let robot = match slack.api.posts_to("U0ROBOT").first() {
        Some(p) => p.clone(),
        None => slack.seed("U0ROBOT", &alice.message),
    };
    let dave = slack.seed("U0DAVE", &alice.message);
    let (alice_block, alice_approve) = alice.button("holdpoint_approve");

    let other = create(
        &server,
        &agent.key,
        json!({"action": "Another payment", "agent_id": "pay", "reviewers": ["alice"]}),
    )
    .await;
    let tries = [
        (
            &carol,
            block_actions("U0CAROL", TEAM, &carol, "holdpoint_approve"),
            "no longer) a principal of this tenant",
        ),
        (
            &erin,
            block_actions("U0ERIN", TEAM, &erin, "holdpoint_approve"),
            "not yours, or not for this request",
        ),
        (
            &fred,
            block_actions("U0FRED", TEAM, &fred, "holdpoint_approve"),
            "no longer a reviewer",
        ),
        (
            &robot,
            click_on("U0ROBOT", TEAM, &robot, &alice_block, &alice_approve),
            "an agent cannot decide",
        ),
        (
            &dave,
            click_on("U0DAVE", TEAM, &dave, &alice_block, &alice_approve),
            "not (or no longer) a principal of this tenant",
        ),
        // Alice's value clicked by bob, and in the other approval's message.
        (
            &bob,
            click_on("U0BOB", TEAM, &bob, &alice_block, &alice_approve),
            "not yours, or not for this request",
        ),
        (
            &alice,
            click_on(
                "U0ALICE",
                TEAM,
                &alice,
                &format!("holdpoint_decide.{other}"),
                &alice_approve,
            ),
            "not yours, or not for this request",
        ),
        // From another Slack workspace.
        (
            &alice,
            block_actions("U0ALICE", "T0ELSEWHERE", &alice, "holdpoint_approve"),
            "not the one connected",
        ),
    ];
    for (message, payload, why) in &tries {
        let (status, answer) = slack.send(&server, payload).await;
        assert_eq!(status, 200, "{why}: {answer}");
        let (status, votes, _) = state(&server, &agent.key, &id).await;
        assert_eq!((status.as_str(), votes), ("pending", 0), "{why}");
        slack.updated(message, why).await;
    }
    assert_eq!(state(&server, &agent.key, &other).await.0, "pending");

    // Nothing was spent: alice's own click counts; replayed, it counts once.
    let click = block_actions("U0ALICE", TEAM, &alice, "holdpoint_approve");
    let (status, _) = slack.send(&server, &click).await;
    assert_eq!(status, 200);
    let (status, votes, version) = state(&server, &agent.key, &id).await;
    assert_eq!(
        (status.as_str(), votes),
        ("pending", 1),
        "quorum 2: one vote"
    );
    let (status, _) = slack.send(&server, &click).await;
    assert_eq!(status, 200);
    assert_eq!(
        state(&server, &agent.key, &id).await,
        ("pending".into(), 1, version)
    );
    // Bob's vote decides; every copy still delivered is updated.
    let (status, _) = slack
        .send(
            &server,
            &block_actions("U0BOB", TEAM, &bob, "holdpoint_approve"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(state(&server, &agent.key, &id).await.0, "approved");
    for post in [&alice, &bob] {
        slack.updated(post, "approved by bob").await;
    }
}

#[tokio::test]
async fn reject_asks_for_a_comment_in_a_modal() {
    let Some(slack) = connected().await else {
        return;
    };
    let agent = slack.add("local/agent", &[]);
    slack.add("local/alice", &["--slack", "U0ALICE"]);
    let server = slack.serve().await;
    let id = create(
        &server,
        &agent.key,
        json!({"action": "Delete the <staging> bucket", "agent_id": "ops", "reviewers": ["alice"]}),
    )
    .await;
    let [alice] = <[_; 1]>::try_from(slack.posts_to(&["U0ALICE"]).await).unwrap();
    let click = block_actions("U0ALICE", TEAM, &alice, "holdpoint_reject");
    let (status, answer) = slack.send(&server, &click).await;
    assert_eq!(status, 200, "{answer}");
    let opened = eventually(
        Duration::from_secs(5),
        async || slack.api.calls_to("views.open"),
        |c| !c.is_empty(),
    )
    .await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].token.as_deref(), Some(TOKEN));
    assert_eq!(opened[0].body["trigger_id"], click["trigger_id"]);
    let view = opened[0].body["view"].clone();
    assert_eq!(view["callback_id"], "holdpoint_reject", "{view}");
    assert!(!view.to_string().contains("<staging>"), "{view}");
    assert_eq!(
        state(&server, &agent.key, &id).await.0,
        "pending",
        "a click on Reject decides nothing yet"
    );

    // No comment, or a blank one: the modal says so, nothing decided or spent.
    for comment in [None, Some("  \n\t ")] {
        let (status, answer) = slack
            .send(&server, &view_submission("U0ALICE", TEAM, &view, comment))
            .await;
        assert_eq!(status, 200, "{answer}");
        let answer: Value = serde_json::from_str(&answer).expect("JSON for Slack");
        assert_eq!(answer["response_action"], "errors", "{answer}");
        assert!(
            answer["errors"]["comment"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
        assert_eq!(state(&server, &agent.key, &id).await.0, "pending");
    }
    // Bob is no principal: his submission of alice's modal decides nothing.
    let (status, _) = slack
        .send(&server, &view_submission("U0BOB", TEAM, &view, Some("no")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(state(&server, &agent.key, &id).await.0, "pending");

    let submit = view_submission("U0ALICE", TEAM, &view, Some("Too risky: <b>no</b>"));
    let (status, answer) = slack.send(&server, &submit).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        json!({"response_action": "clear"})
    );
    let a = approval(&server, &agent.key, &id).await;
    assert_eq!(
        (
            a["status"].as_str(),
            a["decision"]["by"].as_str(),
            a["decision"]["comment"].as_str()
        ),
        (
            Some("rejected"),
            Some("alice"),
            Some("Too risky: <b>no</b>")
        ),
        "{a}"
    );
    slack.updated(&alice, "rejected by alice").await;
    // Replayed, the submission decides nothing more.
    let (status, _) = slack.send(&server, &submit).await;
    assert_eq!(status, 200);
    assert_eq!(
        approval(&server, &agent.key, &id).await["version"],
        a["version"]
    );
}
