//! A Lambda Runtime API on loopback, so tests can invoke the real function binaries with real
//! event payloads exactly as the Lambda service does (the runtime polls `/invocation/next`).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

type Reply = Result<Value, Value>;

#[derive(Default)]
struct Shared {
    /// (request id, event, time the invocation has)
    queue: Mutex<VecDeque<(String, Value, Duration)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    init_error: Mutex<Option<Value>>,
    arrived: Notify,
}

/// A running function binary and the Runtime API it polls. Both stop when this is dropped.
pub struct Function {
    shared: Arc<Shared>,
    /// What the binary wrote to standard output, line by line (its logs and metrics).
    stdout: Arc<Mutex<Vec<String>>>,
    child: tokio::process::Child,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

impl Function {
    /// Starts `binary` against a fresh Runtime API, with `env` on top of the test's environment.
    pub async fn start(binary: &Path, env: &[(&str, String)]) -> Function {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let name = binary.file_name().unwrap().to_string_lossy().into_owned();
        let child = tokio::process::Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("function binary starts");
        let mut child = child;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let lines = stdout.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut reader = tokio::io::BufReader::new(out).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    eprintln!("{line}");
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Function {
            shared,
            stdout,
            child,
            server,
        }
    }

    /// The lines the binary has written to standard output so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The Embedded Metric Format documents among them (lines with `_aws`), once the binary has
    /// written nothing new for 200 ms (at most 5 s): what it wrote while answering has arrived.
    pub async fn metrics(&self) -> Vec<Value> {
        let mut seen = usize::MAX;
        for _ in 0..25 {
            let now = self.stdout.lock().unwrap().len();
            if now == seen {
                break;
            }
            seen = now;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.stdout()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect()
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Waits up to 30 s for the binary to exit (a failed cold start exits before polling).
    pub async fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .ok()?
            .ok()
    }

    /// Invokes the function with `event`: `Ok` with its response, `Err` with its error report.
    pub async fn invoke(&self, event: Value) -> Reply {
        self.invoke_within(event, Duration::from_secs(30)).await
    }

    /// As [`Function::invoke`], with the invocation's deadline `budget` from now.
    pub async fn invoke_within(&self, event: Value, budget: Duration) -> Reply {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.shared
            .queue
            .lock()
            .unwrap()
            .push_back((id, event, budget));
        self.shared.arrived.notify_waiters();
        self.shared.arrived.notify_one();
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(reply)) => reply,
            _ => Err(self
                .shared
                .init_error
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| Value::String("no answer within 30 s".into()))),
        }
    }
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    loop {
        let notified = s.arrived.notified();
        if let Some((id, event, budget)) = s.queue.lock().unwrap().pop_front() {
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + budget;
            return (
                [
                    ("lambda-runtime-aws-request-id", id),
                    (
                        "lambda-runtime-deadline-ms",
                        deadline.as_millis().to_string(),
                    ),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:test".to_owned(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793".to_owned(),
                    ),
                    ("content-type", "application/json".to_owned()),
                ],
                event.to_string(),
            )
                .into_response();
        }
        notified.await;
    }
}

fn answer(s: &Shared, id: &str, reply: Reply) -> &'static str {
    if let Some(tx) = s.waiting.lock().unwrap().remove(id) {
        let _ = tx.send(reply);
    }
    "{}"
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()))
}

async fn response(
    State(s): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> &'static str {
    answer(&s, &id, Ok(json(&body)))
}

async fn error(
    State(s): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> &'static str {
    answer(&s, &id, Err(json(&body)))
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> &'static str {
    *s.init_error.lock().unwrap() = Some(json(&body));
    "{}"
}

/// Reads a JSON event fixture, replacing `__NAME__` placeholders.
pub fn fixture(path: &Path, replacements: &[(&str, &str)]) -> Value {
    let mut text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (name, value) in replacements {
        text = text.replace(&format!("__{name}__"), value);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The environment a function needs to use `store`'s tables, with a fresh signing secret and
/// `principals` in the directory table.
pub async fn store_env(
    store: &holdpoint::store::dynamodb::DynamoStore,
    principals: &[holdpoint::directory::Entry],
) -> Vec<(&'static str, String)> {
    use holdpoint::directory::Directory;
    let directory = crate::directory(store);
    for p in principals {
        directory.put(p, true).await.expect("principal stored");
    }
    let t = store.tables();
    vec![
        ("HOLDPOINT_SIGNING_SECRET_ID", crate::signing_secret().await),
        (
            "HOLDPOINT_PUBLIC_BASE_URL",
            "https://holdpoint.example".to_owned(),
        ),
        ("HOLDPOINT_APPROVALS_TABLE", t.approvals.clone()),
        ("HOLDPOINT_AUDIT_TABLE", t.audit.clone()),
        ("HOLDPOINT_DUE_SHARDS", t.due_shards.to_string()),
        ("HOLDPOINT_DIRECTORY_TABLE", t.directory.clone()),
        ("HOLDPOINT_DELIVERIES_TABLE", t.deliveries.clone()),
    ]
}

/// `tests/fixtures/NAME` of the crate whose manifest directory is `manifest_dir`.
pub fn fixture_path(manifest_dir: &str, name: &str) -> std::path::PathBuf {
    Path::new(manifest_dir).join("tests/fixtures").join(name)
}

/// The JSON body of an API Gateway response.
pub fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
}
