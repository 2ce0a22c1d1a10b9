//! The conformance suite on the embedded store, plus what only a file-backed store can show.

use std::sync::Arc;

use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;

async fn fresh() -> Arc<dyn Store> {
    // Leaked on purpose: the directory must outlive the test's store.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Arc::new(EmbeddedStore::open(&dir).expect("open store"))
}

holdpoint::conformance_suite!(fresh());

#[tokio::test]
async fn tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn row_tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::row_tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn previous_seals_still_verify() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::previous_seals_still_verify(store.clone(), store).await;
}

#[tokio::test]
async fn state_tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::state_tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn accepted_documents_survive_a_restart() {
    use holdpoint::service::Service;
    use holdpoint_core::domain::identity::Principal;
    use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
    use holdpoint_core::time::Clock;
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let agent = Principal {
        tenant: "t".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let mut created = Vec::new();
    {
        let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
        let service = Service::new(
            store.clone(),
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        );
        for body in holdpoint::conformance::generated_bodies(11, 40) {
            let request: CreateRequest = serde_json::from_str(&body).unwrap();
            let (a, _) = service.create(&agent, request, None).await.unwrap();
            created.push(store.get("t", a.id).await.unwrap().unwrap());
        }
    }
    let reopened = EmbeddedStore::open(&dir).expect("every accepted line replays");
    for a in created {
        assert_eq!(reopened.get("t", a.id).await.unwrap(), Some(a));
    }
}

/// The audit table refuses every edit a hand with `sqlite3` would try: UPDATE, DELETE, and
/// INSERT OR REPLACE over a record; appending the next record is still allowed.
#[tokio::test]
async fn audit_records_refuse_updates_and_deletes() {
    use holdpoint_core::domain::identity::Principal;
    use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    let agent = Principal {
        tenant: "t".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: CreateRequest =
        serde_json::from_str(r#"{"action": "x", "agent_id": "a", "reviewers": ["r"]}"#).unwrap();
    let (a, record) = request
        .into_approval(
            &agent,
            &Gate::open(),
            ExpiryBounds::default(),
            chrono::Utc::now(),
        )
        .unwrap();
    store.create(&a, &record, None).await.unwrap();
    let id = a.id.hyphenated().to_string();
    let conn = rusqlite::Connection::open(dir.join("holdpoint.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    for edit in [
        format!(
            "UPDATE audit SET body = replace(body, '\"x\"', '\"y\"') WHERE approval_id = '{id}'"
        ),
        format!("DELETE FROM audit WHERE approval_id = '{id}'"),
        format!(
            "INSERT OR REPLACE INTO audit (approval_id, sequence, body) VALUES ('{id}', 1, '{{}}')"
        ),
    ] {
        let refused = conn.execute(&edit, []).expect_err(&edit);
        assert!(
            refused.to_string().contains("append-only"),
            "{edit}: {refused}"
        );
    }
    let kept: String = conn
        .query_row(
            "SELECT body FROM audit WHERE approval_id = ?1 AND sequence = 1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(kept.contains(&record.hash), "the record is as written");
    conn.execute(
        "INSERT INTO audit (approval_id, sequence, body) VALUES (?1, 2, '{}')",
        [&id],
    )
    .expect("appending is not an edit");
}

/// A table renamed away (its triggers go with it) and rebuilt under the old name gets the
/// triggers back when the store is next opened: the guard is not lost for good by a rename.
#[tokio::test]
async fn a_renamed_and_rebuilt_audit_table_is_guarded_again_on_open() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    drop(EmbeddedStore::open(&dir).expect("open store"));
    let conn = rusqlite::Connection::open(dir.join("holdpoint.db")).unwrap();
    conn.execute_batch(
        "ALTER TABLE audit RENAME TO audit_kept; \
         CREATE TABLE audit (approval_id TEXT NOT NULL, sequence INTEGER NOT NULL, \
         body TEXT NOT NULL, PRIMARY KEY (approval_id, sequence)) WITHOUT ROWID; \
         INSERT INTO audit VALUES ('x', 1, '{}');",
    )
    .unwrap();
    conn.execute("UPDATE audit SET body = '[]'", [])
        .expect("unguarded until the store opens");
    drop(conn);
    drop(EmbeddedStore::open(&dir).expect("reopen"));
    let conn = rusqlite::Connection::open(dir.join("holdpoint.db")).unwrap();
    for edit in ["UPDATE audit SET body = '{}'", "DELETE FROM audit"] {
        let refused = conn.execute(edit, []).expect_err(edit);
        assert!(
            refused.to_string().contains("append-only"),
            "{edit}: {refused}"
        );
    }
}

/// Writes that arrive together are committed together: one transaction (one sync) for many
/// callers, each answered once it is durable, every write there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_arriving_together_share_a_commit() {
    use holdpoint_core::domain::identity::Principal;
    use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    let agent = Principal {
        tenant: "t".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: CreateRequest =
        serde_json::from_str(r#"{"action": "x", "agent_id": "a", "reviewers": ["r"]}"#).unwrap();
    const WRITES: usize = 400;
    let before = store.commits();
    let mut tasks = Vec::new();
    for _ in 0..WRITES {
        let (store, request, agent) = (store.clone(), request.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            let (a, record) = request
                .into_approval(
                    &agent,
                    &holdpoint_core::domain::request::Gate::open(),
                    ExpiryBounds::default(),
                    chrono::Utc::now(),
                )
                .unwrap();
            store.create(&a, &record, None).await.unwrap();
            a.id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let commits = store.commits() - before;
    println!("{WRITES} concurrent creates in {commits} commits");
    assert!(
        commits >= 1 && (commits as usize) < WRITES,
        "{commits} commits"
    );
    drop(store);
    let reopened = EmbeddedStore::open(&dir).expect("reopen");
    for id in ids {
        assert!(reopened.get("t", id).await.unwrap().is_some());
    }
}

mod directory {
    use std::sync::Arc;

    use holdpoint::directory::Directory;
    use holdpoint::directory::embedded::EmbeddedDirectory;

    async fn fresh() -> Arc<dyn Directory> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(EmbeddedDirectory::open(&dir).expect("open directory"))
    }

    holdpoint::directory_suite!(fresh());
}

mod policies {
    use std::sync::Arc;

    use holdpoint::directory::policy::PolicyStore;
    use holdpoint::directory::policy::embedded::EmbeddedPolicies;

    async fn fresh() -> Arc<dyn PolicyStore> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(EmbeddedPolicies::open(&dir).expect("open policies"))
    }

    holdpoint::policy_suite!(fresh());
}

mod deliveries {
    use std::sync::Arc;

    use chrono::Utc;
    use holdpoint::delivery::DeliveryLog;
    use holdpoint::delivery::embedded::EmbeddedDeliveries;

    async fn fresh() -> Arc<dyn DeliveryLog> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(EmbeddedDeliveries::open(&dir).expect("open deliveries"))
    }

    holdpoint::deliveries_suite!(fresh());

    /// The local retry queue: pending deliveries come back when due, and survive a reopening.
    #[tokio::test]
    async fn the_retry_queue_gives_back_what_is_due_after_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = EmbeddedDeliveries::open(dir.path()).unwrap();
        let out = serde_json::json!({"kind": "webhook", "body": "{}"});
        let due: holdpoint::delivery::Delivery = serde_json::from_value(serde_json::json!({
            "id": "a:2.callback.agent", "tenant": "t", "approval_id": uuid::Uuid::new_v4(),
            "event_id": "a:2", "event_type": "approval.approved", "channel": "callback",
            "recipient": "agent", "target": "https://agent.example/cb", "status": "pending",
            "attempts": 1, "created_at": "2026-11-29T10:00:00.000Z",
            "next_attempt_at": "2026-11-29T10:00:01.000Z", "message": out,
        }))
        .unwrap();
        let mut later = due.clone();
        later.id = "a:3.callback.agent".into();
        later.next_attempt_at = Utc::now() + chrono::TimeDelta::hours(1);
        log.enqueue(&[due.clone(), later]).await.unwrap();
        drop(log);
        let log = EmbeddedDeliveries::open(dir.path()).unwrap();
        let now_due = log.due(Utc::now(), 10).await.unwrap();
        assert_eq!(now_due, vec![due]);
    }
}

mod checkpoints {
    use std::sync::Arc;

    use holdpoint::store::embedded::EmbeddedStore;

    async fn fresh() -> Arc<EmbeddedStore> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(EmbeddedStore::open(&dir).expect("open store"))
    }

    holdpoint::checkpoint_suite!(fresh());
}

/// Checkpoints and what each covered refuse every edit, as audit records do.
#[tokio::test]
async fn checkpoints_refuse_updates_and_deletes() {
    use holdpoint::store::checkpoints::CheckpointLog;
    use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead, LocalSigner};
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = EmbeddedStore::open(&dir).expect("open store");
    let head = CheckpointHead {
        approval_id: uuid::Uuid::new_v4(),
        sequence: 1,
        hash: "a".repeat(64),
    };
    let c = Checkpoint::signed(
        None,
        "t",
        chrono::Utc::now(),
        vec![head.clone()],
        &LocalSigner::generate(),
    )
    .await
    .unwrap();
    store.append(&c).await.unwrap();
    let conn = rusqlite::Connection::open(dir.join("holdpoint.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    for edit in [
        "UPDATE checkpoints SET body = '{}' WHERE tenant = 't'".to_owned(),
        "DELETE FROM checkpoints WHERE tenant = 't'".to_owned(),
        "INSERT OR REPLACE INTO checkpoints (tenant, sequence, hash, body) \
         VALUES ('t', 1, 'x', '{}')"
            .to_owned(),
        "UPDATE checkpoint_heads SET head_seq = 9 WHERE tenant = 't'".to_owned(),
        "DELETE FROM checkpoint_heads WHERE tenant = 't'".to_owned(),
        format!(
            "INSERT OR REPLACE INTO checkpoint_heads (tenant, approval_id, checkpoint_seq, \
             head_seq, head_hash) VALUES ('t', '{}', 1, 9, 'x')",
            head.approval_id
        ),
    ] {
        let refused = conn.execute(&edit, []).expect_err(&edit);
        assert!(
            refused.to_string().contains("append-only"),
            "{edit}: {refused}"
        );
    }
    assert_eq!(store.latest("t").await.unwrap(), Some(c));
    assert_eq!(
        store.covering("t", head.approval_id).await.unwrap(),
        [(1, head)]
    );
}

/// A file written before checkpoints (schema version 1) opens, its approvals marked moved so
/// the first checkpoint records them; new ones are marked as ever.
#[tokio::test]
async fn a_store_from_before_checkpoints_opens() {
    use holdpoint::store::checkpoints::CheckpointLog;
    use holdpoint_core::domain::identity::Principal;
    use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let agent = Principal {
        tenant: "t".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: CreateRequest =
        serde_json::from_str(r#"{"action": "x", "agent_id": "a", "reviewers": ["r"]}"#).unwrap();
    let new = || {
        request
            .clone()
            .into_approval(
                &agent,
                &Gate::open(),
                ExpiryBounds::default(),
                chrono::Utc::now(),
            )
            .unwrap()
    };
    let (old, record) = new();
    {
        let store = EmbeddedStore::open(&dir).expect("open store");
        store.create(&old, &record, None).await.unwrap();
    }
    // Back to version 1, as the previous Holdpoint left it.
    let conn = rusqlite::Connection::open(dir.join("holdpoint.db")).unwrap();
    conn.execute_batch(
        "DROP INDEX approvals_moved; ALTER TABLE approvals DROP COLUMN moved; \
         DROP TABLE checkpoints; DROP TABLE checkpoint_heads; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = EmbeddedStore::open(&dir).expect("a version 1 file opens");
    let kept = store.get("t", old.id).await.unwrap().expect("kept");
    assert_eq!(kept.audit_head, old.audit_head);
    assert!(kept.row_mismatch.is_empty());
    // Every approval from before is marked, so the first checkpoint records it as it stands.
    let moved = store.moved(10).await.unwrap();
    assert_eq!(
        moved.iter().map(|m| m.head.approval_id).collect::<Vec<_>>(),
        [old.id]
    );
    assert_eq!(moved[0].head.sequence, old.audit_head.sequence);
    let (a, record) = new();
    store.create(&a, &record, None).await.unwrap();
    let mut moved: Vec<_> = store
        .moved(10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.head.approval_id)
        .collect();
    moved.sort();
    let mut both = vec![old.id, a.id];
    both.sort();
    assert_eq!(moved, both);
    let version: i64 = rusqlite::Connection::open(dir.join("holdpoint.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}
