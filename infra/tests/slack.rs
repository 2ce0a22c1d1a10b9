//! Deciding from Slack, end to end on the local server: a tenant connected with `holdpoint slack
//! connect` to the Slack stand-in, reviewers with Slack ids, direct messages posted to them, and
//! clicks sent back as Slack sends them (form-encoded `payload=`, signed by Slack's own SDK).

#[path = "slack/clicks.rs"]
mod clicks;
#[path = "support/slack.rs"]
mod slack_support;
mod support;

use std::time::{Duration, Instant};

use holdpoint_tests::receivers::eventually;
use holdpoint_tests::slack::Scripted;
use holdpoint_tests::slack::clicks::{TEAM, block_actions, form};
use serde_json::{Value, json};
use slack_support::{SECRET, TENANT, TOKEN, connected, interact, state, text_of};
use support::team::{approval, deliveries};
use support::{create, holdpoint, printed};

/// Hostile agent text: markup, an entity, mentions plain and encoded.
const ACTION: &str = "Pay <b>invoice</b> & notify @channel <!channel> <@U0BOSS>";

#[tokio::test]
async fn a_request_reaches_two_dms_and_a_click_signed_by_slacks_sdk_approves_every_copy() {
    let Some(slack) = connected().await else {
        return;
    };
    let agent = slack.add("local/agent", &[]);
    slack.add("local/alice", &["--role", "finance", "--slack", "U0ALICE"]);
    slack.add("local/bob", &["--role", "finance", "--slack", "U0BOB"]);
    let server = slack.serve().await;
    let body = json!({"action": ACTION, "agent_id": "billing", "reviewers": ["role:finance"]});
    let id = create(&server, &agent.key, body).await;

    // One DM each, from the app, with the app's token.
    let [alice, bob] = <[_; 2]>::try_from(slack.posts_to(&["U0ALICE", "U0BOB"]).await).unwrap();
    assert_eq!(slack.api.calls_to("chat.postMessage").len(), 2);
    for call in slack.api.calls_to("chat.postMessage") {
        assert_eq!(call.token.as_deref(), Some(TOKEN));
    }
    // The action escaped for mrkdwn; no mention reaches Slack as one.
    for post in [&alice, &bob] {
        let sent = post.message.to_string();
        let texts = text_of(&post.message);
        assert!(
            texts.contains("Pay &lt;b&gt;invoice&lt;/b&gt; &amp; notify @\u{2060}channel &lt;!channel&gt; &lt;@\u{2060}U0BOSS&gt;"),
            "{texts}"
        );
        for mention in ["<!channel>", "<@U0BOSS>", "<b>", "@channel"] {
            assert!(!sent.contains(mention), "{mention} in {sent}");
        }
        let action_block = post.message["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| {
                b["text"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("invoice"))
            })
            .unwrap();
        assert_eq!(action_block["text"]["verbatim"], true, "{action_block}");
        let (block_id, _) = post.button("holdpoint_approve");
        assert_eq!(block_id, format!("holdpoint_decide.{id}"));
    }
    assert_ne!(
        alice.button("holdpoint_approve").1["value"],
        bob.button("holdpoint_approve").1["value"],
        "each reviewer's button is their own"
    );

    // Attacker: the click unsigned, signed 6 minutes ago or ahead, with another secret, for another
    // tenant, or with a signature of another body: 401, nothing read, no Slack call.
    let click = form(&block_actions("U0ALICE", TEAM, &alice, "holdpoint_approve"));
    let query = format!("tenant={TENANT}");
    let calls_before = slack.api.calls().len();
    let other_body = form(&block_actions("U0BOB", TEAM, &bob, "holdpoint_approve"));
    let refused = [
        (query.clone(), vec![]),
        (query.clone(), slack.sdk.headers(SECRET, 6 * 60, &click)),
        (query.clone(), slack.sdk.headers(SECRET, -6 * 60, &click)),
        (
            query.clone(),
            slack.sdk.headers("another app's signing secret", 0, &click),
        ),
        (query.clone(), slack.sdk.headers(SECRET, 0, &other_body)),
        (
            "tenant=nobody".to_owned(),
            slack.sdk.headers(SECRET, 0, &click),
        ),
        (String::new(), slack.sdk.headers(SECRET, 0, &click)),
    ];
    for (query, headers) in &refused {
        let (status, answer) = interact(&server, query, &click, headers).await;
        assert_eq!(status, 401, "{query} {headers:?}: {answer}");
        let problem: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(problem["code"], "slack_signature", "{problem}");
    }
    assert_eq!(state(&server, &agent.key, &id).await.0, "pending");
    assert_eq!(slack.api.calls().len(), calls_before, "no call to Slack");

    // Alice's Approve, signed by Slack's SDK, as Slack posts it.
    let headers = slack.sdk.headers(SECRET, 0, &click);
    let started = Instant::now();
    let (status, answer) = interact(&server, &query, &click, &headers).await;
    assert_eq!(status, 200, "{answer}");
    // Slack gives up on an interaction not answered within 3 s.
    let took = started.elapsed();
    eprintln!("the approve click was answered in {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let a = approval(&server, &agent.key, &id).await;
    assert_eq!(
        (a["status"].as_str(), a["decision"]["by"].as_str()),
        (Some("approved"), Some("alice")),
        "{a}"
    );
    let version = a["version"].as_u64();

    // Both copies now say who approved, without buttons.
    for post in [&alice, &bob] {
        slack.updated(post, "approved by alice").await;
    }

    // Attacker: the same signed request replayed, and the value sent afresh: nothing changes.
    let (status, _) = interact(&server, &query, &click, &headers).await;
    assert_eq!(status, 200);
    let (status, _) = slack
        .send(
            &server,
            &block_actions("U0ALICE", TEAM, &alice, "holdpoint_approve"),
        )
        .await;
    assert_eq!(status, 200);
    let again = approval(&server, &agent.key, &id).await;
    assert_eq!(
        (again["status"].as_str(), again["version"].as_u64()),
        (Some("approved"), version)
    );

    // What was sent shows in the API and the CLI.
    let sent = eventually(
        Duration::from_secs(10),
        async || deliveries(&server, &agent.key, &id).await,
        |d| {
            d.iter()
                .filter(|x| x["channel"] == "slack" && x["status"] == "delivered")
                .count()
                >= 2
        },
    )
    .await;
    let mut to: Vec<_> = sent
        .iter()
        .filter(|d| d["channel"] == "slack")
        .map(|d| d["recipient"].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to, ["alice", "bob"], "{sent:?}");
    let out = holdpoint(
        slack.dir.path(),
        &[
            "deliveries",
            "--tenant",
            TENANT,
            "--approval",
            &id,
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", printed(&out));
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let slack_rows: Vec<_> = listed.iter().filter(|d| d["channel"] == "slack").collect();
    assert!(slack_rows.len() >= 2, "{listed:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
    let table = holdpoint(
        slack.dir.path(),
        &["deliveries", "--tenant", TENANT, "--approval", &id],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("slack"),
        "{}",
        printed(&table)
    );
}

#[tokio::test]
async fn a_rate_limited_post_waits_for_retry_after_and_is_delivered() {
    let Some(slack) = connected().await else {
        return;
    };
    let agent = slack.add("local/agent", &[]);
    slack.add("local/alice", &["--slack", "U0ALICE"]);
    let server = slack.serve().await;
    slack.api.fail_next(
        "chat.postMessage",
        1,
        Scripted::RateLimited {
            retry_after_secs: 1,
        },
    );
    let id = create(
        &server,
        &agent.key,
        json!({"action": "Restart the cache", "agent_id": "ops", "reviewers": ["alice"]}),
    )
    .await;
    let posts = async || slack.api.calls_to("chat.postMessage").len();
    eventually(Duration::from_secs(20), posts, |n| *n >= 1).await;
    let limited = Instant::now();
    eventually(Duration::from_secs(20), posts, |n| *n >= 2).await;
    // Retried after Slack's Retry-After (1 s), not the 50 ms backoff (its doublings stay under
    // 400 ms); the bound leaves room for a late first poll on a busy machine.
    let waited = limited.elapsed();
    eprintln!("the rate-limited post was retried after {waited:?}");
    assert!(
        waited >= Duration::from_millis(700),
        "retried after {waited:?}"
    );
    slack.posts_to(&["U0ALICE"]).await;
    let sent = eventually(
        Duration::from_secs(10),
        async || deliveries(&server, &agent.key, &id).await,
        |d| {
            d.iter()
                .any(|x| x["channel"] == "slack" && x["status"] == "delivered")
        },
    )
    .await;
    let post = sent.iter().find(|x| x["channel"] == "slack").unwrap();
    assert_eq!(
        (post["recipient"].as_str(), post["attempts"].as_u64()),
        (Some("alice"), Some(2)),
        "{post}"
    );
}
