//! The notify function under a hostile receiver: one reviewer's webhook accepts connections and
//! never answers. The other reviewer's deliveries of the same event go on on their own, retries
//! included, instead of waiting for it until the invocation's deadline.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use holdpoint::directory::new_webhook_secret;
use holdpoint_tests::lambda::{Function, fixture, fixture_path, store_env};
use holdpoint_tests::receivers::Webhooks;
use serde_json::{Value, json};

/// Accepts every connection and never answers, until aborted; counts the connections.
async fn dead_receiver() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/reviewer", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let accept = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted, accept)
}

#[tokio::test]
async fn a_dead_webhook_does_not_hold_another_reviewers_retries() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let hooks = Webhooks::start().await;
    let (dead, accepted, accept) = dead_receiver().await;
    let mut principals = holdpoint_tests::iam_principals();
    let mut second = principals[1].clone();
    second.name = "second".into();
    second.iam_arns = vec!["arn:aws:sts::123456789012:assumed-role/second".into()];
    second.webhook = Some(hooks.url("/second/flaky3"));
    second.webhook_secret = Some(new_webhook_secret());
    principals[1].webhook = Some(dead);
    principals[1].webhook_secret = Some(new_webhook_secret());
    principals.push(second.clone());
    hooks
        .trust("second", second.webhook_secret.as_deref().unwrap())
        .await;
    let mut env = store_env(&store, &principals).await;
    env.push(("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()));
    env.push(("HOLDPOINT_DELIVERY_BACKOFF_MS", "50".to_owned()));
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_notify")), &env).await;

    // An approval asking both, created as the functions' own service would.
    let settings = holdpoint::config::Settings::from_lookup(|k| {
        env.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let backend = holdpoint::backend::Backend::new(&settings, holdpoint::backend::Access::Function);
    let service = backend
        .bare_service()
        .await
        .unwrap()
        .with_directory(backend.directory().await.unwrap());
    let request = json!({"action": "Rotate the database password", "agent_id": "ops-agent",
                         "reviewers": ["reviewer", "second"]});
    let (approval, _) = service
        .create(
            &holdpoint_tests::acme("agent"),
            serde_json::from_value(request).unwrap(),
            None,
        )
        .await
        .expect("stored");
    let id = approval.id.to_string();
    let requested = fixture(
        &fixture_path(env!("CARGO_MANIFEST_DIR"), "eventbridge-lifecycle.json"),
        &[
            ("DETAIL_TYPE", "Approval Requested"),
            ("APPROVAL", &id),
            ("VERSION", "1"),
            ("EVENT", "created"),
            ("STATUS", "pending"),
            ("ACTOR", "agent"),
            ("CALLBACK", "https://agent.example/callback"),
            ("REVIEWERS", &json!(["reviewer", "second"]).to_string()),
        ],
    );

    // Three refusals then success: every retry of `second` goes on while `reviewer` hangs.
    let started = Instant::now();
    let delivered = async {
        loop {
            let log: Vec<Value> = hooks.log().await;
            if log
                .iter()
                .any(|r| r["path"] == "/second/flaky3" && r["status"] == 200)
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let arrived = tokio::select! {
        took = delivered => took,
        reply = function.invoke_within(requested, Duration::from_secs(40)) => {
            panic!("the invocation ended before the second reviewer's webhook: {reply:?}")
        }
        _ = tokio::time::sleep(Duration::from_secs(30)) => panic!("not delivered within 30 s"),
    };
    println!(
        "notify: a reviewer's webhook (3 retries) beside a dead one: {} ms",
        arrived.as_millis()
    );
    assert!(arrived < Duration::from_secs(5), "took {arrived:?}");
    let refusals = hooks
        .log()
        .await
        .iter()
        .filter(|r| r["status"] == 503)
        .count();
    assert_eq!(refusals, 3);
    // The dead receiver was being tried all along, not passed over.
    assert!(accepted.load(Ordering::SeqCst) >= 1);
    accept.abort();
}
