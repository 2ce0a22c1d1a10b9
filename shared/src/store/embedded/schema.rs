//! The embedded store's tables: one row per approval (its JSON beside the columns the list
//! filters and the due query use), one per audit record, one per idempotency key, one per
//! (reviewer, approval) for the reviewer filter. `sqlite3 .holdpoint/holdpoint.db` opens it.
//! Version 2 added the signed checkpoints (one row each, and one per head each recorded) and the
//! approvals' `moved` mark; a version 1 file gains them when it is opened.

use std::path::Path;

use rusqlite::Connection;
use uuid::Uuid;

use super::sqlite::{self, decode, encode, failed};
use crate::store::StoreError;
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::Approval;

/// The triggers that keep audit records append-only ([`SCHEMA`]).
pub const APPEND_ONLY: [&str; 3] = ["audit_no_update", "audit_no_delete", "audit_no_replace"];

/// The triggers that keep checkpoints, and what each covered, append-only ([`SCHEMA`]).
pub const CHECKPOINTS_APPEND_ONLY: [&str; 6] = [
    "checkpoints_no_update",
    "checkpoints_no_delete",
    "checkpoints_no_replace",
    "checkpoint_heads_no_update",
    "checkpoint_heads_no_delete",
    "checkpoint_heads_no_replace",
];

/// The database file in the data directory.
pub const FILE: &str = "holdpoint.db";

/// The schema's version, in `PRAGMA user_version`: a file from a later Holdpoint is refused.
const VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    created_at      INTEGER NOT NULL, -- Unix ms
    status          TEXT NOT NULL,    -- as stored; a pending one past expires_at reads as expired
    expires_at      INTEGER NOT NULL,
    agent_id        TEXT NOT NULL,
    checkpoint_type TEXT,
    version         INTEGER NOT NULL,
    head_seq        INTEGER NOT NULL, -- the audit chain's last sequence
    published_seq   INTEGER NOT NULL, -- events published up to here (over the body's own)
    due_at          INTEGER,          -- when the sweep must look at it; NULL: never
    body            TEXT NOT NULL,    -- the approval, as JSON
    moved           INTEGER           -- 1: its chain moved since a checkpoint recorded it
);
CREATE INDEX IF NOT EXISTS approvals_newest ON approvals (tenant, created_at, id);
CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (tenant, status, created_at, id);
CREATE INDEX IF NOT EXISTS approvals_by_agent ON approvals (tenant, agent_id, created_at, id);
CREATE INDEX IF NOT EXISTS approvals_by_checkpoint ON approvals (tenant, checkpoint_type, created_at, id)
    WHERE checkpoint_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS approvals_due ON approvals (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS reviewers (
    tenant      TEXT NOT NULL,
    reviewer    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    approval_id TEXT NOT NULL,
    PRIMARY KEY (tenant, reviewer, created_at, approval_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    approval_id TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    body        TEXT NOT NULL, -- the record, as JSON
    PRIMARY KEY (approval_id, sequence)
) WITHOUT ROWID;
-- Audit records are append-only: no UPDATE, no DELETE, no INSERT OR REPLACE over one (REPLACE
-- deletes without firing delete triggers). A hand edit must drop these first; verification still
-- catches what it then changes.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE approval_id = NEW.approval_id AND sequence = NEW.sequence)
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE INDEX IF NOT EXISTS approvals_moved ON approvals (id) WHERE moved IS NOT NULL;
-- Signed checkpoints, per tenant, chained; and each head one recorded, by approval (what
-- covers an approval, without reading every checkpoint). Append-only like the audit records.
CREATE TABLE IF NOT EXISTS checkpoints (
    tenant   TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    hash     TEXT NOT NULL, -- the checkpoint's hash: the next one's prev_hash
    body     TEXT NOT NULL, -- the checkpoint, as JSON
    PRIMARY KEY (tenant, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint_heads (
    tenant         TEXT NOT NULL,
    approval_id    TEXT NOT NULL,
    checkpoint_seq INTEGER NOT NULL,
    head_seq       INTEGER NOT NULL,
    head_hash      TEXT NOT NULL,
    PRIMARY KEY (tenant, approval_id, checkpoint_seq)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_replace BEFORE INSERT ON checkpoints
WHEN EXISTS (SELECT 1 FROM checkpoints WHERE tenant = NEW.tenant AND sequence = NEW.sequence)
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_heads_no_update BEFORE UPDATE ON checkpoint_heads
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_heads_no_delete BEFORE DELETE ON checkpoint_heads
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoint_heads_no_replace BEFORE INSERT ON checkpoint_heads
WHEN EXISTS (SELECT 1 FROM checkpoint_heads WHERE tenant = NEW.tenant
    AND approval_id = NEW.approval_id AND checkpoint_seq = NEW.checkpoint_seq)
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TABLE IF NOT EXISTS idempotency (
    tenant       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    approval_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
";

/// Opens the writing connection ([`sqlite::open_writer`]) and the tables, refusing a file from a
/// later Holdpoint.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = sqlite::open_writer(path)?;
    let opening = |e: rusqlite::Error| StoreError::Internal(format!("{}: {e}", path.display()));
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(opening)?;
    if version > VERSION {
        return Err(StoreError::Internal(format!(
            "{} holds schema version {version}, written by a later Holdpoint (this one reads {VERSION})",
            path.display()
        )));
    }
    conn.execute_batch("BEGIN IMMEDIATE;").map_err(opening)?;
    // The append-only triggers are made afresh at every open: a trigger follows its table
    // through `ALTER TABLE … RENAME`, so a table renamed away and rebuilt would otherwise keep
    // the name with none (and `CREATE TRIGGER IF NOT EXISTS` would find the names taken).
    let guards: String = APPEND_ONLY
        .iter()
        .chain(CHECKPOINTS_APPEND_ONLY.iter())
        .map(|t| format!("DROP TRIGGER IF EXISTS {t};"))
        .collect();
    let migrated = add_moved(&conn).and_then(|()| {
        conn.execute_batch(&format!(
            "{guards} {SCHEMA} PRAGMA user_version = {VERSION}; COMMIT;"
        ))
    });
    if let Err(e) = migrated {
        let _ = conn.execute_batch("ROLLBACK;");
        return Err(opening(e));
    }
    Ok(conn)
}

/// Adds `moved` to a version 1 file's approvals, every one of them marked: the first checkpoint
/// then records each chain as it stands at the upgrade, not only those that change later.
fn add_moved(conn: &Connection) -> rusqlite::Result<()> {
    let approvals: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'approvals')",
        [],
        |r| r.get(0),
    )?;
    let has: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('approvals') WHERE name = 'moved')",
        [],
        |r| r.get(0),
    )?;
    if approvals && !has {
        conn.execute_batch(
            "ALTER TABLE approvals ADD COLUMN moved INTEGER; UPDATE approvals SET moved = 1;",
        )?;
    }
    Ok(())
}

/// A reading connection ([`sqlite::open_reader`]), once the server has created the store.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Internal(format!(
            "{}: no embedded store here (the server creates it on its first start)",
            path.display()
        )));
    }
    sqlite::open_reader(path)
}

pub fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn id(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The columns that make an approval, in this order, wherever one is read: its document, the
/// published mark, and the columns beside them, which must say what the document says.
pub const APPROVAL: &str = "body, published_seq, id, tenant, created_at, status, expires_at, \
     agent_id, checkpoint_type, version, head_seq, due_at";

/// [`APPROVAL`], for a query that names the approvals table `a`.
pub const APPROVAL_AS_A: &str = "a.body, a.published_seq, a.id, a.tenant, a.created_at, \
     a.status, a.expires_at, a.agent_id, a.checkpoint_type, a.version, a.head_seq, a.due_at";

/// An approval from its [`APPROVAL`] columns: marking events published updates the column
/// alone (no JSON rewritten), so the column has the last word on `published_seq`. Every other
/// column that contradicts the document is named in `row_mismatch`.
pub fn approval(row: &rusqlite::Row<'_>) -> Result<Approval, StoreError> {
    let body = row.get_ref(0).map_err(failed)?;
    let body = body
        .as_str()
        .map_err(|e| StoreError::Internal(format!("stored approval: {e}")))?;
    let published: i64 = row.get(1).map_err(failed)?;
    let mut a: Approval = decode("approval", body)?;
    a.published_seq = a.published_seq.max(published.max(0) as u64);
    let expected = Columns::of(&a);
    let stored = Columns {
        id: row.get(2).map_err(failed)?,
        tenant: row.get(3).map_err(failed)?,
        created_at: row.get(4).map_err(failed)?,
        status: row.get(5).map_err(failed)?,
        expires_at: row.get(6).map_err(failed)?,
        agent_id: row.get(7).map_err(failed)?,
        checkpoint_type: row.get(8).map_err(failed)?,
        version: row.get(9).map_err(failed)?,
        head_seq: row.get(10).map_err(failed)?,
        due_at: row.get(11).map_err(failed)?,
    };
    a.row_mismatch = stored.contradicting(&expected);
    if a.published_seq > a.audit_head.sequence {
        // No honest mark is ahead of the chain: one raised past it would hide events.
        a.row_mismatch.push("published_seq".into());
    }
    Ok(a)
}

/// The columns beside an approval's document, each following from the document alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    pub id: String,
    pub tenant: String,
    pub created_at: i64,
    pub status: String,
    pub expires_at: i64,
    pub agent_id: String,
    pub checkpoint_type: Option<String>,
    pub version: i64,
    pub head_seq: i64,
    pub due_at: Option<i64>,
}

impl Columns {
    pub fn of(a: &Approval) -> Columns {
        Columns {
            id: id(a.id),
            tenant: a.tenant.clone(),
            created_at: ms(a.created_at),
            status: a.status.as_str().to_owned(),
            expires_at: ms(a.expires_at),
            agent_id: a.agent_id.clone(),
            checkpoint_type: a.checkpoint_type.clone(),
            version: a.version as i64,
            head_seq: a.audit_head.sequence as i64,
            due_at: a.next_deadline().map(ms),
        }
    }

    /// The names of the columns that differ from `expected`.
    fn contradicting(&self, expected: &Columns) -> Vec<String> {
        let e = expected;
        [
            ("id (the row's key)", self.id == e.id),
            ("tenant (the row's key)", self.tenant == e.tenant),
            ("created_at", self.created_at == e.created_at),
            ("status", self.status == e.status),
            ("expires_at", self.expires_at == e.expires_at),
            ("agent_id", self.agent_id == e.agent_id),
            ("checkpoint_type", self.checkpoint_type == e.checkpoint_type),
            ("version", self.version == e.version),
            ("head_seq", self.head_seq == e.head_seq),
            ("due_at", self.due_at == e.due_at),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// An approval as one row: encoded by the caller, so the writer thread spends its time writing.
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub columns: Columns,
    pub published_seq: i64,
    pub reviewers: Vec<String>,
    pub body: String,
}

impl ApprovalRow {
    pub fn new(a: &Approval) -> Result<ApprovalRow, StoreError> {
        Ok(ApprovalRow {
            columns: Columns::of(a),
            published_seq: a.published_seq as i64,
            reviewers: a.reviewers.clone(),
            body: encode(a)?,
        })
    }

    /// Inserts the row, or replaces the approval stored under its id; adds its reviewers. Either
    /// way its chain moved: the row is marked for the next checkpoint in the same write.
    pub fn put(&self, conn: &Connection) -> rusqlite::Result<()> {
        let c = &self.columns;
        conn.prepare_cached(
            "INSERT INTO approvals (id, tenant, created_at, status, expires_at, agent_id, \
             checkpoint_type, version, head_seq, published_seq, due_at, body, moved) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1) \
             ON CONFLICT (id) DO UPDATE SET tenant = ?2, created_at = ?3, status = ?4, \
             expires_at = ?5, agent_id = ?6, checkpoint_type = ?7, version = ?8, head_seq = ?9, \
             published_seq = ?10, due_at = ?11, body = ?12, moved = 1",
        )?
        .execute(rusqlite::params![
            c.id,
            c.tenant,
            c.created_at,
            c.status,
            c.expires_at,
            c.agent_id,
            c.checkpoint_type,
            c.version,
            c.head_seq,
            self.published_seq,
            c.due_at,
            self.body,
        ])?;
        // Escalation only adds reviewers: the ones already listed stay.
        let mut add = conn.prepare_cached(
            "INSERT OR IGNORE INTO reviewers (tenant, reviewer, created_at, approval_id) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for r in &self.reviewers {
            add.execute(rusqlite::params![c.tenant, r, c.created_at, c.id])?;
        }
        Ok(())
    }
}

/// An audit record as one row.
#[derive(Debug, Clone)]
pub struct RecordRow {
    pub approval_id: String,
    pub sequence: i64,
    pub body: String,
}

impl RecordRow {
    pub fn new(r: &AuditRecord) -> Result<RecordRow, StoreError> {
        Ok(RecordRow {
            approval_id: id(r.approval_id),
            sequence: r.sequence as i64,
            body: encode(r)?,
        })
    }

    pub fn put(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO audit (approval_id, sequence, body) VALUES (?1, ?2, ?3)",
        )?
        .execute(rusqlite::params![
            self.approval_id,
            self.sequence,
            self.body
        ])?;
        Ok(())
    }
}
