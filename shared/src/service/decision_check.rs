//! The signed-decision check: is this the signature of the approval's decision, and does that
//! decision's record verify? A typed answer the HTTP layer serialises.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Service, ServiceError};
use holdpoint_core::domain::approval::{Status, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::time::rfc3339;

/// What a decision signature check answers: `valid` with the decision it signs, or why not.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecisionCheck {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<SignedDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// The decision a genuine signature stands for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SignedDecision {
    pub id: Uuid,
    pub status: Status,
    pub decision: Option<Verdict>,
    pub approver: Option<String>,
    #[serde(with = "rfc3339::option")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
}

impl DecisionCheck {
    fn refused(error: &'static str) -> DecisionCheck {
        DecisionCheck {
            valid: false,
            approval: None,
            error: Some(error),
        }
    }
}

impl Service {
    /// Whether `signature` is the signature of this approval's decision, and that decision's
    /// record verifies. The signature is compared in constant time.
    pub async fn verify_decision(
        &self,
        caller: &Principal,
        id: Uuid,
        signature: &str,
    ) -> Result<DecisionCheck, ServiceError> {
        use subtle::ConstantTimeEq;
        let approval = self.get(caller, id).await?;
        let records = self.store.audit(&caller.tenant, id).await?;
        let Some(record) = records.iter().rev().find(|r| r.is_decision()) else {
            return Ok(DecisionCheck::refused("the approval has no decision"));
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
            return Ok(DecisionCheck::refused("invalid signature"));
        }
        let decision = approval.decision.as_ref();
        Ok(DecisionCheck {
            valid: true,
            approval: Some(SignedDecision {
                id: approval.id,
                status: approval.status,
                decision: decision.map(|d| d.decision),
                approver: decision.map(|d| d.by.clone()),
                decided_at: decision.map(|d| d.at),
                expires_at: approval.expires_at,
            }),
            error: None,
        })
    }
}
