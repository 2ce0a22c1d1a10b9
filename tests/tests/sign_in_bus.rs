//! Sign-in requests on AWS (the local protocol servers): the API's service counts the request
//! and puts `Sign-in Requested` on the bus, the same for a reviewer and for a name nobody has,
//! carrying no secret and keeping nothing else; the notify function mints the link (its own
//! test). The medians of both kinds of request are printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use holdpoint::conformance::test_keys;
use holdpoint::delivery::DeliveryLog;
use holdpoint::delivery::dynamodb::DynamoDeliveries;
use holdpoint::directory::Directory;
use holdpoint::events::EventBridgeSink;
use holdpoint::service::Service;
use holdpoint::sessions::dynamodb::DynamoSessions;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;
use holdpoint_tests::bus::bus;

#[tokio::test]
async fn every_name_is_handed_to_the_bus_alike_and_nothing_secret_goes_with_it() {
    let bus = bus().await;
    let (store, _) = holdpoint_tests::fresh_store().await;
    let directory = Arc::new(holdpoint_tests::directory(&store));
    const N: usize = 15;
    for i in 0..N {
        let mut e = holdpoint_tests::iam_principals().remove(1);
        e.name = format!("known{i}");
        e.iam_arns.clear();
        e.email = Some(format!("known{i}@example.com"));
        directory.put(&e, true).await.unwrap();
    }
    let (client, tables) = (store.client().clone(), store.tables().clone());
    let log = Arc::new(DynamoDeliveries::new(
        client.clone(),
        tables.deliveries.clone(),
    ));
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let sink = EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    let service = Service::new(
        Arc::new(store),
        test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_events(Arc::new(sink), "https://holdpoint.example")
    .with_directory(directory)
    .with_deliveries(log.clone())
    .with_sessions(
        Arc::new(DynamoSessions::new(client, tables.directory.clone())),
        12,
    );

    let mut took = [Vec::new(), Vec::new()];
    for i in 0..N {
        for (kind, name) in [(0, format!("known{i}")), (1, format!("ghost{i}"))] {
            let start = Instant::now();
            service.request_sign_in("acme", &name, None).await.unwrap();
            took[kind].push(start.elapsed());
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let [known, ghost] = took;
    let (k, g) = (median(known), median(ghost));
    println!(
        "sign-in request on DynamoDB + EventBridge, median of {N} each: known {k:?}, unknown {g:?}"
    );
    let (fast, slow) = if k < g { (k, g) } else { (g, k) };
    assert!(
        slow < fast * 5 + Duration::from_millis(5),
        "known {k:?}, unknown {g:?}"
    );

    let events = bus.drain().await;
    assert_eq!(events.len(), 2 * N, "{events:?}");
    for e in &events {
        assert_eq!(e["detail-type"], "Sign-in Requested");
        let detail = e["detail"].as_object().unwrap();
        assert_eq!(detail.len(), 2, "tenant and name only: {e}");
        assert!(!e.to_string().contains("token"), "{e}");
    }
    let named: Vec<_> = events
        .iter()
        .map(|e| e["detail"]["name"].as_str().unwrap())
        .collect();
    assert!(named.contains(&"known0") && named.contains(&"ghost0"));
    let kept = log.recent(Some("acme"), false, 100).await.unwrap();
    assert!(kept.is_empty(), "the API keeps no message: {kept:?}");
}
