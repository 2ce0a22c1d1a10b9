//! The lifecycle rules, by command: what a decision does, what follows it (expiry, cancel,
//! execute, escalation), and what a request may ask at all.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::approval::EscalationLevel;
use crate::domain::request::{CreateRequest, ExpiryBounds};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

fn who(name: &str, roles: &[&str]) -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        kind: Default::default(),
    }
}

fn request(reviewers: &[&str], quorum: Option<u32>) -> CreateRequest {
    serde_json::from_value(json!({
        "action": "terminate i-123",
        "agent_id": "ops-agent",
        "reviewers": reviewers,
        "quorum": quorum,
        "context": {"instance": "i-123"},
        "expires_in_seconds": 600,
    }))
    .unwrap()
}

/// A new approval with nothing left to publish, so deadlines alone make it due.
fn new_approval(reviewers: &[&str], quorum: Option<u32>) -> Approval {
    let mut a = request(reviewers, quorum)
        .into_approval(
            &who("agent", &[]),
            &crate::domain::request::Gate::open(),
            ExpiryBounds::default(),
            t0(),
        )
        .unwrap()
        .0;
    a.published_seq = 1;
    a
}

fn decide(by: &Principal, verdict: Verdict) -> Command<'_> {
    Command::Decide {
        by,
        verdict,
        comment: Some("looks right".into()),
        modified_output: None,
    }
}

fn modify(by: &Principal, output: serde_json::Value) -> Command<'_> {
    Command::Decide {
        by,
        verdict: Verdict::Modified,
        comment: None,
        modified_output: Some(output.into()),
    }
}

/// Applies and unwraps a change, checking the version and chain advance with it.
fn changed(a: &Approval, cmd: Command<'_>, now: DateTime<Utc>) -> (Approval, AuditRecord) {
    match apply(a, cmd, now) {
        Ok(Outcome::Changed(mut next, record)) => {
            assert!(next.unpublished(), "a change is an event to publish");
            next.published_seq = record.sequence;
            assert_eq!(next.version, a.version + 1);
            assert_eq!(record.sequence, a.audit_head.sequence + 1);
            assert_eq!(record.prev_hash, a.audit_head.hash);
            assert_eq!(next.audit_head, record.head());
            (*next, *record)
        }
        other => panic!("expected a change, got {other:?}"),
    }
}

fn refused(a: &Approval, cmd: Command<'_>, now: DateTime<Utc>) -> Refusal {
    match apply(a, cmd, now) {
        Err(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

mod create;
mod deadlines;
mod decide;
mod later;
mod remind;
mod settle;
