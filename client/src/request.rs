//! What an agent asks for, as it sends it, and the ticket it keeps to act on the answer.

use holdpoint::approval::{Approval, EscalationLevel, ToolCall, bound_hash};
use holdpoint::document::Document;
use serde::Serialize;
use uuid::Uuid;

/// A request for approval (`POST /v1/approvals`). Only `action`, `agent_id` and `reviewers`
/// are required; see openapi.yaml for every field's limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRequest {
    pub action: String,
    pub agent_id: String,
    /// Principals, or `role:NAME` entries.
    pub reviewers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// A JSON object: what the reviewer needs to judge.
    pub context: Document,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<ToolCall>,
    /// 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalation: Vec<EscalationLevel>,
}

impl ApprovalRequest {
    pub fn new(
        action: impl Into<String>,
        agent_id: impl Into<String>,
        reviewers: impl IntoIterator<Item = impl Into<String>>,
    ) -> ApprovalRequest {
        ApprovalRequest {
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
            expires_in_seconds: None,
            escalation: Vec::new(),
        }
    }

    /// `context` must serialize to a JSON object.
    pub fn context(mut self, context: &impl Serialize) -> ApprovalRequest {
        self.context = Document::of(context);
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> ApprovalRequest {
        self.reason = Some(reason.into());
        self
    }

    pub fn risk(mut self, score: u8) -> ApprovalRequest {
        self.risk_score = Some(score);
        self
    }

    pub fn tool_call(
        mut self,
        name: impl Into<String>,
        arguments: &impl Serialize,
    ) -> ApprovalRequest {
        self.tool_call = Some(ToolCall {
            name: name.into(),
            arguments: Document::of(arguments),
        });
        self
    }

    pub fn expires_in(mut self, seconds: u32) -> ApprovalRequest {
        self.expires_in_seconds = Some(seconds);
        self
    }

    /// The `context_hash` that proves, at execute, that what runs is what this request asked
    /// and the reviewer approved: computed here from what was sent, never taken from the server.
    pub fn context_hash(&self, edited: Option<&Document>) -> String {
        bound_hash(&self.action, self.tool_call.as_ref(), &self.context, edited)
    }
}

/// A request the server accepted: the approval as created, and the request as sent (to compute
/// the context hash at execute).
#[derive(Debug, Clone)]
pub struct Ticket {
    pub approval: Approval,
    pub request: ApprovalRequest,
}

impl Ticket {
    pub fn id(&self) -> Uuid {
        self.approval.id
    }
}
