//! What the end-to-end tests share: a `holdpoint serve` process and a minimal HTTP client for
//! talking to it, the one team of API keys, the command-line runner, and creating an approval.

#![allow(dead_code)]

pub mod hostile;
pub mod inbox;
pub mod team;
pub mod webdriver;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Server {
    pub addr: SocketAddr,
    child: std::sync::Mutex<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    /// Starts `holdpoint serve` in `cwd` with `env`, and waits until it answers.
    pub async fn start(cwd: &Path, env: &[(&str, &str)], port: u16) -> Server {
        Server::start_with(cwd, env, port, &[]).await
    }

    /// Starts `holdpoint serve ARGS…` in `cwd` with `env`, and waits until it answers.
    pub async fn start_with(cwd: &Path, env: &[(&str, &str)], port: u16, args: &[&str]) -> Server {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_holdpoint"))
            .arg("serve")
            .args(args)
            .current_dir(cwd)
            .env("HOLDPOINT_ADDR", addr.to_string())
            .env("HOLDPOINT_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("holdpoint starts");
        let server = Server {
            addr,
            child: std::sync::Mutex::new(child),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok((200, _)) = server.call("GET", "/health", None, None).await {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("holdpoint did not start on {addr}");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().map(|c| c.id()).unwrap_or(0)
    }

    /// Its resident memory now, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// SIGKILL: no shutdown, no flush, like a power cut to the process.
    pub fn kill(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as a service manager stops it; the exit status.
    pub fn terminate(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().ok()?;
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .ok()?;
        child.wait().ok()
    }

    /// One HTTP/1.1 request; the status and the JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(k) = key {
            req.push_str(&format!("Authorization: Bearer {k}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status line"))?;
        let json = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }
}

/// API keys of a small team in tenant `t1`: an agent, four reviewers (`reviewer`, `alice`, `bob`,
/// and `fiona` holding the role `finance`), and an admin (`root`).
pub const AGENT_KEY: &str = "agent-key-0123456789abcdef";
pub const REVIEWER_KEY: &str = "reviewer-key-0123456789abcdef";
pub const ALICE_KEY: &str = "alice-key-0123456789abcdef";
pub const BOB_KEY: &str = "bob-key-0123456789abcdef";
pub const FINANCE_KEY: &str = "finance-key-0123456789abcdef";
pub const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

/// `HOLDPOINT_API_KEYS` for [`AGENT_KEY`] and the others.
pub fn team_keys() -> String {
    serde_json::json!({
        AGENT_KEY: {"tenant": "t1", "principal": "agent"},
        REVIEWER_KEY: {"tenant": "t1", "principal": "reviewer"},
        ALICE_KEY: {"tenant": "t1", "principal": "alice"},
        BOB_KEY: {"tenant": "t1", "principal": "bob"},
        FINANCE_KEY: {"tenant": "t1", "principal": "fiona", "roles": ["finance"]},
        ADMIN_KEY: {"tenant": "t1", "principal": "root", "roles": ["admin"]},
    })
    .to_string()
}

/// `holdpoint ARGS…` run in `cwd` with `env` besides; an API key in the test's own environment
/// never reaches it.
pub fn holdpoint(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .args(args)
        .current_dir(cwd)
        .env_remove("HOLDPOINT_API_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("holdpoint runs")
}

/// What a command printed, standard output then standard error: for assertion messages.
pub fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Creates an approval as `key`; its id. No answer to an agent carries a review link.
pub async fn create(server: &Server, key: &str, body: serde_json::Value) -> String {
    let (status, a) = server
        .call("POST", "/v1/approvals", Some(key), Some(&body))
        .await
        .expect("the server answers");
    assert_eq!(status, 201, "{a}");
    assert!(
        !a.to_string().contains("token="),
        "no answer to the agent carries a link"
    );
    a["id"].as_str().unwrap().to_owned()
}

impl Server {
    /// A server in `dir` that knows the [`team_keys`], with `env` besides.
    pub async fn for_team(dir: &Path, env: &[(&str, &str)]) -> Server {
        let keys = team_keys();
        let mut all = vec![("HOLDPOINT_API_KEYS", keys.as_str())];
        all.extend_from_slice(env);
        Server::start(dir, &all, free_port()).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Fresh names for the four DynamoDB tables, as the variables that name them (`prefix-approvals-…`),
/// so tests on one DynamoDB-protocol server never share a table.
pub fn fresh_tables(prefix: &str) -> Vec<(&'static str, String)> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    [
        ("HOLDPOINT_APPROVALS_TABLE", "approvals"),
        ("HOLDPOINT_AUDIT_TABLE", "audit"),
        ("HOLDPOINT_DIRECTORY_TABLE", "directory"),
        ("HOLDPOINT_DELIVERIES_TABLE", "deliveries"),
    ]
    .into_iter()
    .map(|(var, table)| (var, format!("{prefix}-{table}-{suffix}")))
    .collect()
}
