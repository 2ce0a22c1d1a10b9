//! Deliveries under a hostile receiver, on the local server: an agent points its callbacks at a
//! receiver that accepts connections and never answers. Its pending callbacks hold their own
//! target's slots (at most 2 connections at once) and nothing else: a reviewer's webhook sent
//! after them arrives within seconds.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use holdpoint_tests::receivers::{Mailbox, Webhooks};
use serde_json::json;
use support::create;
use support::team::{serve, team};
use tokio::io::AsyncReadExt;

/// A receiver that accepts every connection and never answers; counts the connections open at
/// once (one closes when the client gives up on it).
struct Dead {
    url: String,
    open: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Dead {
    async fn start() -> Dead {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/agent/never", listener.local_addr().unwrap());
        let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (o, m) = (open.clone(), most.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let o = o.clone();
                tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Dead {
            url,
            open,
            most,
            accept,
        }
    }
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_delay_a_reviewers_webhook() {
    webhook_behind_dead_callbacks(30).await;
}

/// More than the worker reads of the queue at once (256): those waiting for the dead target's
/// slots are moved back, so the webhook behind them is still reached.
#[tokio::test]
async fn more_dead_callbacks_than_the_queue_is_read_by_do_not_starve_a_reviewers_webhook() {
    webhook_behind_dead_callbacks(300).await;
}

/// `callbacks` approvals decided, each owing a callback to a receiver that never answers, then
/// a reviewer asked: how long their webhook takes.
async fn webhook_behind_dead_callbacks(callbacks: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    hooks.trust("alice", &t.alice.secret).await;
    let server = serve(dir.path(), &mail, true).await;
    let dead = Dead::start().await;

    let decided = Instant::now();
    for _ in 0..callbacks {
        let id = create(
            &server,
            &t.agent.key,
            json!({"action": "Rotate keys", "agent_id": "ops", "reviewers": ["carol"],
                   "callback_url": dead.url}),
        )
        .await;
        let (status, e) = server
            .call(
                "POST",
                &format!("/v1/approvals/{id}/decision"),
                Some(&t.carol.key),
                Some(&json!({"decision": "approved"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{e}");
    }
    println!(
        "{callbacks} approvals created and decided in {} ms",
        decided.elapsed().as_millis()
    );
    // The callbacks are being attempted: the dead receiver holds connections.
    let until = Instant::now() + Duration::from_secs(5);
    while dead.open.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < until,
            "no callback reached the dead receiver"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Then alice is asked: her webhook must not wait for the callbacks.
    let started = Instant::now();
    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "Pay invoice", "agent_id": "ops", "reviewers": ["alice"]}),
    )
    .await;
    let arrived = loop {
        let log = hooks.log().await;
        if log
            .iter()
            .any(|r| r["path"] == "/alice" && r["verified"] == true && r.to_string().contains(&id))
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "alice's webhook did not arrive within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "reviewer's webhook behind {callbacks} callbacks to a dead receiver: {} ms (dead receiver's connections at once: at most {})",
        arrived.as_millis(),
        dead.most.load(Ordering::SeqCst)
    );
    assert!(arrived < Duration::from_secs(5), "took {arrived:?}");
    // The dead target held no more than its own 2 slots (plus, at most, one connection whose
    // attempt timed out and which the receiver has not yet seen close).
    assert!(dead.most.load(Ordering::SeqCst) <= 3);
    dead.accept.abort();
}
