//! The embedded store: SQLite in the data directory (`holdpoint.db`, WAL, synced on every
//! commit). Writes go through one writing thread that commits whatever is queued together
//! ([`writer`]); reads use a small pool of read-only connections, so they never wait for a sync.
//! Memory stays bounded whatever the number of approvals: SQLite keeps them on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::Approval;

mod checkpoint_rows;
mod checkpoints;
mod list;
pub(crate) mod schema;
pub mod sqlite;
mod writer;

pub use schema::FILE;
use schema::{ApprovalRow, RecordRow};
use sqlite::{decode, failed};
use writer::{Answer, Write, Writer};

/// Reads on blocking threads at once; more wait for a turn (two cores read no faster with more).
const READERS: usize = 8;

/// Read connections kept open: the blocking readers' and the in-line gets' (one per runtime
/// worker at most).
const IDLE: usize = 16;

/// A store in one data directory. Cheap to clone; clones share the writer and the readers.
#[derive(Clone)]
pub struct EmbeddedStore {
    writer: Option<Writer>,
    readers: Arc<Readers>,
    /// The database file.
    path: PathBuf,
}

struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        let path = dir.join(FILE);
        let conn = schema::open_writer(&path)?;
        let store = EmbeddedStore::with_writer(&path, Some(Writer::start(conn)?));
        // A first reader now, so a store that cannot be read fails here, not on a request.
        store.readers.put(schema::open_reader(&path)?);
        Ok(store)
    }

    /// Opens the store in `dir` for reading only, beside a server that may be writing it: it
    /// creates nothing and refuses every write.
    pub fn open_read_only(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_file_read_only(&dir.join(FILE))
    }

    /// Opens one database file for reading only: a backup, say.
    pub fn open_file_read_only(path: &Path) -> Result<EmbeddedStore, StoreError> {
        let store = EmbeddedStore::with_writer(path, None);
        store.readers.put(schema::open_reader(path)?);
        Ok(store)
    }

    fn with_writer(path: &Path, writer: Option<Writer>) -> EmbeddedStore {
        EmbeddedStore {
            writer,
            readers: Arc::new(Readers {
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(READERS),
                path: path.to_owned(),
            }),
            path: path.to_owned(),
        }
    }

    /// How many transactions this store's writer has committed (group commit makes it fewer
    /// than the writes when writes arrive together).
    pub fn commits(&self) -> u64 {
        self.writer.as_ref().map_or(0, Writer::commits)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self, write: Write) -> Result<Answer, StoreError> {
        match &self.writer {
            Some(w) => w.write(write).await,
            None => Err(StoreError::Internal(
                "this store was opened read-only".into(),
            )),
        }
    }

    /// Runs `f` on a read connection, on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Internal("store closed".into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match readers.take() {
                Some(c) => c,
                None => schema::open_reader(&readers.path)?,
            };
            let out = f(&conn);
            readers.put(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    /// Runs `f` on a read connection right here, on the calling task's thread: for one-row reads
    /// by key (tens of microseconds from SQLite's cache), where a hop to a blocking thread and back
    /// would cost more than the read.
    fn read_inline<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = match self.readers.take() {
            Some(c) => c,
            None => schema::open_reader(&self.readers.path)?,
        };
        let out = f(&conn);
        self.readers.put(conn);
        out
    }

    /// `(tenant, id)` of every approval, for operator tools that walk all chains: those stored,
    /// and those a checkpoint recorded (one deleted outright is then still walked, and named).
    pub async fn all_approvals(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        self.read(|conn| {
            let mut s = conn
                .prepare(
                    "SELECT tenant, id FROM approvals \
                     UNION SELECT tenant, approval_id FROM checkpoint_heads ORDER BY 1, 2",
                )
                .map_err(failed)?;
            let rows = s
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(failed)?;
            rows.map(|r| {
                let (tenant, id) = r.map_err(failed)?;
                let id = Uuid::parse_str(&id).map_err(|e| StoreError::Internal(e.to_string()))?;
                Ok((tenant, id))
            })
            .collect()
        })
        .await
    }

    /// Writes a consistent copy of the whole store to `to` (SQLite's online backup: the server
    /// may keep writing meanwhile). Starting a server on the copy restores it.
    pub async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        let to = to.to_owned();
        self.read(move |conn| {
            let mut copy = Connection::open(&to)
                .map_err(|e| StoreError::Internal(format!("{}: {e}", to.display())))?;
            let backup = rusqlite::backup::Backup::new(conn, &mut copy).map_err(failed)?;
            // All pages in one step: one read transaction, one consistent snapshot.
            backup.step(-1).map_err(failed)?;
            drop(backup);
            copy.execute_batch("PRAGMA journal_mode = WAL;")
                .map_err(failed)
        })
        .await
    }

    /// The due query, with the rows it stepped through in full scans (for the sweep benchmark).
    pub async fn due_with_full_scan_steps(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<Approval>, i32), StoreError> {
        self.read(move |conn| due(conn, now, limit)).await
    }

    /// `PRAGMA integrity_check`: SQLite's own check of every page and index; empty when sound.
    pub async fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut s = conn.prepare("PRAGMA integrity_check").map_err(failed)?;
            let rows = s.query_map([], |r| r.get::<_, String>(0)).map_err(failed)?;
            let found: Vec<String> = rows.collect::<Result<_, _>>().map_err(failed)?;
            Ok(found.into_iter().filter(|l| l != "ok").collect())
        })
        .await
    }
}

impl Readers {
    fn take(&self) -> Option<Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(conn);
        }
    }
}

/// The due approvals, from the sparse `approvals_due` index, and how many rows SQLite stepped
/// through in full scans to find them (none: the index finds exactly the due rows).
fn due(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<(Vec<Approval>, i32), StoreError> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM approvals WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
            schema::APPROVAL
        ))
        .map_err(failed)?;
    let limit = limit.min(i64::MAX as usize) as i64;
    let mut due = Vec::new();
    let mut rows = s
        .query(rusqlite::params![schema::ms(now), limit])
        .map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        // One unreadable row must not stop the sweep for every tenant.
        match schema::approval(row) {
            Ok(a) => due.push(a),
            Err(e) => {
                tracing::error!(error = %e, "an unreadable approval is left out of the sweep")
            }
        }
    }
    drop(rows);
    let scanned = s.get_status(rusqlite::StatementStatus::FullscanStep);
    s.reset_status(rusqlite::StatementStatus::FullscanStep);
    Ok((due, scanned))
}

fn audit_of(conn: &Connection, tenant: &str, id: &str) -> Result<Vec<AuditRecord>, StoreError> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM approvals WHERE id = ?1 AND tenant = ?2")
        .and_then(|mut s| s.exists([id, tenant]))
        .map_err(failed)?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut s = conn
        .prepare_cached("SELECT body FROM audit WHERE approval_id = ?1 ORDER BY sequence")
        .map_err(failed)?;
    let rows = s
        .query_map([id], |r| r.get::<_, String>(0))
        .map_err(failed)?;
    rows.map(|body| decode("audit record", &body.map_err(failed)?))
        .collect()
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn create(
        &self,
        approval: &Approval,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let write = Write::Create {
            approval: Box::new(approval.clone()),
            row: ApprovalRow::new(approval)?,
            record: RecordRow::new(record)?,
            idempotency: idempotency.cloned(),
        };
        match self.write(write).await? {
            Answer::Created(c) => Ok(*c),
            _ => Err(StoreError::Internal("unexpected answer to create".into())),
        }
    }

    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        self.read_inline(|conn| writer::approval_of(conn, tenant, &schema::id(id)))
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let (tenant, filter, after) = (tenant.to_owned(), filter.clone(), after.cloned());
        self.read(move |conn| list::page(conn, &tenant, &filter, limit, after.as_ref(), now))
            .await
    }

    async fn transition(
        &self,
        expected_version: u64,
        next: &Approval,
        record: &AuditRecord,
    ) -> Result<(), StoreError> {
        super::check_transition(expected_version, next, record)?;
        let write = Write::Transition {
            expected_version,
            row: ApprovalRow::new(next)?,
            record: RecordRow::new(record)?,
        };
        self.write(write).await.map(|_| ())
    }

    async fn mark_published(&self, approval: &Approval) -> Result<bool, StoreError> {
        let write = Write::MarkPublished {
            tenant: approval.tenant.clone(),
            id: schema::id(approval.id),
            version: approval.version,
            published_seq: approval.published_seq,
            due_at: approval.next_deadline().map(schema::ms),
        };
        match self.write(write).await? {
            Answer::Published(p) => Ok(p),
            _ => Err(StoreError::Internal("unexpected answer to publish".into())),
        }
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError> {
        self.read(move |conn| due(conn, now, limit).map(|(due, _)| due))
            .await
    }

    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError> {
        let (tenant, id) = (tenant.to_owned(), schema::id(id));
        self.read(move |conn| audit_of(conn, &tenant, &id)).await
    }

    async fn every_chain(&self) -> Result<Option<Vec<(String, Uuid)>>, StoreError> {
        self.all_approvals().await.map(Some)
    }
}

/// The seam of the conformance tamper tests (`conformance::Tamper`): raw SQL on the file, as a
/// hand with `sqlite3` would.
#[cfg(feature = "conformance")]
impl EmbeddedStore {
    pub(crate) fn tamper(&self, sql: &str, params: impl rusqlite::Params) {
        let conn = Connection::open(&self.path).expect("open the store file");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        // What a hand must do first: the audit and checkpoint tables refuse edits.
        let guards = [
            (sql.contains("audit"), &schema::APPEND_ONLY[..]),
            (
                sql.contains("checkpoint"),
                &schema::CHECKPOINTS_APPEND_ONLY[..],
            ),
        ];
        for trigger in guards.iter().filter(|g| g.0).flat_map(|g| g.1) {
            conn.execute(&format!("DROP TRIGGER IF EXISTS {trigger}"), [])
                .expect("drop the guard");
        }
        conn.execute(sql, params).expect("raw write");
    }

    pub(crate) fn tamper_record(&self, sequence: u64, record: &AuditRecord) {
        let row = RecordRow::new(record).expect("encodes");
        self.tamper(
            "INSERT OR REPLACE INTO audit (approval_id, sequence, body) VALUES (?1, ?2, ?3)",
            rusqlite::params![row.approval_id, sequence as i64, row.body],
        );
    }

    pub(crate) fn tamper_delete_record(&self, id: Uuid, sequence: u64) {
        self.tamper(
            "DELETE FROM audit WHERE approval_id = ?1 AND sequence = ?2",
            rusqlite::params![schema::id(id), sequence as i64],
        );
    }

    pub(crate) fn tamper_approval(&self, id: Uuid, approval: &Approval) {
        let row = ApprovalRow::new(approval).expect("encodes");
        self.tamper(
            "UPDATE approvals SET status = ?2, version = ?3, head_seq = ?4, due_at = ?5, \
             body = ?6, published_seq = ?7 WHERE id = ?1",
            rusqlite::params![
                schema::id(id),
                row.columns.status,
                row.columns.version,
                row.columns.head_seq,
                row.columns.due_at,
                row.body,
                row.published_seq
            ],
        );
    }
}
