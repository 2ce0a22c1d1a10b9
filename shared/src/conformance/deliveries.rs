//! The delivery log's contract, the same for every backend ([`crate::deliveries_suite!`]).

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use crate::delivery::{Channel, Delivery, DeliveryLog, DeliveryStatus, Message, Outcome};
use holdpoint_core::retry::RetryPolicy;
use holdpoint_core::time::truncate_millis;

/// Expands to one `#[tokio::test]` per delivery-log scenario; `$make` is an async expression
/// giving an `Arc<dyn DeliveryLog>`.
#[macro_export]
macro_rules! deliveries_suite {
    ($make:expr) => {
        $crate::deliveries_suite!(@tests $make;
            deliveries_are_kept_once_and_updated, deliveries_are_listed_by_approval_and_tenant);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let log: ::std::sync::Arc<dyn $crate::delivery::DeliveryLog> = $make.await;
                $crate::conformance::deliveries::$name(log).await;
            }
        )*
    };
}

/// A callback of event `{approval}:{n}`, planned `order` ms after a common start.
fn delivery(tenant: &str, approval: Uuid, n: u64, order: i64) -> Delivery {
    let recipient = "agent";
    let now = truncate_millis(Utc::now()) - TimeDelta::seconds(10) + TimeDelta::milliseconds(order);
    Delivery {
        id: format!("{approval}:{n}.callback.{recipient}"),
        tenant: tenant.into(),
        approval_id: approval,
        event_id: format!("{approval}:{n}"),
        event_type: "approval.approved".into(),
        channel: Channel::Callback,
        recipient: recipient.into(),
        target: "https://agent.example/cb".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
        last_attempt_at: None,
        delivered_at: None,
        last_error: None,
        last_status: None,
        message: Some(Message::Webhook { body: "{}".into() }),
        receipt: None,
    }
}

fn tenant() -> String {
    format!("t-{}", Uuid::new_v4().simple())
}

pub async fn deliveries_are_kept_once_and_updated(log: Arc<dyn DeliveryLog>) {
    let t = tenant();
    let a = Uuid::new_v4();
    let first = delivery(&t, a, 2, 0);
    log.enqueue(std::slice::from_ref(&first)).await.unwrap();
    let mut tried = first.clone();
    tried.record(
        Outcome::Retry {
            error: "answered 503".into(),
            status: Some(503),
            retry_after: None,
        },
        Utc::now(),
        &RetryPolicy::default(),
    );
    log.save(&tried).await.unwrap();
    // Planned again (a republished event): what is kept stands.
    log.enqueue(std::slice::from_ref(&first)).await.unwrap();
    let kept = log.get(&t, a, &first.id).await.unwrap().unwrap();
    assert_eq!(kept.attempts, 1);
    assert_eq!(kept.last_status, Some(503));
    assert_eq!(kept.status, DeliveryStatus::Pending);
    let mut done = kept.clone();
    done.record(
        Outcome::Delivered {
            status: Some(200),
            receipt: Some(crate::delivery::slack::Posted {
                channel: "D1".into(),
                ts: "1.2".into(),
            }),
        },
        Utc::now(),
        &RetryPolicy::default(),
    );
    log.save(&done).await.unwrap();
    let kept = log.get(&t, a, &first.id).await.unwrap().unwrap();
    assert_eq!(kept.status, DeliveryStatus::Delivered);
    assert_eq!(kept.message, None, "nothing sent is kept once delivered");
    assert_eq!(
        kept.receipt.map(|r| r.ts),
        Some("1.2".into()),
        "where it landed is kept"
    );
    assert_eq!(
        log.get(&tenant(), a, &first.id).await.unwrap(),
        None,
        "another tenant's"
    );
}

pub async fn deliveries_are_listed_by_approval_and_tenant(log: Arc<dyn DeliveryLog>) {
    let t = tenant();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let all = [
        delivery(&t, a, 2, 0),
        delivery(&t, a, 3, 100),
        delivery(&t, b, 2, 200),
    ];
    log.enqueue(&all).await.unwrap();
    let mut failed = all[2].clone();
    failed.record(
        Outcome::Final {
            error: "answered 410".into(),
            status: Some(410),
        },
        Utc::now(),
        &RetryPolicy::default(),
    );
    log.save(&failed).await.unwrap();
    let of_a: Vec<_> = log
        .of_approval(&t, a)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        of_a,
        [all[0].id.clone(), all[1].id.clone()],
        "in the order planned"
    );
    let recent: Vec<_> = log
        .recent(Some(&t), false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0], all[2].id, "newest first");
    let failures = log.recent(Some(&t), true, 10).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].status, DeliveryStatus::Failed);
    assert_eq!(
        log.recent(Some(&t), false, 2).await.unwrap().len(),
        2,
        "at most the limit"
    );
    assert!(
        log.of_approval(&tenant(), a).await.unwrap().is_empty(),
        "another tenant's"
    );
}
