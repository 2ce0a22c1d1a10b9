//! The operations of Holdpoint over any store: what every HTTP route and the sweep call.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::approval::{Approval, Status};
use crate::audit::{self, AuditRecord, Verification};
use crate::events::{EventSink, LifecycleEvent};
use crate::identity::Principal;
use crate::keys::{Key, KeyProvider};
use crate::lifecycle::{self, Command, Outcome, Refusal};
use crate::request::{CreateRequest, ExpiryBounds, Invalid};
use crate::store::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use crate::time::Clock;

/// How often a transition is retried when another writer got there first.
const MAX_ATTEMPTS: usize = 8;
/// How many due approvals the sweep takes per query.
const SWEEP_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the idempotency key was used with a different request")]
    IdempotencyKeyReused,
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// No signing key: nothing may change, since nothing could be recorded.
    #[error("{0}")]
    KeyUnavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::IdempotencyKeyReused => ServiceError::IdempotencyKeyReused,
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub expired: usize,
    pub escalated: usize,
    /// Approvals whose unpublished events were published by this sweep.
    pub republished: usize,
    /// Due approvals another writer changed first; the next sweep sees them again if still due.
    pub skipped: usize,
}

#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    clock: Clock,
    expiry: ExpiryBounds,
    /// Where lifecycle events go, and the base URL of the review links they carry.
    events: Option<(Arc<dyn EventSink>, String)>,
}

/// What a decision signature check answers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecisionCheck {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyProvider>,
        clock: Clock,
        expiry: ExpiryBounds,
    ) -> Service {
        Service {
            store,
            keys,
            clock,
            expiry,
            events: None,
        }
    }

    /// Publishes a lifecycle event for every change to `sink`; review links start `base_url`.
    /// Without it, no events are kept (nothing waits to be published).
    pub fn with_events(mut self, sink: Arc<dyn EventSink>, base_url: impl Into<String>) -> Service {
        self.events = Some((sink, base_url.into()));
        self
    }

    /// Publishes `approval`'s unpublished events (`fresh` is its newest record, when the caller
    /// has it, which spares reading the chain) and marks them published. A failure is logged and
    /// left to the sweep: the write it follows is already stored. Answers the approval as now
    /// stored.
    async fn announce(&self, mut approval: Approval, fresh: Option<&AuditRecord>) -> Approval {
        let Some((sink, base_url)) = &self.events else {
            return approval;
        };
        if !approval.unpublished() {
            return approval;
        }
        let records = match fresh {
            Some(r) if r.sequence == approval.published_seq + 1 => vec![r.clone()],
            _ => match self.store.audit(&approval.tenant, approval.id).await {
                Ok(all) => all
                    .into_iter()
                    .filter(|r| r.sequence > approval.published_seq)
                    .collect(),
                Err(e) => {
                    tracing::warn!(id = %approval.id, error = %e, "events not read; the sweep retries");
                    return approval;
                }
            },
        };
        let mut events = Vec::with_capacity(records.len());
        for r in &records {
            // Links only for the newest record, while the approval still waits for them.
            let current =
                r.sequence == approval.audit_head.sequence && approval.status == Status::Pending;
            let links = if current && LifecycleEvent::addresses_reviewers(r.event) {
                match self.review_links(&approval, base_url).await {
                    Ok(links) => links,
                    Err(e) => {
                        tracing::warn!(id = %approval.id, error = %e, "no key for links; the sweep retries");
                        return approval;
                    }
                }
            } else {
                Vec::new()
            };
            events.push(LifecycleEvent::of(&approval, r, links));
        }
        if let Err(e) = sink.publish(&events).await {
            tracing::warn!(id = %approval.id, error = %e, "events not published; the sweep retries");
            return approval;
        }
        let mut marked = approval.clone();
        marked.published_seq = approval.audit_head.sequence;
        match self.store.mark_published(&marked).await {
            Ok(true) => approval = marked,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(id = %approval.id, error = %e, "published, not marked: may repeat")
            }
        }
        approval
    }

    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    async fn signing_key(&self) -> Result<Key, ServiceError> {
        self.keys
            .current()
            .await
            .map_err(|e| ServiceError::KeyUnavailable(e.to_string()))
    }

    /// Signs `record`; a decision carries its record's signature.
    async fn seal(
        &self,
        next: &mut Approval,
        record: &mut AuditRecord,
    ) -> Result<(), ServiceError> {
        record.sign(&self.signing_key().await?);
        // Without an event sink nothing waits to be published: say so in the same write.
        if self.events.is_none() {
            next.published_seq = record.sequence;
        }
        if record.is_decision()
            && let Some(d) = &mut next.decision
        {
            d.signature = Some(record.signature.clone());
        }
        Ok(())
    }

    /// Every key `records` name, fetched once each.
    async fn keys_of(&self, records: &[AuditRecord]) -> Result<Vec<Key>, ServiceError> {
        let mut ids: Vec<&str> = records.iter().map(|r| r.key_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut keys = Vec::new();
        for id in ids {
            let found = self
                .keys
                .by_id(id)
                .await
                .map_err(|e| ServiceError::KeyUnavailable(e.to_string()))?;
            keys.extend(found);
        }
        Ok(keys)
    }

    /// The signed review links of `approval`'s named reviewers, as `(reviewer, url)`. Never part
    /// of an answer to the agent: links reach reviewers through events and operators only.
    pub async fn review_links(
        &self,
        approval: &Approval,
        base_url: &str,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let key = self.signing_key().await?;
        Ok(crate::review_link::links(&key, approval, base_url))
    }

    /// Verifies one approval's chain with the keys it names.
    pub async fn verify_chain(
        &self,
        approval: &Approval,
        records: &[AuditRecord],
    ) -> Result<Verification, ServiceError> {
        let keys = self.keys_of(records).await?;
        Ok(audit::verify(records, &approval.audit_head, |id| {
            keys.iter().find(|k| k.id == id).cloned()
        }))
    }

    /// Whether `signature` is the signature of this approval's decision, and that decision's
    /// record verifies.
    pub async fn verify_decision(
        &self,
        caller: &Principal,
        id: Uuid,
        signature: &str,
    ) -> Result<DecisionCheck, ServiceError> {
        use subtle::ConstantTimeEq;
        let approval = self.get(caller, id).await?;
        let records = self.store.audit(&caller.tenant, id).await?;
        let refused = |error: &str| DecisionCheck {
            valid: false,
            approval: None,
            error: Some(error.to_owned()),
        };
        let Some(record) = records.iter().rev().find(|r| r.is_decision()) else {
            return Ok(refused("the approval has no decision"));
        };
        let keys = self.keys_of(std::slice::from_ref(record)).await?;
        let genuine = keys.first().is_some_and(|k| {
            record.hash == record.computed_hash()
                && k.verify(record.hash.as_bytes(), &record.signature)
        });
        let matches: bool = record
            .signature
            .as_bytes()
            .ct_eq(signature.as_bytes())
            .into();
        if !(genuine && matches) {
            return Ok(refused("invalid signature"));
        }
        let decision = approval.decision.as_ref();
        Ok(DecisionCheck {
            valid: true,
            approval: Some(serde_json::json!({
                "id": approval.id,
                "status": approval.status,
                "decision": decision.map(|d| d.decision),
                "approver": decision.map(|d| d.by.clone()),
                "decided_at": decision.map(|d| crate::time::format(&d.at)),
                "expires_at": crate::time::format(&approval.expires_at),
            })),
            error: None,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Creates an approval. `idempotency_key` with the raw body makes a retry return the first
    /// approval (`false` = not newly created).
    pub async fn create(
        &self,
        caller: &Principal,
        request: CreateRequest,
        idempotency_key: Option<(&str, &[u8])>,
    ) -> Result<(Approval, bool), ServiceError> {
        let now = self.clock.now();
        let (mut approval, mut record) = request.into_approval(caller, self.expiry, now)?;
        self.seal(&mut approval, &mut record).await?;
        let key = idempotency_key.map(|(key, body)| IdempotencyKey {
            key: key.to_owned(),
            request_hash: hex::encode(Sha256::digest(body)),
        });
        match self.store.create(&approval, &record, key.as_ref()).await? {
            Created::New(a) => Ok((self.announce(a, Some(&record)).await, true)),
            Created::Existing(a) => Ok((a.seen_at(now), false)),
        }
    }

    pub async fn get(&self, caller: &Principal, id: Uuid) -> Result<Approval, ServiceError> {
        let found = self.store.get(&caller.tenant, id).await?;
        Ok(found
            .ok_or(ServiceError::NotFound)?
            .seen_at(self.clock.now()))
    }

    pub async fn list(
        &self,
        caller: &Principal,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Page, ServiceError> {
        let now = self.clock.now();
        let mut page = self
            .store
            .list(&caller.tenant, filter, limit, after, now)
            .await?;
        page.items = page.items.into_iter().map(|a| a.seen_at(now)).collect();
        Ok(page)
    }

    pub async fn audit(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<(Vec<AuditRecord>, Verification), ServiceError> {
        let approval = self
            .store
            .get(&caller.tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let records = self.store.audit(&caller.tenant, id).await?;
        let verification = self.verify_chain(&approval, &records).await?;
        Ok((records, verification))
    }

    /// Applies `command` to approval `id` of `tenant` with optimistic concurrency: read, decide
    /// by the rules, write if unchanged since the read; on a lost race, decide again on what won.
    pub async fn apply(
        &self,
        tenant: &str,
        id: Uuid,
        command: Command<'_>,
    ) -> Result<Approval, ServiceError> {
        let mut current = self
            .store
            .get(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            match lifecycle::apply(&current, command.clone(), now) {
                Ok(Outcome::Unchanged) => return Ok(current.seen_at(now)),
                Ok(Outcome::Changed(mut next, mut record)) => {
                    self.seal(&mut next, &mut record).await?;
                    match self.store.transition(current.version, &next, &record).await {
                        Ok(()) => return Ok(self.announce(*next, Some(&record)).await),
                        Err(StoreError::Conflict { current: stored }) => current = *stored,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(refusal) => {
                    if current.status == Status::Pending
                        && current.status_at(now) == Status::Expired
                    {
                        // Lazy expiry: store what every reader already sees.
                        self.try_expire(&current).await;
                    }
                    return Err(refusal.into());
                }
            }
        }
        Err(ServiceError::Unavailable(
            "too many concurrent changes to this approval; retry".into(),
        ))
    }

    async fn try_expire(&self, current: &Approval) {
        let Ok(Outcome::Changed(mut next, mut record)) =
            lifecycle::apply(current, Command::Expire, self.clock.now())
        else {
            return;
        };
        let stored = match self.seal(&mut next, &mut record).await {
            Ok(()) => self
                .store
                .transition(current.version, &next, &record)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(()) => {
                self.announce(*next, Some(&record)).await;
            }
            Err(e) => tracing::debug!(id = %current.id, error = %e, "lazy expiry not stored"),
        }
    }

    /// Expires and escalates every due approval, batch by batch, until none is due.
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        loop {
            let now = self.clock.now();
            let due = self.store.due(now, SWEEP_BATCH).await?;
            let batch = due.len();
            let before = report;
            for mut a in due {
                if a.unpublished() && self.events.is_some() {
                    a = self.announce(a, None).await;
                    if !a.unpublished() {
                        report.republished += 1;
                    }
                }
                let deadline_passed = a.status == Status::Pending
                    && (now >= a.expires_at || a.escalates_at.is_some_and(|at| at <= now));
                if !deadline_passed {
                    continue;
                }
                let command = if now >= a.expires_at {
                    Command::Expire
                } else {
                    Command::Escalate
                };
                let Ok(Outcome::Changed(mut next, mut record)) =
                    lifecycle::apply(&a, command.clone(), now)
                else {
                    report.skipped += 1;
                    continue;
                };
                self.seal(&mut next, &mut record).await?;
                match self.store.transition(a.version, &next, &record).await {
                    Ok(()) => {
                        self.announce(*next, Some(&record)).await;
                        if matches!(command, Command::Expire) {
                            report.expired += 1;
                        } else {
                            report.escalated += 1;
                        }
                    }
                    Err(StoreError::Conflict { .. }) => report.skipped += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            let done = |r: &SweepReport| r.expired + r.escalated + r.republished;
            let progressed = done(&report) > done(&before);
            if batch < SWEEP_BATCH || !progressed {
                return Ok(report);
            }
        }
    }
}
