//! Each reviewer's own review link, minted as their message is planned. Lifecycle events only
//! name the reviewers they ask: a link is a bearer capability, and whoever reads the bus or the
//! events file could decide with one.
//!
//! The approval is read when its event is planned: one that no longer waits asks nobody, and a
//! link goes only to a principal the approval still addresses, by name or through a role the
//! principal holds (so an event naming anyone else, forged or stale, mints nothing).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::directory::Entry;
use crate::events::{EventDetail, LifecycleEvent};
use crate::store::{Store, StoreError};
use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::domain::identity::ROLE_PREFIX;
use holdpoint_core::domain::review_link::{self, BaseUrl, Recipient};
use holdpoint_core::keys::{Key, KeyProvider};

/// Why deliveries could not be planned now: planned again later (the sweep publishes the event
/// again; the notify function's invocation is retried).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No key to sign a reviewer's link (or no base URL for it): nothing is sent without its
    /// link, and nothing is signed with any other key.
    #[error("no review link can be minted now: {0}")]
    NoLink(String),
}

impl PlanError {
    /// Whether planning again later may get through.
    pub fn is_retryable(&self) -> bool {
        match self {
            PlanError::Store(e) => matches!(e, StoreError::Unavailable(_)),
            PlanError::NoLink(_) => true,
        }
    }
}

/// What mints links: the approvals (read unchecked: a link only reaches its reviewer, and deciding
/// by it takes the checked path), the signing keys and where links start.
pub struct LinkMinter {
    approvals: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    base_url: BaseUrl,
    /// Prints each link minted, for whoever runs `holdpoint serve` (never an event or a file).
    print: bool,
}

/// The links of one event's reviewers.
pub enum Minting {
    /// The approval waits: links are signed with `key` for the reviewers it still addresses.
    Waiting {
        approval: Box<Approval>,
        key: Key,
        base_url: String,
    },
    /// Decided, expired, cancelled or gone: nobody is asked.
    NotWaiting,
}

impl LinkMinter {
    pub fn new(approvals: Arc<dyn Store>, keys: Arc<dyn KeyProvider>, base_url: BaseUrl) -> Self {
        LinkMinter {
            approvals,
            keys,
            base_url,
            print: false,
        }
    }

    /// Prints every link minted to this process's standard output (the local server's terminal).
    pub fn printing(mut self) -> Self {
        self.print = true;
        self
    }

    /// The approval `id` of `tenant` if it still waits for its reviewers (pending, not past its
    /// deadline). Read without the seal check: it only decides whether a message is still
    /// sent; every decision takes the checked path.
    async fn waiting(
        &self,
        tenant: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Approval>, StoreError> {
        let approval = self.approvals.get(tenant, id).await?;
        Ok(approval.filter(|a| a.status_at(now) == Status::Pending))
    }

    /// The approval `id` of `tenant` as stored, read without the seal check: only to tell
    /// reviewers' Slack messages what became of it.
    pub async fn approval(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        self.approvals.get(tenant, id).await
    }

    /// Whether the approval `id` of `tenant` still waits for its reviewers.
    pub async fn waits(
        &self,
        tenant: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.waiting(tenant, id, now).await?.is_some())
    }

    /// Reads the approval `d` is about; while it waits, takes the key to sign its links with.
    pub async fn minting(&self, d: &EventDetail, now: DateTime<Utc>) -> Result<Minting, PlanError> {
        let Some(approval) = self.waiting(&d.tenant, d.approval_id, now).await? else {
            return Ok(Minting::NotWaiting);
        };
        let base_url = self
            .base_url
            .get()
            .ok_or_else(|| PlanError::NoLink("no base URL for review links yet".into()))?
            .to_owned();
        let key = self
            .keys
            .current()
            .await
            .map_err(|e| PlanError::NoLink(e.to_string()))?;
        Ok(Minting::Waiting {
            approval: Box::new(approval),
            key,
            base_url,
        })
    }

    /// `entry`'s own link, if the approval still waits for them (printed when asked to).
    pub fn link(&self, minting: &Minting, event: &LifecycleEvent, entry: &Entry) -> Option<String> {
        let Minting::Waiting {
            approval,
            key,
            base_url,
        } = minting
        else {
            return None;
        };
        let to = addressed(approval, entry)?;
        let (_, url) = review_link::links(key, approval, base_url, &[to]).pop()?;
        if self.print {
            println!(
                "{} {}: review link for {}: {}",
                event.detail_type,
                event.detail.approval_id,
                entry.name.escape_debug(),
                url.escape_debug()
            );
        }
        Some(url)
    }
}

/// How `approval` addresses `entry`: by name, or else through the first of its reviewer roles
/// the principal holds (as review links are made, [`review_link::recipients`]); never its
/// requester, nor an agent (which could not decide by a link). The link is bound to the entry's
/// instance, so it dies if the principal is removed, even if one of the name is added again.
fn addressed(approval: &Approval, entry: &Entry) -> Option<Recipient> {
    if entry.tenant != approval.tenant
        || entry.name == approval.requested_by
        || !entry.kind.is_human()
    {
        return None;
    }
    if approval.reviewers.contains(&entry.name) {
        return Some(Recipient {
            name: entry.name.clone(),
            via: None,
            instance: entry.instance,
        });
    }
    approval
        .reviewers
        .iter()
        .find(|r| {
            r.strip_prefix(ROLE_PREFIX)
                .is_some_and(|role| entry.roles.iter().any(|held| held == role))
        })
        .map(|via| Recipient {
            name: entry.name.clone(),
            via: Some(via.clone()),
            instance: entry.instance,
        })
}
