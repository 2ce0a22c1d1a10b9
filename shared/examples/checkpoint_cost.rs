//! What signed checkpoints cost (issue 24) on the embedded store, for one tenant of N approvals:
//!
//!     cargo run --release -p holdpoint --features embedded --example checkpoint_cost -- 10000 1000000
//!
//! (default sizes 10,000 and 1,000,000; a small N, e.g. `-- 2000`, makes a quick run). For each N,
//! in a fresh temp dir: N approvals made and sealed as the service would and stored through the
//! store's group commit (all moved), then `Service::checkpoint` until nothing is moved (the first
//! checkpoint after a backlog: count, time, time per 1000 heads, JSON bytes of a checkpoint of
//! 1000 heads, `holdpoint.db` size before and after); 1 % decided and the incremental
//! checkpoint (the steady state); `moved()` with nothing moved; and a decided approval's evidence
//! bundle (bytes, `evidence_of` and `verify_bundle` time) right after its checkpoint and after
//! 100 more checkpoints of the tenant (each of `EXTRA_HEADS`, default 10, heads).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use holdpoint::service::Service;
use holdpoint::service::checkpoints::BUNDLE_CHECKPOINTS;
use holdpoint::store::Store;
use holdpoint::store::checkpoints::{CheckpointLog, Checkpoints};
use holdpoint::store::embedded::{EmbeddedStore, FILE};
use holdpoint_core::audit::checkpoint::{CheckpointSigner, Jwks, LocalSigner};
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::integrity;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};
use holdpoint_core::evidence::verify_bundle;
use holdpoint_core::keys::{Key, KeyRing};
use holdpoint_core::time::Clock;
use serde_json::json;
use uuid::Uuid;

const TENANT: &str = "acme";

fn who(name: &str) -> Principal {
    Principal {
        tenant: TENANT.into(),
        principal: name.into(),
        roles: vec![],
        kind: Default::default(),
    }
}

fn hmac_key() -> Key {
    Key::new("bench", vec![9; 32]).expect("key")
}

/// A request of the size the store-scale benchmark uses.
fn request(i: usize) -> CreateRequest {
    serde_json::from_value(json!({
        "action": format!("Terminate EC2 instance i-{i:08x}"),
        "agent_id": format!("ops-agent-{}", i % 10),
        "reviewers": ["reviewer"],
        "context": {"instance_id": format!("i-{i:08x}"), "region": "eu-west-1"},
        "risk_score": (i % 100) as u8,
        "expires_in_seconds": 2_592_000,
    }))
    .expect("valid request")
}

/// Stores approvals `from..to`, each signed and sealed as `Service::create` does (so the
/// service reads and decides them), by 32 writers sharing the store's group commit.
async fn grow(store: &Arc<EmbeddedStore>, from: usize, to: usize) -> Vec<Uuid> {
    let next = Arc::new(AtomicUsize::new(from));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let key = hmac_key();
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return ids;
                }
                let now = chrono::Utc::now();
                let (mut a, mut r) = request(i)
                    .into_approval(&who("agent"), &Gate::open(), ExpiryBounds::default(), now)
                    .expect("valid");
                r.sign(&key);
                a.published_seq = r.sequence;
                integrity::seal(&mut a, &key);
                store.create(&a, &r, None).await.expect("stored");
                ids.push(a.id);
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("writer"));
    }
    ids
}

/// Approves `ids` through the service, 16 at a time.
async fn decide(service: &Arc<Service>, ids: &[Uuid]) {
    let ids = Arc::new(ids.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (service, ids, next) = (service.clone(), ids.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let reviewer = who("reviewer");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { return };
                let command = Command::Decide {
                    by: &reviewer,
                    verdict: Verdict::Approved,
                    comment: Some("checked the instance".into()),
                    modified_output: None,
                };
                service.apply(TENANT, *id, command).await.expect("decided");
            }
        }));
    }
    for t in tasks {
        t.await.expect("reviewer");
    }
}

/// Checkpoints until nothing is moved: (calls, checkpoints, heads, time).
async fn checkpoint_all(service: &Service) -> (usize, usize, usize, Duration) {
    let started = Instant::now();
    let (mut calls, mut written, mut heads) = (0, 0, 0);
    loop {
        let r = service.checkpoint().await.expect("checkpoint");
        calls += 1;
        assert_eq!(r.contended, 0, "one writer here");
        if r.written == 0 {
            return (calls, written, heads, started.elapsed());
        }
        written += r.written;
        heads += r.heads;
    }
}

fn report_checkpoints(what: &str, (calls, written, heads, took): (usize, usize, usize, Duration)) {
    let per_1000 = if heads == 0 {
        0.0
    } else {
        ms(took) / (heads as f64 / 1000.0)
    };
    println!(
        "  {what}: {written} checkpoints ({heads} heads) in {calls} calls, {:.1} ms total, \
         {per_1000:.1} ms per 1000 heads",
        ms(took)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// `holdpoint.db`'s size in bytes once its write-ahead log is folded in (so that what the log
/// happens to hold does not count), and the checkpoints' stored JSON bytes and head rows.
fn db_bytes(dir: &Path) -> (u64, u64, u64) {
    let conn = rusqlite::Connection::open(dir.join(FILE)).expect("a second connection");
    conn.busy_timeout(Duration::from_secs(30))
        .expect("busy timeout");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("wal folded in");
    let (bodies, heads): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT coalesce(sum(length(body)), 0) FROM checkpoints), \
             (SELECT count(*) FROM checkpoint_heads)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("checkpoint tables");
    let file = std::fs::metadata(dir.join(FILE)).map_or(0, |m| m.len());
    (file, bodies as u64, heads as u64)
}

fn report_growth(what: &str, before: (u64, u64, u64), after: (u64, u64, u64)) {
    println!(
        "  holdpoint.db {:.1} MiB before, {:.1} MiB after {what} (+{:.2} MiB; checkpoint JSON \
         +{:.2} MiB, +{} head rows)",
        mib(before.0),
        mib(after.0),
        mib(after.0.saturating_sub(before.0)),
        mib(after.1 - before.1),
        after.2 - before.2
    );
}

/// Median time of `runs` calls of `f`, in milliseconds.
async fn median_ms<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        t.push(ms(started.elapsed()));
    }
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

/// The evidence bundle of `id`: its size pretty and compact, and the median times of
/// `evidence_of` and `verify_bundle`.
async fn bundle(service: &Service, keys: &Jwks, id: Uuid, when: &str) {
    let b = service
        .evidence_of(TENANT, id)
        .await
        .expect("evidence")
        .expect("stored");
    let report = verify_bundle(&b, keys);
    assert!(report.ok(), "the bundle verifies: {:?}", report.failures);
    assert!(report.checkpointed.is_some(), "a checkpoint covers it");
    let compact = serde_json::to_vec(&b).expect("json").len();
    let pretty = serde_json::to_vec_pretty(&b).expect("json").len();
    let heads: usize = b.checkpoints.iter().map(|c| c.heads.len()).sum();
    let get = median_ms(21, || async {
        std::hint::black_box(service.evidence_of(TENANT, id).await.expect("evidence"));
    })
    .await;
    let check = median_ms(21, || async {
        std::hint::black_box(verify_bundle(&b, keys));
    })
    .await;
    println!(
        "  bundle {when}: {} records, {} checkpoints ({heads} heads); {compact} B compact, \
         {pretty} B pretty ({:.1} KiB / {:.1} KiB); evidence_of {get:.2} ms, verify_bundle \
         {check:.2} ms (medians of 21)",
        b.records.len(),
        b.checkpoints.len(),
        compact as f64 / 1024.0,
        pretty as f64 / 1024.0,
    );
}

async fn run(n: usize, extra_heads: usize) {
    println!("{n} approvals, one tenant:");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
    let signer = LocalSigner::generate();
    let mut keys = Jwks::default();
    keys.add(signer.public_key().await.expect("public key"));
    let service = Arc::new(
        Service::new(
            store.clone(),
            Arc::new(KeyRing::new(hmac_key(), vec![])),
            Clock::system(),
            ExpiryBounds::default(),
        )
        .with_checkpoints(Checkpoints {
            log: store.clone(),
            signer: Some(Arc::new(signer)),
            keys: keys.clone(),
        }),
    );

    let started = Instant::now();
    let ids = grow(&store, 0, n).await;
    let took = started.elapsed();
    println!(
        "  created {n} approvals in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );

    let before = db_bytes(dir.path());
    report_checkpoints(
        "first checkpoint (all moved)",
        checkpoint_all(&service).await,
    );
    let after = db_bytes(dir.path());
    let first = store.since(TENANT, 1, 1).await.expect("since");
    let first = first.first().expect("a checkpoint");
    let json = serde_json::to_vec(first).expect("json").len();
    println!(
        "  a checkpoint of {} heads: {json} B of JSON ({:.0} B a head)",
        first.heads.len(),
        json as f64 / first.heads.len() as f64,
    );
    report_growth("it", before, after);
    // A bundle carries its covering checkpoint and every later one, each whole (its hash and
    // signature are over all its heads), up to a bound.
    println!(
        "  a bundle's ceiling: {BUNDLE_CHECKPOINTS} checkpoints of up to {} heads: about {:.0} MiB",
        first.heads.len(),
        mib((json * BUNDLE_CHECKPOINTS) as u64)
    );

    // The partial index on `moved`: finding nothing costs nothing, however many approvals.
    let idle = median_ms(101, || async {
        assert!(store.moved(2_000).await.expect("moved").is_empty());
    })
    .await;
    println!(
        "  moved() with nothing moved: {:.3} ms (median of 101)",
        idle
    );

    // The steady state: 1 % of them decided since the last checkpoint.
    let decided: Vec<Uuid> = ids.iter().step_by(100).copied().collect();
    let started = Instant::now();
    decide(&service, &decided).await;
    println!(
        "  decided {} (1 %) in {:.1} s",
        decided.len(),
        started.elapsed().as_secs_f64()
    );
    let before = db_bytes(dir.path());
    report_checkpoints(
        "incremental checkpoint (1 % moved)",
        checkpoint_all(&service).await,
    );
    report_growth("it", before, db_bytes(dir.path()));

    // A decided approval in the newest checkpoint: heads go in approval id order.
    let typical = *decided.iter().max().expect("one decided");
    bundle(&service, &keys, typical, "right after its checkpoint").await;
    let mut made = n;
    for round in 1..=100 {
        grow(&store, made, made + extra_heads).await;
        made += extra_heads;
        let (_, written, _, _) = checkpoint_all(&service).await;
        assert_eq!(written, 1);
        if [10, 50, 100].contains(&round) {
            let when = format!("+{round} checkpoints of {extra_heads} heads");
            bundle(&service, &keys, typical, &when).await;
        }
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.replace('_', "").parse().expect("a number of approvals"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 1_000_000]
    } else {
        sizes
    };
    let extra_heads = std::env::var("EXTRA_HEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for n in sizes {
        assert!(n >= 100, "at least 100 approvals, so that 1 % is one");
        run(n, extra_heads).await;
    }
}
