//! The scenario's parts, each on the running cluster.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use holdpoint_tests::receivers::eventually;
use serde_json::{Value, json};

use crate::cluster::{Cluster, LEASE, call};
use crate::receiver::{Outcome, Receiver};
use crate::support::Server;

/// The principals, in the database's directory (tenant `acme`; `local` holds the development
/// keys a first start adds): an agent, two reviewers, and 50 holders of the role `deciders`.
pub struct Team {
    pub agent: String,
    alice: String,
    pub bob: String,
    deciders: Vec<String>,
}

const DECIDERS: usize = 50;

impl Team {
    pub fn add(cluster: &Cluster) -> Team {
        let (agent, _) = cluster.add(&["acme/agent"]);
        let (alice, _) = cluster.add(&["acme/alice"]);
        let (bob, _) = cluster.add(&["acme/bob"]);
        let deciders = (0..DECIDERS)
            .map(|i| {
                cluster
                    .add(&[&format!("acme/decider-{i}"), "--role", "deciders"])
                    .0
            })
            .collect();
        Team {
            agent,
            alice,
            bob,
            deciders,
        }
    }
}

/// Creates an approval on `server`; its answer (201), or `None` if refused or unanswered.
pub async fn create(server: &Server, team: &Team, body: Value) -> Option<Value> {
    match call(server, "POST", "/v1/approvals", &team.agent, Some(&body)).await {
        Some((201, a)) => Some(a),
        Some((status, a)) => panic!("create answered {status}: {a}"),
        None => None,
    }
}

pub fn ask(callback: Option<String>) -> Value {
    let mut body = json!({"action": "Pay invoice", "agent_id": "ops",
                          "reviewers": ["alice", "bob"]});
    if let Some(url) = callback {
        body["callback_url"] = json!(url);
    }
    body
}

pub async fn decide(server: &Server, key: &str, id: &str, decision: &str) -> Option<(u16, Value)> {
    let path = format!("/v1/approvals/{id}/decision");
    call(
        server,
        "POST",
        &path,
        key,
        Some(&json!({"decision": decision, "comment": "checked"})),
    )
    .await
}

/// The audit chain as `server` reads and verifies it.
async fn audit(server: &Server, team: &Team, id: &str) -> Value {
    let path = format!("/v1/approvals/{id}/audit");
    let (status, audit) = call(server, "GET", &path, &team.agent, None).await.unwrap();
    assert_eq!(status, 200, "{audit}");
    assert_eq!(
        audit["valid"], true,
        "{id} verified by another instance: {audit}"
    );
    audit
}

pub async fn fifty_decisions_have_one_winner(cluster: &Cluster, team: &Team) {
    let s = &cluster.servers;
    let mut statuses = BTreeMap::<u16, usize>::new();
    for round in 0..3 {
        let body = json!({"action": "Pay invoice", "agent_id": "ops",
                          "reviewers": ["role:deciders"]});
        let id = create(&s[round], team, body).await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // 50 different reviewers, each deciding once, through the three instances at once.
        let tries = team.deciders.iter().enumerate().map(|(i, key)| {
            let decision = if i % 2 == 0 { "approved" } else { "rejected" };
            let id = &id;
            async move {
                (
                    decide(&s[i % 3], key, id, decision).await.unwrap(),
                    decision,
                )
            }
        });
        let answers = futures_util::future::join_all(tries).await;
        let winners: Vec<_> = answers.iter().filter(|((st, _), _)| *st == 200).collect();
        for ((st, body), _) in &answers {
            *statuses.entry(*st).or_default() += 1;
            assert!(
                matches!(st, 200 | 409),
                "a loser is told of the conflict: {st} {body}"
            );
        }
        assert_eq!(winners.len(), 1, "one winner of 50: {answers:?}");
        let ((_, won), decision) = winners[0];
        for server in s {
            let (_, a) = call(
                server,
                "GET",
                &format!("/v1/approvals/{id}"),
                &team.agent,
                None,
            )
            .await
            .unwrap();
            assert_eq!(a["status"], *decision, "{a}");
            assert_eq!(a["decision"], won["decision"], "{a}");
            let records = audit(server, team, &id).await["records"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(records, 2, "created and decided, once");
        }
    }
    eprintln!("50 concurrent decisions x 3 approvals, answers by status: {statuses:?}");
}

pub async fn callbacks_are_delivered_once(cluster: &Cluster, team: &Team) {
    const N: usize = 30;
    let receiver = Receiver::start().await;
    let s = &cluster.servers;
    let mut ids = Vec::new();
    for i in 0..N {
        let a = create(&s[i % 3], team, ask(Some(receiver.url("/ok/agent"))))
            .await
            .unwrap();
        let id = a["id"].as_str().unwrap().to_owned();
        let (status, _) = decide(&s[(i + 1) % 3], &team.alice, &id, "approved")
            .await
            .unwrap();
        assert_eq!(status, 200);
        ids.push(id);
    }
    eventually(
        Duration::from_secs(30),
        async || receiver.hits().len(),
        |n| *n >= N,
    )
    .await;
    // Longer than a poll of the queues and a lease: a second sending would have come by now.
    tokio::time::sleep(LEASE + Duration::from_secs(1)).await;
    let hits = receiver.hits();
    let mut by_id = HashMap::<&str, usize>::new();
    for h in &hits {
        assert!(
            h.path == "/ok/agent" && h.signed && h.outcome == Outcome::Answered,
            "{h:?}"
        );
        *by_id.entry(&h.webhook_id).or_default() += 1;
    }
    assert_eq!(by_id.len(), N, "one callback per decision: {by_id:?}");
    assert!(by_id.values().all(|n| *n == 1), "each sent once: {by_id:?}");
    for id in &ids {
        let path = format!("/v1/approvals/{id}/deliveries");
        let (_, d) = call(&s[2], "GET", &path, &team.agent, None).await.unwrap();
        let callback = d["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["channel"] == "callback");
        let callback = callback.unwrap_or_else(|| panic!("{d}"));
        assert_eq!(
            (&callback["status"], &callback["attempts"]),
            (&json!("delivered"), &json!(1))
        );
    }
    eprintln!(
        "{N} callbacks with three notifiers: {} requests, each webhook-id once",
        hits.len()
    );
}

pub async fn thousand_due_are_expired_once(cluster: &Cluster, team: &Team) {
    const N: usize = 1000;
    // Longer than creating them takes, so that all fall due within a few seconds of each other
    // and the two sweeps meet a thousand at once.
    const EXPIRES: u64 = 10;
    let live = &cluster.servers[..2];
    let started = Instant::now();
    let mut expires: Vec<(String, chrono::DateTime<chrono::Utc>)> = Vec::new();
    for chunk in (0..N).collect::<Vec<_>>().chunks(25) {
        let made = chunk.iter().map(|i| async move {
            let body = json!({"action": "Expire me", "agent_id": "ops", "reviewers": ["alice"],
                              "expires_in_seconds": EXPIRES});
            create(&live[i % 2], team, body)
                .await
                .expect("a live instance answers")
        });
        for a in futures_util::future::join_all(made).await {
            let at = a["expires_at"].as_str().unwrap().parse().unwrap();
            expires.push((a["id"].as_str().unwrap().to_owned(), at));
        }
    }
    let created_in = started.elapsed();
    let first_due = expires.iter().map(|(_, at)| *at).min().unwrap();
    let last_due = expires.iter().map(|(_, at)| *at).max().unwrap();
    let ids: Vec<String> = expires.iter().map(|(id, _)| id.clone()).collect();
    let db = cluster.db().await;
    let expired_query = "SELECT approval_id, count(*) FROM audit \
                         WHERE approval_id = ANY($1) AND body::jsonb->>'event' = 'expired' \
                         GROUP BY approval_id";
    let rows = eventually(
        Duration::from_secs(60),
        async || db.query(expired_query, &[&ids]).await.unwrap(),
        |rows| rows.len() == N,
    )
    .await;
    let done = chrono::Utc::now();
    let swept_in = (done - first_due).to_std().unwrap_or_default();
    let after_last = (done - last_due).to_std().unwrap_or_default();
    let twice: Vec<_> = rows.iter().filter(|r| r.get::<_, i64>(1) != 1).collect();
    assert!(twice.is_empty(), "expired more than once: {twice:?}");

    // The events of all instances together: one expiry each.
    let wanted: HashSet<_> = ids
        .iter()
        .map(|id| id.parse::<uuid::Uuid>().unwrap())
        .collect();
    let expiries = || {
        cluster
            .events()
            .into_iter()
            .filter(|e| {
                e.detail_type == "Approval Expired" && wanted.contains(&e.detail.approval_id)
            })
            .map(|e| e.detail.approval_id)
            .collect::<Vec<_>>()
    };
    eventually(
        Duration::from_secs(30),
        async || expiries().len(),
        |n| *n >= N,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = expiries();
    assert_eq!(
        events.len(),
        N,
        "one expiry event per approval, published once"
    );
    assert_eq!(events.iter().collect::<HashSet<_>>().len(), N);
    for id in ids.iter().step_by(50) {
        let records = audit(&live[1], team, id).await["records"].clone();
        assert_eq!(
            records.as_array().unwrap().last().unwrap()["event"],
            "expired"
        );
    }
    let per_instance: Vec<usize> = (0..2)
        .map(|i| {
            cluster
                .events_of(i)
                .iter()
                .filter(|e| e.detail_type == "Approval Expired")
                .count()
        })
        .collect();
    eprintln!(
        "{N} approvals created in {created_in:?} (each due {EXPIRES} s after); all expired \
         {swept_in:?} after the first fell due ({after_last:?} after the last), each once \
         (audit and events); expiry events published per live instance: {per_instance:?}"
    );
}
