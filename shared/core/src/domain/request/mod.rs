//! What an agent sends to ask for approval, its limits, and the approval it becomes.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditRecord, ChainHead};
use crate::domain::approval::{
    Approval, DEFAULT_EXECUTE_WITHIN_SECONDS, EscalationLevel, Governance, Requirement, Status,
    ToolCall,
};
use crate::domain::identity::Principal;
use crate::domain::record;
use crate::invalid::Invalid;
use crate::json::document::Document;

mod checks;
mod gate;
mod gated;
pub mod limits;

pub use checks::{check_document, check_name, check_optional, check_text};
use checks::{check_gate, check_requirement};
pub use gate::Gate;
pub use limits::ExpiryBounds;

/// What an agent sends to `POST /v1/approvals`: read by the service, written by the client crate
/// (absent options are left out rather than sent as `null`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub action: String,
    /// The agent's own name for itself; absent, the caller's principal name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_id: String,
    /// Principals, or `role:NAME` entries. May be left out when the tenant's policy names the
    /// reviewers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<String>,
    #[serde(
        default,
        deserialize_with = "crate::json::whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub quorum: Option<u32>,
    /// A JSON object: what the reviewer needs to judge.
    #[serde(default = "Document::empty_object")]
    pub context: Document,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<ToolCall>,
    /// 0 to 100.
    #[serde(
        default,
        deserialize_with = "crate::json::whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub risk_score: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_snapshot: Option<Document>,
    #[serde(
        default,
        deserialize_with = "crate::json::whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_seconds: Option<u32>,
    /// How long after approval it may be executed (default
    /// [`DEFAULT_EXECUTE_WITHIN_SECONDS`]; the policy may lower the ceiling).
    #[serde(
        default,
        deserialize_with = "crate::json::whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub execute_within_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation: Vec<EscalationLevel>,
    /// Where every terminal change and execution is posted, signed (Standard Webhooks): `https`
    /// to a public address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// Building a request in code (the client crate's agents): the three required fields, then what
/// else applies.
impl CreateRequest {
    pub fn new(
        action: impl Into<String>,
        agent_id: impl Into<String>,
        reviewers: impl IntoIterator<Item = impl Into<String>>,
    ) -> CreateRequest {
        CreateRequest {
            action: action.into(),
            agent_id: agent_id.into(),
            reviewers: reviewers.into_iter().map(Into::into).collect(),
            quorum: None,
            context: Document::empty_object(),
            reason: None,
            tool_call: None,
            risk_score: None,
            checkpoint_type: None,
            execution_id: None,
            session_id: None,
            state_snapshot: None,
            expires_in_seconds: None,
            execute_within_seconds: None,
            escalation: Vec::new(),
            callback_url: None,
        }
    }

    /// Where the decision is posted, so the agent need not poll.
    pub fn callback(mut self, url: impl Into<String>) -> CreateRequest {
        self.callback_url = Some(url.into());
        self
    }

    /// `context` must serialize to a JSON object.
    pub fn context(mut self, context: &impl Serialize) -> CreateRequest {
        self.context = Document::of(context);
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> CreateRequest {
        self.reason = Some(reason.into());
        self
    }

    pub fn risk(mut self, score: u8) -> CreateRequest {
        self.risk_score = Some(score);
        self
    }

    pub fn tool_call(
        mut self,
        name: impl Into<String>,
        arguments: &impl Serialize,
    ) -> CreateRequest {
        self.tool_call = Some(ToolCall {
            name: name.into(),
            arguments: Document::of(arguments),
        });
        self
    }

    pub fn expires_in(mut self, seconds: u32) -> CreateRequest {
        self.expires_in_seconds = Some(seconds);
        self
    }

    /// How long after approval the action may still run.
    pub fn execute_within(mut self, seconds: u32) -> CreateRequest {
        self.execute_within_seconds = Some(seconds);
        self
    }

    /// The `context_hash` of what this request asks, with the reviewer's edits when it was
    /// approved with some ([`Approval::bound_hash`] of the approval it becomes): what the
    /// requester sends at execute to prove that what runs is what was approved.
    pub fn context_hash(&self, edited: Option<&Document>) -> String {
        crate::domain::approval::bound_hash(
            &self.action,
            self.tool_call.as_ref(),
            &self.context,
            edited,
        )
    }
}

impl CreateRequest {
    /// Lays `gate` over the request, checks every field and builds the new approval and the
    /// first record of its audit chain.
    pub fn into_approval(
        self,
        caller: &Principal,
        gate: &Gate,
        bounds: ExpiryBounds,
        now: DateTime<Utc>,
    ) -> Result<(Approval, AuditRecord), Invalid> {
        let mut request = self.under(gate);
        if request.agent_id.is_empty() {
            request.agent_id = caller.principal.clone();
        }
        request.build(caller, gate, bounds, now, true)
    }

    fn build(
        self,
        caller: &Principal,
        gate: &Gate,
        bounds: ExpiryBounds,
        now: DateTime<Utc>,
        asks: bool,
    ) -> Result<(Approval, AuditRecord), Invalid> {
        let Checked {
            quorum,
            expires_in,
            execute_within,
        } = self.check(caller, bounds, asks)?;
        let expires_in = gate
            .max_expires_in
            .map_or(expires_in, |m| expires_in.min(m));
        let execute_within = gate
            .max_execute_within
            .map_or(execute_within, |m| execute_within.min(m));
        let lifetime = gate
            .max_expires_in
            .map_or(bounds.max_seconds, |m| m.min(bounds.max_seconds))
            .max(expires_in);
        for r in &gate.requirements {
            check_requirement(r, &caller.principal)?;
        }
        let id = Uuid::new_v4();
        let context_hash = crate::domain::approval::bound_hash(
            &self.action,
            self.tool_call.as_ref(),
            &self.context,
            None,
        );
        let expires_at = now + TimeDelta::seconds(i64::from(expires_in));
        // A request the policy settles at once asks nobody, so reminds nobody.
        let reminds_at = gate
            .remind_at
            .unwrap_or(bounds.remind_at)
            .reminds_at(now, expires_at)
            .filter(|_| asks);
        let escalates_at = self
            .escalation
            .first()
            .map(|l| now + TimeDelta::seconds(i64::from(l.after_seconds)));
        #[derive(serde::Serialize)]
        struct Created<'a> {
            action: &'a str,
            agent_id: &'a str,
            requested_by: &'a str,
            reviewers: &'a [String],
            quorum: u32,
            context_hash: &'a str,
            tool_call: Option<&'a ToolCall>,
            expires_at: String,
            escalation: &'a [EscalationLevel],
            execute_within_seconds: u32,
            #[serde(skip_serializing_if = "<[Requirement]>::is_empty")]
            requirements: &'a [Requirement],
            #[serde(skip_serializing_if = "Option::is_none")]
            governed_by: Option<&'a Governance>,
        }
        let payload = Document::of(&Created {
            action: &self.action,
            agent_id: &self.agent_id,
            requested_by: &caller.principal,
            reviewers: &self.reviewers,
            quorum,
            context_hash: &context_hash,
            tool_call: self.tool_call.as_ref(),
            expires_at: crate::time::format(&expires_at),
            escalation: &self.escalation,
            execute_within_seconds: execute_within,
            requirements: &gate.requirements,
            governed_by: gate.governance.as_ref(),
        });
        let approval = Approval {
            id,
            tenant: caller.tenant.clone(),
            status: Status::Pending,
            version: 1,
            action: self.action,
            agent_id: self.agent_id,
            requested_by: caller.principal.clone(),
            reviewers: self.reviewers,
            quorum,
            requirements: gate.requirements.clone(),
            context: self.context,
            context_hash,
            reason: self.reason,
            tool_call: self.tool_call,
            risk_score: self.risk_score,
            checkpoint_type: self.checkpoint_type,
            callback_url: self.callback_url,
            execution_id: self.execution_id,
            session_id: self.session_id,
            state_snapshot: self.state_snapshot,
            escalation: self.escalation,
            escalation_level: 0,
            approvals: Vec::new(),
            proposed_output: None,
            decision: None,
            cancelled_by: None,
            created_at: now,
            expires_at,
            escalates_at,
            executed_at: None,
            reminds_at,
            governed_by: gate.governance.clone(),
            execute_within_seconds: Some(execute_within),
            latest_expiry: Some(now + TimeDelta::seconds(i64::from(lifetime))),
            audit_head: ChainHead {
                sequence: 0,
                hash: String::new(),
            },
            published_seq: 0,
            seal: Default::default(),
            row_mismatch: Vec::new(),
            integrity: Default::default(),
        };
        Ok(record::change(
            None,
            approval,
            AuditEvent::Created,
            &caller.principal,
            now,
            payload,
        ))
    }
}

/// What the checks settled that the approval is built with.
struct Checked {
    quorum: u32,
    expires_in: u32,
    execute_within: u32,
}

impl CreateRequest {
    /// Checks every field of the request `caller` sends, within `bounds`.
    fn check(
        &self,
        caller: &Principal,
        bounds: ExpiryBounds,
        asks: bool,
    ) -> Result<Checked, Invalid> {
        check_text("action", &self.action, limits::ACTION_CHARS, true)?;
        check_name("agent_id", &self.agent_id)?;
        check_optional("reason", &self.reason, limits::TEXT_CHARS)?;
        for (field, value) in [
            ("checkpoint_type", &self.checkpoint_type),
            ("execution_id", &self.execution_id),
            ("session_id", &self.session_id),
        ] {
            if let Some(v) = value {
                check_name(field, v)?;
            }
        }
        check_document("context", &self.context)?;
        check_document("state_snapshot", &self.state_snapshot)?;
        if !self.context.is_object() {
            return Err(Invalid::new("context", "must be a JSON object"));
        }
        if self.state_snapshot.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(Invalid::new("state_snapshot", "must be a JSON object"));
        }
        if let Some(call) = &self.tool_call {
            check_text("tool_call.name", &call.name, limits::NAME_CHARS, true)?;
            check_document("tool_call", call)?;
        }
        if self.risk_score.is_some_and(|r| r > 100) {
            return Err(Invalid::new("risk_score", "must be between 0 and 100"));
        }
        // A request a rule settles at once asks nobody: no reviewer, no quorum, no chain.
        let quorum = if asks {
            check_gate(
                &self.reviewers,
                self.quorum,
                &self.escalation,
                &caller.principal,
            )?
        } else {
            1
        };
        let expires_in = self.expires_in_seconds.unwrap_or(bounds.default_seconds);
        if expires_in < bounds.min_seconds || expires_in > bounds.max_seconds {
            return Err(Invalid::new(
                "expires_in_seconds",
                format!(
                    "must be between {} and {}",
                    bounds.min_seconds, bounds.max_seconds
                ),
            ));
        }
        let execute_within = self
            .execute_within_seconds
            .unwrap_or(DEFAULT_EXECUTE_WITHIN_SECONDS);
        if !(1..=limits::EXECUTE_WITHIN_SECONDS).contains(&execute_within) {
            return Err(Invalid::new(
                "execute_within_seconds",
                format!("must be between 1 and {}", limits::EXECUTE_WITHIN_SECONDS),
            ));
        }
        Ok(Checked {
            quorum,
            expires_in,
            execute_within,
        })
    }
}
