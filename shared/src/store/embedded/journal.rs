//! The journal of earlier versions (`journal.jsonl`: one fsynced JSON line per committed write,
//! replayed whole on start): read once, its chains verified, imported into SQLite and renamed
//! `journal.jsonl.imported`. `holdpoint store check` reads one that is still waiting line by line.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use uuid::Uuid;

use super::schema::{ApprovalRow, RecordRow};
use super::writer::Imported;
use crate::store::IdempotencyKey;
use crate::store::StoreError;
use holdpoint_core::audit::{self, AuditRecord};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::keys::{Key, KeyProvider};

/// The journal's name in the data directory.
pub const JOURNAL: &str = "journal.jsonl";

/// One journal line.
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

/// Reads the journal in `dir` line by line without replaying it.
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

/// Replays the journal at `path`: a torn last line (a write cut off by a crash, never
/// acknowledged) is dropped, any other line that cannot be read refuses the whole journal.
fn replay(path: &Path) -> Result<State, StoreError> {
    let text = std::fs::read(path)
        .map_err(|e| StoreError::Internal(format!("{}: {e}", path.display())))?;
    let mut state = State::default();
    let mut lines = text.split_inclusive(|b| *b == b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        if !line.ends_with(b"\n") && lines.peek().is_none() {
            tracing::warn!(path = %path.display(), "dropping a torn last journal line");
            break;
        }
        let entry = Entry::parse(line).map_err(|e| {
            StoreError::Internal(format!(
                "{} line {} cannot be read ({e}); refusing to start rather than lose it: \
                 `holdpoint store check` explains the recovery",
                path.display(),
                i + 1
            ))
        })?;
        state.apply(entry);
    }
    Ok(state)
}

/// Replays the journal at `path` and verifies every chain with `keys`: the rows to store, or the
/// first approval whose chain does not verify (nothing is to be imported then).
pub async fn read_verified(path: &Path, keys: &dyn KeyProvider) -> Result<Imported, StoreError> {
    let mut state = replay(path)?;
    let mut known: HashMap<String, Option<Key>> = HashMap::new();
    let mut all = Vec::with_capacity(state.approvals.len());
    let mut keys_of: HashMap<Uuid, IdempotencyKey> = state
        .idempotency
        .drain()
        .map(|((_, key), (request_hash, id))| (id, IdempotencyKey { key, request_hash }))
        .collect();
    let mut approvals: Vec<Approval> = state.approvals.into_values().collect();
    approvals.sort_by_key(|a| (a.created_at, a.id));
    for a in approvals {
        let chain = state.audit.remove(&a.id).unwrap_or_default();
        for r in &chain {
            if !known.contains_key(&r.key_id) {
                let k = keys
                    .by_id(&r.key_id)
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                known.insert(r.key_id.clone(), k);
            }
        }
        let v = audit::verify(&chain, &a.audit_head, |id| known.get(id).cloned().flatten());
        if !v.valid {
            return Err(StoreError::Integrity {
                id: a.id,
                reason: format!(
                    "{}: its audit chain does not verify at sequence {} ({}); nothing was \
                     imported",
                    path.display(),
                    v.first_invalid_sequence.unwrap_or_default(),
                    v.reason.unwrap_or_default()
                ),
            });
        }
        let records = chain.iter().map(RecordRow::new).collect::<Result<_, _>>()?;
        all.push((ApprovalRow::new(&a)?, records, keys_of.remove(&a.id)));
    }
    Ok(all)
}
