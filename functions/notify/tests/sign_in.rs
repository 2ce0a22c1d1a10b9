//! A reviewer's sign-in request as the notify binary receives it from the bus (`Sign-in
//! Requested`: tenant and name, no secret): the function mints the link, mails it and posts it
//! signed (verified by the Standard Webhooks reference library), sends it once however often
//! the event comes, and sends nothing for a name that may not sign in. The link then signs in
//! once through the functions' service on the same tables.

use std::path::Path;

use holdpoint::directory::new_webhook_secret;
use holdpoint::service::ServiceError;
use holdpoint_tests::lambda::{Function, store_env};
use holdpoint_tests::receivers::Webhooks;
use serde_json::{Value, json};

const FROM: &str = "holdpoint@example.com";

fn asked(tenant: &str, name: &str) -> Value {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Sign-in Requested", "source": "holdpoint",
        "account": "123456789012", "time": "2026-11-30T10:15:00Z", "region": "us-east-1",
        "resources": [], "detail": {"tenant": tenant, "name": name},
    })
}

async fn ses_sent() -> Vec<Value> {
    let url = format!("{}/holdpoint-test/ses-sent", holdpoint_tests::endpoint());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_sign_in_request_mails_and_posts_one_link_that_signs_in_once() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let mut principals = holdpoint_tests::iam_principals();
    let reviewer = principals
        .iter_mut()
        .find(|p| p.name == "reviewer")
        .unwrap();
    reviewer.email = Some("reviewer@example.com".into());
    reviewer.webhook = Some(hooks.url("/reviewer"));
    reviewer.webhook_secret = Some(new_webhook_secret());
    hooks
        .trust("reviewer", reviewer.webhook_secret.as_deref().unwrap())
        .await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_EMAIL_FROM", FROM.to_owned()));
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let _ = aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(FROM)
        .send()
        .await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;

    let before = ses_sent().await.len();
    let event = asked("acme", "reviewer");
    let report = function.invoke(event.clone()).await.expect("sent");
    assert_eq!(report["delivered"], 2, "{report}");
    let sent = ses_sent().await;
    assert_eq!(sent.len(), before + 1);
    let body = sent.last().unwrap()["body"].as_str().unwrap().to_owned();
    let prefix = "https://holdpoint.example/inbox/sign-in?token=";
    let at = body.find(prefix).expect("the link") + prefix.len();
    let token = body[at..at + 43].to_owned();
    let log = hooks.log().await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["verified"], true, "signed like every webhook");
    assert_eq!(log[0]["body"]["type"], "inbox.sign_in");
    assert_eq!(
        log[0]["body"]["data"]["sign_in_url"],
        format!("{prefix}{token}")
    );

    // At least once from the bus: the same event sends nothing again.
    function.invoke(event).await.expect("nothing left");
    assert_eq!(ses_sent().await.len(), before + 1);
    assert_eq!(hooks.log().await.len(), 1);
    // Nobody, an agent: nothing is sent, the invocation succeeds.
    for name in ["nobody", "agent"] {
        let report = function.invoke(asked("acme", name)).await.expect("nothing");
        assert_eq!(report["delivered"], 0, "{report}");
    }
    assert_eq!(ses_sent().await.len(), before + 1);
    assert_eq!(hooks.log().await.len(), 1);

    let settings = holdpoint::config::Settings::from_lookup(|k| {
        env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let backend = holdpoint::backend::Backend::new(&settings, holdpoint::backend::Access::Function);
    let service = backend
        .bare_service()
        .await
        .unwrap()
        .with_directory(backend.directory().await.unwrap())
        .with_sessions(backend.sessions().await.unwrap(), 12);
    let (cookie, signed) = service.sign_in(&token).await.expect("signs in");
    assert_eq!(signed.principal.principal, "reviewer");
    assert!(service.session(&cookie).await.is_ok());
    let replayed = service.sign_in(&token).await;
    assert!(
        matches!(&replayed, Err(ServiceError::Link(r)) if r.to_string() == "the link has expired"),
        "{replayed:?}"
    );
    assert_eq!(service.sign_out_all("acme", "reviewer").await.unwrap(), 1);
    assert!(service.session(&cookie).await.is_err());
}
