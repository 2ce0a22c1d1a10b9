//! Two processes editing one `directory.db`: the second edit after the same version is told
//! so (`AlreadyExists`, which the service answers 412), never a failure of the store.

use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, params};

use super::*;

const TENANT: &str = "acme";

fn version_one() -> String {
    sqlite::encode(&StoredPolicy {
        version: 1,
        text: "default: ask\n".into(),
        set_by: "other-process".into(),
        set_at: Utc::now(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_a_version_another_process_is_writing_is_refused_as_taken() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedPolicies::open(dir.path()).unwrap();
    // The other process: it read version 0 and is writing version 1 when this one starts.
    let other = Connection::open(dir.path().join(FILE)).unwrap();
    other.busy_timeout(Duration::from_secs(5)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
        .execute(
            "INSERT INTO policies (tenant, version, body) VALUES (?1, 1, ?2)",
            params![TENANT, version_one()],
        )
        .unwrap();
    let mine = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .put(TENANT, "default: deny\n", "admin", Utc::now(), 0)
                .await
        })
    };
    // Long enough for this edit to have read the versions, were it not waiting for the lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.execute_batch("COMMIT").unwrap();
    let answer = mine.await.unwrap();
    assert!(
        matches!(answer, Err(StoreError::AlreadyExists)),
        "{answer:?}"
    );
    let current = store.current(TENANT).await.unwrap().unwrap();
    assert_eq!(
        (current.version, current.set_by.as_str()),
        (1, "other-process")
    );
    // And the next edit, after version 1, lands.
    assert_eq!(
        store
            .put(TENANT, "default: deny\n", "admin", Utc::now(), 1)
            .await
            .unwrap(),
        2
    );
}

#[test]
fn a_version_already_stored_is_taken_not_a_defect() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    let insert = || {
        conn.execute(
            "INSERT INTO policies (tenant, version, body) VALUES (?1, 1, '{}')",
            params![TENANT],
        )
    };
    insert().unwrap();
    assert!(matches!(
        insert().map_err(taken),
        Err(StoreError::AlreadyExists)
    ));
}
