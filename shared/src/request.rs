//! What an agent sends to ask for approval, its limits, and the approval it becomes.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::approval::{Approval, EscalationLevel, Status, ToolCall};
use crate::audit::{AuditEvent, AuditRecord, ChainHead};
use crate::document::Document;
use crate::identity::{Principal, ROLE_PREFIX};
use crate::lifecycle::Command;

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
        deserialize_with = "whole::option",
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
        deserialize_with = "whole::option",
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
        deserialize_with = "whole::option",
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
        crate::approval::bound_hash(&self.action, self.tool_call.as_ref(), &self.context, edited)
    }
}

/// A field that is well-formed JSON but not acceptable (422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Nothing but white space, as JSON Schema's (ECMAScript's) `\s` has it, so that the
/// `\S` pattern of openapi.yaml and this check agree on every character.
pub fn is_blank(value: &str) -> bool {
    value.chars().all(|c| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    })
}

pub fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<(), Invalid> {
    if required && is_blank(value) {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

/// Whether `c` may not stand in a name: control characters and line or paragraph separators
/// (a name could forge a log or console line) and invisible formatting characters (bidi
/// overrides, zero-width characters: a name could pose as another).
fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// A principal name (reviewer, `role:NAME`, agent id) or an identifier (checkpoint type,
/// execution and session ids): 1 to 200 characters, no leading or trailing space, none of the
/// characters [`forbidden_in_name`] lists.
pub fn check_name(field: &str, value: &str) -> Result<(), Invalid> {
    check_text(field, value, limits::NAME_CHARS, true)?;
    if value.trim() != value {
        return Err(invalid(field, "must not start or end with white space"));
    }
    if value.chars().any(forbidden_in_name) {
        return Err(invalid(
            field,
            "must not hold control characters, line breaks or invisible formatting characters",
        ));
    }
    Ok(())
}

fn check_optional(field: &str, value: &Option<String>, max_chars: usize) -> Result<(), Invalid> {
    value
        .as_deref()
        .map_or(Ok(()), |v| check_text(field, v, max_chars, false))
}

pub fn check_document(field: &str, value: &impl serde::Serialize) -> Result<(), Invalid> {
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > limits::DOCUMENT_BYTES {
        return Err(invalid(
            field,
            format!("must be at most {} bytes of JSON", limits::DOCUMENT_BYTES),
        ));
    }
    Ok(())
}

impl Command<'_> {
    /// The size and form limits of what a caller sent with a command (422 when exceeded),
    /// checked before anything is read.
    pub fn check_limits(&self) -> Result<(), Invalid> {
        match self {
            Command::Decide {
                comment,
                modified_output,
                ..
            } => {
                check_optional("comment", comment, limits::TEXT_CHARS)?;
                match modified_output {
                    Some(m) => check_document("modified_output", m),
                    None => Ok(()),
                }
            }
            Command::Cancel { reason, .. } => check_optional("reason", reason, limits::TEXT_CHARS),
            Command::Execute {
                context_hash: Some(h),
                ..
            } if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) => Err(invalid(
                "context_hash",
                "must be 64 hex characters (SHA-256)",
            )),
            _ => Ok(()),
        }
    }
}

fn check_reviewers(field: &str, reviewers: &[String]) -> Result<(), Invalid> {
    if reviewers.is_empty() {
        return Err(invalid(field, "at least one reviewer is required"));
    }
    if reviewers.len() > limits::REVIEWERS {
        return Err(invalid(
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
            return Err(invalid(&f, "a role entry is role:NAME"));
        }
        if reviewers[..i].contains(r) {
            return Err(invalid(&f, "listed twice"));
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
            return Err(invalid("context", "must be a JSON object"));
        }
        if self.state_snapshot.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(invalid("state_snapshot", "must be a JSON object"));
        }
        if let Some(call) = &self.tool_call {
            check_text("tool_call.name", &call.name, limits::NAME_CHARS, true)?;
            check_document("tool_call", call)?;
        }
        if self.risk_score.is_some_and(|r| r > 100) {
            return Err(invalid("risk_score", "must be between 0 and 100"));
        }
        check_reviewers("reviewers", &self.reviewers)?;
        let possible = possible_approvers(&self.reviewers, &caller.principal);
        if possible == 0 {
            return Err(invalid(
                "reviewers",
                "the requester cannot review its own request; name someone else",
            ));
        }
        let quorum = self.quorum.unwrap_or(1);
        if quorum == 0 || quorum > possible {
            return Err(invalid(
                "quorum",
                format!("must be between 1 and {possible} (the reviewers who can approve)"),
            ));
        }
        let expires_in = self.expires_in_seconds.unwrap_or(bounds.default_seconds);
        if expires_in < bounds.min_seconds || expires_in > bounds.max_seconds {
            return Err(invalid(
                "expires_in_seconds",
                format!(
                    "must be between {} and {}",
                    bounds.min_seconds, bounds.max_seconds
                ),
            ));
        }
        if self.escalation.len() > limits::ESCALATION_LEVELS {
            return Err(invalid(
                "escalation",
                format!("at most {} levels", limits::ESCALATION_LEVELS),
            ));
        }
        for (i, level) in self.escalation.iter().enumerate() {
            if level.after_seconds < 1 {
                return Err(invalid(
                    &format!("escalation[{i}].after_seconds"),
                    "must be at least 1",
                ));
            }
            check_reviewers(&format!("escalation[{i}].reviewers"), &level.reviewers)?;
            if possible_approvers(&level.reviewers, &caller.principal) < quorum {
                return Err(invalid(
                    &format!("escalation[{i}].reviewers"),
                    "cannot reach the quorum",
                ));
            }
        }

        let id = Uuid::new_v4();
        let context_hash =
            crate::approval::bound_hash(&self.action, self.tool_call.as_ref(), &self.context, None);
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
        let state_digest = crate::integrity::take_state(&mut approval);
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

/// Whole numbers as JSON Schema's `integer` has them: `3` or `3.0`, never `3.5`.
pub mod whole {
    use serde::{Deserialize, Deserializer, de::Error};

    fn of<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        n: serde_json::Number,
    ) -> Result<T, D::Error> {
        let whole = n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        });
        whole
            .and_then(|w| T::try_from(w).ok())
            .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number in range")))
    }

    pub fn option<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<serde_json::Number>::deserialize(d)? {
            None => Ok(None),
            Some(n) => of::<D, T>(n).map(Some),
        }
    }

    pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        of::<D, T>(serde_json::Number::deserialize(d)?)
    }
}
