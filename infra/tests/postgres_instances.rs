//! Three `holdpoint serve` on one PostgreSQL database behave as one service (issue 28, "Done
//! when" 2): 50 concurrent decisions on one approval across instances have one winner; a
//! callback is delivered once while every instance runs a notifier; one instance killed with
//! SIGKILL mid-burst loses no acknowledged write, and the deliveries it had claimed are
//! delivered by another once its lease lapses; 1,000 due approvals are expired exactly once
//! while the two left sweep at once; a `pg_dump` taken meanwhile restores into a database on
//! which every chain verifies. Run under `infra/with-postgres.sh`.

mod support;

#[path = "postgres_instances/cluster.rs"]
mod cluster;
#[path = "postgres_instances/phases.rs"]
mod phases;
#[path = "postgres_instances/receiver.rs"]
mod receiver;
#[path = "postgres_instances/restore.rs"]
mod restore;
#[path = "postgres_instances/sigkill.rs"]
mod sigkill;

use std::time::Duration;

use cluster::Cluster;

/// The three instances start together on an empty database and keys directory: they end with
/// one signing key and one checkpoint key (every instance verifies the others' records).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_database_behave_as_one_service() {
    let run = async {
        let cluster = Cluster::start(3).await;
        let files = cluster.key_files();
        assert_eq!(
            files,
            [
                "checkpoint-key.pem",
                "checkpoint-keys.jwks",
                "signing-keys.json"
            ],
            "one key of each kind, no temporary file left"
        );
        let team = phases::Team::add(&cluster);
        phases::fifty_decisions_have_one_winner(&cluster, &team).await;
        phases::callbacks_are_delivered_once(&cluster, &team).await;
        sigkill::sigkill_mid_burst(&cluster, &team).await;
        phases::thousand_due_are_expired_once(&cluster, &team).await;
        restore::a_dump_restores_and_verifies(&cluster).await;
    };
    // Every wait inside is bounded too; dropping the cluster kills the instances.
    tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the scenario ends within 5 minutes");
}
