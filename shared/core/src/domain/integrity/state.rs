//! The approval's state as one text: what the lean seal and the audit record sign.
//!
//! The state text is the approval as Holdpoint writes it (members in the order of
//! [`Approval`]'s fields, no whitespace, documents as the agent sent them) without `audit_head`,
//! `published_seq`, `seal`, `integrity` and `decision.signature`: they follow from the record
//! that signs the state, or change without one. It is written straight into the hash, so taking
//! the state down costs one serialisation and one SHA-256, whatever the approval holds.

use std::collections::BTreeMap;
use std::io;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::approval::{
    Approval, Decision, EscalationLevel, Governance, Requirement, Status, ToolCall, Verdict, Vote,
};
use crate::json::document::Document;
use crate::time::rfc3339;

/// The state members of an approval, borrowed. Built by destructuring, so a field added to
/// [`Approval`] does not compile until it is placed in the state or out of it.
#[derive(Serialize)]
struct State<'a> {
    id: &'a Uuid,
    tenant: &'a str,
    status: Status,
    version: u64,
    action: &'a str,
    agent_id: &'a str,
    requested_by: &'a str,
    reviewers: &'a [String],
    quorum: u32,
    // Absent before policies: old states keep their digest.
    #[serde(skip_serializing_if = "<[Requirement]>::is_empty")]
    requirements: &'a [Requirement],
    context: &'a Document,
    context_hash: &'a str,
    reason: &'a Option<String>,
    tool_call: &'a Option<ToolCall>,
    risk_score: Option<u8>,
    checkpoint_type: &'a Option<String>,
    execution_id: &'a Option<String>,
    session_id: &'a Option<String>,
    state_snapshot: &'a Option<Document>,
    escalation: &'a [EscalationLevel],
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: &'a Option<String>,
    escalation_level: u32,
    approvals: &'a [Vote],
    proposed_output: &'a Option<Document>,
    decision: Option<DecisionState<'a>>,
    cancelled_by: &'a Option<String>,
    #[serde(with = "rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    expires_at: DateTime<Utc>,
    #[serde(with = "rfc3339::option")]
    escalates_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339::option")]
    executed_at: Option<DateTime<Utc>>,
    // Absent before reminders and once reminded: old states keep their digest.
    #[serde(with = "rfc3339::option", skip_serializing_if = "Option::is_none")]
    reminds_at: Option<DateTime<Utc>>,
    // Absent before policies and execution windows: old states keep their digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    governed_by: &'a Option<Governance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execute_within_seconds: Option<u32>,
    #[serde(with = "rfc3339::option", skip_serializing_if = "Option::is_none")]
    latest_expiry: Option<DateTime<Utc>>,
}

/// The decision without its signature: that is the signature of the record signing this state.
#[derive(Serialize)]
struct DecisionState<'a> {
    decision: Verdict,
    by: &'a str,
    #[serde(with = "rfc3339")]
    at: DateTime<Utc>,
    comment: &'a Option<String>,
    modified_output: &'a Option<Document>,
}

impl<'a> State<'a> {
    fn of(a: &'a Approval) -> State<'a> {
        let Approval {
            id,
            tenant,
            status,
            version,
            action,
            agent_id,
            requested_by,
            reviewers,
            quorum,
            requirements,
            context,
            context_hash,
            reason,
            tool_call,
            risk_score,
            checkpoint_type,
            execution_id,
            session_id,
            state_snapshot,
            escalation,
            callback_url,
            escalation_level,
            approvals,
            proposed_output,
            decision,
            cancelled_by,
            created_at,
            expires_at,
            escalates_at,
            executed_at,
            reminds_at,
            governed_by,
            execute_within_seconds,
            latest_expiry,
            audit_head: _,
            published_seq: _,
            seal: _,
            integrity: _,
            row_mismatch: _,
        } = a;
        State {
            id,
            tenant,
            status: *status,
            version: *version,
            action,
            agent_id,
            requested_by,
            reviewers,
            quorum: *quorum,
            requirements,
            context,
            context_hash,
            reason,
            tool_call,
            risk_score: *risk_score,
            checkpoint_type,
            execution_id,
            session_id,
            state_snapshot,
            escalation,
            callback_url,
            escalation_level: *escalation_level,
            approvals,
            proposed_output,
            decision: decision.as_ref().map(|d| {
                let Decision {
                    decision,
                    by,
                    at,
                    comment,
                    modified_output,
                    signature: _,
                } = d;
                DecisionState {
                    decision: *decision,
                    by,
                    at: *at,
                    comment,
                    modified_output,
                }
            }),
            cancelled_by,
            created_at: *created_at,
            expires_at: *expires_at,
            escalates_at: *escalates_at,
            executed_at: *executed_at,
            reminds_at: *reminds_at,
            governed_by,
            execute_within_seconds: *execute_within_seconds,
            latest_expiry: *latest_expiry,
        }
    }
}

/// SHA-256 as a writer, so the state is hashed as it is written.
struct Hashing(Sha256);

impl io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The lowercase hex SHA-256 of `a`'s state text.
pub fn digest(a: &Approval) -> String {
    let mut hashing = Hashing(Sha256::new());
    serde_json::to_writer(&mut hashing, &State::of(a)).expect("the state serialises");
    hex::encode(hashing.0.finalize())
}

/// The state text itself (what [`digest`] hashes).
pub fn text(a: &Approval) -> String {
    serde_json::to_string(&State::of(a)).expect("the state serialises")
}

/// Hex characters of each field's fingerprint.
const PRINT: usize = 6;

/// Each state member's name and fingerprint: the first 3 bytes of the SHA-256 of
/// `{name}\n{member text}`, in hex. They only name fields once the signed digest has shown that
/// something differs, so 24 bits are plenty and the record stays small.
fn fingerprints(a: &Approval) -> BTreeMap<String, String> {
    let text = text(a);
    let members: BTreeMap<&str, &RawValue> =
        serde_json::from_str(&text).expect("the state text is an object");
    members
        .into_iter()
        .map(|(name, value)| {
            let mut h = Sha256::new();
            h.update(name.as_bytes());
            h.update(b"\n");
            h.update(value.get().as_bytes());
            (name.to_owned(), hex::encode(&h.finalize()[..PRINT / 2]))
        })
        .collect()
}

/// The fingerprints of `a`'s state fields, concatenated in name order: what the audit record
/// keeps (`state_fields`) so that verification can name the fields that differ.
pub fn fields(a: &Approval) -> String {
    fingerprints(a).into_values().collect()
}

/// The state fields of `a` whose fingerprint is not among `signed` (an audit record's
/// `state_fields`); empty when the record kept none.
pub fn differing(a: &Approval, signed: &str) -> Vec<String> {
    if signed.is_empty() || !signed.len().is_multiple_of(PRINT) || !signed.is_ascii() {
        return Vec::new();
    }
    let prints: Vec<&str> = (0..signed.len())
        .step_by(PRINT)
        .map(|i| &signed[i..i + PRINT])
        .collect();
    let now = fingerprints(a);
    if now.len() == prints.len() {
        // The same members: each compared with its own, in name order.
        return now
            .into_iter()
            .zip(prints)
            .filter(|((_, print), signed)| print != signed)
            .map(|((name, _), _)| name)
            .collect();
    }
    // A member added or dropped since: whatever has no fingerprint among the signed ones.
    now.into_iter()
        .filter(|(_, print)| !prints.contains(&print.as_str()))
        .map(|(name, _)| name)
        .collect()
}
