//! Backup and restore as the README tells: `pg_dump` of the database while the instances run,
//! `pg_restore` into an empty one, then `holdpoint audit verify` there with the same keys: every
//! chain verifies, against the signed checkpoints too, and none is missing.

use std::process::Command;

use holdpoint_tests::postgres::fresh_database;

use crate::cluster::Cluster;
use crate::support::{holdpoint, printed};

/// PostgreSQL's own programs, from where `infra/with-postgres.sh` found the server.
fn program(name: &str) -> Command {
    let bin = std::env::var("HOLDPOINT_TEST_POSTGRES_BIN")
        .expect("HOLDPOINT_TEST_POSTGRES_BIN is not set: run under infra/with-postgres.sh");
    Command::new(std::path::Path::new(&bin).join(name))
}

pub async fn a_dump_restores_and_verifies(cluster: &Cluster) {
    let stored: i64 = cluster
        .db()
        .await
        .query_one("SELECT count(*) FROM approvals", &[])
        .await
        .unwrap()
        .get(0);
    let dump = cluster.root.path().join("holdpoint.dump");
    let out = program("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(cluster.url())
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "pg_dump: {}", printed(&out));
    let restored = fresh_database().await;
    let out = program("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&restored)
        .arg(&dump)
        .output()
        .expect("pg_restore runs");
    assert!(out.status.success(), "pg_restore: {}", printed(&out));

    let env = cluster.env_on(&restored);
    let out = holdpoint(cluster.root.path(), &["db", "status"], &env);
    assert!(out.status.success(), "{}", printed(&out));
    let out = holdpoint(cluster.root.path(), &["audit", "verify"], &env);
    let shown = printed(&out);
    assert!(out.status.success(), "{shown}");
    let verified = format!("{stored} chains verified, 0 broken");
    assert!(shown.contains(&verified), "wanted {verified:?} in {shown}");
    eprintln!("restored from pg_dump: {verified}");
}
