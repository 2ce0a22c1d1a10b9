//! Receivers outside Holdpoint, run as the tests' own processes on loopback and stopped when
//! dropped: a webhook receiver that verifies with the Standard Webhooks reference library and
//! a mail server (aiosmtpd), both from PyPI, in the test venv (`infra/test.sh` installs them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var("HOLDPOINT_TEST_VENV").unwrap_or_else(|_| ".venv-test".into());
    let venv = if Path::new(&venv).is_absolute() {
        PathBuf::from(venv)
    } else {
        root.join(venv)
    };
    venv.join("bin/python")
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("receivers")
        .join(name)
}

/// Starts `script` and waits for its `ready PORT` line.
async fn spawn(name: &str, args: &[&str]) -> (Child, u16) {
    let mut child = Command::new(python())
        .arg(script(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e} (run the tests with infra/test.sh)"));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{name} did not start"))
        .expect("a line")
        .unwrap_or_else(|| panic!("{name} ended before it was ready"));
    let port = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} said {line:?}"));
    (child, port)
}

/// Polls `get` until `done` holds of what it answers, or panics after `within`.
pub async fn eventually<T: std::fmt::Debug>(
    within: Duration,
    mut get: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let until = Instant::now() + within;
    loop {
        let value = get().await;
        if done(&value) {
            return value;
        }
        if Instant::now() > until {
            panic!("not within {within:?}; last seen: {value:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The webhook receiver (`receivers/webhooks.py`).
pub struct Webhooks {
    _child: Child,
    base: String,
    http: reqwest::Client,
}

impl Webhooks {
    pub async fn start() -> Webhooks {
        let (child, port) = spawn("webhooks.py", &[]).await;
        Webhooks {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// The URL of `path` (`/{name}[/{mode}]`, see the script).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Verifies requests to `/{name}…` with `secret`.
    pub async fn trust(&self, name: &str, secret: &str) {
        let r = self
            .http
            .post(self.url("/_secrets"))
            .json(&serde_json::json!({ name: secret }))
            .send()
            .await
            .expect("the receiver answers");
        assert!(r.status().is_success());
    }

    /// Every request received so far.
    pub async fn log(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_log"))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("JSON")
    }
}

/// The mail server (`receivers/smtp.py`).
pub struct Mailbox {
    _child: Child,
    pub port: u16,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mailbox {
    pub async fn start() -> Mailbox {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("mail.jsonl");
        let (child, port) = spawn("smtp.py", &[file.to_str().expect("a path")]).await;
        Mailbox {
            _child: child,
            port,
            file,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}
