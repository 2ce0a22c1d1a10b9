//! What an agent sends to ask for approval, its limits, and the approval it becomes.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditRecord, ChainHead};
use crate::domain::approval::{Approval, EscalationLevel, Status, ToolCall};
use crate::domain::identity::{Principal, ROLE_PREFIX};
use crate::invalid::Invalid;
use crate::json::document::Document;
use crate::text;

/// Size limits, chosen so that an approval item stays far below DynamoDB's 400 KB.
pub mod limits {
    /// Largest request body accepted by create and decide, in bytes (413 above it).
    pub const BODY_BYTES: usize = 128 * 1024;
    /// Largest body of cancel, execute and verify, in bytes (413 above it).
    pub const SMALL_BODY_BYTES: usize = 64 * 1024;
    /// Largest review form, in bytes (413 above it; read before the link is checked).
    pub const FORM_BYTES: usize = 64 * 1024;
    /// Largest `context`, `state_snapshot`, `tool_call` or `modified_output`, as JSON bytes.
    pub const DOCUMENT_BYTES: usize = 64 * 1024;
    pub const ACTION_CHARS: usize = 1_000;
    pub const TEXT_CHARS: usize = 4_000;
    pub const NAME_CHARS: usize = 200;
    pub const REVIEWERS: usize = 50;
    pub const ESCALATION_LEVELS: usize = 5;
    /// Largest quorum when the reviewers name a role (whose size Holdpoint cannot know).
    pub const QUORUM: u32 = 20;
}

/// Bounds on `expires_in_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryBounds {
    pub default_seconds: u32,
    pub min_seconds: u32,
    pub max_seconds: u32,
}

impl Default for ExpiryBounds {
    fn default() -> Self {
        ExpiryBounds {
            default_seconds: 3_600,
            min_seconds: 60,
            max_seconds: 2_592_000,
        }
    }
}

/// What an agent sends to `POST /v1/approvals`: read by the service, written by the client crate
/// (absent options are left out rather than sent as `null`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub action: String,
    pub agent_id: String,
    /// Principals, or `role:NAME` entries.
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

pub fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<(), Invalid> {
    if required && text::is_blank(value) {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(Invalid::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// A principal name (reviewer, `role:NAME`, agent id) or an identifier (checkpoint type,
/// execution and session ids): 1 to 200 characters, no leading or trailing space, none of the
/// characters [`text::is_hidden`] finds.
pub fn check_name(field: &str, value: &str) -> Result<(), Invalid> {
    check_text(field, value, limits::NAME_CHARS, true)?;
    if value.trim() != value {
        return Err(Invalid::new(
            field,
            "must not start or end with white space",
        ));
    }
    if value.chars().any(text::is_hidden) {
        return Err(Invalid::new(
            field,
            "must not hold control characters, line breaks or invisible formatting characters",
        ));
    }
    Ok(())
}

pub fn check_optional(
    field: &str,
    value: &Option<String>,
    max_chars: usize,
) -> Result<(), Invalid> {
    value
        .as_deref()
        .map_or(Ok(()), |v| check_text(field, v, max_chars, false))
}

pub fn check_document(field: &str, value: &impl serde::Serialize) -> Result<(), Invalid> {
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > limits::DOCUMENT_BYTES {
        return Err(Invalid::new(
            field,
            format!("must be at most {} bytes of JSON", limits::DOCUMENT_BYTES),
        ));
    }
    Ok(())
}

fn check_reviewers(field: &str, reviewers: &[String]) -> Result<(), Invalid> {
    if reviewers.is_empty() {
        return Err(Invalid::new(field, "at least one reviewer is required"));
    }
    if reviewers.len() > limits::REVIEWERS {
        return Err(Invalid::new(
            field,
            format!("at most {} reviewers", limits::REVIEWERS),
        ));
    }
    for (i, r) in reviewers.iter().enumerate() {
        let f = format!("{field}[{i}]");
        check_name(&f, r)?;
        if r.strip_prefix(ROLE_PREFIX)
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(Invalid::new(&f, "a role entry is role:NAME"));
        }
        if reviewers[..i].contains(r) {
            return Err(Invalid::new(&f, "listed twice"));
        }
    }
    Ok(())
}

/// The most distinct approvers `reviewers` can supply, leaving out the requester.
fn possible_approvers(reviewers: &[String], requester: &str) -> u32 {
    if reviewers.iter().any(|r| r.starts_with(ROLE_PREFIX)) {
        return limits::QUORUM;
    }
    reviewers.iter().filter(|r| *r != requester).count() as u32
}

impl CreateRequest {
    /// Checks every field and builds the new approval and the first record of its audit chain.
    pub fn into_approval(
        self,
        caller: &Principal,
        bounds: ExpiryBounds,
        now: DateTime<Utc>,
    ) -> Result<(Approval, AuditRecord), Invalid> {
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
        check_reviewers("reviewers", &self.reviewers)?;
        let possible = possible_approvers(&self.reviewers, &caller.principal);
        if possible == 0 {
            return Err(Invalid::new(
                "reviewers",
                "the requester cannot review its own request; name someone else",
            ));
        }
        let quorum = self.quorum.unwrap_or(1);
        if quorum == 0 || quorum > possible {
            return Err(Invalid::new(
                "quorum",
                format!("must be between 1 and {possible} (the reviewers who can approve)"),
            ));
        }
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
        if self.escalation.len() > limits::ESCALATION_LEVELS {
            return Err(Invalid::new(
                "escalation",
                format!("at most {} levels", limits::ESCALATION_LEVELS),
            ));
        }
        for (i, level) in self.escalation.iter().enumerate() {
            if level.after_seconds < 1 {
                return Err(Invalid::new(
                    &format!("escalation[{i}].after_seconds"),
                    "must be at least 1",
                ));
            }
            check_reviewers(&format!("escalation[{i}].reviewers"), &level.reviewers)?;
            if possible_approvers(&level.reviewers, &caller.principal) < quorum {
                return Err(Invalid::new(
                    &format!("escalation[{i}].reviewers"),
                    "cannot reach the quorum",
                ));
            }
        }

        let id = Uuid::new_v4();
        let context_hash = crate::domain::approval::bound_hash(
            &self.action,
            self.tool_call.as_ref(),
            &self.context,
            None,
        );
        let expires_at = now + TimeDelta::seconds(i64::from(expires_in));
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
        });
        let mut approval = Approval {
            id,
            tenant: caller.tenant.clone(),
            status: Status::Pending,
            version: 1,
            action: self.action,
            agent_id: self.agent_id,
            requested_by: caller.principal.clone(),
            reviewers: self.reviewers,
            quorum,
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
            audit_head: ChainHead {
                sequence: 0,
                hash: String::new(),
            },
            published_seq: 0,
            seal: Default::default(),
            integrity: Default::default(),
        };
        let state_digest = crate::domain::integrity::take_state(&mut approval);
        let record = AuditRecord::next(
            None,
            id,
            &caller.tenant,
            AuditEvent::Created,
            &caller.principal,
            now,
            payload,
        )
        .with_state(state_digest);
        approval.audit_head = record.head();
        Ok((approval, record))
    }
}
