//! The benchmark's floor (a benchmark, never part of the tests): the least an approval service
//! on SQLite can do per request, so Holdpoint's CPU per request has something to be compared to.
//! No auth (headers are ignored), no audit, no seal, no tenants: a create is one durable insert
//! under a mutex, a get one primary-key read, a list the 20 (or `limit`) newest. It answers the
//! paths and bodies `tests/examples/load.rs` sends (create, get, list; not decide or execute).
//!
//!     cargo run --release -p holdpoint-tests --example floor -- ADDR DATA_DIR
//!
//! Durability is the embedded store's (`shared/src/store/embedded/sqlite.rs`): WAL with
//! `synchronous=FULL`, so a create is answered only once its commit is on disk.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::{Map, Value};

#[derive(Clone)]
struct Floor {
    writer: Arc<Mutex<Connection>>,
    file: Arc<PathBuf>,
}

thread_local! {
    // One reading connection per worker thread: reads never wait on each other or the writer.
    static READER: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

impl Floor {
    fn open(dir: &Path) -> rusqlite::Result<Floor> {
        let file = dir.join("floor.db");
        let conn = Connection::open(&file)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS approvals (
                 id TEXT PRIMARY KEY, created INTEGER NOT NULL, body TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS newest ON approvals (created);",
        )?;
        Ok(Floor {
            writer: Arc::new(Mutex::new(conn)),
            file: Arc::new(file),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        READER.with_borrow_mut(|reader| {
            if reader.is_none() {
                *reader = Some(Connection::open_with_flags(
                    &*self.file,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?);
            }
            f(reader.as_ref().expect("opened above"))
        })
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn failed(e: impl std::fmt::Display) -> Response {
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        Value::String(e.to_string()).to_string(),
    )
}

async fn create(State(floor): State<Floor>, body: Bytes) -> Response {
    let Ok(mut approval) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return json(StatusCode::BAD_REQUEST, "\"not a JSON object\"".into());
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now();
    approval.insert("id".into(), id.clone().into());
    approval.insert("status".into(), "pending".into());
    approval.insert("created_at".into(), now.to_rfc3339().into());
    let text = Value::Object(approval).to_string();
    // The commit waits for the disk: off the async workers, as any rusqlite server would.
    let inserted = tokio::task::spawn_blocking(move || {
        let writer = floor.writer.lock().map_err(|e| e.to_string())?;
        writer
            .prepare_cached("INSERT INTO approvals (id, created, body) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![id, now.timestamp_micros(), text]))
            .map(|_| text)
            .map_err(|e| e.to_string())
    })
    .await;
    match inserted {
        Ok(Ok(text)) => json(StatusCode::CREATED, text),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

async fn get_one(State(floor): State<Floor>, UrlPath(id): UrlPath<String>) -> Response {
    let found = floor.read(|c| {
        c.prepare_cached("SELECT body FROM approvals WHERE id = ?1")?
            .query_row([&id], |row| row.get::<_, String>(0))
            .optional()
    });
    match found {
        Ok(Some(body)) => json(StatusCode::OK, body),
        Ok(None) => json(StatusCode::NOT_FOUND, "\"no such approval\"".into()),
        Err(e) => failed(e),
    }
}

async fn list(State(floor): State<Floor>, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20u32)
        .clamp(1, 100);
    let page = floor.read(|c| {
        let mut newest =
            c.prepare_cached("SELECT body FROM approvals ORDER BY created DESC, id DESC LIMIT ?1")?;
        let bodies = newest.query_map([limit], |row| row.get::<_, String>(0))?;
        // The stored documents as they are, not parsed again.
        let mut page = String::from("{\"items\":[");
        for (i, body) in bodies.enumerate() {
            if i > 0 {
                page.push(',');
            }
            page.push_str(&body?);
        }
        page.push_str("]}");
        Ok(page)
    });
    match page {
        Ok(page) => json(StatusCode::OK, page),
        Err(e) => failed(e),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, dir] = &args[..] else {
        eprintln!("usage: floor ADDR DATA_DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(dir).expect("the data directory can be made");
    let floor = Floor::open(Path::new(dir)).expect("the floor's database opens");
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/approvals", get(list).post(create))
        .route("/v1/approvals/{id}", get(get_one))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind(addr.as_str())
        .await
        .expect("the address is free");
    axum::serve(listener, app).await.expect("serves");
}
