//! Group commit: one thread owns the writing connection. It takes every write queued while the
//! previous batch was being synced, applies them one after another in one SQLite transaction
//! (each in a savepoint of its own, so a refused write leaves no trace), commits once (one fsync
//! for the batch) and only then answers each caller. Writes in one batch see each other exactly as
//! they would in separate transactions: of two transitions from the same version the first wins
//! and the second gets the current state, now the winner's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::checkpoint_rows::{self, CheckpointRow};
use super::schema::{self, ApprovalRow, RecordRow};
use super::sqlite::failed;
use crate::store::{Created, IdempotencyKey, StoreError};
use holdpoint_core::domain::approval::Approval;

/// The most writes one transaction takes: enough to amortise a sync, few enough that a batch
/// commits in milliseconds.
const MAX_BATCH: usize = 512;

pub enum Write {
    Create {
        approval: Box<Approval>,
        row: ApprovalRow,
        record: RecordRow,
        idempotency: Option<IdempotencyKey>,
    },
    Transition {
        expected_version: u64,
        row: ApprovalRow,
        record: RecordRow,
    },
    MarkPublished {
        tenant: String,
        id: String,
        version: u64,
        published_seq: u64,
        /// When the sweep must look at the approval once these events are published.
        due_at: Option<i64>,
    },
    Checkpoint(Box<CheckpointRow>),
}

pub enum Answer {
    Created(Box<Created>),
    Done,
    Published(bool),
}

type Reply = oneshot::Sender<Result<Answer, StoreError>>;

/// The queue to the writing thread. Dropping every clone ends the thread once it has answered
/// what was queued.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<(Write, Reply)>,
    /// Transactions committed: fewer than writes whenever writes were queued together.
    commits: Arc<AtomicU64>,
}

impl Writer {
    pub fn start(conn: Connection) -> Result<Writer, StoreError> {
        let (queue, rx) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        std::thread::Builder::new()
            .name("holdpoint-store-writer".into())
            .spawn(move || run(conn, rx, &counted))
            .map_err(|e| StoreError::Internal(format!("cannot start the store's writer: {e}")))?;
        Ok(Writer { queue, commits })
    }

    /// How many transactions the writer has committed.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues `write` and waits until its batch is durable.
    pub async fn write(&self, write: Write) -> Result<Answer, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((write, reply))
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer has stopped".into()))?
    }
}

fn run(mut conn: Connection, queue: mpsc::Receiver<(Write, Reply)>, commits: &AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let answers = commit(&mut conn, writes, commits);
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that stopped waiting still had its write committed, as with any store.
            let _ = reply.send(answer);
        }
    }
}

/// Commits `writes` in one transaction, with one answer each. A write that is refused (a
/// conflict, a reused key…) is refused by its checks before it writes anything, so it needs no
/// savepoint. A statement that fails (the disk, SQLite) may leave a write half-done: then the
/// batch is rolled back and each write is tried again in a transaction of its own, so one failing
/// write cannot fail the others, and nothing half-done is ever committed.
fn commit(
    conn: &mut Connection,
    writes: Vec<Write>,
    commits: &AtomicU64,
) -> Vec<Result<Answer, StoreError>> {
    match attempt(conn, &writes, commits) {
        Ok(answers) => answers,
        Err(e) if writes.len() == 1 => vec![Err(e)],
        Err(_) => writes
            .iter()
            .map(|w| match attempt(conn, std::slice::from_ref(w), commits) {
                Ok(mut answers) => answers
                    .pop()
                    .unwrap_or_else(|| Err(StoreError::Internal("a write went unanswered".into()))),
                Err(e) => Err(e),
            })
            .collect(),
    }
}

/// `writes` in one transaction: their answers once it is committed, or the failure after which
/// nothing of it is stored.
fn attempt(
    conn: &mut Connection,
    writes: &[Write],
    commits: &AtomicU64,
) -> Result<Vec<Result<Answer, StoreError>>, StoreError> {
    let unavailable = |e: rusqlite::Error| StoreError::Unavailable(failed(e).to_string());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let mut answers = Vec::with_capacity(writes.len());
    for write in writes {
        match apply(&tx, write) {
            // Dropping the transaction rolls it back.
            Err(e @ (StoreError::Unavailable(_) | StoreError::Internal(_))) => return Err(e),
            answer => answers.push(answer),
        }
    }
    tx.commit().map_err(unavailable)?;
    commits.fetch_add(1, Ordering::Relaxed);
    Ok(answers)
}

fn apply(conn: &Connection, write: &Write) -> Result<Answer, StoreError> {
    match write {
        Write::Create {
            approval,
            row,
            record,
            idempotency,
        } => create(conn, approval, row, record, idempotency.as_ref())
            .map(|c| Answer::Created(Box::new(c))),
        Write::Transition {
            expected_version,
            row,
            record,
        } => transition(conn, *expected_version, row, record).map(|()| Answer::Done),
        Write::MarkPublished {
            tenant,
            id,
            version,
            published_seq,
            due_at,
        } => mark_published(conn, tenant, id, *version, *published_seq, *due_at)
            .map(Answer::Published),
        Write::Checkpoint(row) => checkpoint_rows::append(conn, row).map(|()| Answer::Done),
    }
}

/// Every check first, then the writes.
fn create(
    conn: &Connection,
    approval: &Approval,
    row: &ApprovalRow,
    record: &RecordRow,
    idempotency: Option<&IdempotencyKey>,
) -> Result<Created, StoreError> {
    if let Some(k) = idempotency {
        let seen: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT request_hash, approval_id FROM idempotency WHERE tenant = ?1 AND key = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![row.columns.tenant, k.key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(failed)?;
        if let Some((hash, id)) = seen {
            if hash != k.request_hash {
                return Err(StoreError::IdempotencyKeyReused);
            }
            let existing =
                approval_of(conn, &row.columns.tenant, &id)?.ok_or(StoreError::NotFound)?;
            return Ok(Created::Existing(existing));
        }
    }
    let exists = conn
        .prepare_cached("SELECT 1 FROM approvals WHERE id = ?1")
        .and_then(|mut s| s.exists([&row.columns.id]))
        .map_err(failed)?;
    if exists {
        return Err(StoreError::AlreadyExists);
    }
    row.put(conn).map_err(failed)?;
    record.put(conn).map_err(failed)?;
    if let Some(k) = idempotency {
        put_idempotency(conn, row, k)?;
    }
    Ok(Created::New(approval.clone()))
}

fn put_idempotency(
    conn: &Connection,
    row: &ApprovalRow,
    k: &IdempotencyKey,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (tenant, key, request_hash, approval_id) \
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            row.columns.tenant,
            k.key,
            k.request_hash,
            row.columns.id
        ])
    })
    .map_err(failed)?;
    Ok(())
}

/// Every check first, then the writes.
fn transition(
    conn: &Connection,
    expected_version: u64,
    row: &ApprovalRow,
    record: &RecordRow,
) -> Result<(), StoreError> {
    let current: Option<(i64, i64)> = conn
        .prepare_cached("SELECT version, head_seq FROM approvals WHERE id = ?1 AND tenant = ?2")
        .and_then(|mut s| {
            s.query_row([&row.columns.id, &row.columns.tenant], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(failed)?;
    let (version, head_seq) = current.ok_or(StoreError::NotFound)?;
    if version as u64 != expected_version || record.sequence != head_seq + 1 {
        let current =
            approval_of(conn, &row.columns.tenant, &row.columns.id)?.ok_or(StoreError::NotFound)?;
        return Err(StoreError::Conflict {
            current: Box::new(current),
        });
    }
    let chain: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM audit WHERE approval_id = ?1")
        .and_then(|mut s| s.query_row([&row.columns.id], |r| r.get(0)))
        .map_err(failed)?;
    if chain != head_seq {
        return Err(StoreError::Integrity {
            id: uuid::Uuid::parse_str(&row.columns.id).unwrap_or_default(),
            reason: format!(
                "the audit chain holds {chain} records, the approval's head is {head_seq}"
            ),
        });
    }
    row.put(conn).map_err(failed)?;
    record.put(conn).map_err(failed)?;
    Ok(())
}

/// Only the `published_seq` column changes (and `due_at` with it): the approval's JSON, its
/// indexes and its seal stay as they are.
fn mark_published(
    conn: &Connection,
    tenant: &str,
    id: &str,
    version: u64,
    published_seq: u64,
    due_at: Option<i64>,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            // The due time follows the mark it comes with, never an older one.
            "UPDATE approvals SET due_at = CASE WHEN ?4 >= published_seq THEN ?5 ELSE due_at END, \
             published_seq = max(published_seq, ?4) WHERE id = ?1 AND tenant = ?2 AND version = ?3",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                tenant,
                version as i64,
                published_seq as i64,
                due_at
            ])
        })
        .map_err(failed)?;
    if changed == 0 && approval_of(conn, tenant, id)?.is_none() {
        return Err(StoreError::NotFound);
    }
    Ok(changed == 1)
}

/// One approval of `tenant`, as stored.
pub fn approval_of(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> Result<Option<Approval>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM approvals WHERE id = ?1 AND tenant = ?2",
            schema::APPROVAL
        ))
        .map_err(failed)?;
    let mut rows = s.query([id, tenant]).map_err(failed)?;
    match rows.next().map_err(failed)? {
        Some(row) => schema::approval(row).map(Some),
        None => Ok(None),
    }
}
