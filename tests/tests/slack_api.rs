//! Holdpoint's Slack Web API client against the stand-in: what it sends (JSON, the token in the
//! `Authorization` header only) and what each answer means for a delivery (retried, with
//! Slack's `Retry-After`, or final as `slack: <code>`), the token never in an error's text.

use std::time::Duration;

use holdpoint::delivery::Outcome;
use holdpoint::delivery::slack::outcome;
use holdpoint::slack::api::{ApiError, Posted, SlackApi};
use holdpoint::slack::connection::BotToken;
use holdpoint_tests::slack::{Scripted, StandIn};
use serde_json::json;

const TOKEN: &str = "xoxb-1111-2222-secretsecretsecret";

fn token() -> BotToken {
    BotToken::new(TOKEN).unwrap()
}

fn message() -> serde_json::Value {
    json!({"text": "Approval requested: pay", "blocks": [{"type": "section",
           "text": {"type": "mrkdwn", "text": "pay"}}]})
}

/// Nothing of what it says names the token.
fn clean(e: &ApiError) {
    for text in [e.to_string(), format!("{e:?}"), format!("{:?}", outcome(e))] {
        assert!(
            !text.contains(TOKEN) && !text.contains("secretsecret"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_post_is_json_with_the_token_in_the_authorization_header_only() {
    let slack = StandIn::start().await;
    let api = SlackApi::new(&slack.url()).unwrap();
    let posted = api
        .post_message(&token(), "U0ALICE", &message())
        .await
        .unwrap();
    assert_eq!(posted.channel, "DU0ALICE");
    assert!(!posted.ts.is_empty());
    let calls = slack.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.method, "chat.postMessage");
    assert_eq!(call.token.as_deref(), Some(TOKEN));
    assert_eq!(call.body["channel"], "U0ALICE");
    assert_eq!(call.body["text"], "Approval requested: pay");
    assert_eq!(call.body["blocks"], message()["blocks"]);
    assert!(!call.body.to_string().contains(TOKEN), "never in the body");
    assert!(!call.method.contains("xox"), "never in the URL");

    // The update goes to where the post landed, the token again in the header only.
    api.update(
        &token(),
        &posted,
        &json!({"text": "Approved by bob", "blocks": []}),
    )
    .await
    .unwrap();
    let update = &slack.calls_to("chat.update")[0];
    assert_eq!(update.token.as_deref(), Some(TOKEN));
    assert_eq!(
        (update.body["channel"].as_str(), update.body["ts"].as_str()),
        (Some(posted.channel.as_str()), Some(posted.ts.as_str()))
    );
    assert!(!update.body.to_string().contains(TOKEN));

    assert_eq!(api.auth_test(&token()).await.unwrap(), "T0TEAM");
    api.open_view(&token(), "trigger.1", &json!({"type": "modal"}))
        .await
        .unwrap();
    let view = &slack.calls_to("views.open")[0];
    assert_eq!(view.body["trigger_id"], "trigger.1");
    assert_eq!(view.body["view"]["type"], "modal");
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_what_slack_asked() {
    let slack = StandIn::start().await;
    let api = SlackApi::new(&slack.url()).unwrap();
    slack.fail_next(
        "chat.postMessage",
        1,
        Scripted::RateLimited {
            retry_after_secs: 7,
        },
    );
    let e = api
        .post_message(&token(), "U0ALICE", &message())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ApiError::Http {
            status: 429,
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        outcome(&e),
        Outcome::Retry {
            error: "Slack answered HTTP 429".into(),
            status: Some(429),
            retry_after: Some(Duration::from_secs(7)),
        }
    );
    clean(&e);
    // The next call goes through.
    api.post_message(&token(), "U0ALICE", &message())
        .await
        .unwrap();
}

#[tokio::test]
async fn slacks_not_now_codes_and_5xx_are_retried_any_other_refusal_is_final() {
    let slack = StandIn::start().await;
    let api = SlackApi::new(&slack.url()).unwrap();
    let post = async || {
        api.post_message(&token(), "U0ALICE", &message())
            .await
            .unwrap_err()
    };
    for code in [
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    ] {
        slack.fail_next("chat.postMessage", 1, Scripted::Error(code));
        let e = post().await;
        assert_eq!(e, ApiError::Slack(code.into()));
        assert!(matches!(outcome(&e), Outcome::Retry { .. }), "{code}");
        clean(&e);
    }
    slack.fail_next("chat.postMessage", 1, Scripted::ServerError);
    let e = post().await;
    assert!(matches!(e, ApiError::Http { status: 500, .. }), "{e:?}");
    assert!(matches!(
        outcome(&e),
        Outcome::Retry {
            status: Some(500),
            ..
        }
    ));
    for code in ["channel_not_found", "not_in_channel", "invalid_blocks"] {
        slack.fail_next("chat.postMessage", 1, Scripted::Error(code));
        let e = post().await;
        assert_eq!(
            outcome(&e),
            Outcome::Final {
                error: format!("slack: {code}"),
                status: None
            }
        );
    }
}

#[tokio::test]
async fn a_refused_token_is_final_and_never_told() {
    let slack = StandIn::start().await;
    slack.accept_token("xoxb-the-right-one");
    let api = SlackApi::new(&slack.url()).unwrap();
    let e = api
        .post_message(&token(), "U0ALICE", &message())
        .await
        .unwrap_err();
    assert_eq!(
        outcome(&e),
        Outcome::Final {
            error: "slack: invalid_auth".into(),
            status: None
        }
    );
    clean(&e);
    let e = api.auth_test(&token()).await.unwrap_err();
    assert_eq!(e, ApiError::Slack("invalid_auth".into()));
    let e = api
        .update(
            &token(),
            &Posted {
                channel: "D1".into(),
                ts: "1.1".into(),
            },
            &message(),
        )
        .await
        .unwrap_err();
    clean(&e);
}

#[tokio::test]
async fn slack_not_reached_is_retried_without_the_token_or_the_url() {
    // A port nobody listens on (bound, then let go).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = SlackApi::new(&format!("http://127.0.0.1:{port}/api/")).unwrap();
    let e = api
        .post_message(&token(), "U0ALICE", &message())
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Transport(_)), "{e:?}");
    assert!(matches!(outcome(&e), Outcome::Retry { .. }));
    clean(&e);
    assert!(!e.to_string().contains("127.0.0.1"), "{e}");
}
