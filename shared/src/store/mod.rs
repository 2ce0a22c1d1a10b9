//! The storage contract every backend keeps: create-if-absent, get, list, compare-and-set
//! transitions that store their audit record in the same atomic step, and the due query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::{Approval, Status};

pub mod checkpoints;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;

/// An `Idempotency-Key` with the hash of the request body it came with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Approval),
    /// The idempotency key was used before with the same body: the approval it created.
    Existing(Approval),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub agent_id: Option<String>,
    pub reviewer: Option<String>,
    pub checkpoint_type: Option<String>,
    /// Only what waits for this reviewer's decision now (`awaiting=me`).
    pub awaiting: Option<Awaiting>,
}

/// A reviewer as the directory holds it now: its name and the roles it holds, so an approval
/// asking `role:NAME` is found for every current member (expanded here, not by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awaiting {
    pub name: String,
    pub roles: Vec<String>,
}

impl Awaiting {
    /// Pending at `now`, asking this reviewer at the current level (by name or by a role it
    /// holds), not its own request (nobody decides their own), and not yet approved by it (a
    /// quorum waits for the others, not for it).
    pub fn waits_for(&self, a: &Approval, now: DateTime<Utc>) -> bool {
        use holdpoint_core::domain::identity::ROLE_PREFIX;
        a.status_at(now) == Status::Pending
            && a.requested_by != self.name
            && a.reviewers
                .iter()
                .any(|r| match r.strip_prefix(ROLE_PREFIX) {
                    Some(role) => self.roles.iter().any(|mine| mine == role),
                    None => *r == self.name,
                })
            && !a.approvals.iter().any(|v| v.by == self.name)
    }
}

impl ListFilter {
    /// The stored status the store may narrow by: `awaiting` implies pending.
    pub fn narrowed_status(&self) -> Option<Status> {
        self.status
            .or(self.awaiting.as_ref().map(|_| Status::Pending))
    }

    /// Whether `a`, as seen at `now`, passes the filter.
    pub fn matches(&self, a: &Approval, now: DateTime<Utc>) -> bool {
        self.status.is_none_or(|s| a.status_at(now) == s)
            && self.awaiting.as_ref().is_none_or(|w| w.waits_for(a, now))
            && self.agent_id.as_ref().is_none_or(|v| *v == a.agent_id)
            && self
                .reviewer
                .as_ref()
                .is_none_or(|v| a.reviewers.contains(v))
            && self
                .checkpoint_type
                .as_ref()
                .is_none_or(|v| a.checkpoint_type.as_ref() == Some(v))
    }
}

/// A position in a tenant's approvals, newest first. It carries no tenant: the tenant of a page
/// is always the caller's, so an edited cursor can only move within the caller's own data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn after(a: &Approval) -> Cursor {
        Cursor {
            created_at: a.created_at,
            id: a.id,
        }
    }

    /// `{created_at in Unix ms, 13 digits}-{id, 32 hex digits}`: a position, nothing else.
    pub fn encode(&self) -> String {
        format!(
            "{:013}-{}",
            self.created_at.timestamp_millis().max(0),
            self.id.simple()
        )
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (ms, id) = s.split_once('-')?;
        let digits = |t: &str, n: usize, hex: bool| {
            t.len() == n
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&b)))
        };
        if !digits(ms, 13, false) || !digits(id, 32, true) {
            return None;
        }
        Some(Cursor {
            created_at: DateTime::from_timestamp_millis(ms.parse().ok()?)?,
            id: Uuid::try_parse(id).ok()?,
        })
    }

    /// Newest-first order: is `a` after this position?
    pub fn precedes(&self, a: &Approval) -> bool {
        (a.created_at, a.id) < (self.created_at, self.id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Approval>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The approval is not at the expected version; `current` is what is stored.
    #[error("approval {} changed concurrently (now version {})", current.id, current.version)]
    Conflict { current: Box<Approval> },
    #[error("no such approval")]
    NotFound,
    #[error("the idempotency key was used with a different request")]
    IdempotencyKeyReused,
    #[error("an approval with this id exists")]
    AlreadyExists,
    /// What is stored contradicts itself (an approval behind its own audit chain): nothing may
    /// change it.
    #[error("approval {id}: {reason}")]
    Integrity { id: Uuid, reason: String },
    /// Another checkpoint of the tenant holds this sequence: a concurrent writer won.
    #[error("checkpoint {sequence} of tenant {tenant} is already written")]
    CheckpointTaken { tenant: String, sequence: u64 },
    /// The backend is unreachable or refused for now (throttled, down): worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Internal(String),
}

/// The shape of every transition, checked by every backend before it writes anything: `next` is
/// one version on from `expected_version`, and `record` is the next link of its chain (each
/// change writes one record, so a record's sequence is the version it produced) and the head
/// `next` names. Anything else is the caller's defect, refused as `Internal` with nothing
/// written; a well-formed transition from a version no longer stored is a `Conflict`.
pub fn check_transition(
    expected_version: u64,
    next: &Approval,
    record: &AuditRecord,
) -> Result<(), StoreError> {
    if next.version != expected_version + 1 {
        return Err(StoreError::Internal(format!(
            "a transition from version {expected_version} must store version {}, not {}",
            expected_version + 1,
            next.version
        )));
    }
    if record.sequence != next.version || next.audit_head != record.head() {
        return Err(StoreError::Internal(format!(
            "the record of version {} must be sequence {} and the approval's head (got {})",
            next.version, next.version, record.sequence
        )));
    }
    if record.approval_id != next.id || record.tenant != next.tenant {
        return Err(StoreError::Internal(
            "the record belongs to another approval".into(),
        ));
    }
    Ok(())
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new approval with the first record of its chain, and the idempotency key when
    /// given, all or nothing. A key seen before with the same request hash answers `Existing`.
    async fn create(
        &self,
        approval: &Approval,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError>;

    /// One approval of `tenant`, as stored (no lazy expiry applied).
    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError>;

    /// A page of `tenant`'s approvals, newest first, filtered as seen at `now`.
    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError>;

    /// Replaces the approval stored at `expected_version` by `next` (version + 1) and appends
    /// `record` to its chain, atomically. Anything else stored answers `Conflict`; a transition
    /// that fails [`check_transition`] answers `Internal`. Either way nothing is written.
    async fn transition(
        &self,
        expected_version: u64,
        next: &Approval,
        record: &AuditRecord,
    ) -> Result<(), StoreError>;

    /// Records that `approval`'s events up to `approval.published_seq` are published, if it is
    /// still at `approval.version` (the version does not change). Answers whether it was stored;
    /// when it was not, the events are simply published again later.
    async fn mark_published(&self, approval: &Approval) -> Result<bool, StoreError>;

    /// Approvals of every tenant that the sweep must look at by `now`: pending ones past a
    /// deadline, and any with events still to publish; at most `limit` of them.
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError>;

    /// The audit chain of one approval of `tenant`, in sequence order.
    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError>;

    /// Every `(tenant, approval)` with a row or a head a checkpoint recorded (so an approval
    /// whose row was deleted is still walked), for `holdpoint audit verify`; `None` where the
    /// store is walked per tenant through its lists instead (DynamoDB, never scanned).
    async fn every_chain(&self) -> Result<Option<Vec<(String, Uuid)>>, StoreError> {
        Ok(None)
    }
}
