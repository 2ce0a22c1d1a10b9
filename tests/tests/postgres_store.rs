//! The PostgreSQL approvals store: the conformance suite, the tamper scenarios and the checkpoint
//! suite unchanged, and what only this backend shows: the plans of the due query and of list
//! pages, the database refusing edits of audit records, and claims between instances
//! ([`postgres_store_claims`]). Run under `infra/with-postgres.sh`.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use holdpoint::postgres::store::PgStore;
use holdpoint::postgres::{Migrate, Pg};
use holdpoint::store::{Created, Cursor, IdempotencyKey, ListFilter, Store, StoreError};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};
use holdpoint_tests::postgres::{database, fresh_database, pg};

mod postgres_store_claims;

// Each scenario on a database of its own: a sweep and the checkpoint writer read across
// tenants, so another scenario's sweep (on its own manual clock) would act on this one's
// approvals in a shared database.
async fn fresh() -> Arc<dyn Store> {
    Arc::new(PgStore::new(own_database(4).await))
}

holdpoint::conformance_suite!(fresh());

async fn tamperable() -> Arc<PgStore> {
    Arc::new(PgStore::new(own_database(4).await))
}

#[tokio::test]
async fn tampering_is_detected() {
    let store = tamperable().await;
    holdpoint::conformance::tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn row_tampering_is_detected() {
    let store = tamperable().await;
    holdpoint::conformance::row_tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn previous_seals_still_verify() {
    let store = tamperable().await;
    holdpoint::conformance::previous_seals_still_verify(store.clone(), store).await;
}

#[tokio::test]
async fn state_tampering_is_detected() {
    let store = tamperable().await;
    holdpoint::conformance::state_tampering_is_detected(store.clone(), store).await;
}

mod checkpoints {
    use std::sync::Arc;

    use holdpoint::postgres::store::PgStore;

    async fn fresh() -> Arc<PgStore> {
        Arc::new(PgStore::new(super::own_database(4).await))
    }

    holdpoint::checkpoint_suite!(fresh());
}

/// A database of its own (what these tests count must not meet other tests' rows), migrated.
pub async fn own_database(pool: usize) -> Pg {
    Pg::connect(&database(&fresh_database().await, pool), Migrate::Apply)
        .await
        .expect("connect to a fresh database")
}

/// An approval of `tenant` created at `created_at`, expiring an hour later, signed and sealed
/// with the conformance key and with nothing left to publish, and its first record.
pub fn made(tenant: &str, created_at: chrono::DateTime<Utc>) -> (Approval, AuditRecord) {
    let request: CreateRequest = serde_json::from_value(serde_json::json!({
        "action": "Rotate the database password",
        "agent_id": "ops-agent",
        "reviewers": ["reviewer"],
        "expires_in_seconds": 3600,
    }))
    .expect("valid request");
    let agent = Principal {
        tenant: tenant.into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let key = holdpoint::conformance::test_key();
    let (mut a, mut record) = request
        .into_approval(&agent, &Gate::open(), ExpiryBounds::default(), created_at)
        .expect("valid approval");
    record.sign(&key);
    a.published_seq = record.sequence;
    holdpoint_core::domain::integrity::seal(&mut a, &key);
    (a, record)
}

/// [`made`], stored, its writer's claim ended as the writer ends it once its events are out.
pub async fn stored(store: &PgStore, tenant: &str, created_at: chrono::DateTime<Utc>) -> Approval {
    let (a, record) = made(tenant, created_at);
    store.create(&a, &record, None).await.expect("stored");
    assert!(store.mark_published(&a).await.expect("marked"), "marked");
    a
}

/// Rows that are never due (half without a due time, half due in 2099), of tenants `filler-N`
/// and `crowd`, written straight into the table: bulk for the planner, never read as approvals.
async fn filler(pg: &Pg, n: i64) {
    let conn = pg.conn().await.unwrap();
    conn.execute(
        "INSERT INTO approvals (id, tenant, created_at, status, expires_at, agent_id, version, \
         head_seq, published_seq, due_at, body) \
         SELECT 'filler-' || g, CASE WHEN g % 2 = 0 THEN 'crowd' ELSE 'filler-' || (g % 50) END, \
                g, 'approved', g, 'a', 1, 1, 1, \
                CASE WHEN g % 2 = 0 THEN NULL ELSE 4070908800000 + g END, '{}' \
         FROM generate_series(1, $1::bigint) AS g",
        &[&n],
    )
    .await
    .unwrap();
    conn.batch_execute("ANALYZE approvals").await.unwrap();
}

/// The line of `plan` that reads through `index`.
fn reading<'a>(plan: &'a str, index: &str) -> &'a str {
    plan.lines()
        .find(|l| l.contains(&format!("using {index}")))
        .unwrap_or_else(|| panic!("the plan reads through {index}:\n{plan}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_due_query_reads_only_due_rows_through_the_partial_index() {
    let pg = own_database(4).await;
    let store = PgStore::new(pg.clone());
    filler(&pg, 20_000).await;
    for _ in 0..12 {
        stored(&store, "due", Utc::now() - TimeDelta::hours(2)).await;
    }
    let conn = pg.conn().await.unwrap();
    conn.batch_execute("ANALYZE approvals").await.unwrap();

    let plan = store.explain_due(Utc::now(), 400).await.unwrap();
    println!("EXPLAIN (ANALYZE) of the due query, 12 due among 20,012 rows:\n{plan}");
    let index = reading(&plan, "approvals_due");
    assert!(index.contains("rows=12 "), "reads the 12 due rows: {index}");
    assert!(!plan.contains("Seq Scan"), "no table scan:\n{plan}");
    assert!(
        !plan.contains("Rows Removed by Filter"),
        "no row read and dropped:\n{plan}"
    );
    // The plan was measured in a transaction rolled back: nothing is claimed by it.
    let claimed: i64 = conn
        .query_one(
            "SELECT count(*) FROM approvals WHERE claimed_by IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(claimed, 0, "explaining claims nothing");
    assert_eq!(store.due(Utc::now(), 400).await.unwrap().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_read_by_keyset_without_sorting_the_tenant() {
    let pg = own_database(4).await;
    let store = PgStore::new(pg.clone());
    filler(&pg, 20_000).await;
    let cursor = Cursor {
        created_at: chrono::DateTime::from_timestamp_millis(15_000).unwrap(),
        id: uuid::Uuid::nil(),
    };
    let now = Utc::now();
    for after in [None, Some(&cursor)] {
        let plan = store
            .explain_list("crowd", &ListFilter::default(), 50, after, now)
            .await
            .unwrap();
        println!("EXPLAIN (ANALYZE) of a page of 50 of 10,000 (after {after:?}):\n{plan}");
        let index = reading(&plan, "approvals_newest");
        assert!(
            index.contains("Backward"),
            "newest first from the index: {index}"
        );
        assert!(
            index.contains("rows=51 "),
            "reads the page and one more: {index}"
        );
        assert!(!plan.contains("Sort"), "no sort of the tenant:\n{plan}");
        assert!(!plan.contains("Seq Scan"), "no table scan:\n{plan}");
    }

    // And pages through the store: every approval once, newest first, across page bounds.
    let t = format!("keyset-{}", uuid::Uuid::new_v4().simple());
    let base = Utc::now() - TimeDelta::minutes(30);
    let mut made = Vec::new();
    for i in 0..23 {
        // Three share each creation time: the id orders them.
        made.push(stored(&store, &t, base + TimeDelta::seconds(i / 3)).await);
    }
    made.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.id)));
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = store
            .list(&t, &ListFilter::default(), 5, after.as_ref(), Utc::now())
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|a| a.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = made.iter().map(|a| a.id).collect();
    assert_eq!(seen, expected, "every approval once, newest first");
}

/// The message the database refuses an edit of an append-only table with.
async fn refused(
    conn: &holdpoint::postgres::Conn,
    sql: &str,
    params: &[&(dyn holdpoint::postgres::tokio_postgres::types::ToSql + Sync)],
) -> String {
    let e = conn
        .execute(sql, params)
        .await
        .expect_err(&format!("the database refuses {sql}"));
    let db = e.as_db_error().expect("a database error");
    assert_eq!(
        db.code().code(),
        "23000",
        "{sql}: integrity_constraint_violation"
    );
    db.message().to_owned()
}

// Attacker tries kept: a hand with the application's own database access rewriting, deleting or
// upserting over an audit record, or truncating the audit and checkpoint tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_updates_and_deletes_of_audit_records() {
    let pg = own_database(4).await;
    let store = PgStore::new(pg.clone());
    let a = stored(&store, "guarded", Utc::now()).await;
    let before = store.audit("guarded", a.id).await.unwrap();
    assert_eq!(before.len(), 1);
    let id = a.id.hyphenated().to_string();
    let conn = pg.conn().await.unwrap();
    let tries: [(
        &str,
        &[&(dyn holdpoint::postgres::tokio_postgres::types::ToSql + Sync)],
    ); 5] = [
        (
            "UPDATE audit SET body = '{}' WHERE approval_id = $1",
            &[&id],
        ),
        (
            "UPDATE audit SET sequence = 7 WHERE approval_id = $1",
            &[&id],
        ),
        ("DELETE FROM audit WHERE approval_id = $1", &[&id]),
        (
            "INSERT INTO audit (approval_id, sequence, body) VALUES ($1, 1, '{}') \
             ON CONFLICT (approval_id, sequence) DO UPDATE SET body = EXCLUDED.body",
            &[&id],
        ),
        ("TRUNCATE audit", &[]),
    ];
    for (sql, params) in tries {
        let message = refused(&conn, sql, params).await;
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    // Checkpoints likewise (a row inserted by hand: inserting is what they allow).
    conn.batch_execute(
        "INSERT INTO checkpoints VALUES ('guarded', 1, 'h', '{}'); \
         INSERT INTO checkpoint_heads VALUES ('guarded', 'x', 1, 1, 'h')",
    )
    .await
    .unwrap();
    for table in ["checkpoints", "checkpoint_heads"] {
        for sql in [
            format!("UPDATE {table} SET tenant = 'other'"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
        ] {
            let message = refused(&conn, &sql, &[]).await;
            assert!(message.contains("append-only"), "{sql}: {message}");
        }
    }
    assert_eq!(
        store.audit("guarded", a.id).await.unwrap(),
        before,
        "untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_racing_on_one_idempotency_key_store_one_approval() {
    let store = PgStore::new(pg().await);
    let t = format!("racing-{}", uuid::Uuid::new_v4().simple());
    let key = |hash: &str| IdempotencyKey {
        key: "same-key".into(),
        request_hash: hash.into(),
    };
    let mut racing = Vec::new();
    for i in 0..20 {
        let (store, t) = (store.clone(), t.clone());
        // Every fifth asks with another body under the same key.
        let k = key(if i % 5 == 4 { "other" } else { "hash" });
        racing.push(tokio::spawn(async move {
            let (a, record) = made(&t, Utc::now());
            store.create(&a, &record, Some(&k)).await
        }));
    }
    let (mut new, mut existing, mut reused) = (Vec::new(), Vec::new(), 0);
    for r in racing {
        match r.await.unwrap() {
            Ok(Created::New(a)) => new.push(a.id),
            Ok(Created::Existing(a)) => existing.push(a.id),
            Err(StoreError::IdempotencyKeyReused) => reused += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    let page = store
        .list(&t, &ListFilter::default(), 100, None, Utc::now())
        .await
        .unwrap();
    let stored: Vec<_> = page.items.iter().map(|a| a.id).collect();
    assert_eq!(stored.len(), 1, "one approval stored");
    // The winner's body decides which askers were reusing the key with another body.
    assert_eq!(new, stored, "one create made it");
    assert_eq!(existing.len() + reused, 19);
    assert!(
        existing.iter().all(|id| *id == stored[0]),
        "the others got it"
    );
}

/// An attacker's list filter with a NUL (which PostgreSQL's text cannot hold) finds nothing, as
/// on the other stores, instead of failing the query (a 500).
#[tokio::test]
async fn a_filter_with_a_nul_finds_nothing() {
    use holdpoint::store::Awaiting;
    let store = fresh().await;
    let nul = "ops\0".to_owned();
    let filters = [
        ListFilter {
            agent_id: Some(nul.clone()),
            ..Default::default()
        },
        ListFilter {
            reviewer: Some(nul.clone()),
            ..Default::default()
        },
        ListFilter {
            checkpoint_type: Some(nul.clone()),
            ..Default::default()
        },
        ListFilter {
            awaiting: Some(Awaiting {
                name: "alice".into(),
                roles: vec![nul.clone()],
            }),
            ..Default::default()
        },
    ];
    for filter in filters {
        let page = store
            .list("t", &filter, 20, None, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{filter:?}: {e}"));
        assert!(page.items.is_empty() && page.next.is_none(), "{filter:?}");
    }
}

/// `holdpoint audit verify` walks every chain the store knows of: an approval whose row was
/// deleted by hand is still walked (and then found broken) through the head a checkpoint
/// recorded for it, as on the embedded store.
#[tokio::test]
async fn every_chain_includes_an_approval_whose_row_was_deleted() {
    let pg = own_database(2).await;
    let store = PgStore::new(pg.clone());
    let (kept, first) = made("t", Utc::now());
    store.create(&kept, &first, None).await.unwrap();
    let (gone, first) = made("t", Utc::now());
    store.create(&gone, &first, None).await.unwrap();
    let conn = pg.conn().await.unwrap();
    conn.execute(
        "INSERT INTO checkpoint_heads (tenant, approval_id, checkpoint_seq, head_seq, head_hash) \
         VALUES ('t', $1, 1, 1, $2)",
        &[&gone.id.to_string(), &gone.audit_head.hash],
    )
    .await
    .unwrap();
    conn.execute(
        "DELETE FROM approvals WHERE id = $1",
        &[&gone.id.to_string()],
    )
    .await
    .unwrap();
    let all = store.every_chain().await.unwrap().expect("walked whole");
    assert!(all.contains(&("t".to_owned(), kept.id)), "{all:?}");
    assert!(all.contains(&("t".to_owned(), gone.id)), "{all:?}");
    assert_eq!(store.get("t", gone.id).await.unwrap(), None);
}
