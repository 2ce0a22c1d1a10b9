//! Instances as a role that owns nothing (`holdpoint db grant`): every store works with what
//! `GRANTS` gives, and what a rewrite of history needs (switching the append-only triggers off,
//! updating or deleting audit records and checkpoint heads, truncating) is refused by the
//! database itself. The attacker who rolled an executed approval back did it as the owner.

use std::sync::Arc;

use holdpoint::conformance;
use holdpoint::postgres::deliveries::PgDeliveries;
use holdpoint::postgres::directory::PgDirectory;
use holdpoint::postgres::migrations;
use holdpoint::postgres::policies::PgPolicies;
use holdpoint::postgres::sessions::PgSessions;
use holdpoint::postgres::slack::PgSlack;
use holdpoint::postgres::store::PgStore;
use holdpoint::postgres::{Migrate, Pg};
use holdpoint_tests::postgres::{database, fresh_database};

/// A fresh database migrated by its owner, and `role` granted on it: the app's `Pg`.
async fn as_app(role: &str) -> (Pg, Pg) {
    let url = fresh_database().await;
    let owner = Pg::connect(&database(&url, 2), Migrate::Apply)
        .await
        .unwrap();
    let conn = owner.conn().await.unwrap();
    conn.batch_execute(&format!(
        "DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    ))
    .await
    .unwrap();
    migrations::grant(&conn, role).await.expect("grant");
    let app_url = url.replacen("holdpoint@", &format!("{role}@"), 1);
    // Nothing to apply: an instance as the app role starts (no DDL on its way).
    let app = Pg::connect(&database(&app_url, 4), Migrate::Apply)
        .await
        .expect("the app role starts on a migrated database");
    (owner, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_store_works_as_the_granted_role() {
    let (_, app) = as_app("holdpoint_app_works").await;
    let store = Arc::new(PgStore::new(app.clone()));
    conformance::lifecycle_end_to_end(store.clone()).await;
    conformance::idempotency_keys(store.clone()).await;
    conformance::sweep_expires_due_approvals(store.clone()).await;
    conformance::checkpoints::creates_and_transitions_make_approvals_moved(
        store.clone(),
        store.clone(),
    )
    .await;
    conformance::checkpoints::append_clears_what_it_recorded(store.clone(), store).await;
    conformance::directory::directory_round_trip(Arc::new(PgDirectory::new(app.clone()))).await;
    conformance::directory::replacing_moves_credentials(Arc::new(PgDirectory::new(app.clone())))
        .await;
    conformance::policies::policy_versions_grow_and_are_kept(Arc::new(PgPolicies::new(
        app.clone(),
    )))
    .await;
    let sessions = Arc::new(PgSessions::new(app.clone()));
    conformance::sessions::a_link_is_taken_once(sessions.clone()).await;
    conformance::sessions::requests_are_counted_per_name_in_a_window(sessions.clone()).await;
    conformance::sessions::sign_out_all_ends_the_principals_sessions_only(sessions.clone()).await;
    conformance::sessions::a_button_is_spent_once(sessions).await;
    conformance::deliveries::deliveries_are_kept_once_and_updated(Arc::new(PgDeliveries::new(
        app.clone(),
    )))
    .await;
    let slack = PgSlack::new(app);
    slack
        .put(
            "t1",
            Some("T0123"),
            "xoxb-1-2-abc",
            "0123456789abcdef0123456789abcdef",
        )
        .await
        .expect("connect");
    assert!(slack.remove("t1").await.unwrap());
}

#[tokio::test]
async fn the_granted_role_cannot_rewrite_history() {
    let (owner, app) = as_app("holdpoint_app_bounded").await;
    let store = Arc::new(PgStore::new(app.clone()));
    conformance::lifecycle_end_to_end(store.clone()).await;
    let conn = app.conn().await.unwrap();
    for sql in [
        "ALTER TABLE audit DISABLE TRIGGER ALL",
        "ALTER TABLE checkpoint_heads DISABLE TRIGGER ALL",
        "UPDATE audit SET body = body",
        "DELETE FROM audit",
        "TRUNCATE audit",
        "DELETE FROM checkpoint_heads",
        "DELETE FROM checkpoints",
        "DELETE FROM approvals",
        "DELETE FROM policies",
        "DROP TABLE audit",
        "CREATE TABLE intruder (x int)",
    ] {
        let e = conn
            .batch_execute(sql)
            .await
            .err()
            .unwrap_or_else(|| panic!("the app role was allowed: {sql}"));
        let code = e.code().map(|c| c.code().to_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {e:?}");
    }
    // The owner could (what the README says to keep away from the instances).
    owner
        .conn()
        .await
        .unwrap()
        .batch_execute(
            "ALTER TABLE audit DISABLE TRIGGER ALL; ALTER TABLE audit ENABLE TRIGGER ALL",
        )
        .await
        .expect("the owner may");
}

#[tokio::test]
async fn a_role_that_is_not_a_plain_identifier_is_refused() {
    let url = fresh_database().await;
    let owner = Pg::connect(&database(&url, 1), Migrate::Apply)
        .await
        .unwrap();
    let conn = owner.conn().await.unwrap();
    for role in [
        "",
        "App",
        "x; DROP TABLE audit",
        "1abc",
        "a\"b",
        &"a".repeat(64),
    ] {
        assert!(
            migrations::grant(&conn, role).await.is_err(),
            "{role:?} was taken"
        );
    }
    // Nothing was run: the audit table is still there.
    conn.batch_execute("SELECT 1 FROM audit LIMIT 1")
        .await
        .unwrap();
}
