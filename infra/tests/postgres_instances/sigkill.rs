//! SIGKILL of one instance mid-burst: no acknowledged write is lost, and the deliveries it had
//! claimed are sent by another once its lease lapses.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use holdpoint_tests::receivers::eventually;
use serde_json::{Value, json};

use crate::cluster::{Cluster, LEASE, call};
use crate::phases::{Team, ask, create, decide};
use crate::receiver::{Outcome, Receiver};

pub async fn sigkill_mid_burst(cluster: &Cluster, team: &Team) {
    // An instance sends at most two at once to one receiver (its slots per target) and four
    // callbacks of a tenant: four held callbacks to two ports, which the victim (woken by its
    // own decisions) mostly takes before the others poll.
    const HELD: usize = 4;
    let s = &cluster.servers;
    let victim = &s[2];
    let receiver = Receiver::start().await;

    // A burst of creations on the victim, each 201 noted.
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burst: Vec<_> = (0..6)
        .map(|_| {
            let (acked, stop, team_key) = (acked.clone(), stop.clone(), team.agent.clone());
            let addr = victim.addr;
            tokio::spawn(async move {
                let body = ask(None);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = raw_create(addr, &team_key, &body).await;
                    match answer {
                        Some(id) => acked.lock().unwrap().push(id),
                        None => return,
                    }
                }
            })
        })
        .collect();

    // Meanwhile decisions whose callbacks the receiver holds: the victim claims most of them.
    let mut held_ids = Vec::new();
    for i in 0..HELD {
        let a = create(victim, team, ask(Some(receiver.url_at(i, "/held/agent"))))
            .await
            .unwrap();
        let id = a["id"].as_str().unwrap().to_owned();
        assert_eq!(
            decide(victim, &team.bob, &id, "approved").await.unwrap().0,
            200
        );
        held_ids.push(id);
    }
    eventually(
        Duration::from_secs(20),
        async || receiver.hits().len(),
        |n| *n >= HELD,
    )
    .await;
    let db = cluster.db().await;
    let ids: Vec<String> = receiver
        .hits()
        .iter()
        .map(|h| h.webhook_id.clone())
        .collect();
    let claims = db
        .query(
            "SELECT id, claimed_by::text FROM deliveries WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .unwrap();
    let claimed: HashMap<String, Option<String>> =
        claims.iter().map(|r| (r.get(0), r.get(1))).collect();
    let before = acked.lock().unwrap().len();
    victim.kill();
    let killed_at = Instant::now();
    // The victim's connections closed as it died; the receiver notes them before answering
    // the live instances' (held well within their lease).
    tokio::time::sleep(Duration::from_millis(300)).await;
    receiver.release();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in burst {
        let _ = tokio::time::timeout(Duration::from_secs(20), b).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.is_empty(),
        "the burst was acknowledged before the kill"
    );

    // Every acknowledged creation is there for the others.
    for id in &acked {
        for server in &s[..2] {
            let path = format!("/v1/approvals/{id}");
            let (status, a) = call(server, "GET", &path, &team.agent, None).await.unwrap();
            assert_eq!(
                (status, &a["status"]),
                (200, &json!("pending")),
                "{id} lost: {a}"
            );
        }
    }

    // The deliveries the victim was sending when it died: claimed by one instance (the dead
    // one), sent again by another only once the claim lapsed, and then once.
    let hits = receiver.hits();
    let abandoned: HashSet<&str> = hits
        .iter()
        .filter(|h| h.outcome == Outcome::Abandoned)
        .map(|h| h.webhook_id.as_str())
        .collect();
    assert!(
        !abandoned.is_empty(),
        "the victim held none of the deliveries: {hits:?}"
    );
    let owners: HashSet<_> = abandoned.iter().map(|id| claimed[*id].clone()).collect();
    assert_eq!(owners.len(), 1, "one instance's claims: {owners:?}");
    assert!(
        owners.iter().all(Option::is_some),
        "claimed while sent: {owners:?}"
    );
    eventually(
        Duration::from_secs(30) + LEASE,
        async || receiver.hits(),
        |hits| {
            hits.iter()
                .filter(|h| h.outcome == Outcome::Answered)
                .count()
                >= HELD
        },
    )
    .await;
    // Time for a second sending, were there one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let hits = receiver.hits();
    for approval in &held_ids {
        // In the order received.
        let of: Vec<_> = hits
            .iter()
            .filter(|h| h.webhook_id.starts_with(approval.as_str()))
            .collect();
        let answered: Vec<_> = of
            .iter()
            .filter(|h| h.outcome == Outcome::Answered)
            .collect();
        assert_eq!(
            answered.len(),
            1,
            "{approval}'s callback delivered once: {of:?}"
        );
        if of[0].outcome == Outcome::Abandoned {
            let waited = answered[0].at - of[0].at;
            assert!(
                waited >= LEASE - Duration::from_millis(500) && answered[0].at > killed_at,
                "{approval}'s callback taken over after {waited:?}, before the {LEASE:?} lease"
            );
        }
    }
    eprintln!(
        "SIGKILL mid-burst: {} creations acknowledged ({before} before the kill), all readable \
         from the other two; {} of {HELD} held callbacks were the victim's, delivered by another \
         after the lease",
        acked.len(),
        abandoned.len()
    );
}

/// One creation on `addr` (the victim: refused connections end the burst); the new id.
async fn raw_create(addr: std::net::SocketAddr, key: &str, body: &Value) -> Option<String> {
    let url = format!("http://{addr}/v1/approvals");
    let answer = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if answer.status().as_u16() != 201 {
        return None;
    }
    let a: Value = serde_json::from_slice(&answer.bytes().await.ok()?).ok()?;
    a["id"].as_str().map(str::to_owned)
}
