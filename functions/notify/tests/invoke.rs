//! The notify binary, invoked through the Lambda Runtime API with lifecycle events as
//! EventBridge delivers them: mail through SES (moto records it), webhooks and callbacks
//! verified by the Standard Webhooks reference library, retries within an invocation and across
//! invocations, never a delivery twice. Events name reviewers and carry no link: the function
//! mints each reviewer's own, and only for a principal the approval still asks.

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
        slack: None,
        webhook_secret: Some(new_webhook_secret()),
        instance: None,
        kind: Default::default(),
    }
}

/// A lifecycle event of approval `id` as EventBridge hands it to the function, asking
/// `reviewers`.
fn event(id: &str, kind: (&str, &str, &str, u64), callback: &str, reviewers: Value) -> Value {
    let (detail_type, event, status, version) = kind;
    let version = version.to_string();
    let reviewers = reviewers.to_string();
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
            ("REVIEWERS", &reviewers),
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

/// `principals` (those of [`holdpoint_tests::iam_principals`]) with `reviewer`, whom
/// [`holdpoint_tests::stored_approval`] asks, reached at `email` and `webhook`.
fn reachable_reviewer(principals: &mut [Entry], email: Option<&str>, webhook: Option<String>) {
    let reviewer = principals
        .iter_mut()
        .find(|p| p.name == "reviewer")
        .expect("the reviewer");
    reviewer.email = email.map(str::to_owned);
    reviewer.webhook = webhook;
    reviewer.webhook_secret = Some(new_webhook_secret());
}

/// Decides approval `id` by the review link `link` as the functions would (their service, on
/// `env`'s tables and key); the approval's status after.
async fn decide_by(link: &str, id: &str, env: &[(&str, String)]) -> String {
    use holdpoint::backend::{Access, Backend};
    let settings = holdpoint::config::Settings::from_lookup(|k| {
        env.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let backend = Backend::new(&settings, Access::Function);
    let service = backend
        .bare_service()
        .await
        .unwrap()
        .with_directory(backend.directory().await.unwrap());
    let token = link.split("token=").nth(1).expect("a token");
    let approved = serde_json::from_value(serde_json::json!("approved")).unwrap();
    let decided = service
        .decide_by_link(id.parse().unwrap(), token, approved, None, None)
        .await
        .expect("the link decides");
    serde_json::to_value(&decided).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_request_mails_and_posts_the_reviewer_their_own_link_that_decides_and_the_agent_is_called_back_once()
 {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    reachable_reviewer(
        &mut principals,
        Some("reviewer@example.com"),
        Some(hooks.url("/reviewer")),
    );
    principals[0].webhook_secret = Some(new_webhook_secret());
    hooks
        .trust("reviewer", principals[1].webhook_secret.as_deref().unwrap())
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
    let requested = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        &hooks.url("/agent"),
        serde_json::json!(["reviewer"]),
    );
    assert!(!requested.to_string().contains("token="), "{requested}");
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
            .contains("reviewer@example.com"),
        "{mail}"
    );
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Rotate the <b>database</b> password")
    );
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("&lt;b&gt;database"), "{body}");
    // The link minted for the reviewer, at the configured base URL.
    let prefix = format!("https://holdpoint.example/review/{id}?token=");
    let link: String = body[body.find(&prefix).expect("the reviewer's link")..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/?=.-_".contains(*c))
        .collect();
    assert!(link.len() > prefix.len() + 64, "{link}");
    let log = hooks.log().await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0]["verified"].as_bool(), log[0]["path"].as_str()),
        (Some(true), Some("/reviewer"))
    );
    assert_eq!(log[0]["body"]["data"]["review_url"], link.as_str());

    // EventBridge delivers at least once: the same event again sends nothing again.
    let again = function.invoke(requested).await.expect("nothing left");
    assert_eq!(again["already_done"], 2, "{again}");
    assert_eq!(ses_sent().await.len(), before + 1);
    assert_eq!(hooks.log().await.len(), 1);
    assert_eq!(decide_by(&link, &id, &env).await, "approved");

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
    reachable_reviewer(&mut principals, None, Some(hooks.url("/reviewer")));
    hooks
        .trust("reviewer", principals[1].webhook_secret.as_deref().unwrap())
        .await;
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
    let late = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        "",
        serde_json::json!(["reviewer"]),
    );
    let report = function.invoke(late).await.expect("nothing to retry");
    assert_eq!(
        (report["skipped"].as_u64(), report["delivered"].as_u64()),
        (Some(1), Some(0)),
        "{report}"
    );
    assert!(hooks.log().await.is_empty(), "the reviewer was not asked");
}

#[tokio::test]
async fn a_delivery_failed_for_good_is_counted_for_its_alarm() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let mut principals = holdpoint_tests::iam_principals();
    reachable_reviewer(&mut principals, Some("reviewer@example.com"), None);
    // No HOLDPOINT_EMAIL_FROM: the reviewer's mail cannot be sent, and that is final.
    let env = store_env(&store, &principals).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let id = approval.id.to_string();
    let requested = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        "",
        serde_json::json!(["reviewer"]),
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

/// Attacker try: an event (forged, or stale) naming a principal the approval does not ask gets
/// them no message and no link.
#[tokio::test]
async fn an_event_naming_someone_the_approval_does_not_ask_mints_them_no_link() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    let mallory = entry(
        "mallory",
        Some("mallory@example.com"),
        Some(hooks.url("/mallory")),
    );
    hooks
        .trust("mallory", mallory.webhook_secret.as_deref().unwrap())
        .await;
    principals.push(mallory);
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_EMAIL_FROM", FROM.to_owned()));
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    verified_sender().await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let id = approval.id.to_string();
    let forged = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        "",
        serde_json::json!(["mallory"]),
    );
    let before = ses_sent().await.len();
    let report = function.invoke(forged).await.expect("nothing to retry");
    assert_eq!(
        (report["skipped"].as_u64(), report["delivered"].as_u64()),
        (Some(2), Some(0)),
        "{report}"
    );
    assert!(hooks.log().await.is_empty(), "mallory was not asked");
    assert_eq!(ses_sent().await.len(), before, "nor mailed");
    use holdpoint::delivery::DeliveryLog;
    let kept = holdpoint::delivery::dynamodb::DynamoDeliveries::new(
        store.client().clone(),
        store.tables().deliveries.clone(),
    )
    .of_approval("acme", approval.id)
    .await
    .unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|d| d.message.is_none()), "{kept:?}");
}

/// Without its signing key the function sends nothing (never a message without its link, nor
/// one signed with another key) and fails the invocation for Lambda to retry; the retry, with
/// the key readable again, delivers.
#[tokio::test]
async fn without_its_key_nothing_is_sent_and_the_retry_delivers() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    reachable_reviewer(&mut principals, None, Some(hooks.url("/reviewer")));
    hooks
        .trust("reviewer", principals[1].webhook_secret.as_deref().unwrap())
        .await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let id = approval.id.to_string();
    let requested = event(
        &id,
        ("Approval Requested", "created", "pending", 1),
        "",
        serde_json::json!(["reviewer"]),
    );
    let keyless: Vec<_> = env
        .iter()
        .map(|(k, v)| match *k {
            "HOLDPOINT_SIGNING_SECRET_ID" => (*k, "holdpoint-no-such-secret".to_owned()),
            _ => (*k, v.clone()),
        })
        .collect();
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &keyless).await;
    let failed = function
        .invoke(requested.clone())
        .await
        .expect_err("no key, no link");
    assert_eq!(failed["errorType"], "Retryable", "{failed}");
    assert!(
        hooks.log().await.is_empty(),
        "nothing sent without its link"
    );

    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;
    let report = function.invoke(requested).await.expect("delivered");
    assert_eq!(report["delivered"], 1, "{report}");
    let log = hooks.log().await;
    assert_eq!(log.len(), 1);
    let link = log[0]["body"]["data"]["review_url"].as_str().unwrap();
    assert_eq!(decide_by(link, &id, &env).await, "approved");
}
