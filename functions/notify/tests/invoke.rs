//! The notify binary, invoked through the Lambda Runtime API with lifecycle events as
//! EventBridge delivers them: mail through SES (moto records it), webhooks and callbacks
//! verified by the Standard Webhooks reference library, retries within an invocation and across
//! invocations, never a delivery twice.

use std::path::Path;
use std::time::Duration;

use holdpoint::directory::{Entry, new_webhook_secret};
use holdpoint_tests::lambda::{Function, fixture, fixture_path, store_env};
use holdpoint_tests::receivers::Webhooks;
use serde_json::Value;

const FROM: &str = "holdpoint@example.com";

fn entry(name: &str, email: Option<&str>, webhook: Option<String>) -> Entry {
    Entry {
        tenant: "acme".into(),
        name: name.into(),
        roles: vec![],
        email: email.map(str::to_owned),
        webhook,
        iam_arns: vec![format!("arn:aws:sts::123456789012:assumed-role/{name}")],
        key_hash: None,
        webhook_secret: Some(new_webhook_secret()),
        kind: Default::default(),
    }
}

/// A lifecycle event of approval `id` as EventBridge hands it to the function.
fn event(id: &str, kind: (&str, &str, &str, u64), callback: &str, links: Value) -> Value {
    let (detail_type, event, status, version) = kind;
    let version = version.to_string();
    let links = links.to_string();
    fixture(
        &fixture_path(env!("CARGO_MANIFEST_DIR"), "eventbridge-lifecycle.json"),
        &[
            ("DETAIL_TYPE", detail_type),
            ("APPROVAL", id),
            ("VERSION", &version),
            ("EVENT", event),
            ("STATUS", status),
            ("ACTOR", "agent"),
            ("CALLBACK", callback),
            ("LINKS", &links),
        ],
    )
}

async fn ses_sent() -> Vec<Value> {
    let url = format!("{}/holdpoint-test/ses-sent", holdpoint_tests::endpoint());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn verified_sender() {
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let _ = ses
        .create_email_identity()
        .email_identity(FROM)
        .send()
        .await;
}

#[tokio::test]
async fn a_request_mails_and_posts_the_reviewer_and_a_decision_calls_the_agent_back_once() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    let alice = entry(
        "alice",
        Some("alice@example.com"),
        Some(hooks.url("/alice")),
    );
    principals.push(alice.clone());
    principals[0].webhook_secret = Some(new_webhook_secret());
    hooks
        .trust("alice", alice.webhook_secret.as_deref().unwrap())
        .await;
    hooks
        .trust("agent", principals[0].webhook_secret.as_deref().unwrap())
        .await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_EMAIL_FROM", FROM.to_owned()));
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    env.push(("HOLDPOINT_DELIVERY_BACKOFF_MS", "50".to_owned()));
    verified_sender().await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;

    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let id = approval.id.to_string();
    let link = format!("https://holdpoint.example/review/{id}?token=t0k3n");
    let requested = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        &hooks.url("/agent"),
        serde_json::json!([{"reviewer": "alice", "url": link}]),
    );
    let before = ses_sent().await.len();
    let report = function.invoke(requested.clone()).await.expect("delivered");
    assert_eq!(
        (report["delivered"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(0)),
        "{report}"
    );
    let sent = ses_sent().await;
    assert_eq!(sent.len(), before + 1, "{sent:?}");
    let mail = sent.last().unwrap();
    assert_eq!(mail["source"], FROM);
    assert!(
        mail["destinations"]
            .to_string()
            .contains("alice@example.com"),
        "{mail}"
    );
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Rotate the <b>database</b> password")
    );
    let body = mail["body"].as_str().unwrap();
    assert!(
        body.contains(&link) && body.contains("&lt;b&gt;database"),
        "{body}"
    );
    let log = hooks.log().await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["verified"].as_bool(), log[0]["path"].as_str()),
        (Some(true), Some("/alice"))
    );
    assert_eq!(log[0]["body"]["data"]["review_url"], link.as_str());

    // EventBridge delivers at least once: the same event again sends nothing again.
    let again = function.invoke(requested).await.expect("nothing left");
    assert_eq!(again["already_done"], 2, "{again}");
    assert_eq!(ses_sent().await.len(), before + 1);
    assert_eq!(hooks.log().await.len(), 1);

    let decided = event(
        &id,
        ("Approval Decided", "approved", "approved", 2),
        &hooks.url("/agent"),
        serde_json::json!([]),
    );
    let report = function.invoke(decided).await.expect("called back");
    assert_eq!(report["delivered"], 1, "{report}");
    let log = hooks.log().await;
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[1]["verified"].as_bool(), log[1]["path"].as_str()),
        (Some(true), Some("/agent"))
    );
    assert_eq!(log[1]["body"]["type"], "approval.approved");
    assert!(!log[1]["body"].to_string().contains("/review/"));
}

#[tokio::test]
async fn what_is_still_pending_at_the_deadline_fails_the_invocation_and_the_retry_delivers_it_once()
{
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    principals[0].webhook_secret = Some(new_webhook_secret());
    hooks
        .trust("agent", principals[0].webhook_secret.as_deref().unwrap())
        .await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    env.push(("HOLDPOINT_DELIVERY_BACKOFF_MS", "1000".to_owned()));
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;
    let id = uuid::Uuid::new_v4().to_string();
    let rejected = event(
        &id,
        ("Approval Decided", "rejected", "rejected", 2),
        &hooks.url("/agent/flaky3"),
        serde_json::json!([]),
    );

    // Five seconds: one attempt (503), then no time for another.
    let failed = function
        .invoke_within(rejected.clone(), Duration::from_secs(5))
        .await
        .expect_err("pending at the deadline");
    assert!(failed.to_string().contains("still pending"), "{failed}");
    // Lambda retries the invocation: the same delivery goes on until it succeeds, once.
    let report = function.invoke(rejected.clone()).await.expect("delivered");
    assert_eq!(report["delivered"], 1, "{report}");
    let log = hooks.log().await;
    assert_eq!(log.len(), 4, "3 refusals, 1 success: {log:?}");
    assert_eq!(log.iter().filter(|r| r["status"] == 200).count(), 1);
    let report = function.invoke(rejected).await.expect("nothing left");
    assert_eq!(report["already_done"], 1);
    assert_eq!(hooks.log().await.len(), 4, "never twice");
    let stored = holdpoint::delivery::dynamodb::DynamoDeliveries::new(
        store.client().clone(),
        store.tables().deliveries.clone(),
    );
    use holdpoint::delivery::DeliveryLog;
    let all = stored
        .of_approval("acme", id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].attempts, all[0].status.as_str()), (4, "delivered"));
}

#[tokio::test]
async fn a_reviewer_is_not_asked_about_an_approval_that_no_longer_waits() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    let alice = entry("alice", None, Some(hooks.url("/alice")));
    hooks
        .trust("alice", alice.webhook_secret.as_deref().unwrap())
        .await;
    principals.push(alice);
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;
    // Asked two hours ago, for ten minutes: expired, whatever a late event says.
    let expired = holdpoint_tests::stored_approval(
        &store,
        &env,
        chrono::Utc::now() - chrono::TimeDelta::hours(2),
        600,
    )
    .await;
    let id = expired.id.to_string();
    let link = format!("https://holdpoint.example/review/{id}?token=t0k3n");
    let late = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        "",
        serde_json::json!([{"reviewer": "alice", "url": link}]),
    );
    let report = function.invoke(late).await.expect("nothing to retry");
    assert_eq!(
        (report["skipped"].as_u64(), report["delivered"].as_u64()),
        (Some(1), Some(0)),
        "{report}"
    );
    assert!(hooks.log().await.is_empty(), "alice was not asked");
}

#[tokio::test]
async fn a_delivery_failed_for_good_is_counted_for_its_alarm() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let mut principals = holdpoint_tests::iam_principals();
    principals.push(entry("carol", Some("carol@example.com"), None));
    // No HOLDPOINT_EMAIL_FROM: carol's mail cannot be sent, and that is final.
    let env = store_env(&store, &principals).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let id = approval.id.to_string();
    let requested = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        "",
        serde_json::json!([{"reviewer": "carol", "url": format!("https://holdpoint.example/review/{id}?token=t0k3n")}]),
    );
    let report = function.invoke(requested).await.expect("nothing to retry");
    assert_eq!(report["failed"].as_u64(), Some(1), "{report}");
    // DeliveryFailuresAlarm reads this metric from the function's log.
    let metrics = function.metrics().await;
    assert!(
        metrics
            .iter()
            .any(|m| m["DeliveryFailures"].as_f64() == Some(1.0)),
        "{metrics:?}"
    );
}
