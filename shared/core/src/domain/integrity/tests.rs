use serde_json::{Value, json};

use super::*;

fn key() -> Key {
    Key::new("k-2026-11", vec![7; 32]).unwrap()
}

/// The README's walkthrough approval, decided, with every optional member set; as text, so its
/// numbers are as the agent wrote them.
fn approval() -> Approval {
    let mut a: Approval = serde_json::from_str(
        r#"{"id": "0b9e4a52-8c1f-4d2e-9a57-3f6c1d2b8e41", "tenant": "acme", "status": "modified",
        "version": 2, "action": "Terminate EC2 instance i-0abc123", "agent_id": "ops-agent",
        "requested_by": "agent", "reviewers": ["alice", "bob"], "quorum": 2,
        "context": {"instance_id": "i-0abc123", "n": 1.50}, "context_hash": "00",
        "reason": "Idle for 30 days",
        "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}},
        "risk_score": 80, "checkpoint_type": null, "execution_id": null, "session_id": null,
        "state_snapshot": null, "escalation": [], "callback_url": "https://agent.test/cb",
        "escalation_level": 0, "approvals": [], "proposed_output": null,
        "decision": {"decision": "modified", "by": "alice", "at": "2026-11-30T10:00:00.000Z",
            "comment": "ok", "modified_output": {"x": 1e2}, "signature": null},
        "cancelled_by": null, "created_at": "2026-11-30T09:00:00.000Z",
        "expires_at": "2026-12-01T09:00:00.000Z", "escalates_at": null, "executed_at": null,
        "audit_head": {"sequence": 2, "hash": "ab"}}"#,
    )
    .unwrap();
    if let Some(d) = &mut a.decision {
        d.signature = Some("ab".repeat(32));
    }
    take_state(&mut a);
    seal(&mut a, &key());
    a
}

fn members(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn the_state_is_every_stored_member_but_those_that_follow_from_the_record() {
    let a = approval();
    let stored = serde_json::to_value(&a).unwrap();
    let state: Value = serde_json::from_str(&state::text(&a)).unwrap();
    let mut expected = members(&stored);
    expected
        .retain(|m| !["audit_head", "published_seq", "seal", "integrity"].contains(&m.as_str()));
    assert_eq!(members(&state), expected);
    let mut decision = members(&stored["decision"]);
    decision.retain(|m| m != "signature");
    assert_eq!(members(&state["decision"]), decision);
    assert!(
        state::text(&a).contains("1.50") && state::text(&a).contains("1e2"),
        "as written"
    );
}

#[test]
fn a_sealed_approval_checks_and_any_state_change_breaks_it() {
    let a = approval();
    assert_eq!(check(&a, |_| Some(key())), Ok(()));
    let mut changed = a.clone();
    changed.reviewers.push("mallory".into());
    let breach = check(&changed, |_| Some(key())).unwrap_err();
    assert!(
        breach.fields.is_empty(),
        "the hot path does not name fields"
    );
    let other = Key::new("k-2026-11", vec![8; 32]).unwrap();
    assert!(check(&a, |_| Some(other.clone())).is_err(), "another key");
    assert!(check(&a, |_| None).is_err(), "no key");
    let mut moved = a.clone();
    moved.tenant = "evil".into();
    assert!(
        check(&moved, |_| Some(key())).is_err(),
        "the tenant is signed"
    );
    // The record's decision signature and the publish mark are not state.
    let mut later = a.clone();
    later.published_seq += 1;
    if let Some(d) = &mut later.decision {
        d.signature = None;
    }
    assert_eq!(check(&later, |_| Some(key())), Ok(()));
}

#[test]
fn a_row_that_contradicts_its_document_is_a_breach_naming_the_columns() {
    let mut a = approval();
    a.row_mismatch = vec!["status".into(), "due_at".into()];
    let breach = check(&a, |_| Some(key())).unwrap_err();
    assert_eq!(breach.fields, ["status", "due_at"]);
}

#[test]
fn fingerprints_name_the_fields_that_differ() {
    let a = approval();
    let signed = state::fields(&a);
    assert_eq!(signed.len() % 6, 0);
    assert!(state::differing(&a, &signed).is_empty());
    let mut changed = a.clone();
    changed.quorum = 1;
    changed.context = json!({"instance_id": "i-0abc123", "n": 1.5}).into();
    assert_eq!(state::differing(&changed, &signed), ["context", "quorum"]);
    assert!(
        state::differing(&changed, "").is_empty(),
        "older records name nothing"
    );
    assert!(
        state::differing(&changed, "zz").is_empty(),
        "nor do malformed ones"
    );
}

#[test]
fn the_seal_adds_at_most_150_bytes() {
    let a = approval();
    let member = format!(",\"seal\":{}", serde_json::to_string(&a.seal).unwrap());
    assert!(member.len() <= 150, "{} bytes: {member}", member.len());
}

#[test]
fn a_seal_of_the_first_kind_still_checks_and_names_fields() {
    let mut a = approval();
    legacy::seal(&mut a, &key());
    assert!(a.seal.is_legacy());
    assert_eq!(check(&a, |_| Some(key())), Ok(()));
    assert_eq!(state_digest(&a), legacy::state_digest(&a));
    let mut changed = a.clone();
    changed.action = "drop".into();
    assert_eq!(
        check(&changed, |_| Some(key())).unwrap_err().fields,
        ["action"]
    );
}

/// Neither kind of seal can pass for the other: a lean seal given field digests is checked the
/// first way and fails without that kind's HMAC, and a first-kind seal stripped of its digests
/// fails the lean check.
#[test]
fn a_seal_cannot_be_downgraded_or_upgraded_without_the_key() {
    let lean = approval();
    let mut downgraded = lean.clone();
    downgraded.seal.fields = legacy::state_fields(&lean);
    assert!(check(&downgraded, |_| Some(key())).is_err());
    let mut first = approval();
    legacy::seal(&mut first, &key());
    let mut upgraded = first.clone();
    upgraded.seal.fields.clear();
    assert!(check(&upgraded, |_| Some(key())).is_err());
}
