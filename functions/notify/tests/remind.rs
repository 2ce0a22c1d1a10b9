//! The notify binary sends a reminder (an `Approval Reminded` lifecycle event as EventBridge
//! delivers it) like a request: mail through SES saying it is a reminder with the time left, a
//! verified webhook of type approval.reminder, each with the reviewer's own link; once.

use std::path::Path;

use holdpoint::directory::new_webhook_secret;
use holdpoint_tests::lambda::{Function, fixture, fixture_path, store_env};
use holdpoint_tests::receivers::Webhooks;
use serde_json::Value;

const FROM: &str = "holdpoint@example.com";

async fn ses_sent() -> Vec<Value> {
    let url = format!("{}/holdpoint-test/ses-sent", holdpoint_tests::endpoint());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_reminder_is_mailed_and_posted_with_the_time_left_once() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    let reviewer = principals
        .iter_mut()
        .find(|p| p.name == "reviewer")
        .expect("the reviewer");
    reviewer.email = Some("reviewer@example.com".into());
    reviewer.webhook = Some(hooks.url("/reviewer"));
    let secret = new_webhook_secret();
    reviewer.webhook_secret = Some(secret.clone());
    hooks.trust("reviewer", &secret).await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_EMAIL_FROM", FROM.to_owned()));
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    env.push(("HOLDPOINT_DELIVERY_BACKOFF_MS", "50".to_owned()));
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let _ = aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(FROM)
        .send()
        .await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;

    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let id = approval.id.to_string();
    // The fixture's event is at 10:15, its deadline 11:15: an hour left.
    let reminded = fixture(
        &fixture_path(env!("CARGO_MANIFEST_DIR"), "eventbridge-lifecycle.json"),
        &[
            ("DETAIL_TYPE", "Approval Reminded"),
            ("APPROVAL", &id),
            ("VERSION", "2"),
            ("EVENT", "reminded"),
            ("STATUS", "pending"),
            ("ACTOR", "holdpoint"),
            ("CALLBACK", &hooks.url("/agent")),
            ("REVIEWERS", "[\"reviewer\"]"),
        ],
    );
    let before = ses_sent().await.len();
    let report = function.invoke(reminded.clone()).await.expect("delivered");
    assert_eq!(
        (report["delivered"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(0)),
        "mail and webhook, no callback: {report}"
    );
    let sent = ses_sent().await;
    assert_eq!(sent.len(), before + 1, "{sent:?}");
    let mail = sent.last().unwrap();
    let subject = mail["subject"].as_str().unwrap();
    assert!(subject.starts_with("Reminder, 1 hour left: "), "{subject}");
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("expires in 1 hour"), "{body}");
    assert!(body.contains(&format!("https://holdpoint.example/review/{id}?token=")));
    let log = hooks.log().await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["verified"], true);
    assert_eq!(log[0]["path"], "/reviewer");
    assert_eq!(log[0]["body"]["type"], "approval.reminder");
    assert_eq!(log[0]["body"]["data"]["seconds_left"], 3600);

    // EventBridge delivers at least once: the same reminder again sends nothing.
    let again = function.invoke(reminded).await.expect("nothing left");
    assert_eq!(again["already_done"], 2, "{again}");
    assert_eq!(ses_sent().await.len(), before + 1);
    assert_eq!(hooks.log().await.len(), 1);
}
