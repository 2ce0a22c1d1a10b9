//! Creating an approval, as the tenant's policy rules: an ask becomes a pending approval
//! through the rules' gate; a deny or an allow is stored and at once settled by
//! `policy:<rule>`, so the audit trail holds every request the policy answered.

use sha2::{Digest, Sha256};

use super::policy::PolicyRefusal;
use super::{Service, ServiceError};
use crate::delivery::target;
use crate::directory::agents_among;
use crate::metrics;
use crate::policy::Ruling;
use crate::store::{Created, IdempotencyKey};
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::CreateRequest;
use holdpoint_core::invalid::Invalid;
use holdpoint_core::json::canonical;

/// What a rule settles at creation: its id, the verdict and the reason a deny gives.
struct Settled {
    rule: String,
    verdict: Verdict,
    reason: Option<String>,
}

impl Service {
    /// Creates an approval. `idempotency_key` with the raw body makes a retry return the first
    /// approval (`false` = not newly created). A request the policy denies is stored, rejected,
    /// and answered [`PolicyRefusal::Denied`], on a retry too.
    pub async fn create(
        &self,
        caller: &Principal,
        request: CreateRequest,
        idempotency_key: Option<(&str, &[u8])>,
    ) -> Result<(Approval, bool), ServiceError> {
        let now = self.clock.now();
        if let Some(url) = &request.callback_url {
            target::check_url(url, self.allow_private_webhooks)
                .map_err(|refused| Invalid::new("callback_url", refused.to_string()))?;
        }
        let (mut approval, mut record, settled) = match self.ruling(caller, &request).await? {
            Ruling::Ask { gate } => {
                self.refuse_agent_reviewers(&caller.tenant, &request.clone().under(&gate))
                    .await?;
                let (a, r) = request.into_approval(caller, &gate, self.expiry, now)?;
                (a, r, None)
            }
            Ruling::Allow { rule, governance } => {
                let (a, r) = request.into_settled_approval(caller, governance, self.expiry, now)?;
                let settled = Settled {
                    rule,
                    verdict: Verdict::Approved,
                    reason: None,
                };
                (a, r, Some(settled))
            }
            Ruling::Deny {
                rule,
                reason,
                governance,
            } => {
                let (a, r) = request.into_settled_approval(caller, governance, self.expiry, now)?;
                let settled = Settled {
                    rule,
                    verdict: Verdict::Rejected,
                    reason,
                };
                (a, r, Some(settled))
            }
        };
        self.seal(&mut approval, &mut record).await?;
        // The same request is the same JSON, whatever its members' order or spacing.
        let key = idempotency_key.map(|(key, body)| IdempotencyKey {
            key: key.to_owned(),
            request_hash: match std::str::from_utf8(body)
                .ok()
                .and_then(canonical::canonical_text)
            {
                Some(canonical) => hex::encode(Sha256::digest(canonical.as_bytes())),
                None => hex::encode(Sha256::digest(body)),
            },
        });
        match self.store.create(&approval, &record, key.as_ref()).await? {
            Created::New(a) => {
                metrics::transition(&a, &record);
                let Some(s) = settled else {
                    return Ok((self.announce(a, Some(&record)).await, true));
                };
                // Announced with its settlement: the creation asks no reviewer.
                let command = Command::Settle {
                    rule: &s.rule,
                    verdict: s.verdict,
                    reason: s.reason.clone(),
                };
                let a = self.apply(&caller.tenant, a.id, command).await?;
                answer(a, true)
            }
            // A settled request whose settling write never landed, retried: settled now, as
            // the policy rules it. One that asks reviewers is never settled by a retry.
            Created::Existing(a)
                if a.status == Status::Pending && a.reviewers.is_empty() && a.version == 1 =>
            {
                let a = self.marked(a).await?;
                match settled {
                    Some(s) => {
                        let command = Command::Settle {
                            rule: &s.rule,
                            verdict: s.verdict,
                            reason: s.reason.clone(),
                        };
                        answer(self.apply(&caller.tenant, a.id, command).await?, false)
                    }
                    None => answer(a.seen_at(now), false),
                }
            }
            Created::Existing(a) => answer(self.marked(a).await?.seen_at(now), false),
        }
    }

    /// Refuses reviewers (escalation levels included) that are agent principals: an agent can
    /// never decide, so naming one could only stall the approval or hand it to another agent.
    async fn refuse_agent_reviewers(
        &self,
        tenant: &str,
        request: &CreateRequest,
    ) -> Result<(), ServiceError> {
        let Some(directory) = &self.directory else {
            return Ok(());
        };
        let levels = request.escalation.iter().enumerate();
        let named = std::iter::once(("reviewers".to_owned(), &request.reviewers))
            .chain(levels.map(|(i, l)| (format!("escalation[{i}].reviewers"), &l.reviewers)));
        for (field, reviewers) in named {
            let agents = agents_among(directory.as_ref(), tenant, reviewers).await?;
            if !agents.is_empty() {
                return Err(Invalid::new(
                    &field,
                    format!(
                        "{} {} an agent principal, and an agent can never decide",
                        agents.join(", "),
                        if agents.len() == 1 { "is" } else { "are" }
                    ),
                )
                .into());
            }
        }
        Ok(())
    }
}

/// A created (or replayed) approval as its creator is answered: refused when a rule denied it.
fn answer(a: Approval, created: bool) -> Result<(Approval, bool), ServiceError> {
    let denied = a.decision.as_ref().and_then(|d| {
        let rule = d.by.strip_prefix("policy:")?;
        (d.decision == Verdict::Rejected).then(|| (rule.to_owned(), d.comment.clone()))
    });
    match denied {
        Some((rule, reason)) => Err(PolicyRefusal::Denied {
            approval: a.id,
            rule,
            reason,
        }
        .into()),
        None => Ok((a, created)),
    }
}
