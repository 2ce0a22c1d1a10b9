//! SIGKILL in the middle of a burst of decisions loses no acknowledged decision and leaves no
//! approval half-decided.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::{Server, free_port};

const APPROVALS: usize = 60;

fn keys() -> serde_json::Value {
    let mut keys = serde_json::Map::new();
    keys.insert(
        "agent-key-0000000000".into(),
        json!({"tenant": "t", "principal": "agent"}),
    );
    for i in 0..4 {
        keys.insert(
            format!("reviewer-key-{i}-00000000"),
            json!({"tenant": "t", "principal": format!("r{i}")}),
        );
    }
    serde_json::Value::Object(keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_burst_loses_no_acknowledged_decision() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys().to_string();
    let env = [
        ("HOLDPOINT_API_KEYS", keys.as_str()),
        ("HOLDPOINT_DATA_DIR", "data"),
    ];
    let port = free_port();
    let server = Arc::new(Server::start(dir.path(), &env, port).await);

    let mut ids = Vec::new();
    for _ in 0..APPROVALS {
        let body = json!({"action": "pay invoice", "agent_id": "a", "reviewers": ["r0", "r1", "r2", "r3"]});
        let (status, a) = server
            .call(
                "POST",
                "/v1/approvals",
                Some("agent-key-0000000000"),
                Some(&body),
            )
            .await
            .unwrap();
        assert_eq!(status, 201);
        ids.push(a["id"].as_str().unwrap().to_owned());
    }

    // Four reviewers race on every approval; record each decision the server acknowledged.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, id) in ids.iter().enumerate() {
        for r in 0..4 {
            let (server, id, tx) = (server.clone(), id.clone(), tx.clone());
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i as u64 * 2)).await;
                let key = format!("reviewer-key-{r}-00000000");
                let body = json!({"decision": "approved"});
                if let Ok((200, a)) = server
                    .call(
                        "POST",
                        &format!("/v1/approvals/{id}/decision"),
                        Some(&key),
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

    let server = Server::start(dir.path(), &env, free_port()).await;
    for (id, by) in &acknowledged {
        let (status, a) = server
            .call(
                "GET",
                &format!("/v1/approvals/{id}"),
                Some("agent-key-0000000000"),
                None,
            )
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
            .call(
                "GET",
                &format!("/v1/approvals/{id}"),
                Some("agent-key-0000000000"),
                None,
            )
            .await
            .unwrap();
        let (_, audit) = server
            .call(
                "GET",
                &format!("/v1/approvals/{id}/audit"),
                Some("agent-key-0000000000"),
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
    let server = Server::start(dir.path(), &[], free_port()).await;
    let status = server.terminate().expect("it exits");
    assert!(status.success(), "{status:?}");
}
