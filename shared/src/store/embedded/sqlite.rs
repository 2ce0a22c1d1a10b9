//! SQLite as Holdpoint keeps it in the data directory, written once for every file there (the
//! approvals' `holdpoint.db`, the directory, the deliveries): how a file is opened, which of its
//! errors are worth retrying, and JSON bodies in and out.
//!
//! Every file is owner-only (it carries whatever agents sent, or secrets; SQLite gives its -wal
//! and -shm files the same mode), in WAL mode with `synchronous=FULL`: a commit returns after the
//! WAL is synced, so an acknowledged write survives SIGKILL and power loss alike. Another process
//! (`holdpoint principals …` beside a running server) may use the same file, SQLite serialising
//! the writers; a busy file is waited for up to [`BUSY_TIMEOUT`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// How long a connection waits for a file another connection holds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A busy, locked or full file, or a failing disk, is worth retrying; anything else is a defect.
pub fn failed(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        e => StoreError::Internal(format!("sqlite: {e}")),
    }
}

/// A stored JSON body (`what` names it in the error).
pub fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Internal(format!("stored {what}: {e}")))
}

/// A JSON body to store.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.to_string()))
}

/// An error opening the file at `path`, naming it (and worth retrying as [`failed`] says).
fn opening(path: &Path, e: rusqlite::Error) -> StoreError {
    let told = format!("{}: {e}", path.display());
    match failed(e) {
        StoreError::Unavailable(_) => StoreError::Unavailable(told),
        _ => StoreError::Internal(told),
    }
}

/// Opens the file at `path` for writing, creating it (owner-only) and its directory, with the
/// settings every file has. Tables are the caller's.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let io = |e: std::io::Error| StoreError::Internal(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io)?;
    let conn = Connection::open(path).map_err(|e| opening(path, e))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = {};",
        BUSY_TIMEOUT.as_millis()
    ))
    .map_err(|e| opening(path, e))?;
    Ok(conn)
}

/// A reading connection to the file at `path` (which must exist): it sees every committed write
/// and can write nothing.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| opening(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| opening(path, e))?;
    Ok(conn)
}

/// A small file of its own (the directory, the deliveries): one connection behind a lock, used
/// on a blocking thread.
#[derive(Clone)]
pub struct SqliteFile {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl SqliteFile {
    /// Opens (or creates, owner-only) `file` in `dir` and its tables (`schema`).
    pub fn open(dir: &Path, file: &str, schema: &str) -> Result<SqliteFile, StoreError> {
        let path = dir.join(file);
        let conn = open_writer(&path)?;
        conn.execute_batch(&format!("BEGIN; {schema} COMMIT;"))
            .map_err(failed)?;
        Ok(SqliteFile {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, on a blocking thread.
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| StoreError::Internal("sqlite lock poisoned".into()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }
}
