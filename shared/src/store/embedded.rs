//! The embedded store: every committed write is one JSON line appended to `journal.jsonl` in the
//! data directory and synced to disk before it is acknowledged; the state is rebuilt from the
//! journal on open. A crash can only tear the last line, which is dropped on the next open (it was
//! never acknowledged). One line holds a transition and its audit record, so they are atomic.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use crate::approval::Approval;
use crate::audit::AuditRecord;

const JOURNAL: &str = "journal.jsonl";

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Entry {
    Create {
        approval: Approval,
        record: AuditRecord,
        idempotency: Option<IdempotencyKey>,
    },
    Transition {
        approval: Approval,
        record: AuditRecord,
    },
    Published {
        id: Uuid,
        version: u64,
        published_seq: u64,
    },
}

impl Entry {
    /// One journal line. Read in two steps (the `op`, then that entry's fields) rather than as
    /// an internally tagged enum, which would buffer the line and lose the documents' text.
    fn parse(line: &[u8]) -> Result<Entry, serde_json::Error> {
        #[derive(Deserialize)]
        struct Op {
            op: String,
        }
        #[derive(Deserialize)]
        struct Change {
            approval: Approval,
            record: AuditRecord,
            #[serde(default)]
            idempotency: Option<IdempotencyKey>,
        }
        #[derive(Deserialize)]
        struct Published {
            id: Uuid,
            version: u64,
            published_seq: u64,
        }
        Ok(match serde_json::from_slice::<Op>(line)?.op.as_str() {
            "create" => {
                let c: Change = serde_json::from_slice(line)?;
                Entry::Create {
                    approval: c.approval,
                    record: c.record,
                    idempotency: c.idempotency,
                }
            }
            "transition" => {
                let c: Change = serde_json::from_slice(line)?;
                Entry::Transition {
                    approval: c.approval,
                    record: c.record,
                }
            }
            "published" => {
                let p: Published = serde_json::from_slice(line)?;
                Entry::Published {
                    id: p.id,
                    version: p.version,
                    published_seq: p.published_seq,
                }
            }
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown journal entry {other:?}"
                )));
            }
        })
    }
}

#[derive(Default)]
struct State {
    approvals: HashMap<Uuid, Approval>,
    audit: HashMap<Uuid, Vec<AuditRecord>>,
    /// (tenant, key) → (request hash, approval id)
    idempotency: HashMap<(String, String), (String, Uuid)>,
}

impl State {
    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Create {
                approval,
                record,
                idempotency,
            } => {
                if let Some(k) = idempotency {
                    self.idempotency.insert(
                        (approval.tenant.clone(), k.key),
                        (k.request_hash, approval.id),
                    );
                }
                self.audit.insert(approval.id, vec![record]);
                self.approvals.insert(approval.id, approval);
            }
            Entry::Transition { approval, record } => {
                self.audit.entry(approval.id).or_default().push(record);
                self.approvals.insert(approval.id, approval);
            }
            Entry::Published {
                id,
                version,
                published_seq,
            } => {
                if let Some(a) = self.approvals.get_mut(&id).filter(|a| a.version == version) {
                    a.published_seq = a.published_seq.max(published_seq);
                }
            }
        }
    }

    fn get(&self, tenant: &str, id: Uuid) -> Option<&Approval> {
        self.approvals.get(&id).filter(|a| a.tenant == tenant)
    }
}

struct Inner {
    state: State,
    journal: File,
    read_only: bool,
}

impl Inner {
    /// Makes `entry` durable, then applies it.
    fn commit(&mut self, entry: Entry) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::Internal(
                "this store was opened read-only".into(),
            ));
        }
        let mut line =
            serde_json::to_vec(&entry).map_err(|e| StoreError::Internal(e.to_string()))?;
        line.push(b'\n');
        self.journal
            .write_all(&line)
            .and_then(|()| self.journal.sync_data())
            .map_err(|e| StoreError::Unavailable(format!("journal write failed: {e}")))?;
        self.state.apply(entry);
        Ok(())
    }
}

/// A store in one data directory. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Mutex<Inner>>,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (or starts) the store in `dir`, replaying its journal.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with(dir, false)
    }

    /// Opens the store in `dir` for reading only, beside a server that may be writing it: it
    /// creates nothing, never truncates, and refuses every write.
    pub fn open_read_only(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with(dir, true)
    }

    fn open_with(dir: &Path, read_only: bool) -> Result<EmbeddedStore, StoreError> {
        let io = |e: std::io::Error| StoreError::Internal(format!("{}: {e}", dir.display()));
        let path = dir.join(JOURNAL);
        let mut options = OpenOptions::new();
        if read_only {
            options.read(true);
        } else {
            std::fs::create_dir_all(dir).map_err(io)?;
            options.read(true).append(true).create(true);
            // Approvals carry whatever agents sent: readable by the owner only.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        let mut journal = options.open(&path).map_err(io)?;
        let mut state = State::default();
        let mut good_len = 0u64;
        let mut reader = BufReader::new(&journal);
        let mut line = Vec::new();
        let mut line_no = 0;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let complete = line.ends_with(b"\n");
            match Entry::parse(&line) {
                Ok(entry) if complete => {
                    state.apply(entry);
                    good_len += n as u64;
                }
                // A torn last line: the write was never acknowledged.
                _ if !complete => break,
                Err(e) => {
                    return Err(StoreError::Internal(format!(
                        "{} line {line_no} cannot be read ({e}); refusing to start rather than \
                         lose it: `holdpoint store check` explains the recovery",
                        path.display()
                    )));
                }
                Ok(_) => unreachable!("complete lines are applied above"),
            }
        }
        drop(reader);
        if !read_only && journal.metadata().map_err(io)?.len() != good_len {
            tracing::warn!(path = %path.display(), "dropping a torn last journal line");
            journal.set_len(good_len).map_err(io)?;
            journal.seek(SeekFrom::End(0)).map_err(io)?;
        }
        Ok(EmbeddedStore {
            inner: Arc::new(Mutex::new(Inner {
                state,
                journal,
                read_only,
            })),
            path,
        })
    }
}

/// What `holdpoint store check` finds in a journal: how many lines replay, and each line that
/// does not (its number and why).
#[derive(Debug, Default)]
pub struct JournalCheck {
    pub readable: usize,
    pub unreadable: Vec<(usize, String)>,
    /// A last line without its newline: a write cut off by a crash, never acknowledged.
    pub torn_tail: bool,
}

impl EmbeddedStore {
    /// Reads the journal in `dir` line by line without opening the store.
    pub fn check_journal(dir: &Path) -> Result<JournalCheck, StoreError> {
        let path = dir.join(JOURNAL);
        let text = std::fs::read(&path)
            .map_err(|e| StoreError::Internal(format!("{}: {e}", path.display())))?;
        let mut check = JournalCheck::default();
        let mut lines = text.split_inclusive(|b| *b == b'\n').enumerate().peekable();
        while let Some((i, line)) = lines.next() {
            if !line.ends_with(b"\n") && lines.peek().is_none() {
                check.torn_tail = true;
                break;
            }
            match Entry::parse(line) {
                Ok(_) => check.readable += 1,
                Err(e) => check.unreadable.push((i + 1, e.to_string())),
            }
        }
        Ok(check)
    }

    pub fn journal_path(&self) -> &Path {
        &self.path
    }

    /// `(tenant, id)` of every approval, for operator tools that walk all chains.
    pub fn all_approvals(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        let inner = self
            .inner
            .lock()
            .map_err(|_| StoreError::Internal("store lock poisoned".into()))?;
        let mut all: Vec<_> = inner
            .state
            .approvals
            .values()
            .map(|a| (a.tenant.clone(), a.id))
            .collect();
        all.sort();
        Ok(all)
    }

    /// Runs `f` under the lock on a blocking thread (journal writes sync to disk).
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .lock()
                .map_err(|_| StoreError::Internal("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn create(
        &self,
        approval: &Approval,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let (approval, record, idempotency) =
            (approval.clone(), record.clone(), idempotency.cloned());
        self.with(move |inner| {
            if let Some(k) = &idempotency
                && let Some((hash, id)) = inner
                    .state
                    .idempotency
                    .get(&(approval.tenant.clone(), k.key.clone()))
            {
                if *hash != k.request_hash {
                    return Err(StoreError::IdempotencyKeyReused);
                }
                let existing = inner.state.approvals.get(id).cloned();
                return existing.map(Created::Existing).ok_or(StoreError::NotFound);
            }
            if inner.state.approvals.contains_key(&approval.id) {
                return Err(StoreError::AlreadyExists);
            }
            inner.commit(Entry::Create {
                approval: approval.clone(),
                record,
                idempotency,
            })?;
            Ok(Created::New(approval))
        })
        .await
    }

    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        let tenant = tenant.to_owned();
        self.with(move |inner| Ok(inner.state.get(&tenant, id).cloned()))
            .await
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        let (tenant, filter, after) = (tenant.to_owned(), filter.clone(), after.cloned());
        self.with(move |inner| {
            let mut items: Vec<&Approval> = inner
                .state
                .approvals
                .values()
                .filter(|a| a.tenant == tenant)
                .filter(|a| after.as_ref().is_none_or(|c| c.precedes(a)))
                .filter(|a| filter.matches(a, now))
                .collect();
            items.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.id)));
            let next = (items.len() > limit).then(|| Cursor::after(items[limit - 1]));
            let items = items.into_iter().take(limit).cloned().collect();
            Ok(Page { items, next })
        })
        .await
    }

    async fn transition(
        &self,
        expected_version: u64,
        next: &Approval,
        record: &AuditRecord,
    ) -> Result<(), StoreError> {
        super::check_transition(expected_version, next, record)?;
        let (next, record) = (next.clone(), record.clone());
        self.with(move |inner| {
            let current = inner
                .state
                .get(&next.tenant, next.id)
                .ok_or(StoreError::NotFound)?;
            if current.version != expected_version
                || record.sequence != current.audit_head.sequence + 1
            {
                return Err(StoreError::Conflict {
                    current: Box::new(current.clone()),
                });
            }
            let chain = inner.state.audit.get(&next.id).map_or(0, Vec::len) as u64;
            if chain != current.audit_head.sequence {
                return Err(StoreError::Integrity {
                    id: next.id,
                    reason: format!(
                        "the audit chain holds {chain} records, the approval's head is {}",
                        current.audit_head.sequence
                    ),
                });
            }
            inner.commit(Entry::Transition {
                approval: next,
                record,
            })
        })
        .await
    }

    async fn mark_published(&self, approval: &Approval) -> Result<bool, StoreError> {
        let (tenant, id, version, published_seq) = (
            approval.tenant.clone(),
            approval.id,
            approval.version,
            approval.published_seq,
        );
        self.with(move |inner| {
            let current = inner.state.get(&tenant, id).ok_or(StoreError::NotFound)?;
            if current.version != version {
                return Ok(false);
            }
            inner.commit(Entry::Published {
                id,
                version,
                published_seq,
            })?;
            Ok(true)
        })
        .await
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError> {
        self.with(move |inner| {
            let mut due: Vec<&Approval> = inner
                .state
                .approvals
                .values()
                .filter(|a| a.next_deadline().is_some_and(|d| d <= now))
                .collect();
            due.sort_by_key(|a| a.next_deadline());
            Ok(due.into_iter().take(limit).cloned().collect())
        })
        .await
    }

    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError> {
        let tenant = tenant.to_owned();
        self.with(move |inner| {
            Ok(match inner.state.get(&tenant, id) {
                Some(_) => inner.state.audit.get(&id).cloned().unwrap_or_default(),
                None => Vec::new(),
            })
        })
        .await
    }
}

/// The seam of the conformance tamper tests (`conformance::Tamper`): edits the chain the store
/// serves (its in-memory state), as a hand editing the journal and restarting would.
#[cfg(feature = "conformance")]
impl EmbeddedStore {
    pub(crate) fn edit_chain(&self, id: Uuid, edit: impl FnOnce(&mut Vec<AuditRecord>)) {
        if let Ok(mut inner) = self.inner.lock() {
            edit(inner.state.audit.entry(id).or_default());
        }
    }

    pub(crate) fn edit_approval(&self, id: Uuid, approval: Approval) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.state.approvals.insert(id, approval);
        }
    }
}
