//! A small SQLite file of its own in the data directory (the directory of principals, the
//! deliveries): one connection behind a lock, used on a blocking thread. Owner-only, WAL, synced
//! on every commit; another process (`holdpoint principals …` beside a running server) may use
//! the same file, SQLite serialising the writers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::store::StoreError;

#[derive(Clone)]
pub struct SqliteFile {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// A busy or locked file is worth retrying; anything else is a defect.
pub fn failed(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(format!("sqlite: {e}")),
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Internal(format!("stored {what}: {e}")))
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(e.to_string()))
}

impl SqliteFile {
    /// Opens (or creates, owner-only) `file` in `dir` and its tables (`schema`).
    pub fn open(dir: &Path, file: &str, schema: &str) -> Result<SqliteFile, StoreError> {
        let path = dir.join(file);
        let io = |e: std::io::Error| StoreError::Internal(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).map_err(io)?;
        let conn = Connection::open(&path).map_err(failed)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; \
             BEGIN; {schema} COMMIT;"
        ))
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
