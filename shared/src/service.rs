//! The operations of Holdpoint over any store: what every HTTP route (API and review link), the
//! sweep and the operator's commands call. Nothing else reaches the store or the keys.
//!
//! Every change takes one path: read the approval, let [`lifecycle`] decide, then [`commit`]
//! (seal the audit record, store state and record in one compare-and-set, announce the event).
//!
//! [`commit`]: Service::commit

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::delivery::{Delivery, DeliveryLog};
use crate::directory::Directory;
use crate::events::EventSink;
use crate::metrics;
use crate::store::{Cursor, ListFilter, Page, Store, StoreError};
use holdpoint_core::audit::{self, AuditRecord, Verification};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::integrity::{self, Breach};
use holdpoint_core::domain::lifecycle::{self, Command, Outcome, Refusal};
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::domain::review_link::{BaseUrl, LinkRefusal};
use holdpoint_core::invalid::Invalid;
use holdpoint_core::keys::{Key, KeyError, KeyProvider};
use holdpoint_core::time::Clock;

pub mod checkpoints;
mod create;
pub mod decision_check;
mod extend;
mod inbox;
pub mod insights;
mod outbox;
pub mod policy;
mod policy_admin;
pub mod review_links;
pub mod sessions;
pub mod siem;
#[cfg(feature = "delivery")]
pub mod slack;
mod state_check;
pub mod sweep;

/// How often a change is re-decided when another writer got there first. Each lost
/// compare-and-set means another change landed, and an approval takes at most 50 votes (one per
/// named reviewer) before it is decided and every later vote is a conflict: 64 lets every vote
/// of the largest quorum count (a vote is not a conflict, never refused for being concurrent),
/// with room for other changes racing it, while still bounding the work of one request.
const MAX_ATTEMPTS: u64 = 64;
/// The longest pause, in milliseconds, between attempts; the pause is jittered (1 ms up to a
/// ceiling growing with each loss) so racing writers spread out instead of colliding again.
const MAX_PAUSE_MS: u64 = 20;
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A review link that does not (or no longer) decide its approval.
    #[error(transparent)]
    Link(LinkRefusal),
    /// Only a principal with the role `admin` may do this.
    #[error("only a principal holding the role admin in its tenant may do this")]
    NotAdmin,
    #[error("the idempotency key was used with a different request")]
    IdempotencyKeyReused,
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// No signing key: nothing may change, since nothing could be recorded.
    #[error("{0}")]
    KeyUnavailable(String),
    /// The stored approval is not the state its signed audit chain produced: nothing may
    /// change it.
    #[error(transparent)]
    IntegrityViolation(#[from] Breach),
    /// Refused by, or for, the tenant's approval policy.
    #[error(transparent)]
    Policy(#[from] policy::PolicyRefusal),
    /// Too many sign-in requests, of a name or from an address: retry after this long.
    #[error("too many sign-in requests; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("internal: {0}")]
    Internal(String),
}

impl From<KeyError> for ServiceError {
    /// The key's own words (never its material: [`KeyError`] holds none).
    fn from(e: KeyError) -> Self {
        ServiceError::KeyUnavailable(e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::IdempotencyKeyReused => ServiceError::IdempotencyKeyReused,
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Integrity { id, reason } => ServiceError::IntegrityViolation(Breach {
                approval: id,
                fields: Vec::new(),
                reason,
            }),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<LinkRefusal> for ServiceError {
    fn from(r: LinkRefusal) -> Self {
        match r {
            LinkRefusal::Key(e) => e.into(),
            other => ServiceError::Link(other),
        }
    }
}

/// What one compare-and-set attempt came to.
enum Attempt {
    /// Stored (and announced): the approval as it now is.
    Stored(Approval),
    /// Nothing to store (an idempotent repeat): the approval as seen.
    Unchanged(Approval),
    /// Another writer got there first: what is stored now.
    Lost(Approval),
}

#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    clock: Clock,
    expiry: ExpiryBounds,
    /// Where lifecycle events go, and the base URL of the review links they carry.
    events: Option<(Arc<dyn EventSink>, BaseUrl)>,
    /// Who the principals are: links go to role members and stop working for a principal
    /// removed from it. Without one, links go to named reviewers only and are not checked
    /// against anything but the approval.
    directory: Option<Arc<dyn Directory>>,
    /// Where deliveries to reviewers and agents are recorded (`GET …/deliveries`).
    deliveries: Option<Arc<dyn DeliveryLog>>,
    /// `HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS`: callback URLs may point anywhere, over http too.
    allow_private_webhooks: bool,
    /// The tenants' approval policies; without them every request asks its own reviewers.
    policies: Option<Arc<policy::Policies>>,
    /// Where signed checkpoints are kept, and their keys; without them none are written.
    checkpoints: Option<Arc<crate::store::checkpoints::Checkpoints>>,
    /// Reviewers' sign-in links and browser sessions; without them nobody signs in.
    sessions: Option<Arc<crate::sessions::peers::Sessions>>,
    #[cfg(feature = "delivery")]
    slack: Option<Arc<crate::slack::Slack>>,
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
            directory: None,
            deliveries: None,
            allow_private_webhooks: false,
            policies: None,
            checkpoints: None,
            sessions: None,
            #[cfg(feature = "delivery")]
            slack: None,
        }
    }

    /// Shows the deliveries recorded in `log`.
    pub fn with_deliveries(mut self, log: Arc<dyn DeliveryLog>) -> Service {
        self.deliveries = Some(log);
        self
    }

    /// Accepts callback URLs to loopback and private addresses, over http too: for local
    /// development and tests only.
    pub fn allowing_private_webhooks(mut self, allow: bool) -> Service {
        self.allow_private_webhooks = allow;
        self
    }

    /// Reads principals from `directory` (see the field).
    pub fn with_directory(mut self, directory: Arc<dyn Directory>) -> Service {
        self.directory = Some(directory);
        self
    }

    pub fn directory(&self) -> Option<&Arc<dyn Directory>> {
        self.directory.as_ref()
    }

    /// Publishes a lifecycle event for every change to `sink`; review links start `base_url`.
    /// Without it, no events are kept (nothing waits to be published).
    pub fn with_events(
        mut self,
        sink: Arc<dyn EventSink>,
        base_url: impl Into<BaseUrl>,
    ) -> Service {
        self.events = Some((sink, base_url.into()));
        self
    }

    // ---- Reads -------------------------------------------------------------------------------

    pub async fn get(&self, caller: &Principal, id: Uuid) -> Result<Approval, ServiceError> {
        let found = self.store.get(&caller.tenant, id).await?;
        // The seal binds the stored state: check it before the expiry rule changes what is
        // shown.
        let stored = found.ok_or(ServiceError::NotFound)?;
        Ok(self.marked(stored).await?.seen_at(self.clock.now()))
    }

    /// The deliveries of approval `id` to its reviewers and its requester, for them (and
    /// admins) alone. Without a delivery log, none.
    pub async fn deliveries(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<Vec<Delivery>, ServiceError> {
        let approval = self.get(caller, id).await?;
        let party = approval.requested_by == caller.principal
            || caller.is_reviewer(&approval.reviewers)
            || approval
                .escalation
                .iter()
                .any(|level| caller.is_reviewer(&level.reviewers))
            || caller.is_admin();
        if !party {
            return Err(Refusal::NotAReviewer.into());
        }
        match &self.deliveries {
            Some(log) => Ok(log.of_approval(&caller.tenant, id).await?),
            None => Ok(Vec::new()),
        }
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
        let mut items = Vec::with_capacity(page.items.len());
        for a in page.items {
            items.push(self.marked(a).await?.seen_at(now));
            // Checking a large approval's seal takes a while: let other requests run between.
            tokio::task::yield_now().await;
        }
        page.items = items;
        Ok(page)
    }

    /// One approval's audit records and whether its chain verifies.
    pub async fn audit(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<(Vec<AuditRecord>, Verification), ServiceError> {
        self.audit_of(&caller.tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// As [`Service::audit`], for an operator who names the tenant; `None` when no such
    /// approval is stored.
    pub async fn audit_of(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<(Vec<AuditRecord>, Verification)>, ServiceError> {
        let Some(approval) = self.store.get(tenant, id).await? else {
            return Ok(None);
        };
        let records = self.store.audit(tenant, id).await?;
        let verification = self.verify_chain(&approval, &records).await?;
        Ok(Some((records, verification)))
    }

    /// Verifies one approval's chain with the keys it names, and its state against the chain.
    pub async fn verify_chain(
        &self,
        approval: &Approval,
        records: &[AuditRecord],
    ) -> Result<Verification, ServiceError> {
        let keys = self.keys_of(records).await?;
        let chain = audit::verify(records, &approval.audit_head, |id| {
            keys.iter().find(|k| k.id == id).cloned()
        });
        self.verify_state(approval, records, chain).await
    }

    // ---- Changes -----------------------------------------------------------------------------

    /// Applies `command` to approval `id` of `tenant` with optimistic concurrency: read, decide
    /// by the rules, write if unchanged since the read; on a lost race, decide again on what won.
    pub async fn apply(
        &self,
        tenant: &str,
        id: Uuid,
        command: Command<'_>,
    ) -> Result<Approval, ServiceError> {
        self.apply_where(tenant, id, command, |_| Ok(())).await
    }

    /// As [`Service::apply`], refused with `admits`'s error when the approval as read (first,
    /// or as a lost race left it) does not admit the change (a review link no longer addressed).
    async fn apply_where(
        &self,
        tenant: &str,
        id: Uuid,
        command: Command<'_>,
        admits: impl Fn(&Approval) -> Result<(), ServiceError>,
    ) -> Result<Approval, ServiceError> {
        command.check_limits()?;
        let mut current = self
            .store
            .get(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let ceiling = (1 + 2 * attempt).min(MAX_PAUSE_MS);
                let pause = rand::random_range(1..=ceiling);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            let now = self.clock.now();
            if let Err(refused) = admits(&current) {
                // A broken seal is told first, whatever the stored state says.
                self.check_integrity(&current).await?;
                return Err(refused);
            }
            match self.attempt(&current, command.clone(), now).await {
                Ok(Attempt::Stored(a) | Attempt::Unchanged(a)) => return Ok(a),
                // Lost to another change: the next attempt decides again on what won.
                Ok(Attempt::Lost(stored)) => current = stored,
                Err(ServiceError::Refused(refusal)) => {
                    // Lazy expiry: store what every reader already sees.
                    if let Some(due @ Command::Expire) = lifecycle::due(&current, now)
                        && let Err(e) = self.attempt(&current, due, now).await
                    {
                        tracing::debug!(%id, error = %e, "lazy expiry not stored");
                    }
                    return Err(refusal.into());
                }
                Err(e) => return Err(e),
            }
        }
        Err(ServiceError::Unavailable(
            "too many concurrent changes to this approval; retry".into(),
        ))
    }

    // ---- The one path of a change ------------------------------------------------------------

    /// Decides `command` on `current` by the rules and, when it changes something, commits it.
    async fn attempt(
        &self,
        current: &Approval,
        command: Command<'_>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, ServiceError> {
        self.check_integrity(current).await?;
        match lifecycle::apply(current, command, now)? {
            Outcome::Unchanged => Ok(Attempt::Unchanged(current.clone().seen_at(now))),
            Outcome::Changed(next, record) => self.commit(current, *next, *record).await,
        }
    }

    /// Seals `record`, stores `next` with it if `current` is still what is stored, and
    /// announces the change.
    async fn commit(
        &self,
        current: &Approval,
        mut next: Approval,
        mut record: AuditRecord,
    ) -> Result<Attempt, ServiceError> {
        self.seal(&mut next, &mut record).await?;
        match self.store.transition(current.version, &next, &record).await {
            Ok(()) => {
                metrics::transition(&next, &record);
                Ok(Attempt::Stored(self.announce(next, Some(&record)).await))
            }
            Err(StoreError::Conflict { current: stored }) => Ok(Attempt::Lost(*stored)),
            Err(e @ StoreError::Integrity { .. }) => {
                let e = ServiceError::from(e);
                if let ServiceError::IntegrityViolation(breach) = &e {
                    self.report(current, breach).await;
                }
                Err(e)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Signs `record` and seals `next` to it; a decision carries its record's signature.
    async fn seal(
        &self,
        next: &mut Approval,
        record: &mut AuditRecord,
    ) -> Result<(), ServiceError> {
        let key = self.signing_key().await?;
        record.sign(&key);
        self.note_outbox(next, record);
        if record.is_decision()
            && let Some(d) = &mut next.decision
        {
            d.signature = Some(record.signature.clone());
        }
        integrity::seal(next, &key);
        Ok(())
    }

    async fn signing_key(&self) -> Result<Key, ServiceError> {
        Ok(self.keys.current().await?)
    }

    /// Every key `records` name, fetched once each.
    async fn keys_of(&self, records: &[AuditRecord]) -> Result<Vec<Key>, ServiceError> {
        let mut ids: Vec<&str> = records.iter().map(|r| r.key_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut keys = Vec::new();
        for id in ids {
            let found = self.keys.by_id(id).await?;
            keys.extend(found);
        }
        Ok(keys)
    }
}
