//! Three `holdpoint serve` on one fresh PostgreSQL database, sharing one keys directory, each
//! with a data directory of its own (its `events.jsonl`): started at once, killed when dropped
//! (each [`Server`] is killed on drop, on every way out of a test).

use std::path::{Path, PathBuf};
use std::time::Duration;

use holdpoint::events::LifecycleEvent;
use holdpoint::postgres::tokio_postgres::{self, NoTls};
use holdpoint_tests::postgres::fresh_database;
use serde_json::Value;

use crate::support::{Server, free_port, holdpoint, printed};

/// Claims lapse after this long: what a killed instance held is taken over then.
pub const LEASE: Duration = Duration::from_secs(3);

pub struct Cluster {
    // Fields drop in this order: the instances are killed before their directories go.
    pub servers: Vec<Server>,
    env: Vec<(&'static str, String)>,
    pub root: tempfile::TempDir,
}

fn data_dir(root: &Path, i: usize) -> PathBuf {
    root.join(format!("instance-{i}"))
}

impl Cluster {
    /// `n` instances started at the same moment on an empty database and keys directory.
    pub async fn start(n: usize) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let url = fresh_database().await;
        let env = vec![
            ("HOLDPOINT_STORE", "postgres".to_owned()),
            ("HOLDPOINT_DATABASE_URL", url),
            ("HOLDPOINT_DATABASE_POOL", "8".to_owned()),
            (
                "HOLDPOINT_KEYS_DIR",
                root.path().join("keys").display().to_string(),
            ),
            ("HOLDPOINT_SWEEP_SECONDS", "1".to_owned()),
            ("HOLDPOINT_CLAIM_LEASE_SECONDS", LEASE.as_secs().to_string()),
            ("HOLDPOINT_MIN_EXPIRY_SECONDS", "1".to_owned()),
            ("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()),
            ("HOLDPOINT_AUTH_CACHE_SECONDS", "1".to_owned()),
            ("HOLDPOINT_DELIVERY_BACKOFF_MS", "50".to_owned()),
        ];
        let starting: Vec<_> = (0..n)
            .map(|i| {
                let (cwd, mut env) = (root.path().to_owned(), env.clone());
                env.push((
                    "HOLDPOINT_DATA_DIR",
                    data_dir(root.path(), i).display().to_string(),
                ));
                tokio::spawn(async move {
                    let env: Vec<(&str, &str)> =
                        env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    Server::start(&cwd, &env, free_port()).await
                })
            })
            .collect();
        let mut servers = Vec::new();
        for s in starting {
            servers.push(s.await.expect("an instance starts"));
        }
        Cluster { servers, env, root }
    }

    pub fn url(&self) -> &str {
        &self.env[1].1
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// The instances' settings on another database (a restored copy).
    pub fn env_on<'a>(&'a self, url: &'a str) -> Vec<(&'a str, &'a str)> {
        self.env
            .iter()
            .map(|(k, v)| match *k {
                "HOLDPOINT_DATABASE_URL" => (*k, url),
                _ => (*k, v.as_str()),
            })
            .collect()
    }

    /// `holdpoint principals add ARGS…` into the database's directory: its API key and
    /// webhook secret.
    pub fn add(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["principals", "add"];
        all.extend_from_slice(args);
        let out = holdpoint(self.root.path(), &all, &self.env());
        assert!(out.status.success(), "{}", printed(&out));
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |name: &str| {
            shown
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| panic!("no {name} in {shown}"))
        };
        (field("api key:"), field("webhook secret:"))
    }

    /// A client on the shared database, to look at what the instances stored.
    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(self.url(), NoTls)
            .await
            .expect("the test database answers");
        tokio::spawn(connection);
        client
    }

    /// The lifecycle events instance `i` wrote (a killed one's too).
    pub fn events_of(&self, i: usize) -> Vec<LifecycleEvent> {
        let file = data_dir(self.root.path(), i).join("events.jsonl");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.lines()
            // A killed instance may have left a line half-written: not an event it published.
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every lifecycle event the instances wrote, all of them together.
    pub fn events(&self) -> Vec<LifecycleEvent> {
        (0..self.servers.len())
            .flat_map(|i| self.events_of(i))
            .collect()
    }

    /// The files in the keys directory.
    pub fn key_files(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(self.root.path().join("keys"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// One call to instance `server`; a connection refused (a killed instance) is `None`.
pub async fn call(
    server: &Server,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        server.call(method, path, Some(key), body),
    )
    .await
    .expect("an instance answers within 20 s");
    answer.ok()
}
