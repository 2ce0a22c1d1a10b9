//! The state check: before any change, and on every read, the stored approval must be the state
//! its signed audit head produced (see [`holdpoint_core::domain::integrity`]). A change on anything else is
//! refused, logged as an error and announced on the bus; a read shows `"integrity": "broken"`.

use super::{Service, ServiceError};
use crate::events::LifecycleEvent;
use holdpoint_core::audit::{AuditRecord, Verification};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::integrity::{self, Breach, state};
use holdpoint_core::domain::seal::Integrity;

impl Service {
    /// Whether `a` is the state its seal and head signed.
    async fn breach_of(&self, a: &Approval) -> Result<Option<Breach>, ServiceError> {
        let key = self.keys.by_id(&a.seal.key_id).await?;
        Ok(integrity::check(a, |id| key.clone().filter(|k| k.id == id)).err())
    }

    /// Refuses to go on from a state its chain did not produce, and tells whoever watches.
    pub(super) async fn check_integrity(&self, a: &Approval) -> Result<(), ServiceError> {
        match self.breach_of(a).await? {
            None => Ok(()),
            Some(breach) => {
                self.report(a, &breach).await;
                Err(breach.into())
            }
        }
    }

    /// Logs a refused change on a broken state and publishes `Approval Integrity Violation`.
    pub(super) async fn report(&self, a: &Approval, breach: &Breach) {
        tracing::error!(
            approval = %a.id,
            tenant = %a.tenant,
            version = a.version,
            fields = ?breach.fields,
            reason = %breach.reason,
            "integrity violation: change refused"
        );
        if let Some((sink, _)) = &self.events
            && let Err(e) = sink
                .publish(&[LifecycleEvent::integrity_violation(a, breach)])
                .await
        {
            tracing::error!(approval = %a.id, error = %e, "integrity violation not published");
        }
    }

    /// `a` as readers are shown it: `integrity` set to broken when its state does not match.
    pub(super) async fn marked(&self, mut a: Approval) -> Result<Approval, ServiceError> {
        if let Some(breach) = self.breach_of(&a).await? {
            tracing::warn!(approval = %a.id, fields = ?breach.fields, reason = %breach.reason, "integrity broken");
            a.integrity = Integrity::Broken;
        }
        Ok(a)
    }

    /// The chain's own verification, then whether the approval's state is the one the chain's
    /// last record signed.
    pub(super) async fn verify_state(
        &self,
        a: &Approval,
        records: &[AuditRecord],
        chain: Verification,
    ) -> Result<Verification, ServiceError> {
        let broken = |reason: String| Verification {
            valid: false,
            first_invalid_sequence: Some(a.audit_head.sequence),
            reason: Some(reason),
        };
        let breach = self.breach_of(a).await?;
        // A row holding another approval's document, or under another key, is told first: its
        // chain is then another approval's, or none.
        let misplaced = !a.row_mismatch.is_empty();
        if !chain.valid && !misplaced {
            return Ok(chain);
        }
        if let Some(b) = breach {
            let fields = match b.fields.as_slice() {
                // Only the signed digest differs: the audit record's fingerprints name what.
                [] => records
                    .last()
                    .map(|r| state::differing(a, &r.state_fields))
                    .unwrap_or_default(),
                fields => fields.to_vec(),
            };
            return Ok(broken(match fields.as_slice() {
                [] => format!("approval state: {}", b.reason),
                fields => format!("approval state: {} ({})", b.reason, fields.join(", ")),
            }));
        }
        let signed = records.last().map(|r| r.state_digest.as_str());
        if signed != Some(integrity::state_digest(a).as_str()) {
            return Ok(broken(
                "approval state: not the state its last audit record signed".into(),
            ));
        }
        Ok(chain)
    }
}
