//! SIGKILL in the middle of a burst of decisions loses no acknowledged decision and leaves no
//! approval half-decided.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::{AGENT_KEY, ALICE_KEY, BOB_KEY, FINANCE_KEY, REVIEWER_KEY, Server, create};

const APPROVALS: usize = 60;

/// Four reviewers of the team, who race on every approval.
const RACERS: [&str; 4] = [REVIEWER_KEY, ALICE_KEY, BOB_KEY, FINANCE_KEY];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_burst_loses_no_acknowledged_decision() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("HOLDPOINT_DATA_DIR", "data")];
    let server = Arc::new(Server::for_team(dir.path(), &env).await);

    let mut ids = Vec::new();
    for _ in 0..APPROVALS {
        let body = json!({"action": "pay invoice", "agent_id": "a", "reviewers": ["reviewer", "alice", "bob", "fiona"]});
        ids.push(create(&server, AGENT_KEY, body).await);
    }

    // Four reviewers race on every approval; record each decision the server acknowledged.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, id) in ids.iter().enumerate() {
        for key in RACERS {
            let (server, id, tx) = (server.clone(), id.clone(), tx.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i as u64 * 2)).await;
                let body = json!({"decision": "approved"});
                if let Ok((200, a)) = server
                    .call(
                        "POST",
                        &format!("/v1/approvals/{id}/decision"),
                        Some(key),
                        Some(&body),
                    )
                    .await
                {
                    let _ = tx.send((id, a["decision"]["by"].as_str().unwrap_or("").to_owned()));
                }
            });
        }
    }
    drop(tx);
    let mut acknowledged = Vec::new();
    while let Some(ack) = rx.recv().await {
        acknowledged.push(ack);
        if acknowledged.len() == APPROVALS / 3 {
            break;
        }
    }
    server.kill();
    // Collect what else was acknowledged before the kill landed.
    while let Ok(Some(ack)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv()).await
    {
        acknowledged.push(ack);
    }
    assert!(acknowledged.len() >= APPROVALS / 3);

    let server = Server::for_team(dir.path(), &env).await;
    for (id, by) in &acknowledged {
        let (status, a) = server
            .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT_KEY), None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            a["status"], "approved",
            "acknowledged decision on {id} lost"
        );
        assert_eq!(a["decision"]["by"].as_str(), Some(by.as_str()));
    }
    let (mut pending, mut approved) = (0, 0);
    for id in &ids {
        let (_, a) = server
            .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT_KEY), None)
            .await
            .unwrap();
        let (_, audit) = server
            .call(
                "GET",
                &format!("/v1/approvals/{id}/audit"),
                Some(AGENT_KEY),
                None,
            )
            .await
            .unwrap();
        assert_eq!(audit["valid"], true, "{id}: {audit}");
        let records = audit["records"].as_array().unwrap().len();
        match a["status"].as_str().unwrap() {
            "pending" => {
                assert!(a["decision"].is_null());
                assert_eq!(
                    records, 1,
                    "a pending approval has only its creation record"
                );
                pending += 1;
            }
            "approved" => {
                assert_eq!(records, 2, "a decision is stored with exactly its record");
                approved += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    println!(
        "after SIGKILL: {} acknowledged, {approved} approved, {pending} pending",
        acknowledged.len()
    );
    assert_eq!(pending + approved, APPROVALS);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], support::free_port()).await;
    let status = server.terminate().expect("it exits");
    assert!(status.success(), "{status:?}");
}
